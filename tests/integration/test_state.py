# SPDX-License-Identifier: LGPL-2.1-or-later
"""State in the state directory: survives restart and kill -9; a corrupt file is moved
aside and the service starts empty."""

import os
import subprocess
import threading

from harness import (BUS_NAME, BUS_PATH, IFACE, eq, testcase)
from vmdata import vm_props


def _populate(h):
    h.register_vm(**vm_props(1))
    h.register_vm(**vm_props(2, Generation=1, PowerState="Running", DataExchange=False))
    h.call("EnableLegacy", "b", True)
    h.register_vm(**vm_props(3, OsName="Windows 10 Enterprise multi-session",
                             OsVersion="10.0.19045.4291", VsockCid=0))
    h.call("SetVMAccess", "sb", "vm3", True)
    h.call("UpdateVM", "sa{sv}", "vm1", _dict(OsVersion="10.0.20348.9999", Sku="Datacenter"))
    h.call("SetVMAccess", "sb", "vm1", False)
    h.register_vm(**vm_props(4))
    h.call("UnregisterVM", "s", "vm4")


def _snapshot(h):
    return h.managed_objects(), h.get_all()


def _files(h):
    return sorted(os.listdir(h.state_dir))


@testcase()
def test_persist_restart(h):
    """Register VMs, toggle legacy support and access, update, unregister; SIGTERM (exit 0)
    and start again: every object and property is the same."""
    _populate(h)
    before = _snapshot(h)
    eq(before[1]["LegacyOsSupport"], "On", "LegacyOsSupport before restart")
    eq(len(before[0]), 4, "objects before restart (server + 3 VMs)")
    h.restart_service()
    eq(_snapshot(h), before, "state after restart")


@testcase()
def test_persist_kill9(h):
    """The same after kill -9: every acknowledged change was on disk."""
    _populate(h)
    before = _snapshot(h)
    h.restart_service(kill=True)
    eq(_snapshot(h), before, "state after kill -9")
    # and the service keeps working on the recovered state
    h.call("EnableLegacy", "b", False)
    h.restart_service(kill=True)
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport after second kill -9")


@testcase()
def test_kill9_during_writes(h):
    """kill -9 while RegisterVM calls stream in: the restarted service holds every VM whose
    RegisterVM was answered (at most the one in flight more), nothing is moved aside, and no
    temporary file is left that the service would trip over."""
    files_before = None
    acked = []
    stop = threading.Event()

    def writer():
        n = 10
        while not stop.is_set():
            n += 1
            p = subprocess.run(["busctl", "--system", "--json=short", "call", BUS_NAME, BUS_PATH, IFACE,
                                "RegisterVM", "a{sv}", "3", "Id", "s", vm_props(n)["Id"], "Name", "s",
                                f"vm{n}", "DataExchange", "b", "true"],
                               env=h.client_env(), capture_output=True, text=True, timeout=20)
            if p.returncode == 0:
                acked.append(f"vm{n}")
            else:
                return

    h.register_vm(**vm_props(1))
    files_before = _files(h)
    t = threading.Thread(target=writer)
    t.start()
    # let a few registrations through, then kill in the middle of the stream
    for _ in __import__("harness").deadline_loop(20, "5 acknowledged registrations"):
        if len(acked) >= 5:
            break
    h.kill_service()
    stop.set()
    t.join(30)
    h.start_service()
    names = sorted(h.get_all(p, "org.azshci.Attestation1.VM")["Name"] for p in h.vm_paths())
    missing = sorted(set(acked + ["vm1"]) - set(names))
    if missing:
        raise AssertionError(f"acknowledged VMs lost by kill -9: {missing}")
    extra = sorted(set(names) - set(acked + ["vm1"]))
    if len(extra) > 1:
        raise AssertionError(f"more than one unacknowledged VM appeared: {extra}")
    eq(_files(h), files_before, "files in the state directory (nothing moved aside, no leftovers)")


@testcase()
def test_corrupt_state_moved_aside(h):
    """A corrupt state file is moved aside (kept for inspection, with a log message naming
    it) and the service starts empty instead of refusing to start."""
    h.register_vm(**vm_props(1))
    h.call("EnableLegacy", "b", True)
    h.stop_service()
    state_files = []
    for f in _files(h):
        path = os.path.join(h.state_dir, f)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                if b"vm1" in fh.read():
                    state_files.append(f)
    eq(len(state_files), 1, f"state files naming vm1 in {_files(h)}")
    name = state_files[0]
    garbage = b'{"vms": [ {"Name": "vm1", \x00 truncated'
    with open(os.path.join(h.state_dir, name), "wb") as fh:
        fh.write(garbage)
    others = set(_files(h)) - {name}

    h.start_service()
    eq(h.vm_paths(), [], "VMs after a corrupt state file")
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport after a corrupt state file")
    aside = [f for f in set(_files(h)) - others - {name}
             if open(os.path.join(h.state_dir, f), "rb").read() == garbage]
    eq(len(aside), 1, f"moved-aside copies of {name} in {_files(h)}")
    if not aside[0].startswith(name):
        raise AssertionError(f"moved-aside file {aside[0]} is not named after {name}")
    log = h.service_log()
    if aside[0] not in log:
        raise AssertionError(f"the service log does not name {aside[0]}")
    # it works from there on and persists again
    h.register_vm(**vm_props(2))
    h.restart_service()
    eq(len(h.vm_paths()), 1, "VMs after restart")


@testcase()
def test_bad_config_refused(h):
    """An unknown configuration key stops the service at start with a message naming it."""
    h.stop_service()
    h.write_config(colour="blue")
    h.start_service(wait_ready=False)
    rc = h.wait_service_exit()
    if rc == 0:
        raise AssertionError("the service accepted an unknown configuration key")
    if "colour" not in h.service_log():
        raise AssertionError("the log does not name the unknown key")
    h.write_config()
    h.start_service()


def _dict(**props):
    from harness import vm_props_busctl
    return vm_props_busctl(props)
