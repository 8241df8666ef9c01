# SPDX-License-Identifier: LGPL-2.1-or-later
"""The cluster on etcd end to end (issue 15): three etcd members and three complete stacks in
network namespaces on one bridge (cluster_env.ClusterEnv). See README.md here for what each
case proves."""

import json
import threading

import harness
from harness import deadline_loop, eq

TESTS = {}
OPTIONS = {}   # ClusterEnv keyword arguments of a case

VM_M = "c1a5e001-0a0a-4a0a-8a0a-0000000000a1"
UNAVAILABLE = "org.azshci.Attestation1.Error.ClusterUnavailable"
CONVERGE = 15   # seconds any change may take to reach every server (leases are 2 s)


def case(name, **options):
    def deco(fn):
        TESTS[name] = fn
        OPTIONS[name] = options
        return fn
    return deco


def wait(what, pred, timeout=CONVERGE):
    for _ in deadline_loop(timeout, what, interval=0.1):
        if pred():
            return


def servers_table(s):
    """`azshcictl servers --json` on server s: {name: state}."""
    import json
    out = json.loads(s.h.ctl("servers", "--json").stdout)
    return {e["Name"]: e["State"] for e in out["servers"]}


@case("cluster-legacy-converges")
def legacy_converges(env):
    s1, s2, s3 = env.servers
    for s in env.servers:
        eq(s.cluster_store(), "Reachable", f"{s.server_name} ClusterStore")
        eq(s.bridge_gone(), True, f"{s.server_name}: no bridge before")
    s1.enable_legacy(True)
    for s in (s2, s3):
        wait(f"the bridge and firewall on {s.server_name}", s.bridge_up)
        wait(f"{s.server_name} LegacyOsSupport", lambda: s.legacy() == "On")
    eq(servers_table(s3), {"node1": "Active", "node2": "Active", "node3": "Active"}, "servers on node3")
    # the plain table names all three too
    out = s3.h.ctl("servers").stdout
    for name in ("node1", "node2", "node3"):
        if name not in out:
            raise AssertionError(f"`azshcictl servers` on node3 does not list {name}:\n{out}")
    # The per-VM variants go through etcd too (no VMs here: no VM lines); -RemoveVM's flag is
    # refused in a cluster.
    out = json.loads(s2.h.ctl("--json", "legacy", "on").stdout)
    eq((out["changes"], out["legacyOsSupport"]), ([], "On"), "legacy on --json on node2")
    e = s2.h.expect_error("org.freedesktop.DBus.Error.NotSupported", "EnableLegacyEx", ["false", "uint64 1"])
    eq(e.message, "In a cluster, revoke every VM's access with SetVMAccess(\"*\", false) (azshcictl vm-access "
                  "--all off), then turn legacy OS support off.", "EnableLegacyEx(false, 1) in a cluster")
    eq(s2.h.ctl("legacy", "off").stdout, "Legacy OS support: Off; 0 of 0 VM(s) have legacy access.\n",
       "legacy off on node2")
    for s in env.servers:
        wait(f"the bridge gone on {s.server_name}", s.bridge_gone)


@case("cluster-server-lease")
def server_lease(env):
    s1, s2, s3 = env.servers
    s2.h.kill_service()
    for s in (s1, s3):
        wait(f"{s.server_name} to see node2 Disconnected", lambda: s.servers().get("node2") == "Disconnected")
        eq(servers_table(s).get("node2"), "Disconnected", f"azshcictl servers on {s.server_name}")
    # Changed while node2 is down: it applies the cluster's setting when it starts.
    s1.enable_legacy(True)
    wait("node3's bridge", s3.bridge_up)
    eq(s2.bridge_gone(), True, "node2's bridge while its service is down")
    s2.h.start_service()
    for s in (s1, s3):
        wait(f"{s.server_name} to see node2 Active again", lambda: s.servers().get("node2") == "Active")
    wait("node2's bridge after its restart", s2.bridge_up)
    eq(s2.legacy(), "On", "node2's LegacyOsSupport after its restart")


