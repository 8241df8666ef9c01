# SPDX-License-Identifier: LGPL-2.1-or-later
"""ImportVMs: many VMs in one call, all or nothing, one state write, one polkit check."""

import json
import os

from harness import (ACTIONS, BUS_NAME, BUS_PATH, IFACE_VM, TEST_USER, attest, attest_error, eq, gvariant_dict,
                     testcase, vm_path, vm_props_busctl)
from vmdata import vm_id, vm_mac, vm_props

INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
LIMITS_EXCEEDED = "org.freedesktop.DBus.Error.LimitsExceeded"
INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
IMPORT_VMS_MAX = 10000


def _import(h, entries, user=None):
    """ImportVMs through busctl; must succeed; returns the paths."""
    return h.call("ImportVMs", "aa{sv}", len(entries), *[vm_props_busctl(p) for p in entries], user=user)[0]


def _gvariant_batch(entries):
    return "@aa{sv} [" + ", ".join(gvariant_dict(p).removeprefix("@a{sv} ") for p in entries) + "]"


def _state_file(h):
    return os.path.join(h.state_dir, "state.json")


def _state_bytes(h):
    """The state file's content and inode (a write replaces the file), None when there is none."""
    try:
        with open(_state_file(h), "rb") as f:
            return f.read(), os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return None


def _refused(h, entries, name, message, user=None, **kw):
    """ImportVMs fails with exactly this error; nothing is registered and the state file is
    byte-for-byte the same (not even rewritten)."""
    objects, state = h.managed_objects(), _state_bytes(h)
    e = h.expect_error(name, "ImportVMs", [_gvariant_batch(entries)], user=user, **kw)
    if message is not None:
        eq(e.message, message, "error message")
    eq(h.managed_objects(), objects, "objects after a refused ImportVMs")
    eq(_state_bytes(h), state, "state.json after a refused ImportVMs")
    return e


@testcase()
def test_import_vms(h):
    """Three VMs in one call: the paths come back in the order of the entries (not sorted by
    id); every property reads back; one InterfacesAdded per VM with its properties; the name,
    CID and MAC lookups find them (UpdateVM by name, Attest by CID); VsockCid 0 and LegacyMac
    "" repeat; one state write; everything survives a restart."""
    h.register_vm(**vm_props(1))
    entries = [vm_props(4), vm_props(2, VsockCid=0, LegacyMac=""), vm_props(3, VsockCid=0, LegacyMac="")]
    m = h.monitor()
    since = m.mark()
    paths = _import(h, entries)
    m.sync()
    eq(paths, [vm_path(vm_id(4)), vm_path(vm_id(2)), vm_path(vm_id(3))], "paths in input order")
    eq(h.vm_paths(), sorted(vm_path(vm_id(n)) for n in (1, 2, 3, 4)), "VM objects")
    for p, props in zip(paths, entries):
        got = h.get_all(p, IFACE_VM)
        eq({k: got[k] for k in props}, props, f"properties of {p}")
        eq(got["Status"], "ActiveBenefits", f"Status of {p}")

    added = [s for s in m.signals(since, member="InterfacesAdded")]
    eq(sorted(s["payload"]["data"][0] for s in added), sorted(paths), "InterfacesAdded objects")
    for s in added:
        obj, ifaces = s["payload"]["data"]
        props = entries[paths.index(obj)]
        eq({k: ifaces[IFACE_VM][k]["data"] for k in props}, props, f"InterfacesAdded properties of {obj}")
    eq(h.service_log().count("Registered 3 VMs at once."), 1, "one batch in the log")

    # The indexes know the new VMs.
    h.call("UpdateVM", "sa{sv}", "vm4", vm_props_busctl({"Sku": "Datacenter"}))
    eq(h.get_property("Sku", paths[0], IFACE_VM), "Datacenter", "Sku after UpdateVM by name")
    doc = json.loads(attest(h, "vsock", "104", "n1"))
    eq(doc["encoding"], "pkcs7", "document of vm4 by CID")
    attest_error(h, "UnknownVM", "vsock", "105", "n2")

    # A second batch must not reuse what the first one took.
    _refused(h, [vm_props(5, VsockCid=104)], INVALID_ARGS,
                 "VM 0 ('vm5'): VM property 'VsockCid': CID 104 already belongs to VM 'vm4'.")
    before = h.managed_objects()
    h.restart_service()
    eq(h.managed_objects(), before, "objects after restart")


