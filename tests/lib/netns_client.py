#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client the fault tests run inside a guest network namespace (`ip netns exec NS python3
netns_client.py MODE ...`), driven over stdin/stdout with one JSON object per line.

flood: --target IP:PORT --sources IP,IP,... --trickle N --idle M [--interval SEC]
    Opens N connections that trickle a request one byte per interval (never completing it),
    then M connections that send nothing, spread over the source addresses. Prints
    {"event": "opened", ...} once all are connected, then answers every "status" line on
    stdin with the number still open and, per kind, the seconds from connect to the server's
    close (EOF or reset). Exits on "quit" or end of input.

load: --target IP:PORT --conns K --path PATH
    K threads, each a keep-alive HTTP/1.1 client sending GET PATH (Metadata: true) in a loop
    (a new connection when the server closed one). Every "status" line on stdin is answered
    with the statuses counted since the previous one ({"200": n, "503": m, ...}, "bodies":
    the distinct non-200 bodies, "errors": transport errors). Exits on "quit" or end of input.
"""

import argparse
import http.client
import json
import resource
import select
import socket
import sys
import threading
import time


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def commands():
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            return
        yield line


# ---------------------------------------------------------------------- flood

REQUEST = b"GET /metadata/attested/document?api-version=2018-10-01&nonce=slow HTTP/1.1\r\n" \
          b"Host: 169.254.169.253\r\nMetadata: true\r\n\r\n"


class Conn:
    def __init__(self, kind, source, target):
        self.kind = kind
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((source, 0))
        self.sock.connect_ex(target)
        self.opened = None
        self.closed = None
        self.sent = 0


def wait_connected(conns, timeout):
    end = time.monotonic() + timeout
    pending = {c.sock.fileno(): c for c in conns}
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    while pending:
        left = end - time.monotonic()
        if left <= 0:
            raise SystemExit(f"{len(pending)} connections did not connect within {timeout}s")
        for fd, ev in poller.poll(left * 1000):
            c = pending.pop(fd)
            poller.unregister(fd)
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise SystemExit(f"connect failed: {err}")
            c.opened = time.monotonic()


def check_closed(conns):
    now = time.monotonic()
    for c in conns:
        if c.closed is not None:
            continue
        try:
            data = c.sock.recv(4096)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            data = b""
        if data:
            raise SystemExit(f"a {c.kind} connection got data: {data[:200]!r}")
        c.closed = now - c.opened
        c.sock.close()


def flood(a):
    target = (a.target.rsplit(":", 1)[0], int(a.target.rsplit(":", 1)[1]))
    sources = a.sources.split(",")
    trickle = [Conn("trickle", sources[i % len(sources)], target) for i in range(a.trickle)]
    # The trickling ones first, so they are the ones the server accepts first.
    wait_connected(trickle, 20)
    for c in trickle:
        c.sock.send(REQUEST[:1])
        c.sent = 1
    idle = []
    for i in range(a.idle):
        idle.append(Conn("idle", sources[i % len(sources)], target))
    wait_connected(idle, 60)
    out({"event": "opened", "trickle": len(trickle), "idle": len(idle)})

    stop = threading.Event()
    lock = threading.Lock()

    def trickler():
        while not stop.wait(a.interval):
            with lock:
                for c in trickle:
                    if c.closed is None and c.sent < len(REQUEST) - 4:
                        try:
                            c.sock.send(REQUEST[c.sent:c.sent + 1])
                            c.sent += 1
                        except OSError:
                            pass
                check_closed(trickle + idle)

    t = threading.Thread(target=trickler, daemon=True)
    t.start()
    for _ in commands():
        with lock:
            check_closed(trickle + idle)
            out({"open_trickle": sum(c.closed is None for c in trickle),
                 "open_idle": sum(c.closed is None for c in idle),
                 "trickle_closed_after": sorted(c.closed for c in trickle if c.closed is not None),
                 "idle_closed_after_max": max((c.closed for c in idle if c.closed is not None), default=None),
                 "trickle_bytes_sent": max((c.sent for c in trickle), default=0)})
    stop.set()


# ---------------------------------------------------------------------- load

def load(a):
    host, port = a.target.rsplit(":", 1)
    lock = threading.Lock()
    counts, bodies, errors = {}, set(), [0]
    stop = threading.Event()

    def worker():
        conn = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, int(port), timeout=15)
                conn.request("GET", a.path, headers={"Metadata": "true"})
                r = conn.getresponse()
                body = r.read().decode(errors="replace")
                with lock:
                    counts[str(r.status)] = counts.get(str(r.status), 0) + 1
                    if r.status != 200:
                        bodies.add(f"{r.status} {r.getheader('Retry-After')} {body}")
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors[0] += 1
                    bodies.add(f"transport error {type(e).__name__}")
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.conns)]
    for t in threads:
        t.start()
    out({"event": "started"})
    for _ in commands():
        with lock:
            out({"counts": dict(counts), "bodies": sorted(bodies), "errors": errors[0]})
            counts.clear()
            bodies.clear()
            errors[0] = 0
    stop.set()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["flood", "load"])
    p.add_argument("--target", required=True)
    p.add_argument("--sources", default="0.0.0.0")
    p.add_argument("--trickle", type=int, default=0)
    p.add_argument("--idle", type=int, default=0)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--conns", type=int, default=8)
    p.add_argument("--path", default="/metadata/versions")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, a.trickle + a.idle + 64))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    flood(a) if a.mode == "flood" else load(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
