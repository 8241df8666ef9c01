#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the fault and leak tests of this directory with the integration harness
(tests/integration/harness.py and its runner): `run-faults.py --list` prints their names,
`run-faults.py --srcdir S --builddir B NAME...` runs them. Same exit codes as the integration
runner: 0 passed, 1 failed, 77 skipped."""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "frontends"))   # frontend.py (helpers only)
sys.path.insert(0, HERE)

import harness  # noqa: E402
import run as integration_run  # noqa: E402  (registers the integration tests too)

_before = set(harness.TESTS)
import test_valgrind  # noqa: E402,F401
import test_sanitizer_canary  # noqa: E402,F401
import test_slowloris_http  # noqa: E402,F401
import test_service_faults  # noqa: E402,F401

OURS = [n for n in harness.TESTS if n not in _before]


if __name__ == "__main__":
    sys.exit(integration_run.main(OURS))
