# SPDX-License-Identifier: LGPL-2.1-or-later
"""The HTTP frontend end to end: curl in a guest network namespace → veth → azshci-imdsd
(socket-activated, as azshci-frontend) → the port mark of the connection → AttestForVersion on the
harness bus → the real azshci-attestd. Documents are checked by azshci-attest verify and by
openssl smime."""

import base64
import json
import os
import socket
import subprocess
import time

import harness
from harness import deadline_loop
from frontend import VM_ID, eq, expect, frontend_case, parse_curl_i

DOC = "/metadata/attested/document"
B_METADATA = '{"error":"Bad request: . Required metadata header not specified"}'
B_API = ('{"error":"Bad request. api-version is invalid or was not specified in the request. For more '
         'information refer to aka.ms/azureimds","newest-versions":["2025-04-07","2024-07-17","2024-03-15"]}')
B_XFF = '{"error":"Bad request: requests with an X-Forwarded-For header are not accepted"}'
B_FORWARDED = '{"error":"Bad request: requests with a Forwarded header are not accepted"}'
B_DUP = '{"error":"Bad request: duplicate query parameter"}'
B_UNKNOWN_PARAM = '{"error":"Bad request: unknown query parameter"}'
B_NONCE = '{"error":"Bad request: nonce must be 1 to 32 characters of A-Z, a-z, 0-9, \'_\' and \'-\'"}'
B_404 = '{"error":"Not found"}'
B_405 = '{"error":"Method not allowed: only GET is supported"}'
B_414 = '{"error":"Request-URI too long"}'
B_431 = '{"error":"Request header fields too large"}'
B_429 = '{"error":"Too many requests: the rate limit of this VM was exceeded"}'
B_UNIDENTIFIED = '{"error":"Forbidden: the requesting VM could not be identified"}'
B_UNKNOWN_VM = '{"error":"Forbidden: this VM is not registered for attestation"}'
B_DENIED = '{"error":"Forbidden: this VM may not use attestation over this path"}'
B_UNREACHABLE = '{"error":"Service unavailable: the attestation service is not reachable, retry later"}'
B_NOT_ACTIVE = '{"error":"Service unavailable: attestation is not active on this host, retry later"}'
VERSIONS = ["2018-10-01", "2019-03-11", "2019-04-30", "2019-06-01", "2019-06-04", "2019-08-01",
            "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01",
            "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01", "2021-08-01",
            "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13", "2023-07-01", "2023-11-15",
            "2024-03-15", "2024-07-17", "2025-04-07"]


def setup_guest(env, register=True, args=()):
    g = env.guest()
    f = env.frontend(f"{g.host_ip}:80", args)
    if register:
        env.register_legacy_vm(g)
    return g, f


def verify_document(h, env, body, nonce, vm_id=VM_ID):
    """azshci-attest verify and openssl smime both accept it, with the right nonce and vmId.
    Returns the signed payload (dict)."""
    ca = env.ca_pem()
    attest = os.path.join(h.builddir, "client", "azshci-attest")
    p = subprocess.run([attest, "verify", "--ca", ca, "--nonce", nonce, "--vm-id", vm_id, "--json", "-"],
                       input=body.encode(), capture_output=True, timeout=20)
    if p.returncode != 0:
        raise AssertionError(f"azshci-attest verify failed ({p.returncode}): {p.stderr.decode()}")
    payload = json.loads(p.stdout)
    der = os.path.join(h.tmp, "doc.der")
    with open(der, "wb") as f:
        f.write(base64.b64decode(json.loads(body)["signature"]))
    p = subprocess.run(["openssl", "smime", "-verify", "-inform", "DER", "-in", der, "-CAfile", ca,
                        "-purpose", "any"], capture_output=True, timeout=20)
    if p.returncode != 0:
        raise AssertionError(f"openssl smime -verify failed: {p.stderr.decode()}")
    eq(json.loads(p.stdout), payload, "openssl's content = azshci-attest's payload")
    eq(payload["nonce"], nonce, "nonce")
    eq(payload["vmId"], vm_id, "vmId")
    return payload


