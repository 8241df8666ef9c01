# SPDX-License-Identifier: LGPL-2.1-or-later
"""Legacy OS support and per-VM access (EnableLegacy, SetVMAccess), Sync and Attest on the
live service, as root."""

import json
import os

from harness import (IFACE_SERVER, IFACE_VM, TEST_FRONTEND_USER, eq, gvariant_str, server_path,
                     testcase, vm_path)
from vmdata import vm_id, vm_props

ACCESS_DENIED = "org.azshci.Attestation1.Error.AccessDenied"
NO_SUCH_VM = "org.azshci.Attestation1.Error.NoSuchVM"
POWER_OFF = "org.azshci.Attestation1.Error.PowerOffRequired"
UNKNOWN_VM = "org.azshci.Attestation1.Error.UnknownVM"


def _access(h, n):
    return h.get_property("LegacyAccess", vm_path(vm_id(n)), IFACE_VM)


@testcase()
def test_enable_legacy(h):
    """EnableLegacy(true): cluster and server LegacyOsSupport "On", every VM registered at
    that moment gets legacy access except a running Generation 1 VM (skipped, keeps
    EnableVMLegacyAccess); a VM registered later has none. EnableLegacy(false): "Off"."""
    h.register_vm(**vm_props(1))
    h.register_vm(**vm_props(2, Generation=1, PowerState="Off"))
    h.register_vm(**vm_props(3, Generation=1, PowerState="Running"))
    h.call("EnableLegacy", "b", True)
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport")
    eq(h.get_property("LegacyOsSupport", server_path("node1"), IFACE_SERVER), "On", "server LegacyOsSupport")
    eq([_access(h, n) for n in (1, 2, 3)], [True, True, False], "LegacyAccess of vm1..3")
    h.register_vm(**vm_props(4))
    eq(_access(h, 4), False, "LegacyAccess of a VM registered later")
    # idempotent
    h.call("EnableLegacy", "b", True)
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport after a second EnableLegacy")
    h.call("EnableLegacy", "b", False)
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport")
    eq(h.get_property("LegacyOsSupport", server_path("node1"), IFACE_SERVER), "Off", "server LegacyOsSupport")


@testcase()
def test_set_vm_access(h):
    """SetVMAccess by name, by id and "*"; grant and revoke."""
    for n in (1, 2, 3):
        h.register_vm(**vm_props(n))
    h.call("SetVMAccess", "sb", "vm1", True)
    eq([_access(h, n) for n in (1, 2, 3)], [True, False, False], "after granting vm1 by name")
    h.call("SetVMAccess", "sb", vm_id(2), True)
    eq([_access(h, n) for n in (1, 2, 3)], [True, True, False], "after granting vm2 by id")
    h.call("SetVMAccess", "sb", "vm1", False)
    eq([_access(h, n) for n in (1, 2, 3)], [False, True, False], "after revoking vm1")
    h.call("SetVMAccess", "sb", "*", True)
    eq([_access(h, n) for n in (1, 2, 3)], [True, True, True], "after granting *")
    h.call("SetVMAccess", "sb", "*", False)
    eq([_access(h, n) for n in (1, 2, 3)], [False, False, False], "after revoking *")


@testcase()
def test_set_vm_access_errors(h):
    """Unknown VM → NoSuchVM naming it; a running (or paused) Generation 1 VM →
    PowerOffRequired naming the VM, and it stays without access; once Off it may be granted;
    revoking needs no power-off."""
    h.register_vm(**vm_props(1, Generation=1, PowerState="Running"))
    h.register_vm(**vm_props(2, Generation=1, PowerState="Paused"))
    e = h.expect_error(NO_SUCH_VM, "SetVMAccess", [gvariant_str("ghost"), "true"])
    if "ghost" not in e.message:
        raise AssertionError(f"NoSuchVM message does not name the VM: {e.message!r}")
    h.expect_error(POWER_OFF, "SetVMAccess", [gvariant_str("vm1"), "true"], contains="vm1")
    h.expect_error(POWER_OFF, "SetVMAccess", [gvariant_str(vm_id(2)), "true"], contains="vm2")
    eq([_access(h, 1), _access(h, 2)], [False, False], "LegacyAccess after PowerOffRequired")
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(PowerState="Off"))
    h.call("SetVMAccess", "sb", "vm1", True)
    eq(_access(h, 1), True, "LegacyAccess of vm1 once Off")
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(PowerState="Running"))
    h.call("SetVMAccess", "sb", "vm1", False)
    eq(_access(h, 1), False, "LegacyAccess of vm1 after revoking while running")


