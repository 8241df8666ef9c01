# SPDX-License-Identifier: LGPL-2.1-or-later
"""State in the state directory: survives restart and kill -9; a corrupt file is moved
aside and the previous generation (state.json.old) takes its place; a file that cannot be
read, or a corrupt one without a usable previous generation, stops the start and changes
nothing; temporaries of an interrupted write are removed at start."""

import os
import subprocess
import threading

from harness import (BUS_NAME, BUS_PATH, IFACE, IFACE_SERVER, eq, server_path, testcase)
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


def _state_files(h):
    return [f for f in _files(h) if f.startswith("state.json")]


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
    h.call("EnableLegacy", "b", True)  # a second write: state.json.old exists from here on
    files_before = _files(h)
    eq(_state_files(h), ["state.json", "state.json.old"], "state files before the writes")
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


def _state(h, name="state.json"):
    with open(os.path.join(h.state_dir, name), "rb") as f:
        return f.read()


def _vms(h):
    """{path: VM properties} of every VM object."""
    return {p: i["org.azshci.Attestation1.VM"] for p, i in h.managed_objects().items()
            if "org.azshci.Attestation1.VM" in i}


def _server(h):
    return h.get_all(server_path("node1"), IFACE_SERVER)


def _expect_refused(h, *log_texts):
    """Starts the service, which must exit non-zero before READY=1 with log_texts in its log
    (of this start)."""
    log_before = len(h.service_log())
    h.start_service(wait_ready=False)
    rc = h.wait_service_exit()
    if rc == 0:
        raise AssertionError("the service started on a state file it could not use")
    log = h.service_log()[log_before:]
    for text in log_texts:
        if text not in log:
            raise AssertionError(f"the log does not say {text!r}:\n{log}")
    if "Ready:" in log:
        raise AssertionError("the service reported ready")


