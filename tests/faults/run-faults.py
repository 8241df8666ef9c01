#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the fault and leak tests of this directory with the shared harness and runner
(tests/lib/, on PYTHONPATH): `run-faults.py --list` prints their names,
`run-faults.py --srcdir S --builddir B NAME...` runs them. Same exit codes as the integration
runner: 0 passed, 1 failed, 77 skipped."""

import sys

import harness
import runner
import test_valgrind  # noqa: F401
import test_sanitizer_canary  # noqa: F401
import test_slowloris_http  # noqa: F401
import test_service_faults  # noqa: F401

if __name__ == "__main__":
    sys.exit(runner.main(list(harness.TESTS)))
