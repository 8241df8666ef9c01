#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the cluster end-to-end tests (test_cluster.py), each in a fresh ClusterEnv:
`run.py --list`, `run.py --builddir B [-v] [NAME...]`. Exit 0 passed, 1 failed, 77 skipped.
Imports tests/lib/ (PYTHONPATH) and cluster_env.py beside it."""

import sys

import cluster_env
import runner
import test_cluster

if __name__ == "__main__":
    sys.exit(runner.main_in_worlds(test_cluster.TESTS, cluster_env.ClusterEnv,
                                   cluster_env.ClusterEnv.check_environment, options=test_cluster.OPTIONS))