@case("cluster-quorum")
def quorum(env):
    s1, s2, s3 = env.servers
    # One member down (quorum 2/3): everything works.
    s3.stop_member()
    s1.enable_legacy(True)
    for s in env.servers:
        wait(f"the bridge on {s.server_name} with one member down", s.bridge_up)
    # Two down: reads still served, changes refused, nothing applied anywhere.
    s2.stop_member()
    for s in env.servers:
        wait(f"{s.server_name} ClusterStore Unreachable", lambda: s.cluster_store() == "Unreachable", timeout=20)
    monitors = [s.h.monitor() for s in env.servers]
    marks = [mon.mark() for mon in monitors]
    e = s1.h.expect_error(UNAVAILABLE, "EnableLegacy", ["false"], contains="nothing was changed")
    print(f"refused: {e.message}")
    s2.h.expect_error(UNAVAILABLE, "EnableLegacy", ["false"])
    for s, mon, mark in zip(env.servers, monitors, marks):
        mon.sync()
        flips = [m for m in mon.signals(since=mark, member="PropertiesChanged", path=harness.BUS_PATH)
                 if "LegacyOsSupport" in json.dumps(m.get("payload", {}))]
        eq(flips, [], f"LegacyOsSupport changes on {s.server_name} during the refused calls")
    for s in env.servers:
        eq(s.legacy(), "On", f"{s.server_name} LegacyOsSupport after the refused change")
        eq(s.bridge_up(), True, f"{s.server_name}'s bridge after the refused change")
        eq(sorted(s.servers()), ["node1", "node2", "node3"], f"servers listed on {s.server_name}")
    # Back: reachable again, and changes apply everywhere.
    s2.start_member()
    s3.start_member()
    for s in env.servers:
        wait(f"{s.server_name} ClusterStore Reachable", lambda: s.cluster_store() == "Reachable", timeout=30)
    s3.enable_legacy(False)
    for s in env.servers:
        wait(f"the bridge gone on {s.server_name}", s.bridge_gone)


@case("cluster-migration")
def migration(env):
    s1, s2, s3 = env.servers
    g = s1.add_guest("mig")
    s1.register(g, VM_M, "mover")
    s1.enable_legacy(True)          # grants every VM registered now, in etcd too
    wait("node2's bridge", s2.bridge_up)
    payload = s1.verify(s1.fetch_ok(g, nonce="on1"), nonce="on1", vm_id=VM_M)
    eq(payload["vmId"], VM_M, "vmId on node1")

    # Live migration: the VM leaves node1 and appears on node2 with the same UUID and MAC.
    s1.h.call("UnregisterVM", "s", VM_M)
    from legacy_env import sh
    sh(["ip", "-n", s1.host_ns, "link", "set", g.host_if, "netns", s2.host_ns])
    g.env = s2
    s2.register(g, VM_M, "mover")   # registered without LegacyAccess: the grant in etcd gives it
    wait("the VM's legacy access on node2",
         lambda: s2.h.get_property("LegacyAccess", path=harness.vm_path(VM_M), interface=harness.IFACE_VM))
    wait("the VM's port attached on node2", lambda: s2.port_state(g)[0] == "azshci-imds0")
    payload = s2.verify(s2.fetch_ok(g, nonce="on2"), nonce="on2", vm_id=VM_M)
    eq(payload["vmId"], VM_M, "vmId on node2")
    eq(g.host_if in s1.host_links(), False, "the port is gone from node1")


