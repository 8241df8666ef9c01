# SPDX-License-Identifier: LGPL-2.1-or-later
"""Slow and idle clients against the real HTTP frontend (socket-activated azshci-imdsd as
azshci-frontend, real port marks, the real service behind it), and requests beyond
libmicrohttpd's own buffer."""

import time

from faultlib import DOC, NetnsClient, frontend_pid, other_guest, poll_until
from frontend import eq, expect, frontend_case
from harness import verify_document, trust_anchor_file
import subprocess

REQUEST_TIMEOUT = 5
PER_VM = 4
N_IDLE = 1000
N_SOURCES = 20


@frontend_case("slowloris-http")
def test_slowloris_http(h, env):
    """One guest (one MAC) opens 4 connections that trickle a request one byte a second, then
    1000 that send nothing, from 20 source addresses (a guest may claim as many addresses as
    it likes; the per-IP limit alone would let it hold 20 × 16 > 256 slots). The frontend keeps
    4 of them (--max-connections-per-vm, counted by MAC) and closes the rest at once; another
    guest gets its document within a bounded time throughout; the tricklers are closed by the
    request deadline (not before it, although they are never idle for the inactivity
    timeout)."""
    victim = env.guest("v")
    attacker = other_guest(env, victim, "x")
    net = attacker.host_ip.rsplit(".", 1)[0]
    sources = [f"{net}.{10 + i}" for i in range(N_SOURCES)]
    for ip in sources:
        subprocess.run(["ip", "-n", attacker.ns, "addr", "add", f"{ip}/24", "dev", attacker.guest_if],
                       check=True, capture_output=True)
    f = env.frontend(f"{victim.host_ip}:80",
                     args=["--log-level=info", f"--request-timeout={REQUEST_TIMEOUT}", "--connection-timeout=30",
                           f"--max-connections-per-vm={PER_VM}", "--max-connections-per-ip=16",
                           "--max-connections=256", "--rate=0"])
    env.register_legacy_vm(victim)
    ca = trust_anchor_file(h)
    url = env.url(victim, DOC + "?api-version=2018-10-01&nonce=victim")
    eq(env.curl(victim, url).status, 200, "before the flood (socket activation starts the frontend)")
    pid = frontend_pid(f)

    flood = NetnsClient(h, attacker, "flood", f"--target={victim.host_ip}:80", f"--sources={','.join(sources)}",
                        f"--trickle={PER_VM}", f"--idle={N_IDLE}", "--interval=1")
    try:
        opened = flood.read(timeout=60)
        flood_start = time.monotonic()
        eq(opened, {"event": "opened", "trickle": PER_VM, "idle": N_IDLE}, "flood connections")

        def victim_served(what):
            start = time.monotonic()
            r = env.curl(victim, url, timeout=12)
            took = time.monotonic() - start
            eq(r.status, 200, f"{what}: the other guest's document ({r!r})")
            verify_document(h, r.body, ca, nonce="victim")
            print(f"{what}: the other guest's document in {took:.2f}s")
            if took > 2.0:
                raise AssertionError(f"{what}: the other guest waited {took:.1f}s for its document")

        victim_served("during the flood")
        # Every idle connection is closed at once (well before the request deadline).
        st = poll_until("the 1000 idle connections to be closed",
                        lambda: (lambda s: s if s["open_idle"] == 0 else None)(flood.status()),
                        timeout=REQUEST_TIMEOUT - 1.5)
        print(f"idle connections: all {N_IDLE} closed, the last {st['idle_closed_after_max']:.2f}s after connecting")
        if st["idle_closed_after_max"] >= REQUEST_TIMEOUT - 1:
            raise AssertionError(f"idle connections were closed only after {st['idle_closed_after_max']:.1f}s")
        eq(st["open_trickle"], PER_VM, f"the tricklers hold the VM's {PER_VM} connections ({st})")
        victim_served("while the tricklers hold their slots")

        # The tricklers: closed by the deadline, never idle long enough for the inactivity timeout.
        st = poll_until("the tricklers to be closed by the request deadline",
                        lambda: (lambda s: s if s["open_trickle"] == 0 else None)(flood.status()),
                        timeout=REQUEST_TIMEOUT + 3 - (time.monotonic() - flood_start))
        print(f"tricklers closed after {', '.join(f'{t:.2f}' for t in st['trickle_closed_after'])}s, "
              f"{st['trickle_bytes_sent']} bytes sent each")
        for t in st["trickle_closed_after"]:
            if not REQUEST_TIMEOUT - 0.3 <= t <= REQUEST_TIMEOUT + 2.0:
                raise AssertionError(f"a trickler was closed after {t:.2f}s, expected about {REQUEST_TIMEOUT}s: {st}")
        if st["trickle_bytes_sent"] < REQUEST_TIMEOUT - 1:
            raise AssertionError(f"the tricklers sent only {st['trickle_bytes_sent']} bytes: {st}")
        victim_served("after the flood")
    finally:
        flood.close()

    log = f.log()
    for text in (f"http peer {attacker.host_if} already has {PER_VM} connections",
                 f"(peer {attacker.host_if}) did not deliver a complete request within {REQUEST_TIMEOUT} s"):
        if text not in log:
            raise AssertionError(f"the frontend log lacks {text!r}")
    eq(frontend_pid(f), pid, "frontend pid")
    if not f.alive():
        raise AssertionError("the frontend exited")


@frontend_case("oversized-requests")
def test_oversized(h, env):
    """The JSON 414/431 below libmicrohttpd's 32 KiB buffer; beyond it MHD answers itself, with
    its own HTML body and no Content-Type (the one exception to the JSON error bodies, see
    docs/frontends.md), and closes the connection. The frontend serves on afterwards."""
    g = env.guest()
    env.frontend(f"{g.host_ip}:80")
    env.register_legacy_vm(g)
    base = DOC + "?api-version=2018-10-01&nonce="
    expect(env.curl(g, env.url(g, base + "a" * 3000)), 414, '{"error":"Request-URI too long"}', "3 KB URI")
    big = tuple(f"X-Filler-{i}: {'x' * 1000}" for i in range(9))
    expect(env.curl(g, env.url(g, base + "a"), headers=("Metadata: true",) + big), 431,
           '{"error":"Request header fields too large"}', "9 KB of headers")

    mhd_body = ("<html><head><title>Request too big</title></head><body>Your HTTP header was too big for the "
                "memory constraints of this webserver.</body></html>")
    r = env.curl(g, env.url(g, base + "a" * 40000))
    eq((r.status, r.body, r.headers.get("content-type"), r.headers.get("connection")),
       (414, mhd_body, None, "close"), f"40 KB URI ({r!r})")
    huge = tuple(f"X-Filler-{i}: {'x' * 1000}" for i in range(40))
    r = env.curl(g, env.url(g, base + "a"), headers=("Metadata: true",) + huge)
    eq((r.status, r.body, r.headers.get("content-type"), r.headers.get("connection")),
       (431, mhd_body, None, "close"), f"40 KB of headers ({r!r})")
    r = env.curl(g, env.url(g, base + "after"))
    eq(r.status, 200, f"served afterwards ({r!r})")
