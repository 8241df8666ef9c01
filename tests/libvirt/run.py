#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the libvirt inventory end-to-end tests (test_libvirt.py), each in a fresh LibvirtEnv:
`run.py --list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped."""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import libvirt_env  # noqa: E402  (puts tests/legacy and tests/integration on the path)
import runner  # noqa: E402
import test_legacy_nic  # noqa: E402
import test_libvirt  # noqa: E402

TESTS = {**test_libvirt.TESTS, **test_legacy_nic.TESTS}


def run_one(name, args):
    return runner.run_case(
        name, lambda: libvirt_env.LibvirtEnv(args.srcdir, args.builddir, name=name, verbose=args.verbose),
        TESTS[name])


if __name__ == "__main__":
    sys.exit(runner.main(TESTS, run=run_one, check=libvirt_env.LibvirtEnv.check_environment))
