# SPDX-License-Identifier: LGPL-2.1-or-later
"""The VM inventory: RegisterVM, UpdateVM, UnregisterVM, their errors, and status
re-evaluation on the live service (as root)."""

import json
import os

from harness import (IFACE_VM, eq, gvariant_dict, gvariant_str, server_path, testcase, vm_path)
from vmdata import vm_id, vm_mac, vm_props

INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
NO_SUCH_VM = "org.azshci.Attestation1.Error.NoSuchVM"


def _register_error(h, props, field, name=INVALID_ARGS):
    """RegisterVM must fail with name, the message naming field, and change nothing."""
    before = h.managed_objects()
    e = h.expect_error(name, "RegisterVM", [gvariant_dict(props)], contains=field)
    eq(h.managed_objects(), before, f"objects after a refused RegisterVM ({field})")
    return e


@testcase()
def test_register_vm(h):
    """Two VMs register; each gets its object with the path from its id; VsockCid 0 and
    LegacyMac "" mean "none" and may repeat."""
    p1 = h.register_vm(**vm_props(1))
    p2 = h.register_vm(**vm_props(2, VsockCid=0, LegacyMac=""))
    p3 = h.register_vm(**vm_props(3, VsockCid=0, LegacyMac=""))
    eq([p1, p2, p3], [vm_path(vm_id(1)), vm_path(vm_id(2)), vm_path(vm_id(3))], "paths")
    eq(h.vm_paths(), sorted([p1, p2, p3]), "VM objects")
    eq(h.get_property("VsockCid", p2, IFACE_VM), 0, "VsockCid of vm2")
    eq(h.get_property("LegacyMac", p3, IFACE_VM), "", "LegacyMac of vm3")


@testcase()
def test_register_vm_invalid(h):
    """Every kind of bad registration is InvalidArgs naming the field, and changes nothing."""
    _register_error(h, vm_props(1, Colour="blue"), "Colour")                       # unknown key
    _register_error(h, vm_props(1, Id=None), "Id")                                 # required
    _register_error(h, vm_props(1, Name=None), "Name")                             # required
    _register_error(h, vm_props(1, Id="not-a-uuid"), "Id")                         # bad UUID
    _register_error(h, vm_props(1, Id="6a1b2c3d-4e5f-4000-8000-00000000000"), "Id")  # 35 chars
    _register_error(h, vm_props(1, LegacyMac="52:54:00:00:01"), "LegacyMac")       # bad MAC
    _register_error(h, vm_props(1, LegacyMac="52:54:00:00:00:zz"), "LegacyMac")    # bad MAC
    _register_error(h, vm_props(1, Generation=3), "Generation")                    # range
    _register_error(h, vm_props(1, PowerState="Sleeping"), "PowerState")           # enum
    # wrong types: the value's D-Bus type is not the documented one
    _register_error(h, _typed(vm_props(1), Generation=("s", "2")), "Generation")
    _register_error(h, _typed(vm_props(1), VsockCid=("i", 5)), "VsockCid")
    _register_error(h, _typed(vm_props(1), DataExchange=("s", "true")), "DataExchange")
    _register_error(h, _typed(vm_props(1), Name=("u", 7)), "Name")
    eq(h.vm_paths(), [], "no VM registered")


def _typed(props, **forced):
    """props as (key, sig, value) tuples with some keys forced to another type."""
    from harness import VM_KEY_TYPES
    out = []
    for k, v in props.items():
        if k in forced:
            out.append((k, *forced[k]))
        else:
            out.append((k, VM_KEY_TYPES[k], v))
    return out


@testcase()
def test_register_vm_duplicates(h):
    """Ids, names, vsock CIDs and legacy MACs are unique: each duplicate is InvalidArgs
    naming that field (and the first VM stays as it was)."""
    h.register_vm(**vm_props(1, LegacyMac="52:54:00:ab:cd:ef"))
    _register_error(h, vm_props(2, Id=vm_id(1)), "Id")
    _register_error(h, vm_props(2, Name="vm1"), "Name")
    _register_error(h, vm_props(2, VsockCid=101), "VsockCid")
    _register_error(h, vm_props(2, LegacyMac="52:54:00:ab:cd:ef"), "LegacyMac")
    # The same MAC in upper case is the same NIC.
    _register_error(h, vm_props(2, LegacyMac="52:54:00:AB:CD:EF"), "LegacyMac")
    eq(h.vm_paths(), [vm_path(vm_id(1))], "VM objects")