@frontend_case("frontend-http-contract")
def test_contract(h, env):
    g, f = setup_guest(env, register=False)
    u = lambda path: env.url(g, path)  # noqa: E731
    q = DOC + "?api-version=2018-10-01&nonce=abc"

    # Before the VM is registered: the service says UnknownVM.
    expect(env.curl(g, u(q)), 403, B_UNKNOWN_VM, "unregistered VM")
    # Registered, but legacy OS support off: AccessDenied.
    env.register_legacy_vm(g, access=False)
    expect(env.curl(g, u(q)), 403, B_DENIED, "no legacy access")
    h.call("EnableLegacy", "b", True)

    # The happy path, with a valid document.
    r = env.curl(g, u(q))
    eq(r.status, 200, f"document ({r!r})")
    eq(r.headers.get("content-type"), "application/json; charset=utf-8", "content type")
    eq(sorted(json.loads(r.body)), ["encoding", "signature"], "response keys")
    payload = verify_document(h, env, r.body, "abc")
    eq(sorted(payload), ["nonce", "plan", "timeStamp", "vmId"], "2018-10-01 fields")
    # Consumers send "Metadata: True"; newer versions carry more fields.
    r = env.curl(g, u(DOC + "?api-version=2020-09-01&nonce=Zz_-9"), headers=("Metadata: True",))
    eq(r.status, 200, f"document ({r!r})")
    payload = verify_document(h, env, r.body, "Zz_-9")
    eq(sorted(payload), ["nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"], "2020-09-01 fields")
    # No nonce: the service puts in the time (YYYYMMDD-HHMMSS).
    r = env.curl(g, u(DOC + "?api-version=2019-08-15"))
    eq(r.status, 200, f"document without nonce ({r!r})")
    nonce = json.loads(subprocess.run(
        [os.path.join(h.builddir, "client", "azshci-attest"), "verify", "--ca", env.ca_pem(), "--json", "-"],
        input=r.body.encode(), capture_output=True, check=True).stdout)["nonce"]
    if not (len(nonce) == 15 and nonce[8] == "-" and (nonce[:8] + nonce[9:]).isdigit()):
        raise AssertionError(f"default nonce {nonce!r} is not YYYYMMDD-HHMMSS")

    # /metadata/versions
    r = env.curl(g, u("/metadata/versions"))
    expect(r, 200, json.dumps({"apiVersions": VERSIONS}, separators=(",", ":")), "versions")

    # Every bad request, its status and exact body.
    expect(env.curl(g, u(q), headers=()), 400, B_METADATA, "no Metadata header")
    expect(env.curl(g, u(q), headers=("Metadata: false",)), 400, B_METADATA, "Metadata: false")
    expect(env.curl(g, u(q), headers=("Metadata: true", "X-Forwarded-For: 10.0.0.1")), 400, B_XFF, "XFF")
    # RFC 7239's Forwarded says the same as X-Forwarded-For: refused too, in any case.
    expect(env.curl(g, u(q), headers=("Metadata: true", "Forwarded: for=10.0.0.1")), 400, B_FORWARDED,
           "Forwarded")
    expect(env.curl(g, u(q), headers=("Metadata: true", 'forwarded: for="[2001:db8::1]";proto=http')), 400,
           B_FORWARDED, "forwarded (lower case)")
    expect(env.curl(g, u(q), headers=("Metadata: true", "Forwarded: for=10.0.0.1", "X-Forwarded-For: 10.0.0.1")),
           400, B_XFF, "both: X-Forwarded-For first")
    expect(env.curl(g, u(DOC)), 400, B_API, "no api-version")
    expect(env.curl(g, u(DOC + "?api-version=2017-12-01")), 400, B_API, "unsupported api-version")
    expect(env.curl(g, u(DOC + "?api-version=2018-10-01&api-version=2018-10-01")), 400, B_DUP, "dup api-version")
    expect(env.curl(g, u(DOC + "?api-version=2018-10-01&nonce=a&nonce=b")), 400, B_DUP, "dup nonce")
    expect(env.curl(g, u(DOC + "?api-version=2018-10-01&format=json")), 400, B_UNKNOWN_PARAM, "unknown param")
    expect(env.curl(g, u(DOC + "?api-version=2018-10-01&nonce=" + "a" * 33)), 400, B_NONCE, "long nonce")
    expect(env.curl(g, u(DOC + "?api-version=2018-10-01&nonce=a.b")), 400, B_NONCE, "bad nonce")
    expect(env.curl(g, u("/metadata/instance?api-version=2021-02-01")), 404, B_404, "unknown path")
    expect(env.curl(g, u("/")), 404, B_404, "root")
    for m in ("POST", "PUT", "DELETE"):
        expect(env.curl(g, u(q), method=m), 405, B_405, m, headers={"Allow": "GET"})
    expect(env.curl(g, u(DOC + "?api-version=2018-10-01&nonce=" + "a" * 3000)), 414, B_414, "long URI")
    big = tuple(f"X-Filler-{i}: {'x' * 1000}" for i in range(9))
    expect(env.curl(g, u(q), headers=("Metadata: true",) + big), 431, B_431, "large headers")
    # A header claiming another identity changes nothing: the port comes from the kernel.
    r = env.curl(g, u(q), headers=("Metadata: true", "X-Azshci-Peer: 52:54:00:00:00:01"))
    eq(r.status, 200, "spoofing header ignored")
    # Without the port mark (the table that stands in for the legacy firewall removed) the same
    # guest, address and MAC identify nobody: 403, and the log says why.
    subprocess.run(["nft", "delete", "table", "inet", g.table], check=True, capture_output=True)
    g.created.remove("table")
    expect(env.curl(g, u(q)), 403, B_UNIDENTIFIED, "a connection without a port mark")
    if "carries no legacy port mark" not in f.log():
        raise AssertionError(f"the frontend log does not say why: {f.log()[-2000:]}")


