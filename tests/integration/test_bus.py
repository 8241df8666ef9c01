# SPDX-License-Identifier: LGPL-2.1-or-later
"""Losing the system bus: dbus-daemon killed and started again on the same socket. The
service says so, keeps serving guests on the frontends' direct socket meanwhile, fails the
polkit check that was waiting, and takes its name back on the new bus by itself."""

import json
import os
import pwd
import re
import signal
import subprocess

from harness import (BUS_NAME, DEFAULT_TIMEOUT, IFACE_VM, SERVICE_USER, TEST_FRONTEND_USER, TEST_USER,
                     deadline_loop, direct_client, eq, log_count, testcase, trust_anchor_file, verify_document, vm_path,
                     wait_log_count)
from vmdata import vm_id, vm_props

LOST = ("Lost the connection to the system bus: the admin API is unreachable until the service is back on a "
        "bus; guests are still served on the frontend socket. Reconnecting.")
BACK = f"Back on the system bus as {BUS_NAME}."


def document_on_direct_socket(h, ca, nonce):
    rc, out = direct_client(h, 1, 101, nonce)
    eq((rc, out.get("answered"), "reply" in out), (0, "1", True), f"Attest on the direct socket ({out})")
    verify_document(h, out["reply"], ca, nonce=nonce, vm_id=vm_id(1))


