#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the legacy OS support end-to-end tests (test_legacy.py), each in a fresh LegacyEnv:
`run.py --list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped.
Imports tests/lib/ (PYTHONPATH)."""

import sys

import legacy_env
import runner
import test_legacy

if __name__ == "__main__":
    sys.exit(runner.main_in_worlds(test_legacy.TESTS, legacy_env.LegacyEnv, legacy_env.LegacyEnv.check_environment))
