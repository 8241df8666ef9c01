#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`make bench`, the libvirt line: how long azshci-attestd takes at start to reconcile N defined
domains of a real private libvirtd (tests/lib/libvirt_env.py) into its inventory.

    bench/bench-libvirt.py --srcdir S --builddir B [--domains 1000]

The domains (each with a NIC on the legacy bridge and the project's metadata) are written into
libvirtd's private configuration directory while it is stopped, so it loads them all at its
start; then the service starts with an empty state and the time is taken from its start until
GetManagedObjects lists every domain, next to the service's own log line ("Reconciled N libvirt
domain(s) in T ms"). Needs root; prints one line."""

import argparse
import os
import re
import sys
import time

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import benchpath  # noqa: E402,F401  (tests/lib on the path)
import libvirt_env  # noqa: E402
import harness  # noqa: E402

DOMAIN = """<domain type='qemu'><name>bench-{i:05d}</name><uuid>{uuid}</uuid><memory unit='MiB'>64</memory>
  <metadata><azshci:vm xmlns:azshci="https://azshci.org/xmlns/libvirt/vm/1"><azshci:sku>2022-Datacenter</azshci:sku>
  <azshci:sqlVersion>12.0.6024</azshci:sqlVersion></azshci:vm></metadata>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices><interface type='bridge'><source bridge='azshci-imds0'/><mac address='52:54:00:be:{hi:02x}:{lo:02x}'/>
  </interface></devices></domain>
"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--srcdir", default=SRCDIR)
    p.add_argument("--builddir", required=True)
    p.add_argument("--domains", type=int, default=1000)
    a = p.parse_args()
    if os.geteuid() != 0:
        print("bench-libvirt: needs root", file=sys.stderr)
        return 77
    with libvirt_env.LibvirtEnv(a.srcdir, a.builddir, name="bench-libvirt") as env:
        env.stop_libvirtd()
        qemu_dir = os.path.join(env.libvirt_dir, "etc", "qemu")
        os.makedirs(qemu_dir, exist_ok=True)
        for i in range(a.domains):
            uuid = f"be0c0000-0000-4000-8000-{i:012x}"
            with open(os.path.join(qemu_dir, f"bench-{i:05d}.xml"), "w") as f:
                f.write(DOMAIN.format(i=i, uuid=uuid, hi=i >> 8, lo=i & 0xff))
        env.start_libvirtd()
        env.h.stop_service()
        for f in os.listdir(env.h.state_dir):
            os.unlink(os.path.join(env.h.state_dir, f)) if f.startswith("state.json") else None
        t0 = time.monotonic()
        env.h.start_service(wait_sync=False)
        for _ in harness.deadline_loop(300, f"{a.domains} VMs on the bus", interval=0.05):
            if len(env.h.vm_paths()) == a.domains:
                break
        wall = time.monotonic() - t0
        m = re.findall(r"Reconciled (\d+) libvirt domain\(s\) in (\d+) ms", env.h.service_log())
        own = f"{m[-1][1]} ms in the service" if m else "no log line"
        print(f"libvirt: {a.domains} defined domains reconciled at start: {wall:.2f} s from service start "
              f"to all on the bus ({own})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