@testcase()
def test_import_vms_refused(h):
    """All or nothing: a duplicate inside the batch, a clash with a registered VM and an
    invalid entry are InvalidArgs naming the entry (index from 0, name) and the field; no VM
    is added and state.json stays byte-for-byte the same."""
    h.register_vm(**vm_props(1))
    _refused(h, [vm_props(2), vm_props(3), vm_props(4, VsockCid=103)], INVALID_ARGS,
             "VM 2 ('vm4'): VM property 'VsockCid': the same value as VM 1 ('vm3') of this batch.")
    _refused(h, [vm_props(2), vm_props(3, Name="vm2")], INVALID_ARGS,
             "VM 1 ('vm2'): VM property 'Name': the same value as VM 0 ('vm2') of this batch.")
    _refused(h, [vm_props(2), vm_props(2, Name="other")], INVALID_ARGS,
             "VM 1 ('other'): VM property 'Id': the same value as VM 0 ('vm2') of this batch.")
    # The same MAC in another letter case is the same NIC, inside the batch and outside.
    _refused(h, [vm_props(2, LegacyMac="52:54:00:AA:00:01"), vm_props(3, LegacyMac="52:54:00:aa:00:01")],
             INVALID_ARGS, "VM 1 ('vm3'): VM property 'LegacyMac': the same value as VM 0 ('vm2') of this batch.")
    _refused(h, [vm_props(2), vm_props(3, LegacyMac=vm_mac(1).upper())], INVALID_ARGS,
             f"VM 1 ('vm3'): VM property 'LegacyMac': {vm_mac(1)} already belongs to VM 'vm1'.")
    _refused(h, [vm_props(2), vm_props(3), vm_props(4, Name="vm1")], INVALID_ARGS,
             "VM 2 ('vm1'): VM property 'Name': a VM named 'vm1' is already registered.")
    # Invalid entries: the message is RegisterVM's, behind the entry.
    _refused(h, [vm_props(2), vm_props(3, Generation=3)], INVALID_ARGS,
             "VM 1 ('vm3'): VM property 'Generation' must be 1 or 2, not 3.")
    _refused(h, [vm_props(2), vm_props(3, Id=None)], INVALID_ARGS, "VM 1 ('vm3'): VM property 'Id' is required.")
    # An unknown key before Name: the entry has no name yet.
    _refused(h, [vm_props(2), dict({"Colour": "blue"}, **vm_props(3))], INVALID_ARGS,
             "VM 1: Unknown VM property 'Colour'.")
    eq(h.vm_paths(), [vm_path(vm_id(1))], "only vm1")
    eq(h.service_log().count("Registered"), 1, "only vm1 was registered")
    # The same entries without the faults go in.
    eq(_import(h, [vm_props(2), vm_props(3), vm_props(4)]), [vm_path(vm_id(n)) for n in (2, 3, 4)], "paths")


@testcase()
def test_import_vms_unauthorized(h):
    """One polkit check, the same action as RegisterVM: an unprivileged user is refused
    (InteractiveAuthorizationRequired, AccessDenied with the interactive flag, no agent) and
    nothing changes; a rule granting manage-inventory lets the batch in. An empty batch needs
    no authorization: it changes nothing."""
    h.register_vm(**vm_props(1))
    batch = [vm_props(2), vm_props(3)]
    _refused(h, batch, INTERACTIVE, None, user=TEST_USER)
    _refused(h, batch, ACCESS_DENIED, None, user=TEST_USER, interactive=True)
    eq(_import(h, [], user=TEST_USER), [], "empty batch as the unprivileged user")

    h.grant(TEST_USER, [ACTIONS["inventory"]])
    eq(_import(h, batch, user=TEST_USER), [vm_path(vm_id(2)), vm_path(vm_id(3))], "paths once granted")
    eq(h.vm_paths(), [vm_path(vm_id(n)) for n in (1, 2, 3)], "VM objects once granted")


@testcase()
def test_import_vms_empty(h):
    """An empty batch replies an empty array and writes nothing: state.json (written by the
    first sync) is not rewritten, neither without VMs nor with one."""
    state = _state_bytes(h)
    eq(_import(h, []), [], "reply to an empty batch")
    eq(_state_bytes(h), state, "state.json after an empty batch on an empty inventory")
    h.register_vm(**vm_props(1))
    state = _state_bytes(h)
    eq(_import(h, []), [], "reply to an empty batch")
    eq(_state_bytes(h), state, "state.json after an empty batch")


