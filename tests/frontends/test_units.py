#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`systemd-analyze verify` on every unit the build configures (data/*.service, *.socket),
with ExecStart= pointed at the build tree; a deliberately broken copy must fail (the check can
fail); the frontends' units keep their sandboxing and an offline security exposure of at most
2.0. Usage: test_units.py BUILDDIR. Exit 0 pass, 1 fail, 77 skip."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from unit_security import exposure


def main():
    build = os.path.abspath(sys.argv[1])
    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze is missing (package systemd)")
        return 77
    units = sorted(glob.glob(os.path.join(build, "data", "*.service")) +
                   glob.glob(os.path.join(build, "data", "*.socket")))
    names = [os.path.basename(u) for u in units]
    for need in ("azshci-imds.socket", "azshci-imds.service", "azshci-vsock.socket", "azshci-vsock.service"):
        if need not in names:
            print(f"FAIL: {need} was not configured")
            return 1
    failed = False
    with tempfile.TemporaryDirectory(prefix="azshci-units-") as tmp:
        for u in units:
            with open(u) as f:
                text = f.read()
            # Installed paths → the build tree, so that verify finds the executables.
            text = re.sub(r"ExecStart=(\S*/)(azshci-[a-z]+)",
                          lambda m: "ExecStart=" + os.path.join(build, "service", m.group(2)), text)
            with open(os.path.join(tmp, os.path.basename(u)), "w") as f:
                f.write(text)
        env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice", SYSTEMD_PAGER="", SYSTEMD_COLORS="0")
        for name in names:
            p = subprocess.run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no", name],
                               cwd=tmp, capture_output=True, text=True, env=env, timeout=60)
            ok = p.returncode == 0 and not p.stderr.strip()
            print(f"{'ok' if ok else 'FAIL'}: systemd-analyze verify {name}{'' if ok else ': ' + p.stderr.strip()}")
            failed |= not ok

        # Negative control: a typo in a directive must make verify fail.
        with open(os.path.join(tmp, "azshci-imds.service")) as f:
            text = f.read()
        with open(os.path.join(tmp, "broken-imds.service"), "w") as f:
            f.write(text.replace("NoNewPrivileges=yes", "NoNewPrivileges=perhaps"))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no",
                            "broken-imds.service"], cwd=tmp, capture_output=True, text=True, env=env, timeout=60)
        if p.returncode == 0 and not p.stderr.strip():
            print("FAIL: a broken unit passes systemd-analyze verify: the check proves nothing")
            failed = True
        else:
            print("ok: a broken unit is rejected")

        for name in ("azshci-imds.service", "azshci-vsock.service"):
            with open(os.path.join(tmp, name)) as f:
                text = f.read()
            for line in ("User=azshci-frontend", "CapabilityBoundingSet=\n", "NoNewPrivileges=yes",
                         "ProtectSystem=strict", "PrivateTmp=yes", "SystemCallFilter=@system-service"):
                if line not in text.replace("\r", ""):
                    print(f"FAIL: {name} lacks {line.strip()}")
                    failed = True
            # Without tcp_fwmark_accept the accepted sockets carry no port mark and every guest
            # gets 403 (docs/trust-model.md): the HTTP frontend's unit sets it before each start.
            if "imds" in name and "ExecStartPre=+sysctl -q -w net.ipv4.tcp_fwmark_accept=1\n" not in text:
                print(f"FAIL: {name} does not set net.ipv4.tcp_fwmark_accept=1 before it starts")
                failed = True
            fams = re.search(r"^RestrictAddressFamilies=(.*)$", text, re.M).group(1).split()
            want = ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"] if "imds" in name else ["AF_UNIX", "AF_VSOCK"]
            if fams != want:
                print(f"FAIL: {name}: RestrictAddressFamilies={' '.join(fams)}, expected {' '.join(want)}")
                failed = True
            try:
                value, _ = exposure(tmp, name)
            except AssertionError as e:
                print(f"FAIL: {name}: {e}")
                failed = True
                continue
            if value > 2.0:
                print(f"FAIL: {name}: exposure {value} (want <= 2.0)")
                failed = True
            else:
                print(f"ok: {name} exposure {value}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
