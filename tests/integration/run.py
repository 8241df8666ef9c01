#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs integration tests: `run.py --list` prints their names (meson registers one test per
name); `run.py --srcdir S --builddir B NAME...` runs them, each with a fresh harness.
Exit status: 0 all passed, 1 something failed, 77 skipped (not root, tools missing)."""

import argparse
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import test_api  # noqa: E402,F401
import test_inventory  # noqa: E402,F401
import test_access  # noqa: E402,F401
import test_auth  # noqa: E402,F401
import test_state  # noqa: E402,F401
import test_signals  # noqa: E402,F401
import test_ctl  # noqa: E402,F401
import test_attest  # noqa: E402,F401
import test_sync  # noqa: E402,F401

SKIP = 77


def run_one(name, args):
    fn, setup_args = harness.TESTS[name]
    h = harness.Harness(args.srcdir, args.builddir, name, verbose=args.verbose)
    failed = True
    start = time.monotonic()
    try:
        h.setup(**setup_args)
        fn(h)
        failed = False
        print(f"PASS {name} ({time.monotonic() - start:.1f}s)")
        return 0
    except harness.Skip as e:
        failed = False
        print(f"SKIP {name}: {e}")
        return SKIP
    except BaseException:
        print(f"FAIL {name}")
        traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        try:
            h.teardown(failed=failed)
        except Exception:
            print(f"teardown of {name} failed")
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--list", action="store_true")
    p.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(HERE)))
    p.add_argument("--builddir", default=os.environ.get("AZSHCI_BUILD_DIR"))
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("tests", nargs="*")
    args = p.parse_args()

    if args.list:
        print("\n".join(harness.TESTS))
        return 0
    if not args.builddir:
        p.error("--builddir is required")
    names = args.tests or list(harness.TESTS)
    unknown = [n for n in names if n not in harness.TESTS]
    if unknown:
        p.error(f"unknown tests: {' '.join(unknown)}")

    try:
        harness.Harness.check_environment()
    except harness.Skip as e:
        print(f"SKIP: {e}")
        return SKIP

    results = {n: run_one(n, args) for n in names}
    passed = sum(1 for r in results.values() if r == 0)
    failed = [n for n, r in results.items() if r not in (0, SKIP)]
    skipped = [n for n, r in results.items() if r == SKIP]
    if len(names) > 1:
        print(f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped")
        if failed:
            print("failed: " + " ".join(failed))
    if failed:
        return 1
    if skipped and not passed:
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