@case("cluster-fix-vm-access")
def fix_vm_access(env):
    """FixVM EnableVMLegacyAccess goes through etcd like SetVMAccess: the grant is in the
    cluster store (<prefix>/grants/<id>), so the VM has access on whichever server it moves to;
    the reply is FixVM's text once this server applied it."""
    s1, s2, _ = env.servers
    vm = "c1a5e001-0f0f-4f0f-8f0f-0000000000f1"
    nic = dict(LegacyInterface="azvfix1", LegacyMac="52:54:00:0f:0f:01")   # a name only: no such link
    s1.register(None, vm, "fixme", **nic)
    s1.enable_legacy(True)
    s1.h.call("SetVMAccess", "sb", vm, False)
    text = s1.h.call("FixVM", "ss", "fixme", "EnableVMLegacyAccess")[0]
    dump = s1.host(["etcdctl", f"--endpoints=http://{s1.ip}:2379", "get", f"/azshci/grants/{vm}"]).stdout
    if '"legacyAccess":true' not in dump.replace(" ", ""):
        raise AssertionError(f"the grant is not in etcd:\n{dump}")
    eq(text, "VM 'fixme' has legacy access.", "FixVM's reply")
    eq(s1.h.get_property("LegacyAccess", path=harness.vm_path(vm), interface=harness.IFACE_VM), True,
       "LegacyAccess on node1")
    s1.h.call("UnregisterVM", "s", vm)
    s2.register(None, vm, "fixme", **nic)   # without LegacyAccess: the grant in etcd gives it
    wait("the VM's legacy access on node2",
         lambda: s2.h.get_property("LegacyAccess", path=harness.vm_path(vm), interface=harness.IFACE_VM))


@case("cluster-vm-access-results")
def vm_access_results(env):
    """SetVMAccessEx in a cluster says VM by VM what it did: a VM of this server what it got
    here (the messages of one server; nothing for a VM that needed nothing), a VM of another
    server `recorded` (its server applies the grant from etcd); `azshcictl vm-access` prints
    one line each and exits 0 with refusals and recorded grants (no failure)."""
    s1, s2, _ = env.servers
    near, far, old = (f"c1a5e001-0e0e-4e0e-8e0e-0000000000e{i}" for i in (1, 2, 3))
    s1.enable_legacy(True)
    wait("node2's LegacyOsSupport", lambda: s2.legacy() == "On")
    # Registered by hand with a legacy NIC by name only (no such link: no port to attach).
    s1.register(None, near, "near", LegacyInterface="azvnear", LegacyMac="52:54:00:0e:0e:01")
    s1.register(None, old, "old", generation=1, LegacyInterface="azvold", LegacyMac="52:54:00:0e:0e:03")
    s2.register(None, far, "far", LegacyInterface="azvfar", LegacyMac="52:54:00:0e:0e:02")

    def access(s, vm):
        return s.h.get_property("LegacyAccess", path=harness.vm_path(vm), interface=harness.IFACE_VM)

    def ex(vm, on):
        return s1.h.call("SetVMAccessEx", "sb", vm, on)[0]

    granted = [near, "near", "granted", "legacy NIC azvnear (52:54:00:0e:0e:01) becomes a port of azshci-imds0"]
    recorded = [far, far, "recorded", "the cluster store holds the grant; the server that runs the VM applies it"]
    refused = [old, "old", "refused",
               "VM 'old' is a Generation 1 VM and is Running: power it off before giving it legacy access."]
    eq(ex("near", True), [granted], "SetVMAccessEx('near', true) on node1")
    eq(access(s1, near), True, "near's LegacyAccess on node1")
    eq(ex(near, True), [], "SetVMAccessEx(near, true) again (nothing needed a change, as on one server)")
    eq(ex(far, True), [recorded], "SetVMAccessEx(far's id, true) on node1")
    wait("far's legacy access on node2", lambda: access(s2, far))
    eq(ex("old", True), [refused], "SetVMAccessEx('old', true) on node1 (Generation 1, Running)")
    eq(access(s1, old), False, "old's LegacyAccess on node1")

    # azshcictl: one line per VM (this server's in inventory order, then the others), exit 0.
    p = s1.h.ctl("vm-access", "--all", "off")
    eq(p.stdout, "near: revoked: access revoked, its port detached\n"
                 f"{far}: recorded: the cluster store holds the revocation; the server that runs the VM applies it\n"
                 "Legacy OS support: On; 0 of 2 VM(s) have legacy access.\n", "azshcictl vm-access --all off")
    wait("far's legacy access gone on node2", lambda: not access(s2, far))
    p = s1.h.ctl("vm-access", "--all", "on")
    eq(p.stdout, f"near: granted: {granted[3]}\nold: refused: {refused[3]}\n{far}: recorded: {recorded[3]}\n"
                 "Legacy OS support: On; 1 of 2 VM(s) have legacy access.\n", "azshcictl vm-access --all on")
    wait("far's legacy access on node2 again", lambda: access(s2, far))
    p = s1.h.ctl("vm-access", far, "off", check=False)
    eq((p.returncode, p.stdout), (0, f"{far}: recorded: the cluster store holds the revocation; the server that "
                                     "runs the VM applies it\nLegacy OS support: On; VM "
                                     f"'{far}' is not on this server: the server that runs it applies the change.\n"),
       f"azshcictl vm-access {far} off")
    wait("far's legacy access gone on node2 again", lambda: not access(s2, far))


