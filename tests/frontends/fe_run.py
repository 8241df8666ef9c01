#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the frontend integration tests with the integration harness and its runner
(tests/integration/run.py's run_one): `fe_run.py --list`, `fe_run.py --builddir B NAME...`.
Exit status: 0 passed, 1 failed, 77 skipped."""

import argparse
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
import test_vsock  # noqa: E402,F401

MINE = [n for n in harness.TESTS if n not in BEFORE]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--list", action="store_true")
    p.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(HERE)))
    p.add_argument("--builddir", default=os.environ.get("AZSHCI_BUILD_DIR"))
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("tests", nargs="*")
    args = p.parse_args()
    if args.list:
        print("\n".join(MINE))
        return 0
    if not args.builddir:
        p.error("--builddir is required")
    names = args.tests or MINE
    unknown = [n for n in names if n not in MINE]
    if unknown:
        p.error(f"unknown tests: {' '.join(unknown)}")
    try:
        harness.Harness.check_environment()
    except harness.Skip as e:
        print(f"SKIP: {e}")
        return 77
    rcs = [it_run.run_one(n, args) for n in names]
    if any(rc == 1 for rc in rcs):
        return 1
    return 77 if all(rc == 77 for rc in rcs) else 0


if __name__ == "__main__":
    sys.exit(main())