# The guest side of frontend-rate-limit: C connections opened first; then, K times, one document
# request sent on each connection at once (kept alive) and the C responses read. Prints JSON:
# "start" (taken before the first request is sent), "done" (after the last response was read)
# and the raw responses. The times are CLOCK_MONOTONIC (time.monotonic), the clock the
# frontend's limiter reads (now_usec(CLOCK_MONOTONIC) in imds-http.c): `ip netns exec` enters
# a network namespace, not a time namespace, so guest and frontend share it.
CONCURRENT_CLIENT = r"""
import json, re, socket, sys, time
host, path, c, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nMetadata: true\r\n\r\n".encode()

def response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed in a body")
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()

socks = [socket.create_connection((host, 80), timeout=20) for _ in range(c)]
start = time.monotonic()
out = []
for _ in range(k):
    for s in socks:
        s.sendall(req)
    out += [response(s) for s in socks]
json.dump({"start": start, "done": time.monotonic(), "responses": out}, sys.stdout)
"""
RL_RATE = 1        # --rate: one token per second, the slowest the frontend allows
RL_BURST = 5       # the default --burst
RL_CONNECTIONS = 3  # each sends 2 requests: burst + 1 (within the default 4 per VM)
RL_ATTEMPTS = 5


@frontend_case("frontend-rate-limit")
def test_rate_limit(h, env):
    """Burst, then 429, end to end, counted per request also on kept-alive connections. The
    limiter refuses the (burst+1)-th request of a VM when it comes less than one interval
    (1/rate) after the first; how long the requests take depends on the machine's load, so
    instead of assuming a speed the test measures, on the limiter's own clock, the window in
    which all the limiter's checks took place: from before the first request was sent to after
    the last response was read. Within one interval the answer is exact: burst × 200 and one
    429 with Retry-After: 1 (the requests go out on RL_CONNECTIONS connections at once, so the
    signatures hardly widen the window). A round that took longer proves nothing either way and
    is repeated once the bucket is full again, at most RL_ATTEMPTS times: a machine too loaded
    for even one round fails the test, it never skips."""
    n = RL_BURST + 1
    assert n == 2 * RL_CONNECTIONS
    g, f = setup_guest(env, args=(f"--rate={RL_RATE}",))
    path = DOC + "?api-version=2018-10-01&nonce=rl"
    url = env.url(g, path)
    env.curl(g, env.url(g, "/metadata/versions"))   # socket activation: the frontend runs now
    if f"(rate {RL_RATE}/s, burst {RL_BURST};" not in f.log():
        raise AssertionError(f"the frontend does not say it limits to {RL_RATE}/s, burst {RL_BURST}")
    interval = 1.0 / RL_RATE
    windows = []
    for attempt in range(RL_ATTEMPTS):
        p = g.run(["python3", "-c", CONCURRENT_CLIENT, g.host_ip, path, str(RL_CONNECTIONS), "2"], timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"the guest client failed: {p.stderr.decode(errors='replace')}")
        out = json.loads(p.stdout)
        window = out["done"] - out["start"]
        responses = [parse_curl_i(r.encode()) for r in out["responses"]]
        print(f"round {attempt + 1}: {n} requests answered within {window:.3f}s")
        if window < interval:
            break
        windows.append(window)
        # Nothing to conclude. The bucket is full again at most RL_BURST intervals after the
        # round's last check (one more for margin): a wait on the limiter's clock itself, not
        # on readiness.
        time.sleep((RL_BURST + 1) * interval)
    else:
        raise AssertionError(f"{RL_ATTEMPTS} rounds of {n} requests each took longer than "
                             f"one rate-limit interval ({interval:.1f}s): {', '.join(f'{w:.2f}s' for w in windows)}")
    statuses = sorted(r.status for r in responses)
    eq(statuses, [200] * RL_BURST + [429], f"statuses of {n} requests within {window:.3f}s (< {interval}s)")
    for r in responses:
        if r.status == 429:
            expect(r, 429, B_429, "over the burst", headers={"Retry-After": "1"})
        else:
            verify_document(h, env, r.body, "rl")
    # It recovers: one token per interval; poll until allowed (bounded by the refill time).
    for _ in deadline_loop(2 * interval, "the rate limit to recover", interval=0.05):
        r = env.curl(g, url)
        if r.status == 200:
            break
        expect(r, 429, B_429, "while limited", headers={"Retry-After": "1"})
    verify_document(h, env, r.body, "rl")


