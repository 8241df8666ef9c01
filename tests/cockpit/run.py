#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the Cockpit page tests (test_cockpit.py), each in a fresh CockpitWorld: `run.py
--list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped (not root)."""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cockpit_env  # noqa: E402  (puts tests/integration on the path)
import runner  # noqa: E402  (the shared runner of tests/integration)
import test_cockpit  # noqa: E402


def run_one(name, args):
    def test(world):
        test_cockpit.TESTS[name](world)
        world.check_page_log()
    return runner.run_case(
        name, lambda: cockpit_env.CockpitWorld(args.srcdir, args.builddir, name=name, verbose=args.verbose), test)


if __name__ == "__main__":
    sys.exit(runner.main(test_cockpit.TESTS, run=run_one, check=cockpit_env.check_environment))
