# SPDX-License-Identifier: LGPL-2.1-or-later
"""Legacy OS support end to end (issue 5): guests that are real network namespaces, the real
service building the bridge and firewall in a host namespace, the socket-activated HTTP
frontend, curl in the guests, documents verified with azshci-attest and openssl. Every case
gets a fresh LegacyEnv (see legacy_env.py); see README.md here for what each one proves."""

import json
import os

import harness
from harness import deadline_loop, eq
from legacy_env import BRIDGE, HOST_IP, ALIAS, TABLE

TESTS = {}

VM_A = "5a1e0001-0a0a-4a0a-8a0a-00000000000a"
VM_B = "5a1e0001-0b0b-4b0b-8b0b-00000000000b"
VM_C = "5a1e0001-0c0c-4c0c-8c0c-00000000000c"
VM_D = "5a1e0001-0d0d-4d0d-8d0d-00000000000d"

UNREACHABLE_BODY = '{"error":"Service unavailable: the attestation service is not reachable, retry later"}'
UNIDENTIFIED_BODY = '{"error":"Forbidden: the requesting VM could not be identified"}'
OUR_TABLES = [("bridge", TABLE), ("inet", TABLE), ("netdev", TABLE)]
ISOLATED_PORT = (BRIDGE, True, "UP")   # legacy_env.port_state(): master, isolated, operstate
FREE_PORT = (None, None, "DOWN")       # a veth end nobody touched (we never set it up)


def case(name):
    def deco(fn):
        TESTS[name] = fn
        return fn
    return deco


def two_guests(env):
    """A registered before EnableLegacy(true) (so it gets access), B registered afterwards (a
    VM registered later gets no access). Returns (a, b)."""
    a = env.add_guest("a")
    b = env.add_guest("b")
    env.register(a, VM_A, "guest-a")
    env.enable_legacy(True)
    env.register(b, VM_B, "guest-b")
    eq(vm_prop(env, VM_A, "LegacyAccess"), True, "A's LegacyAccess")
    eq(vm_prop(env, VM_B, "LegacyAccess"), False, "B's LegacyAccess")
    return a, b


def vm_prop(env, vm_id, name):
    return env.h.get_property(name, path=harness.vm_path(vm_id), interface=harness.IFACE_VM)


def fetch_verified(env, guest, vm_id, nonce):
    """A's or B's document over HTTP, verified against GetTrustAnchor with nonce and vmId."""
    payload = env.verify(env.fetch_ok(guest, nonce), nonce=nonce, vm_id=vm_id)
    eq(payload["vmId"], vm_id, f"vmId of {guest.tag}'s document")
    eq(payload["nonce"], nonce, f"nonce of {guest.tag}'s document")
    return payload


def expect_no_connection(env, guest, rc=7, flush=False):
    """curl from guest gets no HTTP response at all. rc 7 = could not connect (the ARP
    request for 169.254.169.253 was never answered: EHOSTUNREACH after the kernel's 3 probes),
    28 = timed out (frames dropped after ARP resolved). flush: the guest forgets its
    neighbours first, so a host MAC it learnt earlier does not turn 7 into 28."""
    if flush:
        guest.run(["ip", "neigh", "flush", "dev", "eth0"], check=True)
    r = env.fetch(guest)
    eq((r.rc, r.response), (rc, None), f"fetch from {guest.tag} ({r!r})")
    return r


def assert_network_complete(env, guests):
    links = env.host_links()
    if BRIDGE not in links:
        raise AssertionError(f"no {BRIDGE} in {sorted(links)}")
    br = links[BRIDGE]
    eq(br["linkinfo"]["info_kind"], "bridge", "bridge kind")
    eq(br.get("ifalias"), ALIAS, "bridge alias")
    eq("UP" in br["flags"], True, "bridge up")
    eq(env.bridge_addresses(), [f"{HOST_IP}/16"], "bridge addresses")
    eq(env.host_tables(), OUR_TABLES, "nftables tables in HOST")
    for g in guests:
        eq(env.port_state(g), ISOLATED_PORT, f"port {g.host_if}")
    eq(bound_macs(env), {g.host_if: g.mac for g in guests}, "anti-spoofing bindings")
    ok, report = env.status()
    eq(ok, True, f"GetLegacyNetworkStatus ok ({report})")