@frontend_case("frontend-slow-clients")
def test_slow_clients(h, env):
    g, f = setup_guest(env, args=("--connection-timeout=3",))
    url = env.url(g, DOC + "?api-version=2018-10-01&nonce=third")
    env.curl(g, env.url(g, "/metadata/versions"))   # starts the frontend (socket activation)
    # Two clients that send half a request and then nothing.
    slow = []
    for i in range(2):
        s = socket.create_connection((g.host_ip, 80), timeout=10)
        s.sendall(b"GET " + DOC.encode() + b"?api-version=2018-10-01 HTTP/1.1\r\nHost: x\r\nMetad")
        slow.append(s)
    start = time.monotonic()
    r = env.curl(g, url)
    took = time.monotonic() - start
    eq(r.status, 200, f"third client ({r!r})")
    verify_document(h, env, r.body, "third")
    if took > 2.5:
        raise AssertionError(f"the third client took {took:.1f}s: blocked by the slow ones?")
    # The slow ones are dropped once the connection timeout passes.
    for s in slow:
        s.settimeout(10)
        data = s.recv(4096)
        eq(data, b"", "a slow client is disconnected without an answer")
        s.close()
    if time.monotonic() - start < 2.0:
        raise AssertionError("slow clients were dropped before the connection timeout")


@frontend_case("frontend-service-restart")
def test_service_restart(h, env):
    g, f = setup_guest(env)
    url = env.url(g, DOC + "?api-version=2018-10-01&nonce=r1")
    eq(env.curl(g, url).status, 200, "before the restart")
    pid = f.proc.pid
    h.stop_service()
    expect(env.curl(g, url), 503, B_UNREACHABLE, "service stopped", headers={"Retry-After": "5"})
    h.start_service()
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "the frontend to serve again", interval=0.25):
        r = env.curl(g, url)
        if r.status == 200:
            break
        eq(r.status, 503, f"while the service starts ({r!r})")
    verify_document(h, env, r.body, "r1")
    eq(f.proc.pid, pid, "frontend pid")
    if not f.alive():
        raise AssertionError("the frontend exited")
    if "exiting" in f.log():
        raise AssertionError("the frontend restarted")


@frontend_case("frontend-not-configured")
def test_not_configured(h, env):
    g, f = setup_guest(env)
    h.stop_service()
    h.write_config(enabled=False)
    h.start_service()
    expect(env.curl(g, env.url(g, DOC + "?api-version=2018-10-01")), 503, B_NOT_ACTIVE, "attestation off",
           headers={"Retry-After": "5"})