@case("cluster-concurrent-legacy")
def concurrent(env):
    s1, s2, s3 = env.servers
    for rnd in range(3):
        errors = []

        def call(s, on):
            try:
                s.enable_legacy(on)
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=call, args=(s1, True)), threading.Thread(target=call, args=(s2, False))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(errors, [], f"round {rnd}: both calls succeed")

        def agreed():
            states = {s.legacy() for s in env.servers}
            if len(states) != 1:
                return False
            on = states.pop() == "On"
            return all(s.bridge_up() if on else s.bridge_gone() for s in env.servers)
        wait(f"round {rnd}: every server agrees", agreed)


@case("cluster-reapply")
def reapply(env):
    s1, s2, s3 = env.servers
    s1.enable_legacy(True)
    wait("node2's bridge", s2.bridge_up)
    s2.host(["ip", "link", "del", "azshci-imds0"])
    eq(s2.bridge_up(), False, "node2's bridge deleted by hand")
    # From node1, like Enable-AzStackHCIAttestation -ComputerName node2.
    s1.h.ctl("legacy", "reapply", "node2")
    wait("node2's bridge rebuilt", s2.bridge_up)
    s1.h.expect_error("org.azshci.Attestation1.Error.NoSuchServer", "ReapplyLegacy", ["'node9'"])


@case("cluster-one-root", cmp_ca=True)
def one_root(env):
    """Every server enrolled with the cluster's one CA (the CMP CA in node1's namespace): a
    guest on each server verifies its document with that one root certificate, and every
    server's GetTrustAnchor is that certificate."""
    with open(env.ca.cert) as f:
        root = f.read()
    env.servers[0].enable_legacy(True)
    for i, s in enumerate(env.servers, start=1):
        eq(s.h.call("GetTrustAnchor")[0].strip(), root.strip(), f"{s.server_name}'s trust anchor")
        vm = f"c1a5e001-0b0b-4b0b-8b0b-00000000000{i}"
        g = s.add_guest(f"r{i}")
        s.register(g, vm, f"rooted-{i}")
        s.set_access(vm, True)
        wait(f"the port of {g.tag} on {s.server_name}", lambda: s.port_state(g)[0] == "azshci-imds0")
        doc = s.fetch_ok(g, nonce=f"n{i}")
        payload = json.loads(harness.verify_document(s.h, doc, env.ca.cert, nonce=f"n{i}", vm_id=vm))
        eq(payload["vmId"], vm, f"vmId of the document of {s.server_name}")


# ---------------------------------------------------------------- one root with the embedded CA

CA_SUBJECT_DOMAIN = harness.METADATA_DOMAIN


def issued_count(s1, name, kind):
    """How often node1's cluster CA logged a certificate for name ("key update" or "initial registration")."""
    return harness.log_count(s1.h, f"Cluster CA: issued a certificate for {name}.{CA_SUBJECT_DOMAIN} ({kind}).")


