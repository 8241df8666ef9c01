#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the frontend integration tests with the shared harness and runner (tests/lib/, on
PYTHONPATH): `fe_run.py --list`, `fe_run.py --builddir B NAME...`.
Exit status: 0 passed, 1 failed, 77 skipped."""

import sys

import harness
import runner
import test_http  # noqa: F401
import test_direct  # noqa: F401
import test_shutdown  # noqa: F401
import test_vsock  # noqa: F401

if __name__ == "__main__":
    sys.exit(runner.main(list(harness.TESTS)))
