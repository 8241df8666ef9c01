# SPDX-License-Identifier: LGPL-2.1-or-later
"""The frontends' direct line to the service: a peer-to-peer D-Bus connection on the
service's frontend socket ("frontendSocket", azshci-attestd.socket in production), so that a
guest request costs no dbus-daemon hop; the system bus when that socket is missing. Who may
connect is decided by the service from the kernel's SO_PEERCRED/SO_PEERGROUPS."""

import json
import os
import re
import signal
import subprocess
import sys

import harness
from harness import deadline_loop, direct_client
from frontend import eq, frontend_case
from test_http import DOC, setup_guest, verify_document

# A minimal peer-to-peer D-Bus client written from the specification (busctl and gdbus always
# say Hello to a message bus first, which a direct connection does not have), run as a given
# user: `PROBE SOCKET auth` prints the server's first answer to AUTH EXTERNAL, or "CLOSED" when
# the server hangs up instead; `PROBE SOCKET call MEMBER [STRING...]` calls MEMBER on the
# service's object and prints "return: FIRST-STRING" or "error: NAME: MESSAGE".
PROBE = r"""
import os, socket, struct, sys

def pad(b, n):
    return b + b"\0" * (-len(b) % n)

def string(s):
    return struct.pack("<I", len(s)) + s + b"\0"

def field(code, sig, value, buf):
    buf = pad(buf, 8) + bytes([code, 1]) + sig + b"\0"
    if sig == b"g":
        return buf + bytes([len(value)]) + value + b"\0"
    return pad(buf, 4) + string(value)

def read_string(buf, off):
    off += -off % 4
    n = struct.unpack_from("<I", buf, off)[0]
    return buf[off + 4:off + 4 + n].decode(), off + 5 + n

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    # BEGIN right away, as sd-bus's own client does, and the first message only after the
    # server's OK (a first message sent along with BEGIN: test frontend-direct-gdbus-first-call).
    # A refused peer may find the connection closed while it sends.
    s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\nBEGIN\r\n")
    line = s.recv(4096).decode().split("\r\n")[0]
except (BrokenPipeError, ConnectionResetError):
    line = ""
if sys.argv[2] == "auth" or not line.startswith("OK "):
    print(line or "CLOSED")
    sys.exit(0)

member, args = sys.argv[3].encode(), [a.encode() for a in sys.argv[4:]]
body = b""
for a in args:
    body = pad(body, 4) + string(a)
fields = field(1, b"o", b"/org/azshci/Attestation1", b"")
fields = field(2, b"s", b"org.azshci.Attestation1", fields)
fields = field(3, b"s", member, fields)
if args:
    fields = field(8, b"g", b"s" * len(args), fields)
msg = pad(b"l\x01\x00\x01" + struct.pack("<III", len(body), 1, len(fields)) + fields, 8) + body
s.sendall(msg)

buf = b""
def need(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            print("CLOSED")
            sys.exit(0)
        buf += chunk
need(16)
mtype = buf[1]
body_len, _, fields_len = struct.unpack_from("<III", buf, 4)
body_off = 16 + fields_len + (-(16 + fields_len) % 8)
need(body_off + body_len)
off, error_name = 16, None
while off < 16 + fields_len:
    off += -off % 8
    code, siglen = buf[off], buf[off + 1]
    sig = buf[off + 2:off + 2 + siglen]
    off += 3 + siglen
    if sig == b"g":
        off += 2 + buf[off]
    elif sig == b"u":
        off += -off % 4 + 4
    else:
        value, off = read_string(buf, off)
        if code == 4:
            error_name = value
first = read_string(buf, body_off)[0] if body_len else ""
print(f"error: {error_name}: {first}" if mtype == 3 else f"return: {first}")
"""