@testcase()
def test_update_vm(h):
    """UpdateVM by name and by id changes exactly the given properties."""
    path = h.register_vm(**vm_props(1))
    before = h.get_all(path, IFACE_VM)
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(OsVersion="10.0.20348.2500", PowerState="Off"))
    h.call("UpdateVM", "sa{sv}", vm_id(1), _dict(Name="vm1-renamed", VsockCid=555))
    after = h.get_all(path, IFACE_VM)
    changes = {k: after[k] for k in after if after[k] != before[k]}
    for k in ("Status", "EligibleBenefits", "ActiveBenefits", "RecommendedActions"):
        changes.pop(k, None)    # evaluation results may follow the change
    eq(changes, {"OsVersion": "10.0.20348.2500", "PowerState": "Off", "Name": "vm1-renamed",
                 "VsockCid": 555}, "changed properties")
    # the old name is gone, the new one resolves
    h.expect_error(NO_SUCH_VM, "UpdateVM", [gvariant_str("vm1"), gvariant_dict({"Sku": "x"})])
    h.call("UpdateVM", "sa{sv}", "vm1-renamed", _dict(Sku="Datacenter"))
    eq(h.get_property("Sku", path, IFACE_VM), "Datacenter", "Sku")


@testcase()
def test_update_vm_invalid(h):
    """UpdateVM: unknown VM → NoSuchVM; Id cannot change; unknown keys, wrong types, bad
    MACs and duplicates → InvalidArgs naming the field; nothing changes."""
    h.register_vm(**vm_props(1))
    h.register_vm(**vm_props(2))
    before = h.managed_objects()

    def bad(vm, props, field, name=INVALID_ARGS):
        h.expect_error(name, "UpdateVM", [gvariant_str(vm), gvariant_dict(props)], contains=field)

    e = h.expect_error(NO_SUCH_VM, "UpdateVM", [gvariant_str("nope"), gvariant_dict({"Sku": "x"})])
    if "nope" not in e.message:
        raise AssertionError(f"NoSuchVM message does not name the VM: {e.message!r}")
    bad("vm1", {"Id": vm_id(9)}, "Id")
    bad("vm1", {"Colour": "blue"}, "Colour")
    bad("vm1", [("Generation", "s", "2")], "Generation")
    bad("vm1", {"LegacyMac": "52:54:00"}, "LegacyMac")
    bad("vm1", {"Name": "vm2"}, "Name")
    bad("vm1", {"VsockCid": 102}, "VsockCid")
    bad("vm1", {"LegacyMac": vm_mac(2)}, "LegacyMac")
    bad("vm1", {"PowerState": "Sleeping"}, "PowerState")
    eq(h.managed_objects(), before, "objects after refused updates")


@testcase()
def test_unregister_vm(h):
    """UnregisterVM by name and by id removes the object; again → NoSuchVM; the freed
    name, CID and MAC can be reused."""
    h.register_vm(**vm_props(1))
    h.register_vm(**vm_props(2))
    h.call("UnregisterVM", "s", "vm1")
    h.call("UnregisterVM", "s", vm_id(2))
    eq(h.vm_paths(), [], "VM objects after UnregisterVM")
    e = h.expect_error(NO_SUCH_VM, "UnregisterVM", [gvariant_str("vm1")])
    if "vm1" not in e.message:
        raise AssertionError(f"NoSuchVM message does not name the VM: {e.message!r}")
    h.expect_error(NO_SUCH_VM, "UnregisterVM", [gvariant_str(vm_id(2))])
    path = h.register_vm(**vm_props(3, Name="vm1", VsockCid=101, LegacyMac=vm_mac(1)))
    eq(h.vm_paths(), [path], "VM objects after re-registration")


NAME_ERROR = ("VM property 'Name' must be 1 to 255 bytes of UTF-8 without control, bidirectional or "
              "invisible formatting characters, and not '*'.")