def assert_ports_only(env, guests):
    """The links and tables are there (without asking the service, which may be stopped)."""
    eq(BRIDGE in env.host_links(), True, f"{BRIDGE} present")
    eq(env.host_tables(), OUR_TABLES, "nftables tables in HOST")
    for g in guests:
        eq(env.port_state(g), ISOLATED_PORT, f"port {g.host_if}")


def bound_macs(env):
    """{ifname: mac} of the set port_mac in table bridge azshci (nft -j)."""
    out = env.host(["nft", "-j", "list", "set", "bridge", TABLE, "port_mac"]).stdout
    s = next(e["set"] for e in json.loads(out)["nftables"] if "set" in e)
    return {e["concat"][0]: e["concat"][1] for e in s.get("elem", [])}


# --------------------------------------------------------------------------------- cases

@case("legacy-guests")
def test_guests(env):
    """A served and verified; B without access cannot even reach the bridge (its port is not
    attached); granted, B is served; isolation, firewall and anti-spoofing with real traffic."""
    a, b = two_guests(env)
    assert_network_complete(env, [a])
    eq(env.port_state(b), FREE_PORT, "B's port before access")

    fetch_verified(env, a, VM_A, "abc")

    # B without access: its host-side port is not on the bridge (not attached, down), so its
    # ARP request for 169.254.169.253 goes nowhere: "No route to host" after the kernel's three
    # ARP probes (~3 s), curl exit 7. The frontend never sees B, so no 403: the refusal happens
    # below IP. (The 403 of the frontend for a VM without access is case legacy-hand-attached.)
    expect_no_connection(env, b, rc=7)
    eq(b.tcp_connect(HOST_IP, 80), "No route to host", "B's TCP connect to the host without access")
    eq(env.host(["ip", "-j", "neigh", "show", "to", b.ip]).stdout.strip() in ("", "[]", "[ ]"), True,
       "HOST never heard from B")

    env.set_access("guest-b", True)
    eq(env.port_state(b), ISOLATED_PORT, "B's port after SetVMAccess(B, true)")
    fetch_verified(env, b, VM_B, "bcd")
    assert_network_complete(env, [a, b])
    print("----- nft list table bridge azshci (two ports) -----\n" + env.nft_list_table("bridge").rstrip())
    print("----- nft list table inet azshci -----\n" + env.nft_list_table("inet").rstrip())

    # Isolation: A cannot reach B. B listens on 8080 and reaches itself (control).
    lb = env.listener(b.ns, "0.0.0.0", 8080)
    eq(b.tcp_connect(b.ip, 8080), "connected", "B to its own listener (control)")
    eq(a.tcp_connect(b.ip, 8080), "No route to host", "A to B (ARP between guests is dropped)")
    # Even with B's MAC known (a static neighbour entry), A's frames to B are not forwarded.
    a.run(["ip", "neigh", "replace", b.ip, "lladdr", b.mac, "dev", "eth0", "nud", "permanent"], check=True)
    eq(a.tcp_connect(b.ip, 8080), "timeout", "A to B with B's MAC known")
    eq(lb.peers(at_least=1), [b.ip], "connections B's listener accepted")

    # Firewall: A reaches nothing on the host but TCP 80 on 169.254.169.253. HOST listens on
    # every address, port 8080, and has a second address 10.99.0.1 on another link (a veth pair
    # inside HOST: this kernel has no dummy links); A routes 10.99.0.0/24 through the host.
    lh = env.listener(env.host_ns, "0.0.0.0", 8080)
    env.host(["ip", "link", "add", "azl-x0", "type", "veth", "peer", "name", "azl-x1"])
    env.host(["ip", "addr", "add", "10.99.0.1/24", "dev", "azl-x0"])
    env.host(["ip", "link", "set", "azl-x0", "up"])
    env.host(["ip", "link", "set", "azl-x1", "up"])
    a.run(["ip", "route", "add", "10.99.0.0/24", "via", HOST_IP], check=True)
    eq(a.tcp_connect(HOST_IP, 8080), "timeout", "A to host port 8080")
    eq(a.tcp_connect("10.99.0.1", 8080), "timeout", "A to another host address")
    eq(a.tcp_connect("10.99.0.1", 80), "timeout", "A to port 80 of another host address")
    eq(lh.peers(), [], "connections the host listener accepted from A")
    p = env.host(["python3", "-c", "import socket;[socket.create_connection((h,8080),3).close() "
                                   "for h in ('169.254.169.253','10.99.0.1')];print('ok')"])
    eq(p.stdout.strip(), "ok", "the host reaches its own listener (control)")
    eq(lh.peers(at_least=2), [HOST_IP, "10.99.0.1"], "host listener peers after the control")
    fetch_verified(env, a, VM_A, "after-firewall")

    # Anti-spoofing: A takes B's MAC (the kernel flushes A's neighbours on the change, so A asks
    # ARP again, with B's MAC as sender on A's port: dropped). Nothing comes back.
    a.set_mac(b.mac)
    expect_no_connection(env, a, rc=7)
    eq(a.tcp_connect(HOST_IP, 80), "No route to host", "A spoofing B's MAC")
    # The bridge did not learn B's MAC on A's port (dropped before learning): B still served.
    fetch_verified(env, b, VM_B, "b-after-spoof")
    a.set_mac(a.mac)
    fetch_verified(env, a, VM_A, "a-own-mac")


