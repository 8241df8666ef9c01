# SPDX-License-Identifier: LGPL-2.1-or-later
"""A reusable legacy-OS-support world in network namespaces (tests/legacy and `make demo`).

    with LegacyEnv(srcdir, builddir, name="demo") as env:     # root only
        a = env.add_guest("a")                                # namespace + veth, MAC 02:00:5e:10:00:0a
        b = env.add_guest("b")
        env.register(a, VM_A_ID, "guest-a")                   # LegacyInterface/LegacyMac = a's port
        env.enable_legacy(True)                               # builds bridge + firewall, grants a
        env.register(b, VM_B_ID, "guest-b")                   # registered later: no access
        doc = env.fetch_ok(a, nonce="abc")                    # curl in a → 200, body str
        payload = env.verify(doc, nonce="abc", vm_id=VM_A_ID) # azshci-attest verify, returns dict
        r = env.fetch(b)                                      # FetchResult(rc, response, stderr)

What it builds (and always removes, also on failure or SIGTERM/SIGINT):
  - HOST: a network namespace `azl-h-<pid>` that plays the host. azshci-attestd runs in it as
    user azshci with CAP_NET_ADMIN only (harness.NetnsHarness), so its bridge
    `azshci-imds0`, address 169.254.169.253/16 and nftables tables exist only there.
    `net.ipv4.ip_nonlocal_bind=1` in HOST stands in for the socket unit's `FreeBind=yes`:
    systemd-socket-activate has no such option, and the address only exists once the service
    has built the bridge. `net.ipv4.tcp_fwmark_accept=1` in HOST is what azshci-imds.service
    sets before the frontend starts (ExecStartPre=).
  - the HTTP frontend azshci-imdsd, socket-activated in HOST by systemd-socket-activate on
    169.254.169.253:80 (socket bound as root, exec on the first connection, setpriv to
    azshci-frontend), `--idle-timeout=0` so the socket stays for the whole test.
  - a private dbus-daemon and the real polkitd (tests/lib/harness.py), in the
    caller's network namespace (the bus is a unix socket in the file system).
  - guests: namespaces `azl-<tag>-<pid>` with `eth0` (MAC 02:00:5e:10:00:<nn>, address
    169.254.10.<nn>/16) whose veth peer `vm-<tag>` lives in HOST: that peer is the VM's
    LegacyInterface, which the service attaches to the bridge when the VM has access.

Only the test side uses `ip` (namespaces, veths, sabotage) and `nft` (to look); the service does
its own netlink and nftables work. Python 3 standard library only.
"""

import json
import os
import re
import signal
import subprocess

import harness
from harness import HarnessError, Skip, deadline_loop
from frontend import Frontend, parse_curl_i

BRIDGE = "azshci-imds0"
TABLE = "azshci"
HOST_IP = "169.254.169.253"
ALIAS = "AZSHCI_HOST-IMDS_DO_NOT_MODIFY"
API_VERSION = "2018-10-01"
NS_PREFIX = "azl-"


def sh(argv, check=True, timeout=20, input=None):
    """Runs a command as root; returns CompletedProcess (text). A hang is a failure."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{' '.join(argv)} hung for {timeout}s")
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed with {p.returncode}: {p.stdout}{p.stderr}")
    return p


def netns_exists(name):
    return os.path.exists(f"/run/netns/{name}")


def sweep_stale_namespaces():
    """Removes namespaces of earlier runs whose process is gone (a SIGKILLed test run)."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return
    for n in names:
        m = re.fullmatch(NS_PREFIX + r"[a-z0-9]+-(\d+)", n)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            sh(["ip", "netns", "del", n], check=False)


