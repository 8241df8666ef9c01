#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Attest latency on the direct socket with and without an inventory reader (docs/frontends.md,
"The direct socket"). Not part of `make bench`; run by hand as root on a built tree:

    bench/direct-latency.py --builddir build [--vms 10000] [--calls 2000] [--readers 1] [--obey]

The real service on the integration harness's private bus (tests/lib/harness.py), N VMs
imported with ImportVMs; then `bench-bus attest --direct --inflight=1` as a member of
azshci-frontend (one call at a time: the latency of each, not the throughput), first alone,
then while `readers` unprivileged clients (azshci-test) repeat GetManagedObjects (about 680
bytes per VM) as fast as they can. Prints p50/p99/max of both runs and how many
GetManagedObjects replies the readers got meanwhile, and how many the service refused (each
user's inventory read budget, docs/frontends.md). Asserts nothing about speed."""

import argparse
import os
import re
import sys
import threading
import time

import benchpath  # noqa: F401  (tests/lib on the path)

sys.dont_write_bytecode = True


def parse_kv(out):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", out)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p.add_argument("--builddir", required=True)
    p.add_argument("--vms", type=int, default=10000)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--readers", type=int, default=1)
    p.add_argument("--obey", action="store_true", help="readers wait as long as LimitsExceeded says")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("direct-latency: needs root (private bus, polkitd, setpriv)", file=sys.stderr)
        return 77
    import harness

    bench_bus = os.path.join(os.path.abspath(a.builddir), "bench", "bench-bus")
    h = harness.Harness(a.srcdir, a.builddir, "direct-latency")
    h.setup(start_service=False)
    failed = True
    try:
        h.write_config(automaticSync=False)
        h.start_service(wait_sync=False)
        h.call("Sync")
        h.wait_server_state("Active")
        h.run([bench_bus, "import", f"--vms={a.vms}"], timeout=900)

        def attest():
            out = h.run([bench_bus, "attest", f"--calls={a.calls}", "--inflight=1", f"--peers=101:{min(a.vms, 1000)}",
                         f"--direct={h.frontend_socket}"], user=harness.TEST_FRONTEND_USER, timeout=900).stdout
            return parse_kv(out)

        alone = attest()

        stop = threading.Event()
        replies = [0] * a.readers
        gmo = {}

        refused = [0] * a.readers

        def reader(i):
            while not stop.is_set():
                p = h.run([bench_bus, "managed-objects"], user=harness.TEST_USER, timeout=600, check=False)
                if p.returncode == 0:
                    gmo.update(parse_kv(p.stdout))
                    replies[i] += 1
                elif "Too many inventory reads" in p.stderr:
                    refused[i] += 1
                    if a.obey:   # a client that waits as long as it was told to
                        stop.wait(float(re.search(r"again in ([0-9.]+) s", p.stderr).group(1)))
                else:
                    raise RuntimeError(f"GetManagedObjects failed: {p.stderr}")

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(a.readers)]
        for t in threads:
            t.start()
        while sum(replies) == 0:   # the readers are in full swing before we measure
            time.sleep(0.1)
        try:
            before, refused_before = sum(replies), sum(refused)
            loaded = attest()
            during, refused_during = sum(replies) - before, sum(refused) - refused_before
        finally:
            stop.set()
            for t in threads:
                t.join()
        failed = False
    finally:
        h.teardown(failed=failed)

    print(f"{a.vms} VMs, GetManagedObjects of {gmo['objects']} objects in {gmo['seconds']} s (the last one); "
          f"Attest on the direct socket, {a.calls} calls, one at a time:")
    for what, r in (("alone", alone), (f"{a.readers} GetManagedObjects reader(s), {during} replies ({refused_during} refused: "
                                   "LimitsExceeded) meanwhile", loaded)):
        print(f"  {what}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, "
              f"{r['over_20ms']} calls over 20 ms, {r['seconds']} s, errors {r['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
