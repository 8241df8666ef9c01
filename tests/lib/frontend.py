# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for the frontend tests, on top of tests/lib/harness.py (reused, not forked):
a guest network namespace joined to the host by a veth pair whose host end marks the guest's
packets as the legacy firewall marks a bridge port's (so the HTTP frontend's port
identification is real), the frontend started with an inherited socket exactly as systemd
does it, and curl in the guest as the client. Python 3 standard library only."""

import functools
import json
import os
import random
import re
import signal
import socket
import subprocess
import time

import harness
from harness import deadline_loop, HarnessError, Skip

FRONTEND_USER = harness.FRONTEND_USER
MARK_TAG = 0xa5000000   # service/shared/legacy-mark.h: a port's mark is MARK_TAG | its ifindex
VM_ID = "3f2b8c1e-7d4a-4e59-9b61-0c8d2e5f7a13"
VM_NAME = "legacy-guest"


def ifindex(ifname, ns=None):
    out = subprocess.run(["ip", *(["-n", ns] if ns else []), "-j", "link", "show", "dev", ifname],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)[0]["ifindex"]


class Guest:
    """A network namespace with one end of a veth pair; the host end carries host_ip and is
    the VM's LegacyInterface. A table "inet azfe<tag>" of the test's own gives the guest's
    packets the port mark (MARK_TAG | the host end's ifindex) the legacy bridge's firewall
    would give them (tests/legacy run the real bridge and firewall), and the host namespace
    gets net.ipv4.tcp_fwmark_accept=1, as azshci-imds.service sets it. Always removed in
    close(), also when the test failed."""

    def __init__(self, tag):
        n = random.randrange(1, 250)
        self.tag = f"{os.getpid() % 10000}{tag}"
        self.ns = f"azfe-{self.tag}"
        self.host_if = f"azfh{self.tag}"[:15]
        self.guest_if = f"azfg{self.tag}"[:15]
        self.host_ip = f"169.254.{n}.1"
        self.guest_ip = f"169.254.{n}.2"
        self.created = []
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def _ip(self, *args):
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)

    def _create(self):
        self._ip("netns", "add", self.ns)
        self.created.append("ns")
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.guest_if)
        self.created.append("link")
        self._ip("link", "set", self.guest_if, "netns", self.ns)
        self._ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._ip("-n", self.ns, "addr", "add", f"{self.guest_ip}/24", "dev", self.guest_if)
        self._ip("-n", self.ns, "link", "set", self.guest_if, "up")
        self._ip("-n", self.ns, "link", "set", "lo", "up")
        out = subprocess.run(["ip", "-n", self.ns, "-j", "link", "show", "dev", self.guest_if],
                             check=True, capture_output=True, text=True).stdout
        self.mac = json.loads(out)[0]["address"]
        self.mark = MARK_TAG | ifindex(self.host_if)
        self.table = f"azfe{self.tag}"
        subprocess.run(["nft", "-f", "-"], check=True, capture_output=True, text=True, timeout=10,
                       input=f"table inet {self.table} {{\n chain pre {{\n"
                             f"  type filter hook prerouting priority -150; policy accept;\n"
                             f"  iifname \"{self.host_if}\" meta mark set {self.mark:#x}\n }}\n}}\n")
        self.created.append("table")
        subprocess.run(["sysctl", "-q", "-w", "net.ipv4.tcp_fwmark_accept=1"], check=True, capture_output=True)

    def close(self):
        if "table" in self.created:
            subprocess.run(["nft", "delete", "table", "inet", self.table], capture_output=True)
        if "link" in self.created:
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        if "ns" in self.created:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        self.created = []

    def run(self, argv, timeout=20, check=False, input=None):
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True, timeout=timeout,
                              check=check, input=input)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers   # {lowercase name: value}
        self.body = body

    def __repr__(self):
        return f"HTTP {self.status} {self.headers} {self.body!r}"


def parse_curl_i(out):
    """curl -i output (bytes) → Response (the last response if curl followed anything)."""
    text = out.decode("utf-8", errors="replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    m = re.match(r"HTTP/\S+ (\d+)", lines[0])
    if not m:
        raise AssertionError(f"not an HTTP response: {text[:200]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return Response(int(m.group(1)), headers, body)


class Frontend:
    """azshci-imdsd (or -vsockd) started the way systemd starts it: systemd-socket-activate
    binds the socket (as root), waits for the first connection and execs setpriv, which drops
    to the frontend user and execs the frontend with LISTEN_FDS/LISTEN_PID. In network namespace
    netns when given (the legacy world's HOST)."""

    def __init__(self, h, listen, args=(), binary="azshci-imdsd", netns=None):
        self.h = h
        self.netns = netns
        self.bin = os.path.join(h.builddir, "service", binary)
        if not os.access(self.bin, os.X_OK):
            raise HarnessError(f"{self.bin} is missing: build it first")
        self.log_path = os.path.join(h.tmp, f"{binary}.log")
        self.listen = listen
        self.args = list(args)
        self.proc = None
        self.start()

    def start(self):
        log = open(self.log_path, "a")
        log.write(f"=== starting at {time.strftime('%T')}\n")
        log.flush()
        self.proc = subprocess.Popen(
            (["ip", "netns", "exec", self.netns] if self.netns else []) +
            ["systemd-socket-activate", "-l", self.listen,
             "-E", f"DBUS_SYSTEM_BUS_ADDRESS={self.h.bus_address}", "--",
             "setpriv", f"--reuid={FRONTEND_USER}", f"--regid={FRONTEND_USER}", "--init-groups", "--",
             self.bin, "--log-level=debug", f"--service-socket={self.h.frontend_socket}", *self.args],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd="/",
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        log.close()
        for _ in deadline_loop(harness.DEFAULT_TIMEOUT, f"{self.listen} to listen{' in ' + self.netns if self.netns else ''}"):
            if "Listening on" in self.log():
                break
            if self.proc.poll() is not None:
                raise HarnessError(f"systemd-socket-activate exited with {self.proc.returncode}: {self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("the frontend did not exit on SIGTERM")
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc


class Env:
    """One test's world: the harness (bus, polkitd, service), a guest namespace, the HTTP
    frontend on the guest's host-side address."""

    def __init__(self, h):
        self.h = h
        self.guests = []
        self.frontends = []

    def guest(self, tag="a"):
        g = Guest(tag)
        self.guests.append(g)
        return g

    def frontend(self, listen, args=(), binary="azshci-imdsd"):
        f = Frontend(self.h, listen, args, binary)
        self.frontends.append(f)
        return f

    def close(self, failed):
        for f in self.frontends:
            try:
                f.stop()
            except Exception as e:   # noqa: BLE001 - report, keep cleaning up
                print(f"stopping the frontend: {e}")
            if failed:
                print(f"----- frontend log ({f.log_path}) -----\n{f.log().rstrip()}")
        for g in self.guests:
            g.close()

    # ------------------------------------------------------------------ clients

    def curl(self, guest, url, headers=("Metadata: true",), method=None, extra=(), timeout=20):
        argv = ["curl", "-sS", "-i", "--max-time", str(timeout - 2)]
        for hd in headers:
            argv += ["-H", hd]
        if method:
            argv += ["-X", method]
        argv += [*extra, url]
        p = guest.run(argv, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"curl {url} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
        return parse_curl_i(p.stdout)

    def url(self, guest, path, port=80):
        return f"http://{guest.host_ip}:{port}{path}"

    # ------------------------------------------------------------------ service side

    def register_legacy_vm(self, guest, vm_id=VM_ID, name=VM_NAME, access=True):
        """The VM behind guest: its port (the veth's host end) and MAC."""
        self.h.register_vm(Id=vm_id, Name=name, Generation=2, PowerState="Running",
                           GuestServiceInterface=True, DataExchange=True, OsName="Windows Server 2012 R2",
                           OsVersion="6.3.9600.21620", LegacyMac=guest.mac, LegacyInterface=guest.host_if,
                           Sku="2012-R2-Datacenter")
        if access:
            self.h.call("EnableLegacy", "b", True)

    def ca_pem(self):
        path = os.path.join(self.h.tmp, "ca.pem")
        with open(path, "w") as f:
            f.write(self.h.call("GetTrustAnchor")[0])
        return path


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect(resp, status, body, what, headers=None):
    """Exact status and body; JSON content type; extra headers as given ({name: value|None})."""
    eq(resp.status, status, f"{what}: status ({resp!r})")
    eq(resp.body, body, f"{what}: body")
    eq(resp.headers.get("content-type"), "application/json; charset=utf-8", f"{what}: content type")
    for k, v in (headers or {}).items():
        eq(resp.headers.get(k.lower()), v, f"{what}: header {k}")
    json.loads(resp.body)   # every body is JSON


def frontend_case(name, **setup_args):
    """Registers a harness test case f(h, env) with an Env that is always cleaned up (network
    namespaces, veth pairs, frontends), and whose frontend logs are printed on failure."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(h):
            for tool in ("/usr/bin/curl", "/usr/bin/systemd-socket-activate", "/usr/sbin/ip"):
                if not os.access(tool, os.X_OK):
                    raise Skip(f"{tool} is missing (packages curl, systemd, iproute2)")
            env = Env(h)
            failed = True
            try:
                fn(h, env)
                failed = False
            finally:
                env.close(failed)
        return harness.testcase(name, **setup_args)(wrapper)
    return deco


def tcp_connect(host, port, timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    return s
