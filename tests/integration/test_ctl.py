# SPDX-License-Identifier: LGPL-2.1-or-later
"""azshcictl against the live service: --json output equals what the bus says, the human
tables show the same facts, changes go through, and exit codes follow polkit."""

import json
import os
import re
import xml.etree.ElementTree as ET

from harness import (IFACE_SERVER, IFACE_VM, TEST_USER, eq, server_path, testcase,
                     vm_path)
from vmdata import vm_id, vm_props

STATUS_LABELS = {
    "ActiveBenefits": "Active benefits",
    "InactiveBenefits": "Inactive benefits",
    "Unknown": "Unknown",
    "NoApplicableBenefits": "No applicable benefits",
}


def _mixed_inventory(h):
    h.register_vm(**vm_props(1, GuestServiceInterface=False))          # InactiveBenefits
    h.register_vm(**vm_props(4))                                       # ActiveBenefits
    h.register_vm(**vm_props(2, DataExchange=False))                   # Unknown
    h.register_vm(**vm_props(3, OsName="Debian GNU/Linux 12", OsVersion="12"))   # NoApplicable


def _bus_vms(h):
    return sorted((h.get_all(p, IFACE_VM) for p in h.vm_paths()), key=lambda v: v["Name"])


@testcase()
def test_ctl_json(h):
    """`--json status`, `--json vms` and `--json vm show` carry exactly the bus's
    properties, and the dashboard counts match the VMs' Status."""
    _mixed_inventory(h)
    st = json.loads(h.ctl("--json", "status", user=TEST_USER).stdout)
    eq(st, {"cluster": h.get_all(),
            "servers": [h.get_all(server_path("node1"), IFACE_SERVER)]}, "status --json")

    vms = json.loads(h.ctl("--json", "vms", user=TEST_USER).stdout)
    bus = _bus_vms(h)
    eq(sorted(vms["vms"], key=lambda v: v["Name"]), bus, "vms --json VMs")
    counts = {k: sum(1 for v in bus if v["Status"] == k) for k in STATUS_LABELS}
    eq(vms["summary"], {**counts, "Total": len(bus)}, "vms --json summary")
    eq(counts, {"ActiveBenefits": 1, "InactiveBenefits": 1, "Unknown": 1, "NoApplicableBenefits": 1},
       "status mix of the test inventory")

    show = json.loads(h.ctl("--json", "vm", "show", "vm1").stdout)
    eq(show, h.get_all(vm_path(vm_id(1)), IFACE_VM), "vm show --json")


@testcase()
def test_ctl_tables(h):
    """The human output: the dashboard counts first, then one row per VM with its status;
    the status page shows the cluster values and the server row."""
    _mixed_inventory(h)
    out = h.ctl("vms", user=TEST_USER).stdout
    counts = dict(re.findall(r"^\s*([A-Za-z ]+):\s+(\d+)\s*$", out, re.M))
    eq({k: int(v) for k, v in counts.items()},
       {"Active benefits": 1, "Inactive benefits": 1, "Unknown": 1, "No applicable benefits": 1},
       "dashboard counts")
    first_count = out.index("Active benefits:")
    for v in _bus_vms(h):
        row = re.search(rf"^{re.escape(v['Name'])}\s+{re.escape(STATUS_LABELS[v['Status']])}\b.*$", out, re.M)
        if not row:
            raise AssertionError(f"no row for {v['Name']} with status {STATUS_LABELS[v['Status']]}:\n{out}")
        if row.start() < first_count:
            raise AssertionError("VM rows come before the dashboard counts")
    out = h.ctl("status", user=TEST_USER).stdout
    for label, value in (("Host state", "On"), ("Legacy OS support", "Off"), ("Version", h.get_property("Version"))):
        if not re.search(rf"^\s*{label}:\s+{re.escape(value)}\s*$", out, re.M):
            raise AssertionError(f"status lacks '{label}: {value}':\n{out}")
    if not re.search(r"^node1\s+Active\b", out, re.M):
        raise AssertionError(f"status lacks the node1 row:\n{out}")


@testcase()
def test_ctl_changes_and_exit_codes(h):
    """Root changes state through azshcictl; an unprivileged user with --no-ask-password
    gets exit 3 (not authorized) and changes nothing, exit 0 once a rule grants it; a bad
    argument is exit 1, a usage error exit 2, no service exit 4."""
    out = h.ctl("vm", "add", "--name", "web1", "--id", vm_id(7), "--generation", "1",
                "--power-state", "Off", "--os-name", "Windows Server 2012 R2 Datacenter",
                "--os-version", "6.3.9600.21620", "--data-exchange", "yes").stdout
    if vm_path(vm_id(7)) not in out:
        raise AssertionError(f"vm add does not print the object path: {out!r}")
    eq(h.get_property("Generation", vm_path(vm_id(7)), IFACE_VM), 1, "Generation of web1")
    h.ctl("legacy", "on")
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport after 'legacy on'")
    eq(h.get_property("LegacyAccess", vm_path(vm_id(7)), IFACE_VM), True, "web1 access after legacy on")
    h.ctl("vm-access", "web1", "off")
    eq(h.get_property("LegacyAccess", vm_path(vm_id(7)), IFACE_VM), False, "web1 access after vm-access off")

    p = h.ctl("--no-ask-password", "legacy", "off", user=TEST_USER, check=False)
    eq(p.returncode, 3, f"exit code of an unauthorized 'legacy off' ({p.stderr.strip()})")
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport after a refused 'legacy off'")
    h.grant(TEST_USER)
    h.ctl("--no-ask-password", "legacy", "off", user=TEST_USER)
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport after a granted 'legacy off'")

    eq(h.ctl("vm", "remove", "ghost", check=False).returncode, 1, "exit code for NoSuchVM")
    eq(h.ctl("frobnicate", check=False).returncode, 2, "exit code of a usage error")
    h.ctl("vm", "remove", "web1")
    eq(h.vm_paths(), [], "VMs after vm remove")
    h.stop_service()
    eq(h.ctl("status", check=False).returncode, 4, "exit code without the service")


