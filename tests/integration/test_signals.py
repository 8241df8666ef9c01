# SPDX-License-Identifier: LGPL-2.1-or-later
"""Signals as real clients see them: `busctl monitor --json=short` (root) and
`gdbus monitor` (an unprivileged subscriber)."""

import json
import queue
import subprocess
import threading

from harness import (BUS_NAME, BUS_PATH, IFACE, IFACE_SERVER, IFACE_VM, TEST_USER, HarnessError,
                     deadline_loop, eq, server_path, testcase, vm_path)
from vmdata import vm_id, vm_props

PC = "PropertiesChanged"


def _owner(h):
    p = h.run(["busctl", "--system", "--json=short", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
               "org.freedesktop.DBus", "GetNameOwner", "s", BUS_NAME])
    return json.loads(p.stdout)["data"][0]


def _changes(signals, path, iface):
    """Merged {property: value} and invalidated list of PropertiesChanged for one
    path/interface."""
    changed, invalidated, n = {}, [], 0
    for s in signals:
        if s["member"] != PC or s["path"] != path:
            continue
        eq(s["interface"], "org.freedesktop.DBus.Properties", "PropertiesChanged interface")
        eq(s["payload"]["type"], "sa{sv}as", "PropertiesChanged signature")
        i, c, inv = s["payload"]["data"]
        if i != iface:
            continue
        n += 1
        changed.update({k: v["data"] for k, v in c.items()})
        invalidated += inv
    return changed, invalidated, n


def _service_signals(h, m, since, owner):
    sigs = [s for s in m.signals(since) if s.get("sender") == owner]
    return sigs


@testcase()
def test_signals_properties_changed(h):
    """EnableLegacy(true) → PropertiesChanged with the new value on the cluster object, the
    server object and each VM whose LegacyAccess changed; a no-op call emits nothing."""
    m = h.monitor()
    h.register_vm(**vm_props(1))
    h.register_vm(**vm_props(2, Generation=1, PowerState="Running"))
    owner = _owner(h)
    since = m.mark()
    h.call("EnableLegacy", "b", True)
    m.sync()
    sigs = _service_signals(h, m, since, owner)
    eq(_changes(sigs, BUS_PATH, IFACE)[:2], ({"LegacyOsSupport": "On"}, []), "cluster PropertiesChanged")
    eq(_changes(sigs, server_path("node1"), IFACE_SERVER)[0].get("LegacyOsSupport"), "On",
       "server PropertiesChanged LegacyOsSupport")
    eq(_changes(sigs, vm_path(vm_id(1)), IFACE_VM)[0].get("LegacyAccess"), True,
       "vm1 PropertiesChanged LegacyAccess")
    eq("LegacyAccess" in _changes(sigs, vm_path(vm_id(2)), IFACE_VM)[0], False,
       "running Generation 1 vm2 LegacyAccess signalled")

    since = m.mark()
    h.call("EnableLegacy", "b", True)
    m.sync()
    eq([s["path"] for s in _service_signals(h, m, since, owner) if s["member"] == PC], [],
       "PropertiesChanged after a no-op EnableLegacy")

    since = m.mark()
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(OsVersion="10.0.20348.2500", Sku="Datacenter"))
    m.sync()
    changed, _, _ = _changes(_service_signals(h, m, since, owner), vm_path(vm_id(1)), IFACE_VM)
    eq({k: changed.get(k) for k in ("OsVersion", "Sku")}, {"OsVersion": "10.0.20348.2500", "Sku": "Datacenter"},
       "vm1 PropertiesChanged after UpdateVM")
    for k in ("Name", "Id", "VsockCid", "LegacyMac"):
        if k in changed:
            raise AssertionError(f"unchanged property {k} signalled as changed")

    # a status change is signalled too
    since = m.mark()
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(DataExchange=False))
    m.sync()
    changed, _, _ = _changes(_service_signals(h, m, since, owner), vm_path(vm_id(1)), IFACE_VM)
    eq((changed.get("DataExchange"), changed.get("Status")), (False, "Unknown"), "Status change signalled")


