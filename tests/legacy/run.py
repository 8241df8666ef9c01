#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the legacy OS support end-to-end tests (test_legacy.py), each in a fresh LegacyEnv:
`run.py --list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped."""

import argparse
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import legacy_env  # noqa: E402
import test_legacy  # noqa: E402

SKIP = 77


def run_one(name, args):
    fn = test_legacy.TESTS[name]
    env = legacy_env.LegacyEnv(args.srcdir, args.builddir, name=name, verbose=args.verbose)
    start = time.monotonic()
    failed = True
    try:
        env.start()
        fn(env)
        failed = False
        print(f"PASS {name} ({time.monotonic() - start:.1f}s)")
        return 0
    except legacy_env.Skip as e:
        failed = False
        print(f"SKIP {name}: {e}")
        return SKIP
    except BaseException:
        print(f"FAIL {name}")
        traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        try:
            env.close(failed=failed)
        except Exception:
            print(f"cleanup of {name} failed")
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
        print("\n".join(test_legacy.TESTS))
        return 0
    if not args.builddir:
        p.error("--builddir is required")
    names = args.tests or list(test_legacy.TESTS)
    unknown = [n for n in names if n not in test_legacy.TESTS]
    if unknown:
        p.error(f"unknown tests: {' '.join(unknown)}")
    try:
        legacy_env.LegacyEnv.check_environment()
    except legacy_env.Skip as e:
        print(f"SKIP: {e}")
        return SKIP
    rcs = {n: run_one(n, args) for n in names}
    failed = [n for n, rc in rcs.items() if rc == 1]
    if len(names) > 1:
        print(f"{sum(rc == 0 for rc in rcs.values())} passed, {len(failed)} failed, "
              f"{sum(rc == SKIP for rc in rcs.values())} skipped")
    if failed:
        return 1
    return SKIP if all(rc == SKIP for rc in rcs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
