# SPDX-License-Identifier: LGPL-2.1-or-later
"""Faults of the real service (harness: private bus, polkitd, azshci-attestd as azshci) and of
the HTTP frontend in front of it: kill -9 of the service under load, kill -9 of the frontend
with requests suspended, a full and a read-only state directory."""

import os
import re
import signal
import subprocess

import harness
from faultlib import (B_UNREACHABLE, DOC, NetnsClient, TmpfsStateDir, frontend_pid, log_problems, poll_until,
                      use_leveled_log)
from frontend import eq, expect, frontend_case
from harness import attest, testcase, trust_anchor_file, verify_document
from vmdata import vm_id, vm_props

N_VMS = 20

# sd-bus's names for the errnos of a failed state write (systemd's bus-error.c knows no other
# name for them: System.Error.<ERRNO>).
ERRNO_NAMES = {
    "ENOSPC": "System.Error.ENOSPC",
    "EROFS": "System.Error.EROFS",
}


def _snapshot(h):
    return h.managed_objects(), h.get_all()


@frontend_case("kill9-under-load")
def test_kill9_under_load(h, env):
    """12 keep-alive HTTP clients request documents in a loop (so Attest calls are always in
    flight) while the service is killed with -9 and restarted by the harness (D-Bus activation
    does not exist on the private bus). Nothing is lost: the inventory (every object and
    property) is the same after the restart. The frontend is never restarted: 200 before,
    only 503 + Retry-After with the "not reachable" body during the outage (also for the calls
    in flight at the kill), 200 with verifiable documents after; no connection is dropped."""
    g = env.guest()
    # 12 load connections + curl from one VM and address: within the per-VM and per-IP limits.
    f = env.frontend(f"{g.host_ip}:80", args=["--log-level=info", "--rate=0", "--max-connections-per-vm=16"])
    for n in range(1, N_VMS + 1):
        h.register_vm(**vm_props(n))
    env.register_legacy_vm(g)          # also turns legacy OS support on
    h.call("SetVMAccess", "sb", vm_id(3), False)
    h.call("UnregisterVM", "s", vm_id(4))
    before = _snapshot(h)
    ca = trust_anchor_file(h)
    pid = None

    load = NetnsClient(h, g, "load", f"--target={g.host_ip}:80", "--conns=12",
                       f"--path={DOC}?api-version=2020-09-01&nonce=load")
    try:
        eq(load.read(), {"event": "started"}, "load client")
        total, transport_errors = {}, []

        def window():
            st = load.status()
            for k, v in st["counts"].items():
                total[k] = total.get(k, 0) + v
            if st["errors"]:
                transport_errors.append(st)
            return st

        poll_until("documents to flow", lambda: window()["counts"].get("200", 0) >= 32, timeout=30)
        pid = frontend_pid(f)
        h.kill_service()
        # From now on every answer is 503 (calls in flight at the kill included), until the restart.
        window()
        st = poll_until("503s during the outage", lambda: (lambda s: s if s["counts"].get("503") else None)(window()),
                        timeout=10)
        # The next window with answers in it (a window can be empty: the clients wait for
        # their previous answer): every one of them is a 503.
        st = poll_until("more answers during the outage", lambda: (lambda s: s if s["counts"] else None)(window()),
                        timeout=10)
        eq(sorted(st["counts"]), ["503"], f"statuses during the outage ({st})")
        eq(st["bodies"], [f"503 5 {B_UNREACHABLE}"], "503 body during the outage")
        expect(env.curl(g, env.url(g, DOC + "?api-version=2018-10-01&nonce=out")), 503, B_UNREACHABLE,
               "curl during the outage", headers={"Retry-After": "5"})

        h.start_service()
        poll_until("only 200s again", lambda: (lambda s: s["counts"] and sorted(s["counts"]) == ["200"])(window()),
                   timeout=30)
    finally:
        load.close()
    eq(sorted(total), ["200", "503"], f"statuses over the whole run ({total})")
    eq(transport_errors, [], "connections dropped or broken answers")
    print(f"statuses over the run: {total}")

    r = env.curl(g, env.url(g, DOC + "?api-version=2020-09-01&nonce=after"))
    eq(r.status, 200, f"document after the restart ({r!r})")
    verify_document(h, r.body, ca, nonce="after")
    eq(_snapshot(h), before, "inventory after kill -9 under load")
    eq(frontend_pid(f), pid, "frontend pid (never restarted)")
    if not f.alive():
        raise AssertionError("the frontend exited")


@frontend_case("frontend-killed-mid-request")
def test_frontend_killed(h, env):
    """The service is stopped (SIGSTOP) so that 8 document requests stay suspended in the
    frontend with their AttestForVersion (or AttestBatch) calls queued on its direct connection to the service;
    the frontend is killed with -9; the service continues (SIGCONT) and answers into the void.
    The service is unaffected: same process, no warning or error in its log, documents,
    GetManagedObjects and RegisterVM work, and a new frontend instance serves again."""
    frontend_killed(h, env, via_bus=False)


