#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the legacy OS support end-to-end tests (test_legacy.py), each in a fresh LegacyEnv:
`run.py --list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped."""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import legacy_env  # noqa: E402  (puts tests/integration on the path)
import runner  # noqa: E402  (the shared runner of tests/integration)
import test_legacy  # noqa: E402


def run_one(name, args):
    return runner.run_case(
        name, lambda: legacy_env.LegacyEnv(args.srcdir, args.builddir, name=name, verbose=args.verbose),
        test_legacy.TESTS[name])


if __name__ == "__main__":
    sys.exit(runner.main(test_legacy.TESTS, run=run_one, check=legacy_env.LegacyEnv.check_environment))
