#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs integration tests: `run.py --list` prints their names (meson registers one test per
name); `run.py --srcdir S --builddir B NAME...` runs them, each with a fresh harness.
Exit status: 0 all passed, 1 something failed, 77 skipped (not root, tools missing)."""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import runner  # noqa: E402
from runner import main, run_case, run_one, SKIP  # noqa: E402,F401  (for the other suites' runners)
import test_api  # noqa: E402,F401
import test_inventory  # noqa: E402,F401
import test_access  # noqa: E402,F401
import test_auth  # noqa: E402,F401
import test_state  # noqa: E402,F401
import test_signals  # noqa: E402,F401
import test_ctl  # noqa: E402,F401
import test_attest  # noqa: E402,F401
import test_sync  # noqa: E402,F401
import test_cmp_daemon  # noqa: E402,F401
import test_import  # noqa: E402,F401
import test_bus  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(runner.main())
