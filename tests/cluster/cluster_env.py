# SPDX-License-Identifier: LGPL-2.1-or-later
"""Three servers of one cluster in network namespaces (tests/cluster and `make demo-cluster`).

    with ClusterEnv(srcdir, builddir, name="demo") as env:   # root only
        s1, s2, s3 = env.servers                             # ClusterServer (a LegacyEnv each)
        s1.enable_legacy(True)                               # through etcd: every server converges
        env.wait(lambda: all(s.bridge_up() for s in env.servers), "bridges")
        env.stop_member(2)                                   # kill -9 one etcd member

What it builds (and always removes, also on failure or SIGTERM/SIGHUP):
  - a switch: namespace `azl-sw-<pid>` with bridge `br0`;
  - per server i (1..3): namespace `azl-c<i>-<pid>` (legacy_env.LegacyEnv: its own private
    dbus-daemon, real polkitd, azshci-attestd with CAP_NET_ADMIN only, the socket-activated
    HTTP frontend, guests), linked to the switch by a veth `cl0` with 10.231.0.<i>/24;
  - etcd member `m<i>` (Debian's etcd 3.4) in server i's namespace on 10.231.0.<i>:2379
    (clients) and :2380 (peers): a three-member cluster;
  - each service's configuration has a "cluster" section with all three endpoints, prefix
    /azshci, serverName node<i> and a short lease (LEASE_TTL seconds) so the tests are fast.
"""

import os
import signal
import subprocess
import time

import legacy_env
from legacy_env import NS_PREFIX, LegacyEnv, NamespaceWorld, sh
import harness
from harness import HarnessError, Skip, deadline_loop

N_SERVERS = 3
LEASE_TTL = 2
PREFIX = "/azshci"
SUBNET = "10.231.0"
ETCD = "/usr/bin/etcd"
CMP_PORT = 8290
CA_PORT = 8291        # the cluster CA's CMP listener on node1 (ca_server=True)
CA_SECRET = "cluster-enrolment-secret"
OUR_TABLES = [("bridge", legacy_env.TABLE), ("inet", legacy_env.TABLE), ("netdev", legacy_env.TABLE)]


def member_url(i, port=2379):
    return f"http://{SUBNET}.{i}:{port}"