def _uuid_name_error(name):
    return f"VM property 'Name' must not be a UUID ('{name}'): a UUID always means the VM with that id."


@testcase()
def test_vm_names_refused(h):
    """Through the real bus: a Name shaped like a UUID (another VM's id, in any case, or an id
    nobody has) and names with bidirectional, C1 or invisible formatting characters are
    InvalidArgs with the exact message, in RegisterVM, UpdateVM and ImportVMs; nothing
    changes."""
    h.register_vm(**vm_props(1))
    h.register_vm(**vm_props(2))
    before = h.managed_objects()
    for name in (vm_id(1), vm_id(1).upper(), vm_id(9), "00000000-0000-0000-0000-000000000000"):
        e = h.expect_error(INVALID_ARGS, "RegisterVM", [gvariant_dict(vm_props(3, Name=name))])
        eq(e.message, _uuid_name_error(name), f"RegisterVM Name={name}")
        e = h.expect_error(INVALID_ARGS, "UpdateVM", [gvariant_str("vm2"), gvariant_dict({"Name": name})])
        eq(e.message, _uuid_name_error(name), f"UpdateVM Name={name}")
        e = h.expect_error(INVALID_ARGS, "ImportVMs",
                           ["@aa{sv} [" + gvariant_dict(vm_props(3, Name=name)).removeprefix("@a{sv} ") + "]"])
        eq(e.message, "VM 0: " + _uuid_name_error(name), f"ImportVMs Name={name}")
    for name in ("vm-\u202etxt.exe", "vm\u2066x\u2069", "\u200fvm", "vm\u0085", "vm\u200b", "vm\u2028"):
        real = name.encode().decode("unicode_escape")
        e = h.expect_error(INVALID_ARGS, "RegisterVM", [gvariant_dict(vm_props(3, Name=real))])
        eq(e.message, NAME_ERROR, f"RegisterVM Name={name}")
        e = h.expect_error(INVALID_ARGS, "UpdateVM", [gvariant_str("vm2"), gvariant_dict({"Name": real})])
        eq(e.message, NAME_ERROR, f"UpdateVM Name={name}")
    eq(h.managed_objects(), before, "objects after the refused names")


@testcase()
def test_duplicate_property_refused(h):
    """A property map with a key given twice is InvalidArgs naming the key, whether the two
    values differ or not, in RegisterVM, UpdateVM and ImportVMs; nothing changes (before,
    the last value silently won)."""
    h.register_vm(**vm_props(1))
    before = h.managed_objects()
    twice = list(vm_props(2).items()) + [("Name", "other")]
    typed = [(k, "u" if isinstance(v, int) and not isinstance(v, bool) else "b" if isinstance(v, bool) else "s", v)
             for k, v in twice]
    e = h.expect_error(INVALID_ARGS, "RegisterVM", [gvariant_dict(typed)])
    eq(e.message, "VM property 'Name' is given more than once.", "RegisterVM with Name twice")
    e = h.expect_error(INVALID_ARGS, "UpdateVM",
                       [gvariant_str("vm1"), gvariant_dict([("Sku", "s", "A"), ("Sku", "s", "A")])])
    eq(e.message, "VM property 'Sku' is given more than once.", "UpdateVM with Sku twice")
    batch = "@aa{sv} [" + gvariant_dict(vm_props(3)).removeprefix("@a{sv} ") + ", " + \
        gvariant_dict(typed).removeprefix("@a{sv} ") + "]"
    e = h.expect_error(INVALID_ARGS, "ImportVMs", [batch])
    eq(e.message, "VM 1 ('vm2'): VM property 'Name' is given more than once.", "ImportVMs with Name twice in VM 1")
    eq(h.managed_objects(), before, "objects after the refused maps")


