#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the Cockpit page tests (test_cockpit.py), each in a fresh CockpitWorld: `run.py
--list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped (not root).
Imports tests/lib/ (PYTHONPATH)."""

import sys

import cockpit_env
import runner
import test_cockpit

if __name__ == "__main__":
    sys.exit(runner.main_in_worlds(test_cockpit.TESTS, cockpit_env.CockpitWorld, cockpit_env.check_environment,
                                   after=cockpit_env.CockpitWorld.check_page_log))