@frontend_case("frontend-killed-mid-request-bus")
def test_frontend_killed_bus(h, env):
    """The same with the frontend on the system bus (--service-socket=): the 8 calls are seen
    queued in dbus-daemon by a bus monitor."""
    frontend_killed(h, env, via_bus=True)


def requests_sent_direct(log):
    """Requests the frontend's debug log says it sent on the direct socket, alone or in
    AttestBatch calls."""
    batched = [int(n) for n in re.findall(r"AttestBatch of (\d+) requests sent on the direct socket\.", log)]
    return log.count("sent on the direct socket.") - len(batched) + sum(batched)


def requests_in_call(msg):
    """Document requests in a method call seen by the bus monitor."""
    if msg.get("member") == "AttestBatch":
        return len(msg["payload"]["data"][0])
    return 1 if msg.get("member") == "AttestForVersion" else 0


def frontend_killed(h, env, via_bus):
    use_leveled_log(h)
    h.stop_service()
    h.start_service()
    g = env.guest()
    # 8 connections of one VM: above the default per-VM connection limit (4).
    f = env.frontend(f"{g.host_ip}:80", args=["--rate=0", "--max-connections-per-vm=16",
                                              *(["--service-socket="] if via_bus else [])])
    env.register_legacy_vm(g)
    url = env.url(g, DOC + "?api-version=2018-10-01&nonce=mid")
    eq(env.curl(g, url).status, 200, "before")
    m = h.monitor()
    since = m.mark()
    log_before = len(h.service_log())
    svc = h.service_proc.pid
    os.kill(svc, signal.SIGSTOP)
    clients = []
    try:
        for i in range(8):
            clients.append(subprocess.Popen(
                ["ip", "netns", "exec", g.ns, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                 "20", "-H", "Metadata: true", env.url(g, DOC + f"?api-version=2018-10-01&nonce=mid{i}")],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

        def calls_queued():
            if not via_bus:   # the frontend logs every call it sends (debug level)
                return requests_sent_direct(f.log()) >= 9   # the one before, and 8
            m._drain()
            return sum(requests_in_call(x) for x in m.messages[since:] if x.get("type") == "method_call") >= 8
        poll_until("8 AttestForVersion calls sent", calls_queued, timeout=harness.DEFAULT_TIMEOUT)
        os.kill(frontend_pid(f), signal.SIGKILL)
        f.proc.wait(10)
    finally:
        os.kill(svc, signal.SIGCONT)
    for c in clients:
        out, err = c.communicate(timeout=30)
        if c.returncode == 0 or out not in ("000", ""):
            raise AssertionError(f"a client of the killed frontend got an answer: {c.returncode} {out!r} {err!r}")

    # The service is unaffected.
    eq(h.service_proc.pid, svc, "service pid")
    if h.service_proc.poll() is not None:
        raise AssertionError(f"the service exited with {h.service_proc.returncode}")
    doc = attest(h, "http", g.host_if, "direct")
    ca = trust_anchor_file(h)
    verify_document(h, doc, ca, nonce="direct")
    h.managed_objects()
    h.register_vm(**vm_props(7))
    f.start()
    r = env.curl(g, url)
    eq(r.status, 200, f"a new frontend instance ({r!r})")
    # Its log: the 8 calls served (at debug level), nothing at warning level or worse.
    log = h.service_log()[log_before:]
    if not re.search(r"^<[0-7]>", log, re.M):
        raise AssertionError(f"the service log has no level prefixes: the check would prove nothing:\n{log[:500]}")
    problems = log_problems(log)
    if problems:
        raise AssertionError("the service logged problems:\n" + "\n".join(problems))


@frontend_case("service-killed-with-calls-in-flight")
def test_service_killed_in_flight(h, env):
    """16 document requests wait in the frontend with their calls sent on the direct connection
    (the service SIGSTOPped). The frontend is stopped too, the service killed with -9, and
    another request is put in the frontend's socket: when the frontend goes on it finds the
    broken connection (sd-bus then hands out one error reply per loop iteration) and that new
    request at the same time. Every one of the 16 must still get its answer (503, the service
    being gone): letting go of the connection must not drop the calls still pending on it."""
    g = env.guest()
    f = env.frontend(f"{g.host_ip}:80", args=["--rate=0", "--max-connections-per-vm=0",
                                              "--max-connections-per-ip=0"])
    env.register_legacy_vm(g)
    eq(env.curl(g, env.url(g, DOC + "?api-version=2018-10-01&nonce=warm")).status, 200, "before")

    def curl(nonce):
        return subprocess.Popen(
            ["ip", "netns", "exec", g.ns, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
             "-H", "Metadata: true", env.url(g, DOC + f"?api-version=2018-10-01&nonce={nonce}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def unread_request():
        """A connection to the frontend whose request the (stopped) frontend has not read."""
        out = subprocess.run(["ss", "-Htn", "state", "established", "src", f"{g.host_ip}:80"],
                             capture_output=True, text=True, check=True).stdout
        return any(int(line.split()[0]) > 0 for line in out.splitlines())

    os.kill(h.service_proc.pid, signal.SIGSTOP)
    clients = [curl(f"fly{i}") for i in range(16)]
    poll_until("16 calls sent on the direct socket", lambda: requests_sent_direct(f.log()) >= 17,
               timeout=harness.DEFAULT_TIMEOUT)
    fe = frontend_pid(f)
    os.kill(fe, signal.SIGSTOP)
    try:
        h.kill_service()
        late = curl("late")
        poll_until("the new request to wait in the frontend's socket", unread_request,
                   timeout=harness.DEFAULT_TIMEOUT)
    finally:
        os.kill(fe, signal.SIGCONT)
    codes = [c.communicate(timeout=30)[0] for c in clients]
    eq(codes, ["503"] * 16, "answers to the 16 requests in flight (000 = left hanging until the client gave up)")
    eq(late.communicate(timeout=30)[0], "503", "the request that came in meanwhile")
    # The frontend serves again once the service is back, without a restart of its own.
    h.start_service()
    for _ in harness.deadline_loop(harness.DEFAULT_TIMEOUT, "a document after the service is back"):
        if env.curl(g, env.url(g, DOC + "?api-version=2018-10-01&nonce=back")).status == 200:
            break
    eq(f.alive(), True, "the frontend is the same process")


def _state_dir_fault(h, fault):
    """Shared by disk-full and state-readonly: a populated service on a tmpfs, the fault, then
    every state-changing call fails with the errno's D-Bus error naming the state file and the
    cause; state.json is byte-identical and the service's state (all objects, all properties)
    unchanged; once the fault is gone the same calls succeed."""
    tmpfs = TmpfsStateDir(h, size_kib=1024)
    try:
        h.write_config()
        h.start_service()
        for n in (1, 2, 3):
            h.register_vm(**vm_props(n))
        h.call("EnableLegacy", "b", True)
        state_file = os.path.join(h.state_dir, "state.json")
        with open(state_file, "rb") as fh:
            state = fh.read()
        files = sorted(os.listdir(h.state_dir))
        before = _snapshot(h)
        eq(before[1]["LegacyOsSupport"], "On", "LegacyOsSupport before")

        error_name, cause, extra = fault(tmpfs)
        message = f"Failed to save the state to {state_file}: {cause}"
        calls = [
            ("RegisterVM", [harness.gvariant_dict(vm_props(4))]),
            ("EnableLegacy", ["false"]),
            ("UpdateVM", [harness.gvariant_str(vm_id(1)), harness.gvariant_dict({"OsVersion": "10.0.20348.9999"})]),
            ("SetVMAccess", [harness.gvariant_str(vm_id(2)), "false"]),
            ("UnregisterVM", [harness.gvariant_str(vm_id(3))]),
        ]
        for method, args in calls:
            e = h.call_error(method, args)
            eq((e.name, e.message), (error_name, message), f"{method} error")
        with open(state_file, "rb") as fh:
            eq(fh.read(), state, "state.json after the failed calls (bytes)")
        eq(sorted(os.listdir(h.state_dir)), sorted(files + extra), "files in the state directory")
        eq(_snapshot(h), before, "objects and properties after the failed calls")
        if h.service_proc.poll() is not None:
            raise AssertionError("the service exited")
        log = h.service_log()
        if f"Failed to write {state_file}: {cause}" not in log:
            raise AssertionError("the service log does not name the failed write")
        return tmpfs, state_file, calls, state
    except BaseException:
        tmpfs.close()
        raise


def _recovered(h, state_file, state):
    h.register_vm(**vm_props(4))
    h.call("EnableLegacy", "b", False)
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport once writable again")
    with open(state_file, "rb") as fh:
        now = fh.read()
    if now == state or vm_id(4).encode() not in now:
        raise AssertionError("state.json was not written once the fault was gone")
    h.restart_service(kill=True)
    eq(len(h.vm_paths()), 4, "VMs after kill -9 once writable again")


@testcase("disk-full", start_service=False)
def test_disk_full(h):
    """The state directory on a 1 MiB tmpfs, filled up by root: see _state_dir_fault."""
    filler = []

    def fault(tmpfs):
        filler.append(tmpfs.fill())
        return ERRNO_NAMES["ENOSPC"], "No space left on device", [os.path.basename(filler[0])]

    tmpfs, state_file, _, state = _state_dir_fault(h, fault)
    try:
        os.unlink(filler[0])
        _recovered(h, state_file, state)
    finally:
        h.stop_service()
        tmpfs.close()


@testcase("state-readonly", start_service=False)
def test_state_readonly(h):
    """The state directory's file system remounted read-only: see _state_dir_fault."""
    def fault(tmpfs):
        tmpfs.remount("ro")
        return ERRNO_NAMES["EROFS"], "Read-only file system", []

    tmpfs, state_file, _, state = _state_dir_fault(h, fault)
    try:
        tmpfs.remount("rw")
        _recovered(h, state_file, state)
    finally:
        h.stop_service()
        tmpfs.close()