class ClusterServer(LegacyEnv):
    """One server: a LegacyEnv in namespace azl-c<i>-<pid> whose service is in the cluster."""

    def __init__(self, env, index):
        super().__init__(env.srcdir, env.builddir, name=f"{env.name}-s{index}", verbose=env.verbose)
        self.env = env
        self.index = index
        self.server_name = f"node{index}"
        self.host_ns = f"{NS_PREFIX}c{index}-{os.getpid()}"
        self.ip = f"{SUBNET}.{index}"
        self.etcd = None

    def start(self, start_frontend=True):
        try:
            self.add_host_namespace()
            port = f"sw{self.index}"
            sh(["ip", "-n", self.env.switch_ns, "link", "add", port, "type", "veth", "peer", "name", "cl0",
                "netns", self.host_ns])
            sh(["ip", "-n", self.env.switch_ns, "link", "set", port, "master", "br0", "up"])
            sh(["ip", "-n", self.host_ns, "addr", "add", f"{self.ip}/24", "dev", "cl0"])
            sh(["ip", "-n", self.host_ns, "link", "set", "cl0", "up"])
            self.start_member()
            self.h = harness.NetnsHarness(self.srcdir, self.builddir, self.name, self.verbose,
                                          netns=self.host_ns)
            self.h.setup(start_service=False)
            self.h.write_config(serverName=self.server_name, cluster=self.cluster_config())
        except BaseException:
            self.close(failed=True)
            raise

    def cluster_config(self):
        # timeoutSeconds 5: a change right after a member was killed waits for the election of
        # a new leader, which takes longer than the default 3 s on a loaded machine.
        c = {"endpoints": [member_url(i) for i in range(1, N_SERVERS + 1)], "prefix": PREFIX,
             "leaseTtlSeconds": LEASE_TTL, "timeoutSeconds": 5}
        if self.env.ca_server:
            # One configuration for all: node1 runs the cluster CA, everyone has the secret.
            c.update(caServer="node1", caListen=f"{SUBNET}.1:{CA_PORT}", caSecretFile=self.write_ca_secret())
        return c

    def write_ca_secret(self):
        """The enrolment secret, a file of the service user with mode 0600 (as docs/cluster.md says)."""
        import pwd
        path = os.path.join(self.h.tmp, "ca-secret")
        with open(path, "w") as f:
            f.write(CA_SECRET + "\n")
        pw = pwd.getpwnam(harness.SERVICE_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o600)
        return path

    def start_service(self):
        self.h.start_service()
        if not self.frontend:
            self.start_frontend()

    # ------------------------------------------------------------------ etcd member

    def start_member(self):
        if self.etcd and self.etcd.poll() is None:
            raise HarnessError(f"etcd member m{self.index} is running")
        data = os.path.join(self.env.tmp, f"m{self.index}")
        log = open(os.path.join(self.env.tmp, f"m{self.index}.log"), "a")
        cluster = ",".join(f"m{i}={member_url(i, 2380)}" for i in range(1, N_SERVERS + 1))
        self.etcd = subprocess.Popen(
            ["ip", "netns", "exec", self.host_ns, ETCD, "--name", f"m{self.index}", "--data-dir", data,
             "--listen-client-urls", member_url(self.index), "--advertise-client-urls", member_url(self.index),
             "--listen-peer-urls", member_url(self.index, 2380),
             "--initial-advertise-peer-urls", member_url(self.index, 2380),
             "--initial-cluster", cluster, "--initial-cluster-state", "new",
             "--heartbeat-interval", "50", "--election-timeout", "500"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd="/")
        log.close()

    def stop_member(self):
        """kill -9 this server's etcd member."""
        if not self.etcd or self.etcd.poll() is not None:
            raise HarnessError(f"etcd member m{self.index} is not running")
        self.etcd.send_signal(signal.SIGKILL)
        self.etcd.wait(10)

    def close(self, failed=False):
        if self.etcd and self.etcd.poll() is None:
            self.etcd.send_signal(signal.SIGKILL)
            self.etcd.wait(10)
        super().close(failed=failed)

    # ------------------------------------------------------------------ looking

    def servers(self, user=None):
        """{name: State} of every Server object this server's service exports."""
        out = {}
        for path, ifaces in self.h.managed_objects().items():
            props = ifaces.get(harness.IFACE_SERVER)
            if props:
                out[props["Name"]] = props["State"]
        return out

    def cluster_store(self):
        return self.h.get_property("ClusterStore")

    def legacy(self):
        return self.h.get_property("LegacyOsSupport")

    def bridge_up(self):
        """The bridge and every firewall table of legacy support exist in this server's namespace."""
        return legacy_env.BRIDGE in self.host_links() and self.host_tables() == OUR_TABLES

    def bridge_gone(self):
        return legacy_env.BRIDGE not in self.host_links() and self.host_tables() == []


class ClusterEnv(NamespaceWorld):
    """See the module docstring. Attributes: servers (list of ClusterServer), tmp."""

    def __init__(self, srcdir, builddir, name="cluster", verbose=False, cmp_ca=False, ca_server=False):
        """cmp_ca: the cluster's one root is the in-tree CMP CA (tests/cmp/test-cmp-ca), run in
        node1's namespace on 10.231.0.1:CMP_PORT; every server enrols with it ("issuer" type
        "cmp"). ca_server: the embedded issuer everywhere, node1 the cluster's CA server
        (cluster.caServer, its CMP listener on 10.231.0.1:CA_PORT). Without either each server
        has its own embedded CA."""
        self.srcdir, self.builddir = os.path.abspath(srcdir), os.path.abspath(builddir)
        self.name, self.verbose = name, verbose
        self.cmp_ca = cmp_ca
        self.ca_server = ca_server
        self.ca = None
        self.switch_ns = f"{NS_PREFIX}sw-{os.getpid()}"
        self.servers = []
        self.tmp = None

    @staticmethod
    def check_environment():
        LegacyEnv.check_environment()
        if not os.access(ETCD, os.X_OK):
            raise Skip(f"{ETCD} is missing (package etcd-server)")

    def start(self):
        """The switch, three members, three stacks; returns when every service is up and
        every server sees the three Active."""
        self.check_environment()
        self.trap_signals()
        try:
            import tempfile
            self.tmp = tempfile.mkdtemp(prefix=f"azshci-cluster-{self.name}-")
            sh(["ip", "netns", "add", self.switch_ns])
            sh(["ip", "-n", self.switch_ns, "link", "add", "br0", "type", "bridge"])
            sh(["ip", "-n", self.switch_ns, "link", "set", "br0", "up"])
            for i in range(1, N_SERVERS + 1):
                s = ClusterServer(self, i)
                self.servers.append(s)
                s.start()
            if self.cmp_ca:
                s1 = self.servers[0]
                self.ca = harness.TestCmpCa(s1.h, port=CMP_PORT)
                self.ca.start(f"--address={s1.ip}", netns=s1.host_ns)
                for s in self.servers:
                    s.h.write_config(serverName=s.server_name, cluster=s.cluster_config(),
                                     issuer=self.ca.issuer_config(host=s1.ip))
            for s in self.servers:
                s.start_service()
            self.wait_all_active()
        except BaseException:
            self.close(failed=True)
            raise

    def wait_all_active(self, timeout=30):
        names = {s.server_name: "Active" for s in self.servers}
        for s in self.servers:
            self.wait(lambda: s.servers() == names, f"{s.server_name} to see every server Active",
                      timeout=timeout)

    def wait(self, pred, what, timeout=20):
        for _ in deadline_loop(timeout, what, interval=0.1):
            if pred():
                return

    def close(self, failed=False):
        self.ignore_signals()
        try:
            if self.ca:
                self.ca.stop()
                self.ca = None
            for s in reversed(self.servers):
                try:
                    s.close(failed=failed)
                except Exception as e:
                    print(f"closing {s.server_name} failed: {e}")
            self.servers = []
            if failed and self.tmp:
                for i in range(1, N_SERVERS + 1):
                    p = os.path.join(self.tmp, f"m{i}.log")
                    if os.path.exists(p):
                        with open(p, errors="replace") as f:
                            lines = f.read().splitlines()[-15:]
                        print(f"----- etcd m{i} (last lines) -----\n" + "\n".join(lines))
        finally:
            sh(["ip", "netns", "del", self.switch_ns], check=False)
            if self.tmp:
                import shutil
                shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None
            self.restore_signals()
