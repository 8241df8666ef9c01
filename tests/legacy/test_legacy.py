# SPDX-License-Identifier: LGPL-2.1-or-later
"""Legacy OS support end to end (issue 5): guests that are real network namespaces, the real
service building the bridge and firewall in a host namespace, the socket-activated HTTP
frontend, curl in the guests, documents verified with azshci-attest and openssl. Every case
gets a fresh LegacyEnv (see legacy_env.py); see README.md here for what each one proves."""

import json

import harness
from harness import deadline_loop, eq
from legacy_env import BRIDGE, HOST_IP, ALIAS, TABLE

TESTS = {}

VM_A = "5a1e0001-0a0a-4a0a-8a0a-00000000000a"
VM_B = "5a1e0001-0b0b-4b0b-8b0b-00000000000b"
VM_C = "5a1e0001-0c0c-4c0c-8c0c-00000000000c"
VM_D = "5a1e0001-0d0d-4d0d-8d0d-00000000000d"

UNREACHABLE_BODY = '{"error":"Service unavailable: the attestation service is not reachable, retry later"}'
ACCESS_DENIED_BODY = '{"error":"Forbidden: this VM may not use attestation over this path"}'
UNIDENTIFIED_BODY = '{"error":"Forbidden: the requesting VM could not be identified"}'
OUR_TABLES = [("bridge", TABLE), ("inet", TABLE)]
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
    eq(lb.peers(), [b.ip], "connections B's listener accepted")

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
    eq(lh.peers(), [HOST_IP, "10.99.0.1"], "host listener peers after the control")
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
    """EnableLegacy(false) removes the bridge and both tables; A's fetch fails; VMs keep their
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