@frontend_case("frontend-socket-activation-idle")
def test_idle_exit(h, env):
    """LISTEN_FDS/LISTEN_PID by hand on a socket this test keeps, like systemd does: the frontend
    serves, exits 0 after --idle-timeout without connections, and a second instance serves a
    connection that queued on the same socket meanwhile."""
    g = env.guest()
    env.register_legacy_vm(g)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((g.host_ip, 8080))
    lsock.listen(16)
    bin_ = os.path.join(h.builddir, "service", "azshci-imdsd")
    log_path = os.path.join(h.tmp, "idle.log")

    def spawn():
        with open(log_path, "a") as log:
            return subprocess.Popen(
                ["setpriv", f"--reuid={harness.FRONTEND_USER}", f"--regid={harness.FRONTEND_USER}",
                 "--init-groups", "--", "/bin/sh", "-c",
                 'exec 3<&"$FD"; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh",
                 bin_, "--idle-timeout=1", "--log-level=debug", f"--service-socket={h.frontend_socket}"],
                env={"PATH": "/usr/bin:/bin", "FD": str(lsock.fileno()),
                     "DBUS_SYSTEM_BUS_ADDRESS": h.bus_address},
                pass_fds=(lsock.fileno(),), stdout=log, stderr=log)

    try:
        p = spawn()
        url = env.url(g, DOC + "?api-version=2018-10-01&nonce=idle", port=8080)
        r = env.curl(g, url)
        eq(r.status, 200, f"first instance ({r!r})")
        verify_document(h, env, r.body, "idle")
        rc = p.wait(harness.DEFAULT_TIMEOUT)
        eq(rc, 0, "exit status after the idle timeout")
        with open(log_path) as f:
            if "exiting" not in f.read():
                raise AssertionError("no idle-exit message")
        # The socket stayed open and listening: a client connects now, a new instance serves it.
        cp = subprocess.Popen(["ip", "netns", "exec", g.ns, "curl", "-sS", "-i", "--max-time", "15",
                               "-H", "Metadata: true", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p = spawn()
        out, err = cp.communicate(timeout=20)
        r = parse_curl_i(out)
        eq(r.status, 200, f"second instance ({r!r}, {err!r})")
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(10)
        lsock.close()


@frontend_case("frontend-listen-by-hand")
def test_listen(h, env):
    """--listen ADDR for running by hand (no socket activation, no idle exit). With
    --interface=BRIDGE a port that is not a port of BRIDGE identifies nobody: 403, and the log
    says why; without it the same guest is served."""
    g = env.guest()
    env.register_legacy_vm(g)
    bin_ = os.path.join(h.builddir, "service", "azshci-imdsd")
    log_path = os.path.join(h.tmp, "listen.log")
    url = env.url(g, DOC + "?api-version=2018-10-01&nonce=byhand", port=8081)

    def run(args):
        with open(log_path, "a") as log:
            p = subprocess.Popen(["setpriv", f"--reuid={harness.FRONTEND_USER}", f"--regid={harness.FRONTEND_USER}",
                                  "--init-groups", "--", bin_, f"--listen={g.host_ip}:8081", *args,
                                  "--log-level=debug"],
                                 env={"PATH": "/usr/bin:/bin", "DBUS_SYSTEM_BUS_ADDRESS": h.bus_address},
                                 stdout=log, stderr=log)
        try:
            for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "--listen to accept"):
                pr = g.run(["curl", "-sS", "-i", "--max-time", "10", "-H", "Metadata: true", url])
                if pr.returncode == 0:
                    break
                if p.poll() is not None:
                    raise AssertionError(f"azshci-imdsd exited with {p.returncode}")
            p.send_signal(15)
            eq(p.wait(10), 0, "exit status on SIGTERM")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return parse_curl_i(pr.stdout)

    # g's port (the veth's host end) is no bridge's port.
    expect(run([f"--interface={g.host_if}"]), 403, B_UNIDENTIFIED, "--interface naming another link")
    with open(log_path) as f:
        if "is not a port of the legacy bridge" not in f.read():
            raise AssertionError("the log does not say why the guest was not identified")
    r = run([])
    eq(r.status, 200, f"--listen ({r!r})")
    verify_document(h, env, r.body, "byhand")


@frontend_case("frontend-attest-fetch")
def test_fetch(h, env):
    """The guest side: azshci-attest fetch --url ... --verify in the guest namespace."""
    g, f = setup_guest(env)
    ca = env.ca_pem()
    attest = os.path.join(h.builddir, "client", "azshci-attest")
    base = f"http://{g.host_ip}"
    p = g.run([attest, "fetch", "--url", base, "--nonce", "fetch1", "--verify", "--ca", ca, "--vm-id", VM_ID])
    eq(p.returncode, 0, f"fetch --verify ({p.stderr.decode()})")
    if f"verified: vmId {VM_ID}, nonce fetch1" not in p.stderr.decode():
        raise AssertionError(f"no verification line: {p.stderr.decode()}")
    verify_document(h, env, p.stdout.decode().strip(), "fetch1")
    # Without --nonce, --verify sends a random one and checks it.
    p = g.run([attest, "fetch", "--url", base, "--verify", "--ca", ca, "--api-version", "2020-09-01"])
    eq(p.returncode, 0, f"fetch --verify, random nonce ({p.stderr.decode()})")
    # A wrong vmId is a verification failure (exit 7), an error answer is exit 9 with the body.
    p = g.run([attest, "fetch", "--url", base, "--verify", "--ca", ca, "--vm-id",
               "00000000-0000-4000-8000-000000000001"])
    eq(p.returncode, 7, f"wrong vmId ({p.stderr.decode()})")
    h.call("SetVMAccess", "sb", VM_ID, False)
    p = g.run([attest, "fetch", "--url", base])
    eq(p.returncode, 9, "access revoked")
    if B_DENIED not in p.stderr.decode():
        raise AssertionError(f"error body not shown: {p.stderr.decode()}")
    p = g.run([attest, "fetch", "--url", f"http://{g.host_ip}:1", "--timeout", "2"])
    eq(p.returncode, 9, "nothing listening")


@frontend_case("frontend-unidentified-log-throttle")
def test_unidentified_log_throttle(h, env):
    """Connections nobody can identify (from the host itself: no port mark), 20 in a row at the
    default log level: the frontend says why once (at most once per 10 s at info level), not once
    per connection; each is still answered (/metadata/versions needs no identity)."""
    g = env.guest()
    f = env.frontend(f"{g.host_ip}:80", ["--log-level=info"])
    for i in range(20):
        with socket.create_connection((g.host_ip, 80), timeout=10) as s:
            s.sendall(b"GET /metadata/versions HTTP/1.1\r\nHost: x\r\nMetadata: true\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        eq(data.split(b" ")[1:2], [b"200"], f"connection {i}: status")
    log = f.log()
    eq(log.count("Cannot identify the VM of a connection from"), 1,
       "'Cannot identify' lines at info level for 20 connections")
    if "the connection carries no legacy port mark" not in log:
        raise AssertionError("the log does not say why the connection was not identified")


@frontend_case("frontend-no-per-ip-limit")
def test_no_per_ip_limit(h, env):
    """imdsd counts no connections per source address by default: a guest can send from another's
    address (the legacy firewall binds MACs, not addresses), so VMs colluding could use up a
    victim's per-address budget. Its own 20 connections held open at once (per-VM limit off)
    are all answered; before, the 17th on were closed unanswered."""
    g, f = setup_guest(env, args=["--max-connections-per-vm=0"])
    p = g.run(["python3", "-c",
               "import socket\n"
               "conns = [socket.create_connection(('%s', 80), timeout=10) for _ in range(20)]\n"
               "for s in conns:\n"
               "    s.sendall(b'GET /metadata/versions HTTP/1.1\\r\\nHost: x\\r\\nMetadata: true\\r\\n\\r\\n')\n"
               "for s in conns:\n"
               "    d = b''\n"
               "    while not d.endswith(b']}'):\n"
               "        c = s.recv(65536)\n"
               "        if not c:\n"
               "            break\n"
               "        d += c\n"
               "    print(d.split(b' ')[1].decode() if d else 'closed')\n" % g.host_ip])
    eq(p.stdout.decode().split(), ["200"] * 20, f"answers on 20 open connections ({p.stderr.decode()})")