@case("legacy-hand-attached")
def test_hand_attached(env):
    """A port someone attaches by hand (B, no access) reaches the frontend, but its packets
    carry no port mark (the firewall marks only the ports the service attached): the frontend
    identifies nobody and answers 403, and the status names the unexpected port."""
    a, b = two_guests(env)
    env.host(["ip", "link", "set", b.host_if, "master", BRIDGE, "up"])
    r = env.fetch(b)
    eq(r.rc, 0, f"B's fetch through a hand-attached port ({r!r})")
    eq((r.response.status, r.response.body), (403, UNIDENTIFIED_BODY), "B's response")
    if "carries no legacy port mark" not in env.read_frontend_log():
        raise AssertionError("the frontend log does not say why B was not identified")
    ok, report = env.status()
    eq(ok, False, "status with a hand-attached port")
    if f"Drift: port {b.host_if}:" not in report:
        raise AssertionError(f"the report does not name {b.host_if}: {report}")
    fetch_verified(env, a, VM_A, "abc")


@case("legacy-disable")
def test_disable(env):
    """EnableLegacy(false) removes the bridge and the tables; A's fetch fails; VMs keep their
    registration and access; EnableLegacy(true) brings everything back."""
    a, b = two_guests(env)
    fetch_verified(env, a, VM_A, "abc")
    env.enable_legacy(False)
    eq(env.h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport")
    eq(BRIDGE in env.host_links(), False, f"{BRIDGE} exists after EnableLegacy(false)")
    eq(env.host_tables(), [], "nftables tables in HOST after EnableLegacy(false)")
    eq(env.port_state(a)[0], None, "A's port master after EnableLegacy(false)")
    expect_no_connection(env, a, rc=7, flush=True)
    eq(vm_prop(env, VM_A, "LegacyAccess"), True, "A keeps its LegacyAccess")
    eq(vm_prop(env, VM_A, "LegacyInterface"), a.host_if, "A keeps its LegacyInterface")
    eq(env.status()[0], True, "status while off and nothing left")
    eq(env.h.ctl("legacy", "status", check=False).returncode, 0, "azshcictl legacy status while off")
    env.enable_legacy(True)
    # Turning it on grants every VM registered at that moment (the documented EnableLegacy
    # rule), so B, registered after the first EnableLegacy(true), now has access and a port.
    eq(vm_prop(env, VM_B, "LegacyAccess"), True, "B's LegacyAccess after off/on")
    assert_network_complete(env, [a, b])
    fetch_verified(env, a, VM_A, "again")
    fetch_verified(env, b, VM_B, "b-again")


@case("legacy-bridge-deleted")
def test_bridge_deleted(env):
    """A bridge deleted by hand is noticed by the service itself (periodic check: server Error,
    log), reported by GetLegacyNetworkStatus and `azshcictl legacy status` (exit 1), and
    repaired by EnableLegacy(false) + EnableLegacy(true)."""
    a, b = two_guests(env)
    fetch_verified(env, a, VM_A, "abc")
    server = harness.server_path("node1")
    eq(env.server_error(), "", "server Error before")

    env.host(["ip", "link", "del", BRIDGE])
    expect_no_connection(env, a, rc=7, flush=True)
    # Nobody asks: the service's own check (every 30 s) must find it.
    for _ in deadline_loop(45, "the server Error property to name the bridge", 0.5):
        if BRIDGE in env.server_error():
            break
    error = env.server_error()
    eq(error, f"Legacy network: bridge {BRIDGE} does not exist; port {a.host_if}: not attached to {BRIDGE} "
       "(repair: turn legacy OS support off and on again)", "server Error")
    if f"Legacy network: bridge {BRIDGE} does not exist" not in env.h.service_log():
        raise AssertionError("the service log does not name the missing bridge")

    ok, report = env.status()
    eq(ok, False, "GetLegacyNetworkStatus ok")
    for line in (f"Bridge: {BRIDGE} (present: no, up: no)", f"Drift: bridge {BRIDGE} does not exist",
                 f"Drift: port {a.host_if}: not attached to {BRIDGE}"):
        if line not in report.splitlines():
            raise AssertionError(f"{line!r} not in the report:\n{report}")
    p = env.h.ctl("legacy", "status", check=False, user=harness.TEST_USER)
    eq(p.returncode, 1, f"azshcictl legacy status exit on drift ({p.stdout}{p.stderr})")
    eq(p.stdout, report, "azshcictl legacy status output")
    eq(p.stderr, "azshcictl: The legacy network drifted from its configuration. Repair: "
       "azshcictl legacy off && azshcictl legacy on\n", "azshcictl legacy status stderr")
    p = env.h.ctl("--json", "legacy", "status", check=False)
    eq(p.returncode, 1, "azshcictl --json legacy status exit on drift")
    eq(json.loads(p.stdout), {"ok": False, "report": report}, "azshcictl --json legacy status")
    print(f"----- azshcictl legacy status after ip link del {BRIDGE} -----\n{report}{p.stderr}", end="")
    eq(env.h.get_all(server, harness.IFACE_SERVER)["Error"], error, "server Error (GetAll)")

    env.enable_legacy(False)
    env.enable_legacy(True)
    eq(env.server_error(), "", "server Error after the repair")
    # The repair is EnableLegacy(true), which also grants B (registered later, no access yet).
    eq(vm_prop(env, VM_B, "LegacyAccess"), True, "B's LegacyAccess after the repair")
    assert_network_complete(env, [a, b])
    p = env.h.ctl("legacy", "status", check=False)
    eq((p.returncode, p.stderr), (0, ""), "azshcictl legacy status after the repair")
    eq(json.loads(env.h.ctl("--json", "legacy", "status").stdout)["ok"], True, "--json ok after the repair")
    fetch_verified(env, a, VM_A, "repaired")


@case("legacy-restart")
def test_restart(env):
    """kill -9, bridge and firewall deleted by hand while the service is down: the next start
    rebuilds bridge, firewall and both ports from the persisted state. A clean restart keeps
    everything working."""
    a, b = two_guests(env)
    env.set_access("guest-b", True)
    assert_network_complete(env, [a, b])

    env.h.kill_service()
    env.host(["ip", "link", "del", BRIDGE])
    env.host(["nft", "delete", "table", "bridge", TABLE])
    env.host(["nft", "delete", "table", "inet", TABLE])
    env.host(["nft", "delete", "table", "netdev", TABLE])
    eq(BRIDGE in env.host_links(), False, "bridge deleted by hand")
    eq(env.host_tables(), [], "tables deleted by hand")
    eq(env.port_state(a)[0], None, "A's port released with the bridge")

    env.h.start_service()
    assert_network_complete(env, [a, b])
    eq(env.server_error(), "", "server Error after the restart")
    fetch_verified(env, a, VM_A, "after-kill")
    fetch_verified(env, b, VM_B, "b-after-kill")

    env.h.stop_service()   # SIGTERM: must exit 0
    # The network outlives the service (as a switch outlives its manager): the frontend is
    # still reachable through the bridge and says the service is not.
    assert_ports_only(env, [a, b])
    r = env.fetch(a)
    eq((r.rc, r.response and r.response.status, r.response and r.response.body),
       (0, 503, UNREACHABLE_BODY), f"A's fetch while the service is stopped ({r!r})")
    env.h.start_service()
    assert_network_complete(env, [a, b])
    fetch_verified(env, a, VM_A, "after-term")
    fetch_verified(env, b, VM_B, "b-after-term")


@case("legacy-damaged-state")
def test_damaged_state(env):
    """A state file the service cannot read, or one that is damaged, never takes the legacy
    network down (issue 11, item 3). A and B granted, then one more change (VM C registered),
    so state.json.old still holds both grants. Killed; state.json mode 000: the start is refused
    and bridge, tables and both ports stay, the frontend answers 503. Mode back, state.json
    truncated: the service starts from state.json.old, the network is complete and both guests
    are served; the server's Error says what happened."""
    a, b = two_guests(env)
    env.set_access("guest-b", True)
    env.register(None, VM_C, "guest-c")  # the last change: lost with the truncated file
    assert_network_complete(env, [a, b])

    h = env.h
    h.kill_service()
    path = os.path.join(h.state_dir, "state.json")
    with open(path, "rb") as f:
        content = f.read()

    os.chmod(path, 0o000)
    log_before = len(h.service_log())
    h.start_service(wait_ready=False)
    if h.wait_service_exit() == 0:
        raise AssertionError("the service started on a state file it could not read")
    text = f"Failed to read the state file ({path}: Permission denied): refusing to start."
    if text not in h.service_log()[log_before:]:
        raise AssertionError(f"the log does not say {text!r}")
    assert_ports_only(env, [a, b])
    eq(bound_macs(env), {g.host_if: g.mac for g in (a, b)}, "anti-spoofing bindings after the refused start")
    r = env.fetch(a)
    eq((r.rc, r.response and r.response.status, r.response and r.response.body),
       (0, 503, UNREACHABLE_BODY), f"A's fetch while the service cannot start ({r!r})")

    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(content[:len(content) // 2])
    h.start_service()
    assert_network_complete(env, [a, b])
    eq(vm_prop(env, VM_B, "LegacyAccess"), True, "B's LegacyAccess from the previous generation")
    error = env.server_error()
    if not error.startswith(f"State: state file was corrupt ({path}:"):
        raise AssertionError(f"server Error after the fallback: {error!r}")
    fetch_verified(env, a, VM_A, "after-fallback")
    fetch_verified(env, b, VM_B, "b-after-fallback")


@case("legacy-access-errors")
def test_access_errors(env):
    """With legacy support on: SetVMAccess for a VM without LegacyInterface is InvalidArgs naming
    the field; a running Generation 1 VM is refused with PowerOffRequired (and gets no port) until
    it is Off."""
    c_path = env.register(None, VM_C, "guest-c", LegacyMac="02:00:5e:10:00:0c")
    d = env.add_guest("d")
    env.register(d, VM_D, "guest-d", generation=1, power_state="Running")
    env.enable_legacy(True)
    # EnableLegacy(true) grants neither: C has no NIC, D is a running Generation 1 VM.
    eq(vm_prop(env, VM_C, "LegacyAccess"), False, "C's LegacyAccess after EnableLegacy(true)")
    eq(vm_prop(env, VM_D, "LegacyAccess"), False, "D's LegacyAccess after EnableLegacy(true)")
    eq(c_path, harness.vm_path(VM_C), "C's object path")

    e = env.h.expect_error("org.freedesktop.DBus.Error.InvalidArgs", "SetVMAccess",
                           ["'guest-c'", "true"], contains="'LegacyInterface'")
    eq(e.message, "VM 'guest-c' has no 'LegacyInterface': register the host side of its legacy NIC first.",
       "InvalidArgs message")
    e = env.h.expect_error(harness.ERROR_PREFIX + "PowerOffRequired", "SetVMAccess", ["'guest-d'", "true"])
    if "guest-d" not in e.message:
        raise AssertionError(f"PowerOffRequired does not name the VM: {e.message}")
    eq(vm_prop(env, VM_D, "LegacyAccess"), False, "D's LegacyAccess after the refusal")
    eq(env.port_state(d), FREE_PORT, "D's port after the refusal")

    env.h.call("UpdateVM", "sa{sv}", "guest-d", harness.vm_props_busctl({"PowerState": "Off"}))
    env.set_access("guest-d", True)
    eq(env.port_state(d), ISOLATED_PORT, "D's port once Off and granted")
    eq(env.status()[0], True, "status")


@case("legacy-per-vm-results")
def test_per_vm_results(env):
    """VMs registered by hand (issue 14): `legacy on` grants every VM it can and names each one
    it cannot with the reason (no NIC registered, a running Generation 1 VM), exit 0, the reason
    also in LegacyError; `vm-access --all on` the same; once D is Off it is granted; `legacy off
    --remove-vms` revokes every VM and detaches the ports."""
    a = env.add_guest("a")
    env.register(a, VM_A, "guest-a")
    env.register(None, VM_C, "guest-c", LegacyMac="02:00:5e:10:00:0c")
    d = env.add_guest("d")
    env.register(d, VM_D, "guest-d", generation=1, power_state="Running")
    no_nic = "VM 'guest-c' has no 'LegacyInterface': register the host side of its legacy NIC first."
    gen1 = "VM 'guest-d' is a Generation 1 VM and is Running: power it off before giving it legacy access."
    p = env.h.ctl("--json", "legacy", "on")
    out = json.loads(p.stdout)
    eq({c["name"]: (c["result"], c["message"]) for c in out["changes"]},
       {"guest-a": ("granted", f"legacy NIC {a.host_if} ({a.mac}) becomes a port of {BRIDGE}"),
        "guest-c": ("refused", no_nic), "guest-d": ("refused", gen1)}, "legacy on --json")
    eq((out["legacyOsSupport"], out["vmsWithAccess"], out["vms"]), ("On", 1, 3), "the final state")
    eq(env.port_state(a), ISOLATED_PORT, "A's port")
    eq((vm_prop(env, VM_C, "LegacyError"), vm_prop(env, VM_D, "LegacyError")),
       (f"no legacy access: {no_nic}", f"no legacy access: {gen1}"), "LegacyError of C and D")
    eq(vm_prop(env, VM_A, "LegacyError"), "", "A's LegacyError")

    p = env.h.ctl("vm-access", "--all", "on")
    eq(sorted(p.stdout.splitlines()), sorted([f"guest-c: refused: {no_nic}", f"guest-d: refused: {gen1}",
                                              "Legacy OS support: On; 1 of 3 VM(s) have legacy access."]),
       "vm-access --all on")
    env.h.call("UpdateVM", "sa{sv}", "guest-d", harness.vm_props_busctl({"PowerState": "Off"}))
    eq(vm_prop(env, VM_D, "LegacyError"), "", "D's LegacyError once Off")
    p = env.h.ctl("vm-access", "--all", "on")
    eq(sorted(p.stdout.splitlines()), sorted([
        f"guest-c: refused: {no_nic}", f"guest-d: granted: legacy NIC {d.host_if} ({d.mac}) becomes a port of {BRIDGE}",
        "Legacy OS support: On; 2 of 3 VM(s) have legacy access."]), "vm-access --all on with D Off")
    eq(env.port_state(d), ISOLATED_PORT, "D's port")

    p = env.h.ctl("legacy", "off", "--remove-vms")
    eq(sorted(p.stdout.splitlines()), ["Legacy OS support: Off; 0 of 3 VM(s) have legacy access.",
                                       "guest-a: revoked: access revoked, its port detached",
                                       "guest-d: revoked: access revoked, its port detached"], "legacy off --remove-vms")
    eq(vm_prop(env, VM_C, "LegacyError"), "", "C's LegacyError with legacy OS support off")
    p = env.h.ctl("legacy", "on", "--remove-vms", check=False)
    eq(p.returncode, 2, "--remove-vms with on is a usage error")


def bridge_mac(env):
    return env.host_links()[BRIDGE]["address"]


def host_neigh(env, ip):
    """The MAC HOST's neighbour table holds for ip on the bridge (None: no entry or none
    resolved)."""
    out = env.host(["ip", "-j", "neigh", "show", "to", ip, "dev", BRIDGE]).stdout.strip()
    entries = json.loads(out) if out else []
    return entries[0].get("lladdr") if entries else None


def forget_neighbours(guest):
    """The guest forgets every neighbour, pinned ones too: its next connection asks ARP."""
    guest.run(["ip", "neigh", "flush", "dev", "eth0", "nud", "all"], check=True)


def expect_nothing_served(env, guest, what):
    """No HTTP response at all: the guest's connection never completes (curl exit 28)."""
    r = env.fetch(guest)
    eq((r.rc, r.response), (28, None), f"{what} ({r!r})")


@case("legacy-spoofing")
def test_spoofing(env):
    """A guest (A) that takes the victim's (B's) address, with its own MAC or B's, with and
    without ARP, with B's port up and down, and that sends ARP carrying B's address, is never
    served B's vmId: it is served as A, or gets no answer when it sends with B's MAC. B is
    served as B throughout, also while ARP from A has repointed the host's entry for B's
    address. See docs/trust-model.md, "How a guest is identified"."""
    a, b = two_guests(env)
    env.set_access("guest-b", True)
    fetch_verified(env, a, VM_A, "a0")
    fetch_verified(env, b, VM_B, "b0")
    eq(host_neigh(env, b.ip), b.mac, "HOST's entry for B's address")
    br = bridge_mac(env)
    pin_host = ["ip", "neigh", "replace", HOST_IP, "lladdr", br, "dev", "eth0", "nud", "permanent"]

    # 1. B's address and A's own MAC, the endpoint's MAC pinned (no ARP), B up: the host's
    # entry for B's address still says B's MAC, but the answers carry A's port mark and go to
    # A's MAC (netdev table): A is served, as A; B is served as B.
    a.set_ip(b.ip)
    a.run(pin_host, check=True)
    fetch_verified(env, a, VM_A, "a1")
    eq(host_neigh(env, b.ip), b.mac, "HOST's entry for B's address (A sent no ARP)")
    fetch_verified(env, b, VM_B, "b1")

    # 2. The same with B's port down (the VM off), A also taking frames for B's MAC (a
    # receive-only macvlan with it: what it sends with that MAC is dropped). Identifying by the
    # neighbour table served B's document here (the host's entry still says B's MAC, the bridge
    # floods what it no longer knows where to send). A is served as A.
    env.host(["ip", "link", "set", b.host_if, "down"])
    eq(host_neigh(env, b.ip), b.mac, "HOST's entry for B's address with B's port down")
    a.run(["ip", "link", "add", "link", "eth0", "name", "rx", "address", b.mac, "type", "macvlan"], check=True)
    for conf in ("all", "default", "eth0", "rx"):
        a.run(["sysctl", "-q", "-w", f"net.ipv4.conf.{conf}.rp_filter=0"], check=True)
    a.run(["ip", "link", "set", "rx", "up"], check=True)
    fetch_verified(env, a, VM_A, "a2")
    a.run(["ip", "link", "del", "rx"], check=True)

    # 3. B's address and B's MAC (B still down, then up): the source-MAC rule drops every frame.
    a.set_mac(b.mac)
    a.run(pin_host, check=True)
    expect_nothing_served(env, a, "A with B's address and MAC, B down")
    env.host(["ip", "link", "set", b.host_if, "up"])
    expect_nothing_served(env, a, "A with B's address and MAC, B up")
    a.set_mac(a.mac)
    fetch_verified(env, b, VM_B, "b3")

    # 4. B's address and A's own MAC with ARP as usual, B up: A's ARP request carries B's
    # address with A's MAC, passes the firewall (the MAC is A's) and repoints the host's entry
    # for B's address to A. A is served as A, and B (its entry for the host pinned, so that it
    # cannot put the host's entry right by asking ARP itself) is served as B all the same: its
    # answers carry B's port mark and go to B's MAC.
    b.run(pin_host, check=True)
    a.set_ip(b.ip)
    fetch_verified(env, a, VM_A, "a4")
    eq(host_neigh(env, b.ip), a.mac, "HOST's entry for B's address after A's ARP")
    fetch_verified(env, b, VM_B, "b4")
    eq(host_neigh(env, b.ip), a.mac, "HOST's entry for B's address while B is served")
    forget_neighbours(b)
    fetch_verified(env, b, VM_B, "b4-arp")
    eq(host_neigh(env, b.ip), b.mac, "HOST's entry for B's address after B's own ARP")
    a.run(pin_host, check=True)
    fetch_verified(env, a, VM_A, "a4-again")

    # 5. The same with B's port down: A's ARP repoints the entry, A is served as A; B back up
    # is served as B.
    env.host(["ip", "link", "set", b.host_if, "down"])
    a.set_ip(b.ip)
    fetch_verified(env, a, VM_A, "a5")
    eq(host_neigh(env, b.ip), a.mac, "HOST's entry for B's address after A's ARP, B down")
    env.host(["ip", "link", "set", b.host_if, "up"])
    fetch_verified(env, b, VM_B, "b5")
    a.set_ip(a.ip)
    forget_neighbours(b)
    fetch_verified(env, b, VM_B, "b5-arp")

    # 6. ARP with B's address from A, A on its own address. A gratuitous ARP (B's address as
    # sender and target) is for nobody the host answers: the bridge's input chain drops it and
    # the host's entry stays B's.
    a.send_arp("request", a.mac, b.ip, "00:00:00:00:00:00", b.ip)
    a.send_arp("reply", a.mac, b.ip, "ff:ff:ff:ff:ff:ff", b.ip)
    fetch_verified(env, a, VM_A, "a6")
    eq(host_neigh(env, b.ip), b.mac, "HOST's entry for B's address after gratuitous ARP from A")
    fetch_verified(env, b, VM_B, "b6")
    # An unsolicited ARP reply to the host with B's address and A's MAC repoints the entry once
    # the kernel's lock time (1 s) has passed: sent until it does. A is served as A, B as B.
    b.run(pin_host, check=True)
    for _ in deadline_loop(10, "an ARP reply to repoint the host's entry for B's address", 0.2):
        a.send_arp("reply", a.mac, b.ip, br, HOST_IP)
        if host_neigh(env, b.ip) == a.mac:
            break
    fetch_verified(env, a, VM_A, "a7")
    fetch_verified(env, b, VM_B, "b7")
    eq(host_neigh(env, b.ip), a.mac, "HOST's entry for B's address while B is served")


def enable_legacy_ex_unsaved(env, on):
    """EnableLegacyEx(on, 0) with the state directory not writable (mode 0500; the service runs
    as azshci without CAP_DAC_OVERRIDE): must fail with the save error. Mode back after."""
    h = env.h
    os.chmod(h.state_dir, 0o500)
    try:
        e = h.expect_error("org.freedesktop.DBus.Error.AccessDenied", "EnableLegacyEx",
                           ["true" if on else "false", "uint64 0"])
    finally:
        os.chmod(h.state_dir, 0o700)
    state = os.path.join(h.state_dir, "state.json")
    eq(e.message, f"Failed to save the state to {state}: Permission denied", f"EnableLegacyEx({on}) error")


@case("legacy-failed-save")
def test_failed_save(env):
    """Turning legacy OS support on while it is on (a repair: EnableLegacyEx) or off while it is
    off is allowed; when its change cannot be saved (the state directory not writable), the call
    fails and the network stays as the unchanged state says: on, the bridge, tables and A's port
    stay and A is served; off, nothing is built. (Before the fix the rollback assumed the call had
    flipped the switch and took the network down while the state still said On.)"""
    a, b = two_guests(env)
    fetch_verified(env, a, VM_A, "before")
    enable_legacy_ex_unsaved(env, True)
    eq(env.h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport after the failed repair")
    eq(vm_prop(env, VM_B, "LegacyAccess"), False, "B's LegacyAccess after the failed repair")
    assert_network_complete(env, [a])
    eq(env.port_state(b), FREE_PORT, "B's port after the failed repair")
    fetch_verified(env, a, VM_A, "after-failed-repair")

    env.enable_legacy(False)
    eq(BRIDGE in env.host_links(), False, f"{BRIDGE} after EnableLegacy(false)")
    enable_legacy_ex_unsaved(env, False)
    eq(env.h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport after the failed EnableLegacyEx(false)")
    eq(BRIDGE in env.host_links(), False, f"{BRIDGE} after the failed EnableLegacyEx(false)")
    eq(env.host_tables(), [], "nftables tables after the failed EnableLegacyEx(false)")
    eq(env.port_state(a)[0], None, "A's port master after the failed EnableLegacyEx(false)")
