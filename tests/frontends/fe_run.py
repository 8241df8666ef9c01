#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the frontend integration tests with the integration harness and its runner
(tests/integration/run.py's run_one): `fe_run.py --list`, `fe_run.py --builddir B NAME...`.
Exit status: 0 passed, 1 failed, 77 skipped."""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(1, HERE)

import harness  # noqa: E402
import run as it_run  # noqa: E402  (registers the integration cases too; we only run ours)

BEFORE = set(harness.TESTS)
import test_http  # noqa: E402,F401
import test_direct  # noqa: E402,F401
import test_vsock  # noqa: E402,F401

MINE = [n for n in harness.TESTS if n not in BEFORE]


if __name__ == "__main__":
    sys.exit(it_run.main(MINE))
