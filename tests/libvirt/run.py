#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the libvirt end-to-end tests (test_libvirt.py, test_legacy_nic.py), each in a fresh LibvirtEnv:
`run.py --list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped.
Imports tests/lib/ (PYTHONPATH)."""

import sys

import libvirt_env
import runner
import test_legacy_nic
import test_libvirt

TESTS = {**test_libvirt.TESTS, **test_legacy_nic.TESTS}

if __name__ == "__main__":
    sys.exit(runner.main_in_worlds(TESTS, libvirt_env.LibvirtEnv, libvirt_env.LibvirtEnv.check_environment))
