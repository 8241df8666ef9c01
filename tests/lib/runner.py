# SPDX-License-Identifier: LGPL-2.1-or-later
"""The test runner shared by every suite that drives the real service (integration,
frontends, faults, legacy, libvirt, cluster, cockpit): one world per test case, PASS/FAIL/SKIP lines, the same command
line and exit codes (0 passed, 1 failed, 77 skipped)."""

import argparse
import os
import sys
import time
import traceback

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def run_case(name, make, fn):
    """Runs one test: make() gives its world (start(), close(failed)); fn(world) is the test.
    Returns 0 (passed), 1 (failed) or SKIP; prints PASS/FAIL/SKIP and, on failure, the
    traceback (the world's close() prints its logs)."""
    world = make()
    failed = True
    start = time.monotonic()
    try:
        world.start()
        fn(world)
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
            world.close(failed=failed)
        except Exception:
            print(f"cleanup of {name} failed")
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()


class HarnessWorld:
    """The world of an integration test: a Harness set up with the test's arguments."""

    def __init__(self, name, args, setup_args):
        self.h = harness.Harness(args.srcdir, args.builddir, name, verbose=args.verbose)
        self.setup_args = setup_args

    def start(self):
        self.h.setup(**self.setup_args)

    def close(self, failed):
        self.h.teardown(failed=failed)


def run_one(name, args):
    fn, setup_args = harness.TESTS[name]
    return run_case(name, lambda: HarnessWorld(name, args, setup_args), lambda w: fn(w.h))


def main_in_worlds(tests, world, check, options=None, after=None):
    """main() for a suite whose tests each get a world of their own: world(srcdir, builddir,
    name=, verbose=, **options[name]) (LegacyEnv, ClusterEnv, LibvirtEnv, CockpitWorld);
    tests[name](world) is the test, then after(world) when given."""
    def run(name, args):
        def test(w):
            tests[name](w)
            if after:
                after(w)
        return run_case(name, lambda: world(args.srcdir, args.builddir, name=name, verbose=args.verbose,
                                            **(options or {}).get(name, {})), test)
    return main(tests, run=run, check=check)


def main(available=None, run=run_one, check=harness.Harness.check_environment):
    """The command line of every test runner here: `--list`, or `--builddir B [-v] [NAME...]`.
    available: the test names this runner offers (default: every integration test)."""
    available = list(available if available is not None else harness.TESTS)
    p = argparse.ArgumentParser()
    p.add_argument("--list", action="store_true")
    p.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(HERE)))
    p.add_argument("--builddir", default=os.environ.get("AZSHCI_BUILD_DIR"))
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("tests", nargs="*")
    args = p.parse_args()

    if args.list:
        print("\n".join(available))
        return 0
    if not args.builddir:
        p.error("--builddir is required")
    names = args.tests or available
    unknown = [n for n in names if n not in available]
    if unknown:
        p.error(f"unknown tests: {' '.join(unknown)}")

    try:
        check()
    except harness.Skip as e:
        print(f"SKIP: {e}")
        return SKIP

    results = {n: run(n, args) for n in names}
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
