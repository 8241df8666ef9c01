# SPDX-License-Identifier: LGPL-2.1-or-later
"""The API surface: introspection equals dbus/org.azshci.Attestation1.xml, the initial
property values, the ObjectManager view, and that reading is open to everyone."""

import shutil
import time
import uuid

from harness import (BUS_NAME, BUS_PATH, IFACE, IFACE_SERVER, IFACE_VM, SERVICE_USER,
                     TEST_FRONTEND_USER, TEST_USER, eq, gvariant_str, interfaces_of, project_version,
                     server_path, testcase, vm_path)
from vmdata import vm_props

NOT_CONFIGURED = "org.azshci.Attestation1.Error.NotConfigured"


def _compare(live_xml, contract, iface, where):
    live = interfaces_of(live_xml)
    if iface not in live:
        raise AssertionError(f"{where} does not offer {iface}; it offers {sorted(live)}")
    exp = contract[iface]
    got = live[iface]
    for part in ("methods", "properties", "signals"):
        missing = sorted(set(exp[part]) - set(got[part]))
        extra = sorted(set(got[part]) - set(exp[part]))
        if missing or extra:
            raise AssertionError(f"{iface} {part} at {where}: missing {missing}, not in the XML {extra}")
        for member, sig in exp[part].items():
            eq(got[part][member], sig, f"{iface}.{member} at {where}")


@testcase()
def test_introspection_matches_xml(h):
    """Each interface the live service introspects equals the contract file: methods with
    argument names, types and directions, properties with types and access, signals.
    Standard interfaces are left out; ObjectManager must be present on the root object."""
    with open(h.api_xml) as f:
        contract = interfaces_of(f.read())
    eq(sorted(contract), sorted([IFACE, IFACE_SERVER, IFACE_VM]), "interfaces in the XML")

    root_xml = h.introspect_xml(BUS_PATH)
    _compare(root_xml, contract, IFACE, BUS_PATH)
    if "org.freedesktop.DBus.ObjectManager" not in root_xml:
        raise AssertionError(f"no ObjectManager at {BUS_PATH}")
    eq(sorted(interfaces_of(root_xml)), [IFACE], f"non-standard interfaces at {BUS_PATH}")

    srv = server_path("node1")
    srv_xml = h.introspect_xml(srv)
    _compare(srv_xml, contract, IFACE_SERVER, srv)
    eq(sorted(interfaces_of(srv_xml)), [IFACE_SERVER], f"non-standard interfaces at {srv}")

    vm = h.register_vm(**vm_props(1))
    vm_xml = h.introspect_xml(vm)
    _compare(vm_xml, contract, IFACE_VM, vm)
    eq(sorted(interfaces_of(vm_xml)), [IFACE_VM], f"non-standard interfaces at {vm}")


@testcase()
def test_initial_properties(h):
    """A fresh service (after its first enrolment with the local issuer, which it starts on
    its own): the cluster view, the local server object named by the configuration (Active,
    same sync time and expiry as the cluster, a 30-day certificate), and no VMs."""
    now = int(time.time() * 1e6)
    props = h.get_all()
    last, expiry = props.pop("LastSync"), props.pop("CertificateExpiry")
    eq(props, {
        "HostState": "On",
        "LegacyOsSupport": "Off",
        "InventoryStale": False,   # the manual inventory is never stale
        "SubscriptionId": h.config["subscriptionId"],
        "Version": project_version(h.srcdir),
        "ClusterStore": "Standalone",
    }, "org.azshci.Attestation1 properties")
    if not now - 120 * 10**6 <= last <= now:
        raise AssertionError(f"LastSync {last} is not within the last two minutes of {now}")
    days = (expiry - last) / (86400 * 10**6)
    if not 29.9 <= days <= 30.01:
        raise AssertionError(f"certificate valid {days:.3f} days after the sync, expected 30")

    objs = h.managed_objects()
    srv = server_path("node1")
    eq(sorted(objs), [srv], "managed objects")
    eq(objs[srv][IFACE_SERVER], {
        "Name": "node1",
        "State": "Active",
        "LastSync": last,
        "CertificateExpiry": expiry,
        "LegacyOsSupport": "Off",
        "Error": "",
    }, "server properties")