class NamespaceWorld:
    """What every world of network namespaces here shares (LegacyEnv, ClusterEnv): `with`
    starts it and closes it; SIGTERM and SIGHUP unwind through close() (the handlers raise
    KeyboardInterrupt); while close() runs, a second signal is ignored; stale namespaces of a
    killed run are swept first. A subclass calls trap_signals() first in start(), and
    ignore_signals() first and restore_signals() last in close()."""

    _old_handlers = {}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)
        return False

    def _on_signal(self, signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")   # unwinds through close()

    def trap_signals(self):
        self._old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
        sweep_stale_namespaces()

    def ignore_signals(self):
        for s in self._old_handlers:   # a second SIGTERM must not interrupt the cleanup
            signal.signal(s, signal.SIG_IGN)

    def restore_signals(self):
        for s, old in self._old_handlers.items():
            signal.signal(s, old)
        self._old_handlers = {}


def add_namespace(name, namespaces):
    """A network namespace with lo up, recorded in namespaces (which close() deletes)."""
    sh(["ip", "netns", "add", name])
    namespaces.append(name)
    sh(["ip", "-n", name, "link", "set", "lo", "up"])


class FetchResult:
    """One curl run: rc (curl's exit code: 0 ok, 7 could not connect, 28 timeout), response
    (frontend.Response or None), stderr."""

    def __init__(self, rc, response, stderr):
        self.rc, self.response, self.stderr = rc, response, stderr

    def __repr__(self):
        return f"FetchResult(rc={self.rc}, response={self.response!r}, stderr={self.stderr.strip()!r})"


class Guest:
    """A guest: namespace `ns` with `eth0` (mac, ip) whose veth peer `host_if` is in HOST."""

    def __init__(self, env, tag, index):
        self.env = env
        self.tag = tag
        self.ns = f"{NS_PREFIX}{tag}-{os.getpid()}"
        self.host_if = f"vm-{tag}"[:15]
        self.mac = f"02:00:5e:10:00:{index:02x}"
        self.ip = f"169.254.10.{index}"
        add_namespace(self.ns, env._namespaces)
        sh(["ip", "-n", env.host_ns, "link", "add", self.host_if, "type", "veth",
            "peer", "name", "eth0", "netns", self.ns])
        # The host side stays down and unattached until the service makes it a port.
        sh(["ip", "-n", self.ns, "link", "set", "eth0", "address", self.mac])
        sh(["ip", "-n", self.ns, "addr", "add", f"{self.ip}/16", "dev", "eth0"])
        sh(["ip", "-n", self.ns, "link", "set", "eth0", "up"])

    def run(self, argv, check=False, timeout=20):
        return sh(["ip", "netns", "exec", self.ns, *argv], check=check, timeout=timeout)

    def set_mac(self, mac):
        sh(["ip", "-n", self.ns, "link", "set", "eth0", "address", mac])
        # Forget neighbours learnt with the old MAC on our side.
        sh(["ip", "-n", self.ns, "neigh", "flush", "dev", "eth0", "nud", "all"], check=False)

    def set_ip(self, ip):
        """eth0 carries ip (and only ip) from now on; the guest forgets its neighbours (pinned
        ones too)."""
        sh(["ip", "-n", self.ns, "addr", "flush", "dev", "eth0"])
        sh(["ip", "-n", self.ns, "addr", "add", f"{ip}/16", "dev", "eth0"])
        sh(["ip", "-n", self.ns, "neigh", "flush", "dev", "eth0", "nud", "all"], check=False)

    def send_arp(self, op, sha, spa, tha, tpa):
        """One ARP frame from eth0, with eth0's own MAC as Ethernet source (what the firewall
        binds) and the given sender/target fields: op "request" (broadcast) or "reply" (to
        tha)."""
        code = ("import socket,sys\n"
                "mac=lambda s: bytes.fromhex(s.replace(':',''))\n"
                "op,sha,spa,tha,tpa=sys.argv[1:6]\n"
                "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW); s.bind(('eth0',0))\n"
                "src=s.getsockname()[4]\n"
                "dst=b'\\xff'*6 if op=='request' else mac(tha)\n"
                "arp=bytes.fromhex('0001080006040001' if op=='request' else '0001080006040002')\n"
                "arp+=mac(sha)+socket.inet_aton(spa)+mac(tha)+socket.inet_aton(tpa)\n"
                "s.send(dst+src+b'\\x08\\x06'+arp)\n")
        self.run(["python3", "-c", code, op, sha, spa, tha, tpa], check=True)

    def tcp_connect(self, host, port, timeout=6):
        """Connects from the guest; returns 'connected' or the error (e.g. 'timeout',
        'No route to host'). The default timeout is above the kernel's ARP resolution time
        (3 probes, 1 s apart), so an unanswered ARP shows as 'No route to host' and frames
        dropped after ARP resolved as 'timeout'."""
        code = ("import socket,sys\n"
                "s=socket.socket(); s.settimeout(float(sys.argv[3]))\n"
                "try:\n s.connect((sys.argv[1],int(sys.argv[2]))); print('connected')\n"
                "except socket.timeout: print('timeout')\n"
                "except OSError as e: print(e.strerror)\n")
        p = self.run(["python3", "-c", code, host, str(port), str(timeout)], timeout=timeout + 10)
        return p.stdout.strip()


class Listener:
    """A TCP listener (python3) in a namespace on addr:port that records every accepted peer
    in a file: proves whether anything arrived, not only that the client failed."""

    def __init__(self, env, ns, addr, port):
        self.path = os.path.join(env.h.tmp, f"listener-{ns}-{port}.log")
        open(self.path, "w").close()
        ready = self.path + ".ready"
        code = ("import socket,sys,os\n"
                "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                "s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(16)\n"
                "open(sys.argv[4],'w').close()\n"
                "while True:\n c,a=s.accept()\n"
                " with open(sys.argv[3],'a') as f: f.write(a[0]+'\\n')\n"
                " c.sendall(b'hello\\n'); c.close()\n")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", code, addr, str(port),
                                      self.path, ready], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env._procs.append(self.proc)
        for _ in deadline_loop(harness.DEFAULT_TIMEOUT, f"listener {ns} {addr}:{port}"):
            if os.path.exists(ready):
                break
            if self.proc.poll() is not None:
                raise HarnessError(f"listener on {addr}:{port} in {ns} exited with {self.proc.returncode}")

    def peers(self, at_least=0):
        """The peers accepted so far. A client's connect() returns when the kernel completed
        the handshake, before the listener accept()ed and wrote the peer down: with at_least,
        waits (with a deadline) until that many are recorded, then returns them all."""
        for _ in deadline_loop(harness.DEFAULT_TIMEOUT, f"{at_least} peer(s) in {self.path}"):
            with open(self.path) as f:
                found = f.read().split()
            if len(found) >= at_least:
                return found