# Holds `COUNT` connections to `SOCKET` (each authenticated: AUTH EXTERNAL, BEGIN, the server's
# OK), prints "ok=N closed=M" (M: hung up on before OK) and keeps the open ones until stdin closes.
HOLD = r"""
import os, socket, sys
held, closed = [], 0
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    try:
        s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\nBEGIN\r\n")
        line = s.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        line = b""
    if line.startswith(b"OK "):
        held.append(s)
    else:
        closed += 1
        s.close()
print(f"ok={len(held)} closed={closed}", flush=True)
sys.stdin.read()
"""


def probe(h, user, *args):
    argv = [sys.executable, "-c", PROBE, h.frontend_socket, *args]
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=harness.DEFAULT_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError(f"probe {args} as {user or 'root'} failed: {p.stderr}")
    return p.stdout.strip()


def bus_attest_calls(mon, since, until):
    return [m for m in mon.messages[since:until]
            if m.get("type") == "method_call" and m.get("member") in ("Attest", "AttestForVersion")]


def fetch_and_verify(h, env, g, nonce):
    r = env.curl(g, env.url(g, DOC + f"?api-version=2020-09-01&nonce={nonce}"))
    eq(r.status, 200, f"document ({r!r})")
    verify_document(h, env, r.body, nonce)


@frontend_case("frontend-direct-path")
def test_direct_path(h, env):
    """Documents come over the direct connection: served and valid, and the bus carries no
    Attest call; after a service restart the frontend connects again by itself."""
    g, f = setup_guest(env)
    mon = h.monitor()
    start = mon.sync()
    fetch_and_verify(h, env, g, "direct1")
    end = mon.sync()
    eq(bus_attest_calls(mon, start, end), [], "Attest calls on the bus")
    if f"Asking the service directly on {h.frontend_socket}." not in f.log():
        raise AssertionError(f"the frontend does not say it uses the direct socket:\n{f.log()}")

    h.restart_service()
    start = mon.sync()
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "a document after the service restart"):
        r = env.curl(g, env.url(g, DOC + "?api-version=2020-09-01&nonce=direct2"))
        if r.status == 200:
            break
        eq(r.status, 503, f"status while the service restarts ({r!r})")
    verify_document(h, env, r.body, "direct2")
    end = mon.sync()
    eq(bus_attest_calls(mon, start, end), [], "Attest calls on the bus after the restart")
    eq(f.alive(), True, "the frontend is still the same process")


# Opens N connections to HOST:80, sends one document request with nonce bN-I on each, prints
# "sent", then reads every answer: prints one JSON list of [status, body] in request order.
BURST = r"""
import json, socket, sys
host, n = sys.argv[1], int(sys.argv[2])
socks = [socket.create_connection((host, 80), timeout=20) for _ in range(n)]
for i, s in enumerate(socks):
    s.sendall((f"GET /metadata/attested/document?api-version=2020-09-01&nonce=b{n}-{i} HTTP/1.1\r\n"
               f"Host: {host}\r\nMetadata: true\r\nConnection: close\r\n\r\n").encode())
print("sent", flush=True)
out = []
for s in socks:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    out.append([int(head.split()[1]), body.decode()])
print(json.dumps(out))
"""


def burst(h, env, g, f, n):
    """n requests of guest g that the frontend f finds waiting at once: sent while it is stopped
    (after a first request, which execs it). Returns [status, body] of each, in order."""
    fetch_and_verify(h, env, g, "warm")
    os.kill(f.proc.pid, signal.SIGSTOP)
    try:
        p = subprocess.Popen(["ip", "netns", "exec", g.ns, sys.executable, "-c", BURST, g.host_ip, str(n)],
                             stdout=subprocess.PIPE, text=True)
        eq(p.stdout.readline().strip(), "sent", "the guest's requests")
    finally:
        os.kill(f.proc.pid, signal.SIGCONT)
    out, _ = p.communicate(timeout=harness.DEFAULT_TIMEOUT)
    return json.loads(out)