def openssl_cmp(s, root, *args):
    """`openssl cmp -cmd ir` from server s's namespace to the cluster CA on node1, with a fresh
    key; returns the CompletedProcess (never raises)."""
    import os
    import subprocess
    from cluster_env import CA_PORT, SUBNET
    key = os.path.join(s.h.tmp, f"cmp-key-{len(os.listdir(s.h.tmp))}.pem")
    s.h.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
    argv = ["ip", "netns", "exec", s.host_ns, "openssl", "cmp", "-cmd", "ir",
            "-server", f"{SUBNET}.1:{CA_PORT}", "-path", "cmp", "-newkey", key, "-trusted", root,
            "-subject", f"/CN=node9.{CA_SUBJECT_DOMAIN}", "-sans", f"node9.{CA_SUBJECT_DOMAIN}",
            "-msg_timeout", "10", "-total_timeout", "20", "-certout", key + ".crt", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@case("cluster-ca-one-root", ca_server=True)
def ca_one_root(env):
    """The embedded issuer everywhere, node1 the cluster's CA server: one root for every
    document, renewal through the CA server, unauthenticated enrolment refused, the CA key only
    on node1, Sync failing clearly while the CA server is down."""
    import os
    import re
    s1, s2, s3 = env.servers

    # ONE root: `azshcictl ca export` is the same on every server, and it is node1's CA.
    exports = {s.server_name: s.h.ctl("ca", "export").stdout for s in env.servers}
    eq(len(set(exports.values())), 1, f"azshcictl ca export on every server: {exports}")
    root_pem = exports["node2"]
    with open(os.path.join(s1.h.state_dir, "ca", "root.pem")) as f:
        ca_file = f.read()
    if root_pem.strip() not in ca_file:
        raise AssertionError("the exported root is not the certificate of node1's CA key")
    root = os.path.join(s2.h.tmp, "cluster-root.pem")   # readable by the test user
    with open(root, "w") as f:
        f.write(root_pem)
    os.chmod(root, 0o644)

    # The CA's private key is only in node1's state directory: no CA directory on the peers,
    # no private key in any of their files but their own signing key, none in etcd.
    for s in (s2, s3):
        eq(os.path.exists(os.path.join(s.h.state_dir, "ca")), False, f"{s.server_name} has a CA directory")
        for d, _, files in os.walk(s.h.state_dir):
            for name in files:
                p = os.path.join(d, name)
                with open(p, errors="replace") as f:
                    if "PRIVATE KEY" in f.read() and not p.startswith(os.path.join(s.h.state_dir, "keystore")):
                        raise AssertionError(f"a private key outside the keystore of {s.server_name}: {p}")
    dump = s1.host(["etcdctl", f"--endpoints=http://{s1.ip}:2379", "get", "--prefix", "/azshci"]).stdout
    eq("PRIVATE KEY" in dump, False, "a private key in etcd")
    eq(root_pem.strip() in dump.replace("\\n", "\n"), True, "the root published in etcd")

    # Whoever can write etcd cannot change the root the peers hand out: another root put into
    # the CA record is refused by node2 (which pinned node1's on first use; node1 puts its own
    # record back at once), and node2's export stays node1's root.
    fake_key = os.path.join(s2.h.tmp, "fake-root.key")
    s2.host(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", fake_key, "-out", fake_key + ".pem", "-subj", "/CN=not the cluster root", "-days", "1",
             "-addext", "basicConstraints=critical,CA:TRUE"])
    from cluster_env import CA_PORT
    with open(fake_key + ".pem") as f:
        fake = json.dumps({"server": "node1", "url": f"http://{s1.ip}:{CA_PORT}/cmp", "root": f.read()})
    s1.host(["etcdctl", f"--endpoints=http://{s1.ip}:2379", "put", "/azshci/ca", fake])
    harness.wait_log_count(s2.h, "is not the root this server trusts", 1, timeout=CONVERGE)
    eq(s2.h.ctl("ca", "export").stdout, root_pem, "node2's export after another root was put into etcd")
    wait("node1's own CA record back in etcd", lambda: root_pem.strip() in s1.host(
        ["etcdctl", f"--endpoints=http://{s1.ip}:2379", "get", "/azshci/ca"]).stdout.replace("\\n", "\n"))

    # Every server's document verifies with that one root (azshci-attest and openssl smime).
    s1.enable_legacy(True)
    guests = {}
    for i, s in enumerate(env.servers, start=1):
        vm = f"c1a5e001-0c0c-4c0c-8c0c-00000000000{i}"
        g = guests[s.server_name] = s.add_guest(f"k{i}")
        s.register(g, vm, f"ca-{i}")
        s.set_access(vm, True)
        wait(f"the port of {g.tag} on {s.server_name}", lambda: s.port_state(g)[0] == "azshci-imds0")
        doc = s.fetch_ok(g, nonce=f"c{i}")
        payload = json.loads(harness.verify_document(s.h, doc, root, nonce=f"c{i}", vm_id=vm))
        eq(payload["vmId"], vm, f"vmId of the document of {s.server_name}")
        issuer = harness.cert_field(s.h, harness.document_certs(s.h, doc)[0], "-issuer")
        eq(issuer, harness.cert_field(s.h, root_pem, "-subject").replace("subject=", "issuer="),
           f"issuer of {s.server_name}'s signing certificate")

    # A peer renews through the CA server: a key update signed with its current certificate.
    before = harness.keystore_identity(s2.h)[1]
    kur = issued_count(s1, "node2", "key update")
    s2.h.call("Sync")
    after = harness.keystore_identity(s2.h)[1]
    eq(before != after, True, "node2's certificate after Sync")
    eq(issued_count(s1, "node2", "key update"), kur + 1, "key updates for node2 logged by the CA server")
    s2.h.run(["openssl", "verify", "-CAfile", root, "-purpose", "smimesign"], input=after)
    harness.verify_document(s2.h, s2.fetch_ok(guests["node2"], nonce="renewed"), root, nonce="renewed")

    # Unauthenticated enrolment is refused: unprotected, and with a wrong secret. The same
    # request with the right secret works (so the refusals are the authentication's).
    ir = issued_count(s1, "node9", "initial registration")
    p = openssl_cmp(s3, root, "-unprotected_requests")
    eq(p.returncode != 0, True, f"unprotected IR accepted:\n{p.stdout}{p.stderr}")
    p = openssl_cmp(s3, root, "-ref", "node3", "-secret", "pass:not-the-secret")
    eq(p.returncode != 0, True, f"IR with a wrong secret accepted:\n{p.stdout}{p.stderr}")
    if not re.search(r"rejection|badMessageCheck|error", p.stdout + p.stderr):
        raise AssertionError(f"no CMP rejection in:\n{p.stdout}{p.stderr}")
    eq(issued_count(s1, "node9", "initial registration"), ir, "certificates issued for refused requests")
    from cluster_env import CA_SECRET
    p = openssl_cmp(s3, root, "-ref", "node3", "-secret", f"pass:{CA_SECRET}")
    eq(p.returncode, 0, f"IR with the enrolment secret:\n{p.stdout}{p.stderr}")
    eq(issued_count(s1, "node9", "initial registration"), ir + 1, "certificates issued with the secret")

    # The CA server down: the peers keep their valid certificate and serve documents; Sync
    # fails with a clear error.
    s1.h.kill_service()
    e = s3.h.expect_error("org.azshci.Attestation1.Error.SyncFailed", "Sync", [],
                          contains=["Cluster CA on server 'node1'", "unreachable"])
    print(f"Sync without the CA server: {e.message}")
    eq(s3.servers().get("node3"), "Active", "node3 with the CA server down")
