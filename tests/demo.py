#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`make demo`: the service end to end on its embedded default (the local CA).

Starts a private system bus, the real polkitd and azshci-attestd through the integration
harness (nothing on the host's own bus is touched), then, as an administrator would:
syncs with the embedded CA, imports the demo inventory, turns legacy OS support on and off,
shows the dashboards, asks for one attested document the way a guest frontend does, and
verifies it twice: with azshci-attest and with plain openssl, trusting only the exported
root. Needs root (like the integration tests).
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "frontends"))

import harness  # noqa: E402
import frontend  # noqa: E402

GUEST_VM_ID = "5c0ffee0-2012-4e5a-9d1b-1e9a5e2c7b00"


def step(title):
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


def show(h, *args, user=None):
    print(f"$ azshcictl {' '.join(args)}", flush=True)
    p = h.ctl(*args, user=user)
    print(p.stdout.rstrip(), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    try:
        harness.Harness.check_environment()
    except harness.Skip as e:
        sys.exit(f"make demo: {e}")

    h = harness.Harness(SRCDIR, args.build_dir, name="demo")
    env = None
    failed = True
    try:
        step("Private system bus, real polkitd, azshci-attestd with the embedded CA")
        h.setup(start_service=False)
        h.write_config(subscriptionId="8d5e4d0c-1c2a-4b7e-9a51-0f6a3c2b9e11", serverName="hci-node1")
        h.start_service(wait_sync=False)
        print(f"bus: {h.bus_address}\nstate: {h.state_dir}")

        step("Sync with the cloud CA's stand-in (the embedded local CA)")
        show(h, "sync")
        show(h, "status")

        step("Import the demo inventory (every benefit, every status)")
        show(h, "vm", "import", os.path.join(SRCDIR, "data", "demo", "vms.json"))
        show(h, "vms")

        step("A legacy guest: a network namespace whose NIC's MAC is registered")
        env = frontend.Env(h)
        guest = env.guest("demo")
        print(f"guest namespace {guest.ns}: NIC {guest.mac} at {guest.guest_ip}, host side {guest.host_ip}")
        show(h, "vm", "add", "--name", "legacy-ws2012r2", "--id", GUEST_VM_ID, "--generation", "2",
             "--power-state", "Running", "--data-exchange", "yes", "--os-name", "Windows Server 2012 R2 Datacenter",
             "--os-version", "6.3.9600.21620", "--legacy-mac", guest.mac)
        show(h, "vm", "show", "legacy-ws2012r2")

        step("Turn legacy OS support on: existing VMs get legacy access")
        show(h, "legacy", "on")
        show(h, "vms")

        step("The HTTP frontend, socket-activated, unprivileged, on the guest's host-side address")
        env.frontend(f"{guest.host_ip}:80")
        url = f"http://{guest.host_ip}/metadata/attested/document?api-version=2018-10-01&nonce=abc"
        print(f"$ ip netns exec {guest.ns} curl -H Metadata:true '{url}'", flush=True)
        r = env.curl(guest, url)
        print(f"HTTP {r.status}\n{r.body[:120]}...")
        if r.status != 200:
            raise SystemExit(f"make demo: the guest got HTTP {r.status}: {r.body}")
        work = tempfile.mkdtemp(prefix="azshci-demo-")
        guest_doc = os.path.join(work, "guest-document.json")
        with open(guest_doc, "w") as f:
            f.write(r.body)
        ca = os.path.join(work, "ca.pem")
        with open(ca, "w") as f:
            f.write(h.ctl("ca", "export").stdout)
        attest = os.path.join(args.build_dir, "client", "azshci-attest")
        cmd = [attest, "verify", "--ca", ca, "--nonce", "abc", "--vm-id", GUEST_VM_ID,
               "--metadata-domain", "metadata.azshci.local", guest_doc]
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        show(h, "vm", "show", "legacy-ws2012r2")

        step("A guest frontend asks for avd-host-01's document (vsock CID 3)")
        nonce = "demo" + os.urandom(6).hex()
        data = h.call("Attest", "sss", "vsock", "3", nonce, user=harness.TEST_FRONTEND_USER)
        body = data[0]
        print(body[:120] + "...")
        doc = os.path.join(work, "document.json")
        with open(doc, "w") as f:
            f.write(body)

        step("Verify with azshci-attest, trusting only the exported root")
        vm_id = json.load(open(os.path.join(SRCDIR, "data", "demo", "vms.json")))[0]["Id"]
        attest = os.path.join(args.build_dir, "client", "azshci-attest")
        cmd = [attest, "verify", "--ca", ca, "--nonce", nonce, "--vm-id", vm_id,
               "--metadata-domain", "metadata.azshci.local", doc]
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)

        step("Verify with plain openssl smime -verify -CAfile <exported root>")
        der = os.path.join(work, "document.p7")
        with open(der, "wb") as f:
            f.write(base64.b64decode(json.loads(body)["signature"]))
        cmd = ["openssl", "smime", "-verify", "-inform", "DER", "-in", der, "-CAfile", ca]
        print("$ " + " ".join(cmd), flush=True)
        p = subprocess.run(cmd, check=True, capture_output=True, text=True)
        print(p.stdout.strip())
        print(p.stderr.strip())

        step("Turn legacy OS support off again")
        show(h, "legacy", "off")
        show(h, "status")
        show(h, "vms")
        r = env.curl(guest, url)
        print(f"$ ip netns exec {guest.ns} curl ... -> HTTP {r.status} {r.body}")
        failed = False
    finally:
        if env:
            env.close(failed)
        h.teardown(failed=failed)
        if args.keep:
            print(f"kept {h.tmp}")
    print("\nDemo finished: the service synced with its embedded CA, served the dashboards, and signed "
          "documents for a vsock VM and a legacy guest that independent verifiers accepted.")


if __name__ == "__main__":
    main()