@testcase()
def test_ctl_import_demo(h):
    """`vm import data/demo/vms.json` registers every VM in the demo file; importing it
    again updates instead of failing; the output of `vms --json` imports back unchanged."""
    demo = os.path.join(h.srcdir, "data", "demo", "vms.json")
    with open(demo) as f:
        entries = json.load(f)
    if isinstance(entries, dict):
        entries = entries.get("vms", [])
    h.ctl("vm", "import", demo)
    eq(sorted(v["Name"] for v in _bus_vms(h)), sorted(e["Name"] for e in entries), "imported VM names")
    h.ctl("vm", "import", demo)
    eq(len(h.vm_paths()), len(entries), "VMs after a second import")

    # What `vms --json` prints imports back as it is: the properties the service computes
    # (Status, Source, RequiredUpdates, ...) are left out, nothing changes.
    exported = os.path.join(h.tmp, "exported.json")
    with open(exported, "w") as f:
        f.write(h.ctl("--json", "vms").stdout)
    before = _bus_vms(h)
    h.ctl("vm", "import", exported)
    eq(_bus_vms(h), before, "VMs after importing the output of 'vms --json'")


def _field(out, label):
    """The value of the "Label: value" line of `status` or `vm show` (labels right-aligned)."""
    m = re.findall(rf"^ *{re.escape(label)}: (.*)$", out, re.M)
    if len(m) != 1:
        raise AssertionError(f"expected one '{label}:' line, got {len(m)}:\n{out}")
    return m[0]


@testcase()
def test_ctl_source_and_updates(h):
    """`vm show` prints the VM's Source and the updates InstallUpdates asks for; `--json`
    (vm show, vms) carries both; `status` says nothing about the inventory while it is fresh."""
    h.ctl("vm", "import", os.path.join(h.srcdir, "data", "demo", "vms.json"))
    kb = ["KB5036893 (OsVersion 10.0.22621.3447)"]     # the demo rules for avd-host-02's build
    out = h.ctl("vm", "show", "avd-host-02").stdout
    eq(_field(out, "Recommended actions"), "InstallUpdates", "vm show Recommended actions")
    eq(_field(out, "Required updates"), kb[0], "vm show Required updates")
    eq(_field(out, "Source"), "manual", "vm show Source")
    eq(out.splitlines()[-4:], ["       Required updates: " + kb[0], "          Legacy access: no",
                               "           Legacy error: -", "                 Source: manual"], "vm show last lines")
    eq(_field(h.ctl("vm", "show", "avd-host-01").stdout, "Required updates"), "-",
       "vm show Required updates of a VM that needs none")
    # `vm show` prints every property of the VM interface, one line each (its --help says so).
    vm_iface = ET.parse(os.path.join(h.srcdir, "dbus", "org.azshci.Attestation1.xml")).find(
        f"interface[@name='{IFACE_VM}']")
    eq(len(out.splitlines()), len(vm_iface.findall("property")), "vm show: one line per VM property")

    show = json.loads(h.ctl("--json", "vm", "show", "avd-host-02").stdout)
    eq((show["Source"], show["RequiredUpdates"]), ("manual", kb), "vm show --json")
    keys = list(show)
    eq(keys[keys.index("RecommendedActions"):keys.index("Source") + 1],
       ["RecommendedActions", "RequiredUpdates", "LegacyAccess", "LegacyError", "Source"],
       "vm show --json key order")
    vms = {v["Name"]: v for v in json.loads(h.ctl("--json", "vms", user=TEST_USER).stdout)["vms"]}
    eq((vms["avd-host-02"]["Source"], vms["avd-host-02"]["RequiredUpdates"]), ("manual", kb), "vms --json")

    st = json.loads(h.ctl("--json", "status", user=TEST_USER).stdout)
    eq(list(st["cluster"])[list(st["cluster"]).index("Version"):][:2], ["Version", "InventoryStale"],
       "status --json key order")
    eq(st["cluster"]["InventoryStale"], False, "status --json InventoryStale")
    out = h.ctl("status", user=TEST_USER).stdout
    if re.search(r"^ *Inventory:", out, re.M):
        raise AssertionError(f"status shows an Inventory line for a fresh inventory:\n{out}")


@testcase()
def test_ctl_inventory_stale(h):
    """With a libvirt inventory whose daemon cannot be reached, `status` says so in one line
    and `status --json` carries InventoryStale true."""
    h.stop_service()
    h.write_config(inventory={"provider": "libvirt", "uri": "qemu+unix:///system?socket=/nonexistent"})
    h.start_service()
    eq(h.get_property("InventoryStale"), True, "InventoryStale on the bus")
    out = h.ctl("status", user=TEST_USER).stdout
    eq(_field(out, "Inventory"), "libvirt not reachable, showing the last known VMs", "status Inventory line")
    st = json.loads(h.ctl("--json", "status", user=TEST_USER).stdout)
    eq(st["cluster"]["InventoryStale"], True, "status --json InventoryStale")
