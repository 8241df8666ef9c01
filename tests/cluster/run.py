#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the cluster end-to-end tests (test_cluster.py), each in a fresh ClusterEnv:
`run.py --list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped."""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "legacy"))
sys.path.insert(0, HERE)

import legacy_env  # noqa: E402,F401  (puts tests/integration on the path)
import cluster_env  # noqa: E402
import runner  # noqa: E402
import test_cluster  # noqa: E402


def run_one(name, args):
    return runner.run_case(
        name, lambda: cluster_env.ClusterEnv(args.srcdir, args.builddir, name=name, verbose=args.verbose,
                                             **test_cluster.OPTIONS.get(name, {})),
        test_cluster.TESTS[name])


if __name__ == "__main__":
    sys.exit(runner.main(test_cluster.TESTS, run=run_one, check=cluster_env.ClusterEnv.check_environment))