@testcase()
def test_legacy_recommended_actions(h):
    """A Windows 10 multi-session VM (AVD over the legacy path) recommends
    EnableLegacyOsSupport and EnableVMLegacyAccess until both are done."""
    path = h.register_vm(**vm_props(1, OsName="Windows 10 Enterprise multi-session",
                                    OsVersion="10.0.19045.4291", GuestServiceInterface=False))

    def actions():
        return set(h.get_property("RecommendedActions", path, IFACE_VM))

    if "AzureVirtualDesktop" not in h.get_property("EligibleBenefits", path, IFACE_VM):
        raise AssertionError("Windows 10 multi-session is not eligible for AzureVirtualDesktop")
    a = actions()
    if not {"EnableLegacyOsSupport", "EnableVMLegacyAccess"} <= a:
        raise AssertionError(f"RecommendedActions {sorted(a)} lack the legacy actions")
    h.call("EnableLegacy", "b", True)    # grants existing VMs too
    a = actions()
    if a & {"EnableLegacyOsSupport", "EnableVMLegacyAccess"}:
        raise AssertionError(f"legacy actions still recommended after EnableLegacy: {sorted(a)}")
    h.call("SetVMAccess", "sb", "vm1", False)
    a = actions()
    if "EnableVMLegacyAccess" not in a or "EnableLegacyOsSupport" in a:
        raise AssertionError(f"after revoking access: {sorted(a)}")


@testcase()
def test_sync(h):
    """Sync as root renews the certificate with the configured (local) issuer and replies
    when done: LastSync moves forward, the expiry does not move back, and the server object
    shows the same times, state Active, no error."""
    before = h.get_all()
    h.call("Sync")
    after = h.get_all()
    if not after["LastSync"] > before["LastSync"]:
        raise AssertionError(f"LastSync did not advance: {before['LastSync']} → {after['LastSync']}")
    if after["CertificateExpiry"] < before["CertificateExpiry"]:
        raise AssertionError("CertificateExpiry moved back")
    srv = h.get_all(server_path("node1"), IFACE_SERVER)
    eq((srv["State"], srv["LastSync"], srv["CertificateExpiry"], srv["Error"]),
       ("Active", after["LastSync"], after["CertificateExpiry"], ""), "server after Sync")


@testcase()
def test_attest_reachable(h):
    """A member of the frontends' group reaches Attest: a VM with a vsock CID and the guest
    service interface gets a document; an unknown CID is UnknownVM. (Documents themselves
    are the attestation core's tests.)"""
    h.register_vm(**vm_props(1))
    doc = h.call("Attest", "sss", "vsock", "101", "abc", user=TEST_FRONTEND_USER)[0]
    d = json.loads(doc)
    eq(sorted(d), ["encoding", "signature"], "document keys")
    eq(d["encoding"], "pkcs7", "document encoding")
    if len(d["signature"]) < 100:
        raise AssertionError("document signature is implausibly short")
    h.expect_error(UNKNOWN_VM, "Attest", [gvariant_str("vsock"), gvariant_str("999"), gvariant_str("abc")],
                   user=TEST_FRONTEND_USER)


def _dict(**props):
    from harness import vm_props_busctl
    return vm_props_busctl(props)


@testcase()
def test_attest_libvirt_not_running(h):
    """A libvirt domain's VM is served only while it runs: its record with a CID while it is
    off (a state written while libvirt was unreachable, or the provider switched back to
    manual) answers for nobody, AccessDenied naming why; running, it is served. VMs
    registered by hand keep their rules (an Off one with a CID is served)."""
    h.register_vm(**vm_props(4, PowerState="Off"))
    h.register_vm(**vm_props(5, PowerState="Off"))
    h.register_vm(**vm_props(6, PowerState="Running"))
    h.stop_service()
    path = os.path.join(h.state_dir, "state.json")
    with open(path) as f:
        state = json.load(f)
    for vm in state["vms"]:
        if vm["Id"] in (vm_id(5), vm_id(6)):
            vm["Source"] = "libvirt"
    with open(path, "w") as f:
        json.dump(state, f)
    h.start_service()
    eq(h.get_property("Source", vm_path(vm_id(5)), IFACE_VM), "libvirt", "vm5's Source")
    e = h.expect_error(ACCESS_DENIED, "Attest", [gvariant_str("vsock"), gvariant_str("105"), gvariant_str("abc")],
                       user=TEST_FRONTEND_USER)
    eq(e.message, "VM 'vm5' is a libvirt domain that is Off: only a running domain is served.", "vm5 refused")
    for cid in ("104", "106"):
        doc = h.call("Attest", "sss", "vsock", cid, "abc", user=TEST_FRONTEND_USER)[0]
        eq(json.loads(doc)["encoding"], "pkcs7", f"the document of CID {cid}")