@frontend_case("frontend-direct-batch")
def test_direct_batch(h, env):
    """Requests that arrive together leave together: 12 requests waiting at once (sent while the
    frontend is stopped) reach the service in AttestBatch calls (the frontend's log says how
    many each carried; 12 in all), and every guest gets its own document, with its own nonce.
    With --batch-max=1 the same burst goes as 12 AttestForVersion calls."""
    n = 12
    g, f = setup_guest(env, args=["--rate=0", "--max-connections-per-ip=0", "--max-connections-per-vm=0"])
    answers = burst(h, env, g, f, n)
    eq([status for status, _ in answers], [200] * n, "statuses")
    for i, (_, body) in enumerate(answers):
        verify_document(h, env, body, f"b{n}-{i}")
    sizes = [int(x) for x in re.findall(r"AttestBatch of (\d+) requests sent on the direct socket", f.log())]
    singles = f.log().count("AttestForVersion(http, ")
    if not sizes or sum(sizes) + singles != n + 1:   # + 1: the warm-up request
        raise AssertionError(f"expected the {n} requests in AttestBatch calls, got batches {sizes} and "
                             f"{singles} single calls:\n{f.log()}")

    # --batch-max=1: the same burst, one AttestForVersion call each.
    f.stop()
    f = env.frontend(f"{g.host_ip}:80", ["--rate=0", "--max-connections-per-ip=0", "--max-connections-per-vm=0",
                                         "--batch-max=1"])
    start = len(f.log())
    eq([status for status, _ in burst(h, env, g, f, n)], [200] * n, "statuses with --batch-max=1")
    log = f.log()[start:]
    eq((log.count("AttestBatch of"), log.count("AttestForVersion(http, ")), (0, n + 1),   # + 1: the warm-up
       "calls with --batch-max=1")


@frontend_case("frontend-bus-fallback")
def test_bus_fallback(h, env):
    """No socket at --service-socket: the frontend asks over the system bus (and says so);
    an empty --service-socket means the bus only."""
    g, f = setup_guest(env, args=[f"--service-socket={h.tmp}/absent.socket"])
    mon = h.monitor()
    start = mon.sync()
    fetch_and_verify(h, env, g, "viabus1")
    end = mon.sync()
    calls = bus_attest_calls(mon, start, end)
    eq([(c.get("member"), c.get("destination")) for c in calls], [("AttestForVersion", harness.BUS_NAME)],
       "Attest calls on the bus")
    log = f.log()
    for want in (f"Direct connection to the service on {h.tmp}/absent.socket failed (No such file or directory)",
                 "Asking the service over the system bus."):
        if want not in log:
            raise AssertionError(f"frontend log lacks {want!r}:\n{log}")
    f.stop()

    f = env.frontend(f"{g.host_ip}:80", ["--service-socket="])
    start = mon.sync()
    fetch_and_verify(h, env, g, "viabus2")
    end = mon.sync()
    eq(len(bus_attest_calls(mon, start, end)), 1, "Attest calls on the bus with --service-socket=")
    if "Direct connection" in f.log().rsplit("=== starting", 1)[-1]:
        raise AssertionError(f"--service-socket= still tried a direct connection:\n{f.log()}")