@testcase()
def test_id_means_its_vm(h):
    """An id always means its VM, even when another VM is named like it (a name only a state
    file from before can still hold; it loads): UnregisterVM, UpdateVM and SetVMAccess with
    VM C's id act on C, never on B named C's id; B is reached by its own id."""
    h.register_vm(**vm_props(1))   # C
    h.register_vm(**vm_props(2))   # B, renamed to C's id in the state file below
    h.stop_service()
    path = os.path.join(h.state_dir, "state.json")
    with open(path) as f:
        state = json.load(f)
    for vm in state["vms"]:
        if vm["Id"] == vm_id(2):
            vm["Name"] = vm_id(1)
    with open(path, "w") as f:
        json.dump(state, f)
    h.start_service()
    eq(h.get_all(vm_path(vm_id(2)), IFACE_VM)["Name"], vm_id(1), "B's name (loaded from the state file)")

    h.call("UpdateVM", "sa{sv}", vm_id(1), 1, "Sku", "s", "for-C")
    eq(h.get_all(vm_path(vm_id(1)), IFACE_VM)["Sku"], "for-C", "C's Sku after UpdateVM <C's id>")
    eq(h.get_all(vm_path(vm_id(2)), IFACE_VM)["Sku"], "", "B's Sku after UpdateVM <C's id>")
    h.call("SetVMAccess", "sb", vm_id(1).upper(), True)
    eq(h.get_all(vm_path(vm_id(1)), IFACE_VM)["LegacyAccess"], True, "C's access after SetVMAccess <C's ID>")
    eq(h.get_all(vm_path(vm_id(2)), IFACE_VM)["LegacyAccess"], False, "B's access after SetVMAccess <C's ID>")
    h.call("UnregisterVM", "s", vm_id(1))
    eq(h.vm_paths(), [vm_path(vm_id(2))], "VMs after UnregisterVM <C's id>")
    # C is gone: its id finds nothing, not B named like it
    e = h.expect_error(NO_SUCH_VM, "UnregisterVM", [gvariant_str(vm_id(1))])
    eq(e.message, f"No VM is registered with the name or id '{vm_id(1)}'.", "UnregisterVM <C's id> again")
    h.call("UnregisterVM", "s", vm_id(2))
    eq(h.vm_paths(), [], "VMs after UnregisterVM <B's id>")


@testcase()
def test_status_evaluation(h):
    """The live service evaluates benefits (the table itself is unit-tested): with the
    server Active, an up-to-date Azure Edition VM with the guest service interface is
    ActiveBenefits; an old build recommends InstallUpdates; no guest service interface
    recommends EnableGuestServiceInterface; DataExchange off → Unknown with
    EnableDataExchange; a Linux VM → NoApplicableBenefits; every update re-evaluates."""
    eq(h.get_property("State", server_path("node1"), "org.azshci.Attestation1.Server"), "Active",
       "server state")

    def ev(path):
        p = h.get_all(path, IFACE_VM)
        return (p["Status"], p["EligibleBenefits"], p["ActiveBenefits"], p["RecommendedActions"])

    wsae = ["WindowsServerAzureEdition"]
    vm1 = h.register_vm(**vm_props(1))
    eq(ev(vm1), ("ActiveBenefits", wsae, wsae, []), "up-to-date Azure Edition")
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(OsVersion="10.0.20348.2401"))
    eq(ev(vm1), ("InactiveBenefits", wsae, [], ["InstallUpdates"]), "Azure Edition one build too old")
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(OsVersion="10.0.20348.2402", GuestServiceInterface=False))
    eq(ev(vm1), ("InactiveBenefits", wsae, [], ["EnableGuestServiceInterface"]),
       "Azure Edition without guest service interface")
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(DataExchange=False))
    st, _, act, actions = ev(vm1)
    eq((st, act), ("Unknown", []), "DataExchange off")
    if "EnableDataExchange" not in actions:
        raise AssertionError(f"RecommendedActions {actions} lack EnableDataExchange")
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(DataExchange=True, GuestServiceInterface=True))
    eq(ev(vm1), ("ActiveBenefits", wsae, wsae, []), "back to ActiveBenefits")

    linux = h.register_vm(**vm_props(2, OsName="Debian GNU/Linux 12", OsVersion="12"))
    eq(ev(linux), ("NoApplicableBenefits", [], [], []), "Linux VM")


def _dict(**props):
    from harness import vm_props_busctl
    return vm_props_busctl(props)