class LegacyEnv(NamespaceWorld):
    """See the module docstring. Attributes: h (harness.NetnsHarness), host_ns, guests,
    frontend_log."""

    def __init__(self, srcdir, builddir, name="legacy", verbose=False, frontend_args=()):
        self.srcdir, self.builddir = os.path.abspath(srcdir), os.path.abspath(builddir)
        self.name, self.verbose = name, verbose
        self.frontend_args = list(frontend_args)
        self.host_ns = f"{NS_PREFIX}h-{os.getpid()}"
        self.h = None
        self.guests = {}
        self.frontend = None
        self.frontend_log = None
        self._namespaces = []
        self._procs = []

    # ------------------------------------------------------------------ lifecycle

    @staticmethod
    def check_environment():
        harness.Harness.check_environment()
        for tool in ("/usr/sbin/ip", "/usr/bin/curl", "/usr/bin/systemd-socket-activate", "/usr/sbin/nft"):
            if not os.access(tool, os.X_OK):
                raise Skip(f"{tool} is missing (packages iproute2, curl, systemd, nftables)")

    def start(self, start_frontend=True):
        """Host namespace, bus, polkitd, the service (settled: server Active), the frontend."""
        self.check_environment()
        self.trap_signals()
        try:
            self.add_host_namespace()
            self.h = harness.NetnsHarness(self.srcdir, self.builddir, self.name, self.verbose,
                                          netns=self.host_ns)
            self.h.setup()
            if start_frontend:
                self.start_frontend()
        except BaseException:
            self.close(failed=True)
            raise

    def add_host_namespace(self):
        """HOST (host_ns) as the service and the frontend need it."""
        add_namespace(self.host_ns, self._namespaces)
        sh(["ip", "netns", "exec", self.host_ns, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1"])
        # What azshci-imds.service's ExecStartPre= does on a real host: accepted sockets
        # carry the port mark of their SYN (how the frontend identifies a guest).
        self.set_fwmark_accept(True)

    def set_fwmark_accept(self, on):
        sh(["ip", "netns", "exec", self.host_ns, "sysctl", "-q", "-w",
            f"net.ipv4.tcp_fwmark_accept={1 if on else 0}"])

    def start_frontend(self):
        """azshci-imdsd on 169.254.169.253:80 in HOST, socket-activated (frontend.Frontend)."""
        self.frontend_log = os.path.join(self.h.tmp, "azshci-imdsd.log")
        self.frontend = Frontend(self.h, f"{HOST_IP}:80", args=["--idle-timeout=0", *self.frontend_args],
                                 netns=self.host_ns).proc

    def read_frontend_log(self):
        with open(self.frontend_log, errors="replace") as f:
            return f.read()

    def close(self, failed=False):
        """Stops everything and deletes every namespace (their links go with them). Safe to
        call twice."""
        self.ignore_signals()
        try:
            for p in [self.frontend, *self._procs]:
                if p and p.poll() is None:
                    harness.Harness._terminate(p)
            self.frontend = None
            self._procs = []
            if failed and self.frontend_log and os.path.exists(self.frontend_log):
                print(f"----- frontend log ({self.frontend_log}) -----\n{self.read_frontend_log().rstrip()}")
            if self.h:
                if failed and self.h.tmp:
                    p = sh(["ip", "-n", self.host_ns, "-d", "link"], check=False)
                    print(f"----- ip -d link in {self.host_ns} -----\n{p.stdout.rstrip()}")
                self.h.teardown(failed=failed)
                self.h = None
        finally:
            for ns in reversed(self._namespaces):
                sh(["ip", "netns", "del", ns], check=False)
            self._namespaces = []
            self.restore_signals()

    # ------------------------------------------------------------------ guests and VMs

    def add_guest(self, tag):
        """A guest namespace; tags are short lowercase words ('a', 'b'); index from the order."""
        if tag in self.guests:
            raise HarnessError(f"guest {tag} exists")
        g = Guest(self, tag, 10 + len(self.guests))
        self.guests[tag] = g
        return g

    def register(self, guest, vm_id, name, generation=2, power_state="Running", **extra):
        """RegisterVM with the guest's port as LegacyInterface and its MAC as LegacyMac.
        Returns the object path."""
        props = dict(Id=vm_id, Name=name, Generation=generation, PowerState=power_state,
                     GuestServiceInterface=False, DataExchange=True, OsName="Windows Server 2012 R2 Datacenter",
                     OsVersion="6.3.9600.21620", Sku="2012-R2-Datacenter")
        if guest is not None:
            props.update(LegacyInterface=guest.host_if, LegacyMac=guest.mac)
        props.update(extra)
        return self.h.register_vm(**props)

    def enable_legacy(self, on):
        self.h.call("EnableLegacy", "b", bool(on))

    def set_access(self, vm, on):
        self.h.call("SetVMAccess", "sb", vm, bool(on))

    def status(self):
        """GetLegacyNetworkStatus → (ok, report)."""
        ok, report = self.h.call("GetLegacyNetworkStatus")
        return ok, report

    def server_error(self):
        return self.h.get_property("Error", path=harness.server_path(self.h.config.get("serverName", "node1")),
                                   interface=harness.IFACE_SERVER)

    # ------------------------------------------------------------------ guest traffic

    def fetch(self, guest, nonce="abc", timeout=6, api_version=API_VERSION):
        """curl in the guest for an attested document; never raises for network errors."""
        url = f"http://{HOST_IP}/metadata/attested/document?api-version={api_version}&nonce={nonce}"
        argv = ["ip", "netns", "exec", guest.ns, "curl", "-sS", "-i", "--max-time", str(timeout),
                "-H", "Metadata:true", url]
        try:   # bytes: the CRLFs of the HTTP head must survive
            p = subprocess.run(argv, capture_output=True, timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{' '.join(argv)} hung")
        resp = parse_curl_i(p.stdout) if p.returncode == 0 else None
        return FetchResult(p.returncode, resp, p.stderr.decode(errors="replace"))

    def fetch_ok(self, guest, nonce="abc"):
        """A fetch that must return 200; returns the body."""
        r = self.fetch(guest, nonce)
        if r.rc != 0 or r.response.status != 200:
            raise AssertionError(f"guest {guest.tag}: expected a document, got {r!r}")
        return r.response.body

    def ca_pem(self):
        return harness.trust_anchor_file(self.h, "ca.pem")

    def verify(self, doc, nonce, vm_id):
        """`client/azshci-attest verify --ca <GetTrustAnchor> --nonce --vm-id` (and openssl
        smime, through harness.verify_document); returns the signed payload as a dict."""
        return json.loads(harness.verify_document(self.h, doc, self.ca_pem(), nonce=nonce, vm_id=vm_id))

    def listener(self, ns, addr, port):
        return Listener(self, ns, addr, port)

    # ------------------------------------------------------------------ looking at HOST

    def host(self, argv, check=True):
        return sh(["ip", "netns", "exec", self.host_ns, *argv], check=check)

    def host_links(self):
        """{ifname: ip -d -j link entry} in HOST."""
        out = sh(["ip", "-n", self.host_ns, "-d", "-j", "link", "show"]).stdout
        return {link["ifname"]: link for link in json.loads(out)}

    def host_tables(self):
        """[(family, name)] of every nftables table in HOST."""
        out = self.host(["nft", "-j", "list", "tables"]).stdout
        return sorted((e["table"]["family"], e["table"]["name"])
                      for e in json.loads(out)["nftables"] if "table" in e)

    def nft_list_table(self, family, name=TABLE):
        return self.host(["nft", "list", "table", family, name]).stdout

    def bridge_addresses(self):
        out = sh(["ip", "-n", self.host_ns, "-j", "-4", "addr", "show", "dev", BRIDGE]).stdout
        return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(out) for a in link["addr_info"]]

    def port_state(self, guest):
        """(master or None, isolated or None, "UP"|"DOWN") of a guest's host-side port. The
        last is the administrative state (IFF_UP, what the service sets); the operational
        state follows asynchronously (linkwatch) and is not compared."""
        link = self.host_links()[guest.host_if]
        info = link.get("linkinfo", {})
        isolated = info.get("info_slave_data", {}).get("isolated") if info.get("info_slave_kind") == "bridge" else None
        return link.get("master"), isolated, "UP" if "UP" in link["flags"] else "DOWN"