@testcase()
def test_host_state_off_when_disabled(h):
    """"enabled": false in the configuration → HostState "Off", the server stays Inactive
    (no enrolment), Sync and Attest answer NotConfigured."""
    h.stop_service()
    shutil.rmtree(h.state_dir)
    h.write_config(enabled=False)
    h.start_service()
    eq(h.get_property("HostState"), "Off", "HostState")
    eq(h.get_all(server_path("node1"), IFACE_SERVER)["State"], "Inactive", "server State")
    eq((h.get_property("LastSync"), h.get_property("CertificateExpiry")), (0, 0), "LastSync, CertificateExpiry")
    h.register_vm(**vm_props(1))
    h.expect_error(NOT_CONFIGURED, "Sync")
    h.expect_error(NOT_CONFIGURED, "Attest", [gvariant_str("vsock"), gvariant_str("101"), gvariant_str("abc")],
                   user=TEST_FRONTEND_USER)
    eq(h.get_property("LastSync"), 0, "LastSync after a refused Sync")


@testcase()
def test_unprivileged_can_read(h):
    """Reading is open to everyone (bus policy + no polkit on reads): an unprivileged
    user introspects, gets properties, and lists managed objects."""
    path = h.register_vm(**vm_props(1))
    xml = h.introspect_xml(BUS_PATH, user=TEST_USER)
    if IFACE not in xml:
        raise AssertionError("unprivileged Introspect misses the interface")
    eq(h.get_property("LegacyOsSupport", user=TEST_USER), "Off", "LegacyOsSupport as user")
    eq(h.get_all(path, IFACE_VM, user=TEST_USER)["Name"], "vm1", "VM Name as user")
    data = h.call("GetManagedObjects", interface="org.freedesktop.DBus.ObjectManager", user=TEST_USER)
    eq(sorted(data[0]), sorted([server_path("node1"), path]), "managed objects as user")
    # The name is owned by the service user, not root.
    eq(h.name_owner_uid(BUS_NAME), __import__("pwd").getpwnam(SERVICE_USER).pw_uid, "owner uid")


STANDARD_INTERFACES = ["org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
                       "org.freedesktop.DBus.Properties"]


@testcase()
def test_managed_objects_match_getall(h):
    """GetManagedObjects (answered by the service, not sd-bus's object manager: docs/hardening.md,
    "Memory") lists, as root and as a user, the VMs in the order of their ids and then the
    server, each with the three standard interfaces (empty) first and then its own with exactly
    what GetAll() says, in the same order; with an argument it is refused as sd-bus refuses it."""
    paths = [h.register_vm(**vm_props(3, DataExchange=False)), h.register_vm(**vm_props(1)),
             h.register_vm(**vm_props(2, Sku="Datacenter", ArcAgentVersion="1.39"))]
    h.call("EnableLegacy", "b", "true")
    h.call("SetVMAccess", "sb", "vm2", "true")
    expected = [vm_path(vm_props(n)["Id"]) for n in (1, 2, 3)] + [server_path("node1")]
    eq(sorted(paths), expected[:3], "registered paths")
    for user in (None, TEST_USER):
        data = h.call("GetManagedObjects", interface="org.freedesktop.DBus.ObjectManager", user=user)[0]
        eq(list(data), expected, f"objects in order (user {user})")
        for path, ifaces in data.items():
            own = IFACE_SERVER if path == expected[-1] else IFACE_VM
            eq(list(ifaces), STANDARD_INTERFACES + [own], f"interfaces of {path}")
            for iface in STANDARD_INTERFACES:
                eq(ifaces[iface], {}, f"{iface} of {path}")
            got = [(k, v["type"], v["data"]) for k, v in ifaces[own].items()]
            props = h.call("GetAll", "s", own, path=path, interface="org.freedesktop.DBus.Properties",
                           user=user)[0]
            eq(got, [(k, v["type"], v["data"]) for k, v in props.items()], f"{own} of {path}")
    p = h.run(["busctl", "--system", "call", BUS_NAME, BUS_PATH, "org.freedesktop.DBus.ObjectManager",
               "GetManagedObjects", "s", "x"], check=False)
    eq((p.returncode != 0, "Expected no parameters" in p.stderr), (True, True), f"with an argument: {p.stderr}")


@testcase()
def test_vm_object_properties(h):
    """RegisterVM returns /org/azshci/Attestation1/vm/<sd_bus_path_encode(id)> and the
    object carries every registration property as given."""
    vid = str(uuid.UUID(int=0x3F2C0000000040008000000000000001))
    props = vm_props(1, Id=vid, SqlVersion="12.0.6024.0", ArcAgentVersion="1.39.0",
                     Sku="Datacenter", LicenseType="Windows_Server")
    path = h.register_vm(**props)
    eq(path, vm_path(vid), "object path")
    got = h.get_all(path, IFACE_VM)
    for k, v in props.items():
        eq(got[k], v, f"VM property {k}")
    eq(got["LegacyAccess"], False, "LegacyAccess of a new VM")
    for k in ("EligibleBenefits", "ActiveBenefits", "RecommendedActions"):
        if not isinstance(got[k], list):
            raise AssertionError(f"{k} is not a list: {got[k]!r}")