@frontend_case("frontend-socket-peers")
def test_socket_peers(h, env):
    """Root, the frontend user and a member of the frontend group get an answer to their
    authentication; any other user is hung up on, and the service says why. The socket serves
    the frontends' two methods and nothing else."""
    eq(probe(h, None, "auth")[:3], "OK ", "root")
    eq(probe(h, harness.FRONTEND_USER, "auth")[:3], "OK ", harness.FRONTEND_USER)
    eq(probe(h, harness.TEST_FRONTEND_USER, "auth")[:3], "OK ", f"{harness.TEST_FRONTEND_USER} (group member)")
    eq(probe(h, harness.TEST_USER, "auth"), "CLOSED", harness.TEST_USER)
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "the service to log the refusal"):
        if "Refused a frontend connection" in h.service_log():
            break

    # On the direct socket, as the frontend user: Attest is there, admin methods are not.
    fe = harness.FRONTEND_USER
    eq(probe(h, fe, "call", "Sync"),
       "error: org.freedesktop.DBus.Error.UnknownMethod: Unknown method Sync or interface org.azshci.Attestation1.",
       "Sync on the direct socket")
    eq(probe(h, fe, "call", "EnableLegacy"),
       "error: org.freedesktop.DBus.Error.UnknownMethod: Unknown method EnableLegacy or interface "
       "org.azshci.Attestation1.", "EnableLegacy on the direct socket")
    eq(probe(h, fe, "call", "Attest", "http", "vnet99", "n1"),
       f"error: {harness.IFACE}.Error.UnknownVM: No VM is registered for http peer vnet99.",
       "Attest for an unknown VM on the direct socket")
    eq(probe(h, fe, "call", "Attest", "smtp", "52:54:00:00:00:99", "n1"),
       'error: org.freedesktop.DBus.Error.InvalidArgs: Transport must be "vsock" or "http", not "smtp".',
       "Attest with a bad transport on the direct socket")
    eq(probe(h, harness.TEST_USER, "call", "Attest", "http", "vnet99", "n1"), "CLOSED",
       f"Attest as {harness.TEST_USER}")


@harness.testcase("frontend-direct-gdbus-first-call")
def test_gdbus_first_call(h):
    """A third-party GDBus client (tests/integration/direct-gdbus-client), which sends its first
    call in the same breath as BEGIN: 200 fresh connections one after the other, every call
    answered (UnknownVM for an unregistered CID; a document for a registered one)."""
    rc, out = direct_client(h, 200, 99, "gdbus", user=harness.FRONTEND_USER)
    eq((rc, out.get("connections"), out.get("answered"), out.get("errors"), out.get("other")),
       (0, "200", "200", "200", None), f"200 GDBus connections ({out})")
    eq(out["error"], f"{harness.IFACE}.Error.UnknownVM: No VM is registered for vsock peer 99.", "the answer")

    h.register_vm(Id="6a1b2c3d-4e5f-4000-8000-000000000001", Name="vm1", Generation=2, PowerState="Running",
                  GuestServiceInterface=True, DataExchange=True, OsName="Linux", OsVersion="6.1", VsockCid=101)
    rc, out = direct_client(h, 20, 101, "gdbus", user=harness.TEST_FRONTEND_USER)
    eq((rc, out.get("answered"), out.get("errors")), (0, "20", "0"), f"20 documents ({out})")
    eq(json.loads(out["reply"])["encoding"], "pkcs7", "a document")


@harness.testcase("frontend-direct-per-user-limit")
def test_per_user_limit(h):
    """A member of the frontend group who holds 64 connections gets 16 (the limit per user;
    the rest are hung up on at once, and the service says why); meanwhile the frontend user
    and root connect and are answered at once. Once the holder lets go, it may connect again."""
    holder = subprocess.Popen(h.user_prefix(harness.TEST_FRONTEND_USER) + [sys.executable, "-c", HOLD,
                                                                           h.frontend_socket, "64"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        eq(holder.stdout.readline().strip(), "ok=16 closed=48", f"connections of {harness.TEST_FRONTEND_USER}")
        eq(probe(h, harness.FRONTEND_USER, "call", "Attest", "vsock", "99", "n1"),
           f"error: {harness.IFACE}.Error.UnknownVM: No VM is registered for vsock peer 99.",
           f"Attest as {harness.FRONTEND_USER} while another member holds its connections")
        eq(probe(h, None, "auth")[:3], "OK ", "root while another member holds its connections")
        eq(probe(h, harness.TEST_FRONTEND_USER, "auth"), "CLOSED", "the holder's 17th connection")
        for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "the service to log the refusal"):
            if "this user already holds 16 connections, the most one user may" in h.service_log():
                break
    finally:
        holder.stdin.close()
        holder.wait(harness.DEFAULT_TIMEOUT)
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "the holder's connections to be gone"):
        if probe(h, harness.TEST_FRONTEND_USER, "auth")[:3] == "OK ":
            break