@testcase()
def test_import_vms_limit(h):
    """More than 10000 entries are refused with LimitsExceeded (nothing registered); the
    message says how many are allowed."""
    entries = [{"Id": vm_id(n), "Name": f"vm{n}"} for n in range(1, IMPORT_VMS_MAX + 2)]
    args = ["busctl", "--system", "call", BUS_NAME, BUS_PATH, "org.azshci.Attestation1", "ImportVMs", "aa{sv}",
            str(len(entries))]
    for e in entries:
        args += ["2", "Id", "s", e["Id"], "Name", "s", e["Name"]]
    objects, state = h.managed_objects(), _state_bytes(h)
    p = h.run(args, check=False, timeout=60)
    if p.returncode == 0:
        raise AssertionError(f"ImportVMs of {len(entries)} VMs succeeded")
    eq(p.stderr.strip(), "Call failed: ImportVMs takes at most 10000 VMs at once; split the batch.",
       "busctl's error")
    eq(h.managed_objects(), objects, "objects after a refused ImportVMs")
    eq(_state_bytes(h), state, "state.json after a refused ImportVMs")


def _write_import_file(h, name, entries):
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        json.dump(entries, f)
    os.chmod(path, 0o644)
    return path


def _results(p):
    return [(r["index"], r["name"], r["result"], r.get("error", {}).get("name")) for r in json.loads(p.stdout)["results"]]


@testcase()
def test_ctl_import_batch(h):
    """`azshcictl vm import` registers the new entries with one ImportVMs call, updates the
    registered ones with UpdateVM, and reports every entry in file order as before; when the
    service refuses the batch (a CID clash only it can see), each new entry is registered on
    its own so that exactly the bad one fails, named in the report."""
    h.register_vm(**vm_props(1))
    ok = _write_import_file(h, "ok.json", [vm_props(2), vm_props(1, Sku="Datacenter"), vm_props(3),
                                            {"Id": vm_id(4)}, vm_props(5)])
    p = h.ctl("vm", "import", ok, check=False)
    eq(p.returncode, 1, "exit status with one failed entry")
    eq(p.stdout.splitlines(), [f"Registered vm2 ({vm_id(2)})", f"Updated vm1 ({vm_id(1)})",
                               f"Registered vm3 ({vm_id(3)})", f"Registered vm5 ({vm_id(5)})",
                               "3 registered, 1 updated, 0 removed, 1 failed."], "report")
    eq(p.stderr.strip(), "azshcictl: VM #3 '': VM property 'Name' is required. "
       "(org.freedesktop.DBus.Error.InvalidArgs)", "error report")
    eq(h.service_log().count("Registered 3 VMs at once."), 1, "one ImportVMs for the three new VMs")
    eq(h.get_property("Sku", vm_path(vm_id(1)), IFACE_VM), "Datacenter", "Sku of the updated VM")

    # vm7 takes vm2's CID: ImportVMs refuses the batch, RegisterVM one by one reports it.
    state = _state_bytes(h)
    clash = _write_import_file(h, "clash.json", [vm_props(6), vm_props(7, VsockCid=102), vm_props(8)])
    p = h.ctl("--json", "vm", "import", clash, check=False)
    eq(p.returncode, 1, "exit status with a refused entry")
    eq(_results(p), [(0, "vm6", "registered", None), (1, "vm7", "failed", INVALID_ARGS),
                     (2, "vm8", "registered", None)], "results")
    eq(json.loads(p.stdout)["results"][1]["error"]["message"],
       "VM property 'VsockCid': CID 102 already belongs to VM 'vm2'.", "RegisterVM's own message")
    eq(json.loads(p.stdout)["summary"], {"registered": 2, "updated": 0, "removed": 0, "failed": 1}, "summary")
    if _state_bytes(h) == state:
        raise AssertionError("state.json not written by the fallback")
    eq(sorted(h.vm_paths()), sorted(vm_path(vm_id(n)) for n in (1, 2, 3, 5, 6, 8)), "VM objects")

    # Unauthorized: the first new entry fails with the polkit error and the import stops.
    new = _write_import_file(h, "new.json", [vm_props(9), vm_props(10)])
    p = h.ctl("--json", "vm", "import", new, user=TEST_USER, check=False)
    eq(p.returncode, 3, "exit status when not authorized")
    eq(_results(p), [(0, "vm9", "failed", ACCESS_DENIED)], "results when not authorized")
    eq(h.vm_paths(), sorted(vm_path(vm_id(n)) for n in (1, 2, 3, 5, 6, 8)), "VM objects when not authorized")