@testcase()
def test_signals_interfaces_added_removed(h):
    """RegisterVM → one InterfacesAdded on the ObjectManager with the VM interface and its
    properties; UnregisterVM → InterfacesRemoved naming the VM interface."""
    m = h.monitor()
    owner = _owner(h)
    since = m.mark()
    props = vm_props(1)
    path = h.register_vm(**props)
    m.sync()
    added = [s for s in _service_signals(h, m, since, owner) if s["member"] == "InterfacesAdded"]
    eq(len(added), 1, "InterfacesAdded signals")
    s = added[0]
    eq((s["path"], s["interface"], s["payload"]["type"]),
       (BUS_PATH, "org.freedesktop.DBus.ObjectManager", "oa{sa{sv}}"), "InterfacesAdded header")
    obj, ifaces = s["payload"]["data"]
    eq(obj, path, "InterfacesAdded object")
    if IFACE_VM not in ifaces:
        raise AssertionError(f"InterfacesAdded lacks {IFACE_VM}: {sorted(ifaces)}")
    got = {k: v["data"] for k, v in ifaces[IFACE_VM].items()}
    for k, v in props.items():
        eq(got.get(k), v, f"InterfacesAdded property {k}")

    since = m.mark()
    h.call("UnregisterVM", "s", "vm1")
    m.sync()
    removed = [s for s in _service_signals(h, m, since, owner) if s["member"] == "InterfacesRemoved"]
    eq(len(removed), 1, "InterfacesRemoved signals")
    obj, ifaces = removed[0]["payload"]["data"]
    eq((removed[0]["path"], obj), (BUS_PATH, path), "InterfacesRemoved path and object")
    if IFACE_VM not in ifaces:
        raise AssertionError(f"InterfacesRemoved lacks {IFACE_VM}: {ifaces}")


@testcase()
def test_signals_unprivileged_gdbus_monitor(h):
    """An unprivileged `gdbus monitor` subscriber (ordinary match rules, the bus policy's
    signal delivery) receives PropertiesChanged and InterfacesAdded."""
    proc = subprocess.Popen(h.user_prefix(TEST_USER) +
                            ["stdbuf", "-oL", "gdbus", "monitor", "--system", "--dest", BUS_NAME],
                            env=h.client_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    lines = queue.Queue()
    seen = []
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()

    def wait_line(pred, what):
        for _ in deadline_loop(20, what):
            while True:
                try:
                    seen.append(lines.get_nowait())
                except queue.Empty:
                    break
            for x in seen:
                if pred(x):
                    return x
            if proc.poll() is not None:
                raise HarnessError(f"gdbus monitor exited: {''.join(seen)}")

    try:
        # gdbus monitor subscribes before it looks up the owner: the owner line means the
        # match rules are in place.
        wait_line(lambda x: f"The name {BUS_NAME} is owned by" in x, "gdbus monitor to subscribe")
        h.call("EnableLegacy", "b", True)
        wait_line(lambda x: f"{BUS_PATH}: org.freedesktop.DBus.Properties.PropertiesChanged "
                            f"('{IFACE}', {{'LegacyOsSupport': <'On'>}}" in x,
                  "PropertiesChanged in gdbus monitor")
        h.register_vm(**vm_props(1))
        wait_line(lambda x: f"org.freedesktop.DBus.ObjectManager.InterfacesAdded (objectpath '{vm_path(vm_id(1))}'"
                  in x, "InterfacesAdded in gdbus monitor")
    except Exception:
        print("gdbus monitor output:\n" + "".join(seen))
        raise
    finally:
        proc.terminate()
        proc.wait(5)


def _dict(**props):
    from harness import vm_props_busctl
    return vm_props_busctl(props)