@testcase()
def test_corrupt_state_previous_generation(h):
    """A truncated state.json: the service keeps it as state.json.corrupt-<usec>, puts the
    previous generation (state.json.old, the state before the last change) in its place and
    starts from it (VMs and LegacyOsSupport exactly as before that change); the server stays
    Active and its Error says what happened, so does the log. The next start is clean."""
    _populate(h)
    h.register_vm(**vm_props(5))
    previous = (_vms(h), h.get_all())
    h.call("UnregisterVM", "s", "vm5")  # the last change, lost with the truncated file
    eq(len(_vms(h)), 3, "VMs after the last change")
    h.stop_service()
    eq(_state_files(h), ["state.json", "state.json.old"], "state files after the writes")
    good_old = _state(h, "state.json.old")
    current = _state(h)
    truncated = current[:len(current) // 2]
    with open(os.path.join(h.state_dir, "state.json"), "wb") as f:
        f.write(truncated)

    h.start_service()
    eq((_vms(h), h.get_all()), previous, "VMs and manager properties = the previous generation")
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport after the fallback")
    server = _server(h)
    eq(server["State"], "Active", "server State after the fallback")
    aside = [f for f in _files(h) if f.startswith("state.json.corrupt-")]
    eq(len(aside), 1, f"corrupt copies in {_files(h)}")
    eq(_state(h, aside[0]), truncated, f"content of {aside[0]}")
    eq(_state(h), good_old, "state.json = the previous generation")
    path = os.path.join(h.state_dir, "state.json")
    # "State: state file was corrupt (<path>: <the parser's words>), moved to <aside>; ..."
    head, tail = f"State: state file was corrupt ({path}:", \
        (f"), moved to {os.path.join(h.state_dir, aside[0])}; loaded the previous generation "
         f"{path}.old (changes made after it are lost)")
    error = server["Error"]
    if not (error.startswith(head) and error.endswith(tail) and len(error) > len(head) + len(tail)):
        raise AssertionError(f"server Error after the fallback: {error!r}")
    log = h.service_log()
    for text in (f"moved it to {os.path.join(h.state_dir, aside[0])} and loaded the previous generation",
                 "with 4 VM(s) in its place"):
        if text not in log:
            raise AssertionError(f"the service log does not say {text!r}")

    # it works from there on, and the next start is a normal one
    h.register_vm(**vm_props(6))
    eq(_state_files(h), sorted(["state.json", "state.json.old", aside[0]]), "state files after the next write")
    h.restart_service()
    eq(len(_vms(h)), 5, "VMs after restart")
    eq(_server(h)["Error"], "", "server Error after a clean start")


@testcase()
def test_corrupt_state_without_previous_generation(h):
    """A corrupt state.json without a previous generation (as after the first write ever):
    the service refuses to start, says why and how to start empty, and changes no file.
    Moving the file aside starts it with an empty inventory."""
    h.register_vm(**vm_props(1))
    h.stop_service()
    os.remove(os.path.join(h.state_dir, "state.json.old"))
    garbage = b'{"vms": [ {"Name": "vm1", \x00 truncated'
    with open(os.path.join(h.state_dir, "state.json"), "wb") as f:
        f.write(garbage)
    path = os.path.join(h.state_dir, "state.json")
    _expect_refused(h, f"State file is corrupt ({path}:",
                    "the previous generation is not usable (there is none): refusing to start",
                    f"Move {path} aside to start with an empty inventory.")
    eq(_state_files(h), ["state.json"], "state files after the refused start")
    eq(_state(h), garbage, "state.json after the refused start")

    os.rename(path, path + ".broken")
    h.start_service()
    eq(h.vm_paths(), [], "VMs with state.json moved aside")
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport with state.json moved aside")


@testcase()
def test_unreadable_state_refused(h):
    """An intact state.json the service cannot read (mode 000; then owned by root, 0600; the
    service runs as its own user, as in its unit) is not corruption: the service refuses to
    start with the reason in its log, and nothing is moved aside or rewritten. With the
    permissions back it starts with every VM and legacy support as they were."""
    _populate(h)
    before = _snapshot(h)
    h.stop_service()
    path = os.path.join(h.state_dir, "state.json")
    content, files = _state(h), _files(h)
    st = os.stat(path)

    os.chmod(path, 0o000)
    _expect_refused(h, f"Failed to read the state file ({path}: Permission denied): refusing to start.")
    eq((_files(h), _state(h)), (files, content), "files and state.json after the refused start")
    eq(os.stat(path).st_mode & 0o7777, 0o000, "mode of state.json after the refused start")

    os.chmod(path, 0o600)
    os.chown(path, 0, 0)
    _expect_refused(h, f"Failed to read the state file ({path}: Permission denied): refusing to start.")
    eq((_files(h), _state(h)), (files, content), "files and state.json after the refused start")

    os.remove(path)
    os.mkdir(path)
    _expect_refused(h, f"Failed to read the state file ({path}: not a regular file): refusing to start.")
    eq(_files(h), files, "files after the refused start")
    os.rmdir(path)
    with open(path, "wb") as f:
        f.write(content)
    os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, 0o644)

    h.start_service()
    eq(_snapshot(h), before, "state after the permissions are back")


@testcase()
def test_interrupted_write_leftovers_removed(h):
    """What a kill in the middle of a write leaves (state.json.tmp-XXXXXX, state.json.old.new)
    is removed at start, with a log line; the state is the acknowledged one; files with
    similar names that are not the service's temporaries stay."""
    _populate(h)
    before = _snapshot(h)
    h.stop_service()
    files = _files(h)
    left = {"state.json.tmp-Qx7Zp2": b'{"version": 1, "legacyOsSupport": fa',
            "state.json.old.new": _state(h, "state.json.old")}
    kept = {"state.json.Qx7Zp": b"x", "state.json.Qx7Zp2.txt": b"x", "state.json.backup": b"x"}
    for name, data in {**left, **kept}.items():
        with open(os.path.join(h.state_dir, name), "wb") as f:
            f.write(data)
    h.start_service()
    eq(_snapshot(h), before, "state after the start")
    eq(_files(h), sorted(files + list(kept)), "files after the start")
    if f"Removed 2 temporary file(s) left by an interrupted write of {h.state_dir}/state.json." \
            not in h.service_log():
        raise AssertionError("the log does not say that the leftovers were removed")


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