@testcase("bus-lost-and-back")
def test_bus_lost_and_back(h):
    """kill -9 of dbus-daemon with an unprivileged Sync waiting for polkit (polkitd stopped):
    the service logs the loss once, the waiting check is denied (the Sync never runs), and
    while there is no bus at all a guest's document is signed on the direct socket. dbus-daemon
    is started again on the same address after a while: the service owns its name again (as
    its own user), exports its objects (ObjectManager, the VM), answers admin calls as root
    and through polkit, and Attest on the bus; it is the same process throughout and exits 0
    on SIGTERM."""
    pid = h.service_proc.pid
    h.register_vm(**vm_props(1))
    ca = trust_anchor_file(h)
    document_on_direct_socket(h, ca, "beforeloss")

    # A polkit check in flight when the bus goes: polkitd stopped, so it never answers.
    mon = h.monitor()
    os.kill(h.polkit_proc.pid, signal.SIGSTOP)
    sync = subprocess.Popen(h.user_prefix(TEST_USER) + ["gdbus", "call", "--system", "--dest", BUS_NAME,
                                                         "--object-path", "/org/azshci/Attestation1",
                                                         "--method", "org.azshci.Attestation1.Sync"],
                            env=h.client_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in deadline_loop(DEFAULT_TIMEOUT, "the service to ask polkit about the Sync"):
            mon._drain()
            if any(m.get("member") == "CheckAuthorization" for m in mon.messages):
                break
        syncs_before = log_count(h, "Sync started")

        h.kill_bus()
        wait_log_count(h, LOST, 1)
        wait_log_count(h, "Authorization check for org.azshci.attestation.sync failed, denying", 1)
        os.kill(h.polkit_proc.pid, signal.SIGCONT)
    finally:
        sync.kill()
        sync.wait()

    # No bus at all: guests are still served, for as long as it takes.
    document_on_direct_socket(h, ca, "duringloss1")
    document_on_direct_socket(h, ca, "duringloss2")
    eq(h.service_proc.poll(), None, "the service is still running without a bus")
    # It keeps trying (debug level), backing off, until there is a bus again.
    wait_log_count(h, "The system bus is not back yet", 2)

    h.restart_bus()
    for _ in deadline_loop(DEFAULT_TIMEOUT, f"{BUS_NAME} to have an owner on the new bus", 0.05):
        if h.name_has_owner(BUS_NAME):
            break
    eq(h.name_owner_uid(BUS_NAME), pwd.getpwnam(SERVICE_USER).pw_uid, "owner of the name")
    wait_log_count(h, BACK, 1)

    # The objects are back: ObjectManager with the VM, admin calls as root, polkit asked again.
    objects = h.managed_objects()
    eq(objects[vm_path(vm_id(1))][IFACE_VM]["Name"], "vm1", "the VM in GetManagedObjects")
    h.register_vm(**vm_props(2))
    eq(sorted(p for p, i in h.managed_objects().items() if IFACE_VM in i), sorted([vm_path(vm_id(1)),
                                                                                  vm_path(vm_id(2))]), "VMs")
    h.expect_error("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", "Sync", user=TEST_USER)
    eq(log_count(h, "Sync started"), syncs_before, "Sync runs after the loss (the denied check must not run it)")
    doc = h.call("Attest", "sss", "vsock", "102", "afterloss", user=TEST_FRONTEND_USER)[0]
    verify_document(h, doc, ca, nonce="afterloss", vm_id=vm_id(2))
    document_on_direct_socket(h, ca, "afterloss")

    eq(log_count(h, LOST), 1, "loss reported once")
    eq(h.service_proc.pid, pid, "the same service process")
    h.stop_service()


@testcase("bus-lost-twice")
def test_bus_lost_twice(h):
    """The bus goes away again right after the service took its name back: it reconnects
    again, and its state written meanwhile (a VM registered between the losses) is there."""
    for n in (1, 2):
        h.kill_bus()
        wait_log_count(h, LOST, n)
        h.restart_bus()
        for _ in deadline_loop(DEFAULT_TIMEOUT, f"{BUS_NAME} back after loss {n}", 0.05):
            if h.name_has_owner(BUS_NAME):
                break
        wait_log_count(h, BACK, n)
        h.register_vm(**vm_props(n))
    data = h.call("GetManagedObjects", path="/org/azshci/Attestation1",
                  interface="org.freedesktop.DBus.ObjectManager")
    eq(sorted(p for p, i in data[0].items() if IFACE_VM in i), sorted([vm_path(vm_id(1)), vm_path(vm_id(2))]),
       "VMs after two losses")
    with open(os.path.join(h.state_dir, "state.json")) as f:
        eq(len(json.load(f)["vms"]), 2, "VMs in state.json")
    h.stop_service()


READ_LIMITED = re.compile(r"managed-objects: Too many inventory reads: user (\d+) may read 2000 objects per second "
                          r"\(30000 at once\); GetManagedObjects again in (\d+)\.(\d) s\.")


@testcase("inventory-read-limit")
def test_inventory_read_limit(h):
    """Whole-inventory reads cost one unit per object against a budget of each user (2000 per
    second, 30000 at once): with 3000 VMs an unprivileged reader gets about ten reads in a row,
    then LimitsExceeded saying when to come back, and again a read once that time has passed.
    Other users (another unprivileged one, root) are not affected meanwhile, nor are the
    limited user's other reads (GetAll of a VM)."""
    bench_bus = os.path.join(h.builddir, "bench", "bench-bus")
    h.run([bench_bus, "import", "--vms=3000"], timeout=300)

    def read(user):
        p = h.run([bench_bus, "managed-objects"], user=user, check=False)
        if p.returncode == 0:
            eq(p.stdout.split()[0], "objects=3001", "GetManagedObjects")   # the server and 3000 VMs
            return None
        m = READ_LIMITED.fullmatch(p.stderr.strip())
        if not m:
            raise AssertionError(f"unexpected failure of GetManagedObjects: {p.stderr!r}")
        eq(int(m.group(1)), pwd.getpwnam(user).pw_uid, "uid in the message")
        return int(m.group(2)) + int(m.group(3)) / 10

    results = [read(TEST_USER) for _ in range(20)]
    first_refused = next((i for i, r in enumerate(results) if r is not None), None)
    if first_refused is None or first_refused < 10:
        raise AssertionError(f"reads before the first refusal: {first_refused} (expected at least 10): {results}")
    wait = results[first_refused]
    if not 0 <= wait <= 1.6:
        raise AssertionError(f"retry in {wait} s, expected at most one read's worth (1.5 s)")

    eq(read(TEST_FRONTEND_USER), None, "another user's read")
    for _ in range(3):
        eq(read("root"), None, "root's read")
    props = h.get_all(vm_path(vm_id(1)), IFACE_VM, user=TEST_USER)
    eq(props["Name"], "vm1", "GetAll of a VM by the limited user")

    for _ in deadline_loop(DEFAULT_TIMEOUT, "the budget to refill", 0.2):
        if read(TEST_USER) is None:
            break


STATUS_LIMITED = re.compile(r"GDBus\.Error:org\.freedesktop\.DBus\.Error\.LimitsExceeded: Too many inventory reads: "
                            r"user (\d+) may read 2000 objects per second \(30000 at once\); GetLegacyNetworkStatus "
                            r"again in (\d+)\.(\d) s\.")


@testcase("legacy-status-read-limit")
def test_legacy_status_read_limit(h):
    """GetLegacyNetworkStatus (open to every local user; it re-reads every granted domain) is
    charged like GetManagedObjects, one unit per VM and one more, to the same budget of each
    user: with 3000 VMs an unprivileged caller gets about ten answers in a row, identical to
    root's, then org.freedesktop.DBus.Error.LimitsExceeded naming the method and when to come
    back; GetManagedObjects is refused too (the same budget); root is not limited."""
    bench_bus = os.path.join(h.builddir, "bench", "bench-bus")
    h.run([bench_bus, "import", "--vms=3000"], timeout=300)

    def status(user):
        """(stdout, None) when answered, (None, seconds to wait) when refused."""
        p = h.run(["gdbus", "call", "--system", "--dest", BUS_NAME, "--object-path", "/org/azshci/Attestation1",
                   "--method", "org.azshci.Attestation1.GetLegacyNetworkStatus"], user=user, check=False)
        if p.returncode == 0:
            return p.stdout, None
        m = STATUS_LIMITED.search(p.stderr)
        if not m:
            raise AssertionError(f"unexpected failure of GetLegacyNetworkStatus: {p.stderr!r}")
        eq(int(m.group(1)), pwd.getpwnam(user).pw_uid, "uid in the message")
        return None, int(m.group(2)) + int(m.group(3)) / 10

    want, _ = status(None)
    if "does not manage the legacy network" not in want:
        raise AssertionError(f"root's status: {want!r}")
    answers = 0
    for _ in range(20):
        out, wait = status(TEST_USER)
        if out is None:
            break
        eq(out, want, "the unprivileged caller's status")
        answers += 1
    if wait is None or answers < 9:
        raise AssertionError(f"{answers} answers before the first refusal (expected about 10), then wait {wait}")
    if not 0 <= wait <= 1.6:
        raise AssertionError(f"retry in {wait} s, expected at most one read's worth (1.5 s)")
    p = h.run([bench_bus, "managed-objects"], user=TEST_USER, check=False)
    if p.returncode == 0 or not READ_LIMITED.fullmatch(p.stderr.strip()):
        raise AssertionError(f"GetManagedObjects of the same user not refused: {p.returncode} {p.stderr!r}")
    for _ in range(12):
        eq(status(None), (want, None), "root's status")
