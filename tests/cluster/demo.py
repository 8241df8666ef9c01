#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`make demo-cluster`: three servers of one cluster converging through etcd.

Builds what tests/cluster uses (cluster_env.ClusterEnv, root only, nothing on the host's own bus
or network): three etcd members and three complete stacks (private bus, real polkitd,
azshci-attestd, HTTP frontend) in network namespaces on one bridge. Then, as an administrator
would: `azshcictl servers` on node3 lists all three; legacy OS support switched on at node1
appears as a bridge with its firewall on node2 and node3; node2's service is killed and the
others show it Disconnected after its lease, then Active again; legacy support switched off
at node3 disappears everywhere.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))   # the shared test modules

import cluster_env  # noqa: E402  (beside this file)


def step(text):
    print(f"\n== {text}", flush=True)


def show(s, *args):
    print(f"$ azshcictl {' '.join(args)}     # on {s.server_name}")
    print(s.h.ctl(*args).stdout.rstrip(), flush=True)


def timed(env, what, pred):
    start = time.monotonic()
    env.wait(pred, what, timeout=30)
    print(f"   {what}: {time.monotonic() - start:.2f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(SRCDIR, "build"))
    args = ap.parse_args()

    with cluster_env.ClusterEnv(SRCDIR, args.build_dir, name="demo-cluster") as env:
        s1, s2, s3 = env.servers
        step("three servers, three etcd members; every server sees all three")
        show(s3, "servers")
        show(s1, "status")

        step("legacy OS support on, at node1")
        show(s1, "legacy", "on")
        for s in (s2, s3):
            timed(env, f"bridge and firewall on {s.server_name}", s.bridge_up)
        print(s3.nft_list_table("inet").rstrip())

        step("kill -9 node2's service: the others see it Disconnected after its lease")
        s2.h.kill_service()
        timed(env, "node1 shows node2 Disconnected", lambda: s1.servers().get("node2") == "Disconnected")
        show(s1, "servers")
        s2.h.start_service()
        timed(env, "node1 shows node2 Active again", lambda: s1.servers().get("node2") == "Active")

        step("legacy OS support off, at node3")
        show(s3, "legacy", "off")
        for s in (s1, s2):
            timed(env, f"bridge gone on {s.server_name}", s.bridge_gone)
        show(s2, "status")
    print("\nThe cluster demo ran end to end.")


if __name__ == "__main__":
    main()
