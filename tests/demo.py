#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`make demo`: azshci-attestation end to end on its embedded default (the local CA).

Everything runs in throw-away namespaces and on a private bus, nothing on the host's own bus
or network is touched: a "host" network namespace where azshci-attestd runs (as its own user,
with CAP_NET_ADMIN only) next to the socket-activated HTTP frontend, a private dbus-daemon
with the project's bus policy, the real polkitd with the project's actions, and two legacy
guests (namespaces with a veth NIC each). As an administrator would, the demo syncs with the
embedded CA, imports the demo inventory, turns legacy OS support on, shows the dashboards,
lets guest A fetch its document with curl (verified with azshci-attest and plain openssl,
trusting only the exported root) while guest B, never given access, is refused; asks for a
vsock VM's document the way the vsock frontend does; and turns legacy support off again.
The service follows a private libvirtd (tests/lib/libvirt_env.py) beside the hand-made
inventory: a real QEMU guest (TCG) defined through libvirt appears on the bus by itself and
fetches and verifies its own document over the legacy bridge (about 7 s more: 17 s in all here).
While it runs, the Cockpit page (client/cockpit) is served by the real cockpit-ws on the demo's
bus and its URL is printed; `--keep` (`make demo-ui`) keeps everything up until Ctrl-C.
Needs root, like the integration tests.
"""

import argparse
import atexit
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))   # the shared test modules

import legacy_env  # noqa: E402
import harness  # noqa: E402
import cockpit_env  # noqa: E402
import guest  # noqa: E402
import libvirt_env  # noqa: E402

GUEST_A_ID = "5c0ffee0-2012-4e5a-9d1b-1e9a5e2c7b0a"
GUEST_B_ID = "5c0ffee0-2012-4e5a-9d1b-1e9a5e2c7b0b"


def step(title):
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


def show(h, *args, check=True):
    print(f"$ azshcictl {' '.join(args)}", flush=True)
    p = h.ctl(*args, check=check)
    print((p.stdout + p.stderr).rstrip(), flush=True)


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    print((p.stdout + p.stderr).rstrip(), flush=True)
    if p.returncode != 0:
        raise SystemExit(f"make demo: {cmd[0]} failed with {p.returncode}")
    return p


def start_cockpit(h):
    """The Cockpit page on the demo's bus: the real cockpit-ws with a local session as root
    (tests/lib/cockpit_env.py), stopped when the demo exits however it exits (LegacyEnv
    turns SIGTERM/SIGHUP into an exception). None, with a note, when Cockpit is missing."""
    if not os.access(cockpit_env.COCKPIT_WS, os.X_OK):
        print(f"(no Cockpit page: {cockpit_env.COCKPIT_WS} is missing; install cockpit-ws and cockpit-bridge)")
        return None
    ws = cockpit_env.CockpitWs(h)
    atexit.register(ws.stop)
    ws.start()
    print(f"Cockpit page (while the demo runs): {ws.url()}")
    return ws


def keep_running(ws):
    """--keep: the stack (and the page) stays up until Ctrl-C or SIGTERM."""
    step("The demo stack stays up" + (f": open {ws.url()}" if ws else ""))
    if ws:
        print(f"(from another machine: ssh -L 9090:127.0.0.1:{ws.port} root@this-host, then "
              f"http://localhost:9090/cockpit/@localhost/{cockpit_env.PACKAGE}/index.html)")
    print("Press Ctrl-C to stop and clean up.", flush=True)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        print("\nStopping.", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--keep", action="store_true",
                    help="keep the demo stack and the Cockpit page up until Ctrl-C (make demo-ui)")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    attest = os.path.join(build, "client", "azshci-attest")
    work = tempfile.mkdtemp(prefix="azshci-demo-")

    try:
        libvirt_env.LibvirtEnv.check_environment()
    except harness.Skip as e:
        sys.exit(f"make demo: {e}")

    with libvirt_env.LibvirtEnv(SRCDIR, build, name="demo") as env:
        h = env.h
        step("Private bus, real polkitd, azshci-attestd in a host namespace, HTTP frontend on 169.254.169.253:80")
        print(f"bus {h.bus_address}\nhost namespace {env.host_ns}, state {h.state_dir}")
        print(f"libvirtd {env.uri}")
        ws = start_cockpit(h)

        step("The server synced with the embedded CA at start; sync again by hand")
        show(h, "sync")
        show(h, "status")

        step("Import the demo inventory (every benefit, every status)")
        show(h, "vm", "import", os.path.join(SRCDIR, "data", "demo", "vms.json"))

        step("Two legacy guests: A is registered now, B only after legacy support is on")
        a = env.add_guest("a")
        b = env.add_guest("b")
        print(f"guest A: namespace {a.ns}, NIC {a.mac}, host side {a.host_if}")
        print(f"guest B: namespace {b.ns}, NIC {b.mac}, host side {b.host_if}")
        env.register(a, GUEST_A_ID, "legacy-a")
        show(h, "vm", "show", "legacy-a")

        step("A real QEMU guest defined through libvirt, without a NIC, appears on the bus by itself")
        kernel, initrd = guest.build_guest(env.libvirt_dir)
        serial = os.path.join(env.libvirt_dir, "domains", "qemu-guest.serial")
        xml = guest.domain_xml("qemu-guest", kernel, initrd, serial, None, None, "demoqemu")
        xml_path = os.path.join(env.libvirt_dir, "domains", "qemu-guest.xml")
        with open(xml_path, "w") as f:
            f.write(xml)
        print(f"$ virsh define {xml_path}")
        env.virsh("define", xml_path)
        qemu_id = env.virsh("domuuid", "qemu-guest").stdout.strip()
        env.wait_vm(qemu_id, timeout=1.0)
        show(h, "vm", "show", "qemu-guest")

        step("Turn legacy OS support on: the bridge, its firewall, and access for every VM that exists "
             "(the libvirt domain gets its legacy NIC; each VM that cannot is named with the reason)")
        show(h, "legacy", "on")
        print("$ virsh dumpxml --inactive qemu-guest   (its interface)")
        xml = env.virsh("dumpxml", "--inactive", "qemu-guest").stdout
        print(xml[xml.index("<interface"):xml.index("</interface>") + len("</interface>")].strip())
        env.register(b, GUEST_B_ID, "legacy-b")
        show(h, "vms")
        show(h, "legacy", "status")
        print("$ nft list table bridge azshci   (in the host namespace)")
        print(env.nft_list_table("bridge").rstrip())

        step("Guest A fetches its document over HTTP and verifies it")
        url = "http://169.254.169.253/metadata/attested/document?api-version=2018-10-01&nonce=abc"
        print(f"$ ip netns exec {a.ns} curl -H Metadata:true '{url}'")
        doc = env.fetch_ok(a, nonce="abc")
        print(doc[:100] + "...")
        # Which way the frontend asked the service: its direct socket, not dbus-daemon.
        for line in env.read_frontend_log().splitlines():
            if "Asking the service" in line:
                print("azshci-imdsd: " + line[line.index("Asking the service"):])
                break
        path = os.path.join(work, "guest-a.json")
        with open(path, "w") as f:
            f.write(doc)
        ca = os.path.join(work, "ca.pem")
        with open(ca, "w") as f:
            f.write(h.ctl("ca", "export").stdout)
        run([attest, "verify", "--ca", ca, "--nonce", "abc", "--vm-id", GUEST_A_ID,
             "--metadata-domain", "metadata.azshci.local", path])
        der = os.path.join(work, "guest-a.p7")
        with open(der, "wb") as f:
            f.write(base64.b64decode(json.loads(doc)["signature"]))
        run(["openssl", "smime", "-verify", "-inform", "DER", "-in", der, "-CAfile", ca])

        step("Guest B was never given access: its port is not on the bridge, it cannot even reach the host")
        r = env.fetch(b, nonce="abc", timeout=4)
        print(f"$ ip netns exec {b.ns} curl ... -> exit {r.rc}: {r.stderr.strip()}")
        if r.rc == 0 and r.response.status == 200:
            raise SystemExit("make demo: guest B was served, it should have been refused")

        step("The QEMU guest starts with the NIC legacy on gave it and fetches its document")
        print("$ virsh start qemu-guest   (the guest's busybox wget asks 169.254.169.253 for its document)")
        env.virsh("start", "qemu-guest")
        for _ in harness.deadline_loop(90, "the QEMU guest's document on its serial console", interval=0.2):
            qemu_doc = guest.read_document(serial)
            if qemu_doc is not None:
                break
        print(qemu_doc[:100] + "...")
        path = os.path.join(work, "qemu-guest.json")
        with open(path, "w") as f:
            f.write(qemu_doc)
        run([attest, "verify", "--ca", ca, "--nonce", "demoqemu", "--vm-id", qemu_id, path])

        step("A vsock VM (avd-host-01, CID 3) asks the way azshci-vsockd does")
        body = h.call("Attest", "sss", "vsock", "3", "demovsock", user=harness.TEST_FRONTEND_USER)[0]
        path = os.path.join(work, "avd-host-01.json")
        with open(path, "w") as f:
            f.write(body)
        vm_id = json.load(open(os.path.join(SRCDIR, "data", "demo", "vms.json")))[0]["Id"]
        run([attest, "verify", "--ca", ca, "--nonce", "demovsock", "--vm-id", vm_id, path])

        step("Turn legacy OS support off: bridge and firewall go, guest A is cut off")
        show(h, "legacy", "off")
        r = env.fetch(a, nonce="abc", timeout=4)
        print(f"$ ip netns exec {a.ns} curl ... -> exit {r.rc}: {r.stderr.strip()}")
        show(h, "vms")
        if args.keep:
            keep_running(ws)

    print("\nDemo finished: the service synced with its embedded CA, served the dashboards, signed "
          "documents that independent verifiers accepted, served guest A and refused guest B, "
          "and followed a QEMU guest defined through libvirt, which legacy on gave its NIC, to its own verified "
          "document.")
    if not args.keep:
        print("`make demo-ui` runs it and keeps the stack and the Cockpit page up until Ctrl-C.")


if __name__ == "__main__":
    main()
