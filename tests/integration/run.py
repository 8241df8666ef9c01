#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs integration tests: `run.py --list` prints their names (meson registers one test per
name); `run.py --srcdir S --builddir B NAME...` runs them, each with a fresh harness.
Exit status: 0 all passed, 1 something failed, 77 skipped (not root, tools missing)."""

import sys

import runner  # tests/lib/ (PYTHONPATH)
import test_api  # noqa: F401
import test_inventory  # noqa: F401
import test_access  # noqa: F401
import test_auth  # noqa: F401
import test_state  # noqa: F401
import test_signals  # noqa: F401
import test_ctl  # noqa: F401
import test_attest  # noqa: F401
import test_sync  # noqa: F401
import test_cmp_daemon  # noqa: F401
import test_import  # noqa: F401
import test_bus  # noqa: F401
import test_libraries  # noqa: F401

if __name__ == "__main__":
    sys.exit(runner.main())
