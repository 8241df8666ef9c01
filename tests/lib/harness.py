# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration test harness: a private system bus, the real polkitd and azshci-attestd.

Every test gets a fresh Harness: its own temporary directory, its own dbus-daemon (a
system-type bus that includes only the project's bus policy and polkit's), its own polkitd
(in a private mount namespace that shows it only the project's polkit actions and the
test's rules) and its own service instance. Clients (busctl, gdbus, azshcictl) run as root
or as an unprivileged user through setpriv, with DBUS_SYSTEM_BUS_ADDRESS pointed at the
private bus. See README.md in this directory.

Python 3 standard library only.
"""

import fcntl
import grp
import json
import os
import pwd
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

DBUS_DAEMON = "/usr/bin/dbus-daemon"
POLKITD = "/usr/lib/polkit-1/polkitd"
HOST_SYSTEM_CONF = "/usr/share/dbus-1/system.conf"
HOST_POLKIT_BUS_CONF = "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"
HOST_POLKIT_ACTIONS = "/usr/share/polkit-1/actions"

BUS_NAME = "org.azshci.Attestation1"
BUS_PATH = "/org/azshci/Attestation1"
IFACE = "org.azshci.Attestation1"
IFACE_SERVER = "org.azshci.Attestation1.Server"
IFACE_VM = "org.azshci.Attestation1.VM"
POLKIT_NAME = "org.freedesktop.PolicyKit1"

SERVICE_USER = "azshci"
FRONTEND_USER = "azshci-frontend"
TEST_USER = "azshci-test"                     # unprivileged, in no project group
TEST_FRONTEND_USER = "azshci-test-frontend"   # unprivileged, member of azshci-frontend

ACTIONS = {
    "sync": "org.azshci.attestation.sync",
    "legacy": "org.azshci.attestation.manage-legacy",
    "vm-access": "org.azshci.attestation.manage-vm-access",
    "inventory": "org.azshci.attestation.manage-inventory",
    "vm-devices": "org.azshci.attestation.manage-vm-devices",
}

# The environment azshci-attestd.service gives the service (data/azshci-attestd.service.in).
SERVICE_UNIT_ENV = {"G_SLICE": "always-malloc"}

DEFAULT_TIMEOUT = 20.0   # seconds any single wait or client call may take


class Skip(Exception):
    """The test cannot run here (exit code 77)."""


class HarnessError(AssertionError):
    """Something in the harness itself failed (a component did not start, ...)."""


class CallError(AssertionError):
    """A D-Bus call failed: name is the D-Bus error name, message its text."""

    def __init__(self, name, message, cmd=None):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.cmd = cmd


def deadline_loop(timeout, what, interval=0.02):
    """Yields until the caller breaks out; raises HarnessError when timeout has passed.
    Polling with a deadline: the only way we wait for things that do not notify us."""
    end = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() >= end:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def ensure_user(name, groups=()):
    """Creates a system user (and its group) if missing; adds it to groups."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", name],
                       check=True, stdout=subprocess.DEVNULL)
    for g in groups:
        if name not in grp.getgrnam(g).gr_mem:
            subprocess.run(["usermod", "-a", "-G", g, name], check=True)


class Monitor:
    """A real `busctl monitor --json=short` client on the private bus (run as root, which
    the system policy lets become a monitor). Messages are parsed from its stdout by a
    reader thread; wait_for() polls that queue with a deadline."""

    def __init__(self, harness):
        self.h = harness
        self.messages = []
        self._queue = queue.Queue()
        self._log = open(os.path.join(harness.tmp, "monitor.log"), "a")
        self.proc = subprocess.Popen(["busctl", "--system", "monitor", "--json=short"],
                                     env=harness.client_env(), stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, bufsize=1)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self._marker_count = 0
        self.sync()

    def _read(self):
        for line in self.proc.stdout:
            self._log.write(line)
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                self._queue.put(json.loads(line))
            except ValueError:
                pass

    def _drain(self):
        while True:
            try:
                self.messages.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def sync(self, timeout=DEFAULT_TIMEOUT):
        """Issues marker calls until the monitor shows one: everything sent before the
        marker has then been seen by the monitor too (the bus preserves order towards a
        monitor). Returns the index after the marker."""
        self._marker_count += 1
        marker = f"org.azshci.HarnessMarker.m{os.getpid()}x{self._marker_count}"
        for _ in deadline_loop(timeout, f"busctl monitor to show marker {marker}", 0.05):
            if self.proc.poll() is not None:
                raise HarnessError("busctl monitor exited: see monitor.log")
            # GetNameOwner of a name nobody has: a method call carrying our marker.
            self.h.run(["busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus", "NameHasOwner", "s", marker], check=False)
            idx = self._find_marker(marker)
            if idx is not None:
                return idx + 1

    def _find_marker(self, marker):
        self._drain()
        for i, m in enumerate(self.messages):
            if m.get("member") == "NameHasOwner" and marker in json.dumps(m.get("payload", {})):
                return i
        return None

    def mark(self):
        """Returns a position: signals() after it only shows messages that came later."""
        return self.sync()

    def signals(self, since=0, member=None, path=None, interface=None):
        """Signals seen after position since (call sync() first to be sure all arrived)."""
        self._drain()
        out = []
        for m in self.messages[since:]:
            if m.get("type") != "signal":
                continue
            if member and m.get("member") != member:
                continue
            if path and m.get("path") != path:
                continue
            if interface and m.get("interface") != interface:
                continue
            out.append(m)
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(5)
        self._log.close()


class Harness:
    def __init__(self, srcdir, builddir, name="test", verbose=False):
        self.srcdir = os.path.abspath(srcdir)
        self.builddir = os.path.abspath(builddir)
        self.name = name
        self.verbose = verbose
        self.tmp = None
        self.bus_proc = None
        self.bus_address = None
        self.polkit_proc = None
        self.service_proc = None
        self.service_exits = []   # exit codes of earlier service instances
        self.monitors = []
        self.notify_sock = None
        self.config = None

        self.service_bin = os.path.join(self.builddir, "service", "azshci-attestd")
        self.ctl_bin = os.path.join(self.builddir, "client", "azshcictl")
        self.bus_policy = os.path.join(self.builddir, "dbus", "org.azshci.Attestation1.conf")
        self.polkit_policy = os.path.join(self.builddir, "polkit", "org.azshci.attestation.policy")
        self.sysusers = os.path.join(self.builddir, "data", "azshci.conf")
        self.api_xml = os.path.join(self.srcdir, "dbus", "org.azshci.Attestation1.xml")
        self.benefits = os.path.join(self.srcdir, "data", "benefits.json")

    # ------------------------------------------------------------------ setup/teardown

    @staticmethod
    def check_environment(need_service=True, builddir=None):
        if os.geteuid() != 0:
            raise Skip("integration tests need root (private dbus-daemon, polkitd in a mount "
                       "namespace, setpriv to unprivileged users)")
        for tool in (DBUS_DAEMON, POLKITD, "/usr/bin/busctl", "/usr/bin/gdbus", "/usr/bin/setpriv",
                     "/usr/bin/unshare", "/usr/bin/systemd-sysusers"):
            if not os.access(tool, os.X_OK):
                raise Skip(f"{tool} is missing (packages dbus-daemon, polkitd, systemd, util-linux, "
                           "libglib2.0-bin)")

    def setup(self, start_service=True, host_actions=False, rules=None):
        self.check_environment()
        self.tmp = tempfile.mkdtemp(prefix=f"azshci-it-{self.name}-")
        os.chmod(self.tmp, 0o755)   # the service, polkitd and test users reach the bus socket
        self.state_dir = os.path.join(self.tmp, "state")
        self.run_dir = os.path.join(self.tmp, "run")   # the service's runtime directory
        self.frontend_socket = os.path.join(self.run_dir, "frontend.socket")   # "frontendSocket"
        self.rules_dir = os.path.join(self.tmp, "polkit-rules")
        self.actions_dir = os.path.join(self.tmp, "polkit-actions")
        self.vendor_rules_dir = os.path.join(self.tmp, "polkit-vendor-rules")
        self.create_users()
        self._prepare_polkit_dirs(host_actions)
        for name, text in (rules or {}).items():
            self.write_rules(name, text, restart=False)
        self.start_bus()
        self.start_polkit()
        if start_service:
            self.write_config()
            self.start_service()

    def create_users(self):
        """The project's users from its own sysusers.d file (real systemd-sysusers), plus
        the harness's unprivileged test users. Serialized with a lock file."""
        if not os.path.exists(self.sysusers):
            raise HarnessError(f"{self.sysusers} is missing: build the project first")
        with open("/run/azshci-integration-users.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subprocess.run(["systemd-sysusers", self.sysusers], check=True,
                           stdout=subprocess.DEVNULL)
            ensure_user(TEST_USER)
            ensure_user(TEST_FRONTEND_USER, groups=[FRONTEND_USER])

    def teardown(self, failed=False):
        for m in self.monitors:
            m.close()
        self.monitors = []
        if self.service_proc:
            self._terminate(self.service_proc)
            self.service_proc = None
        self.stop_polkit(wait_gone=False)
        if self.bus_proc:
            self._terminate(self.bus_proc)
            self.bus_proc = None
        if self.notify_sock:
            self.notify_sock.close()
            self.notify_sock = None
        if failed:
            self.dump_logs()
        if self.tmp:
            if failed and os.environ.get("AZSHCI_KEEP_TMP"):
                print(f"keeping {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        for what, name in (("service", "service.log"), ("polkitd", "polkitd.log"),
                           ("dbus-daemon", "bus.log"), ("busctl monitor", "monitor.log")):
            path = os.path.join(self.tmp, name)
            if not os.path.exists(path):
                continue
            with open(path, errors="replace") as f:
                text = f.read()
            print(f"----- {what} log ({path}) -----")
            print(text.rstrip() if text.strip() else "(empty)")
        print("----- end of logs -----")

    @staticmethod
    def _terminate(proc, sig=signal.SIGTERM, timeout=10):
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    # ------------------------------------------------------------------ dbus-daemon

    def bus_config(self):
        """A system-type bus: the host's system.conf policies (parsed out of the file, not
        copied by hand), EXTERNAL auth, a socket in tmp, and only two included policies:
        the project's and polkit's. No activation, no host system.d."""
        host = ET.parse(HOST_SYSTEM_CONF).getroot()
        policies = [ET.tostring(p, encoding="unicode") for p in host.findall("policy")]
        if not policies:
            raise HarnessError(f"no <policy> in {HOST_SYSTEM_CONF}")
        for f in (self.bus_policy, HOST_POLKIT_BUS_CONF):
            if not os.path.exists(f):
                raise HarnessError(f"{f} is missing")
        sock = os.path.join(self.tmp, "system_bus_socket")
        return ("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>system</type>\n"
                f"  <listen>unix:path={sock}</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                + "".join("  " + p.strip() + "\n" for p in policies) +
                f"  <include>{self.bus_policy}</include>\n"
                f"  <include>{HOST_POLKIT_BUS_CONF}</include>\n"
                "</busconfig>\n")

    def start_bus(self):
        conf = os.path.join(self.tmp, "bus.conf")
        with open(conf, "w") as f:
            f.write(self.bus_config())
        log = open(os.path.join(self.tmp, "bus.log"), "a")
        r, w = os.pipe()
        try:
            self.bus_proc = subprocess.Popen(
                [DBUS_DAEMON, f"--config-file={conf}", "--nofork", "--nopidfile", "--nosyslog",
                 f"--print-address={w}"],
                pass_fds=(w,), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        finally:
            os.close(w)
            log.close()
        # The daemon writes its address once it listens: no sleeping, EOF means it died.
        with os.fdopen(r) as f:
            ready, _, _ = select.select([f], [], [], DEFAULT_TIMEOUT)
            if not ready:
                raise HarnessError("dbus-daemon did not print its address")
            addr = f.readline().strip()
        if not addr:
            self.bus_proc.wait(5)
            raise HarnessError(f"dbus-daemon failed to start (exit {self.bus_proc.returncode})")
        # Without the daemon's ",guid=...": the system bus's address names only the socket, so
        # that a daemon restarted on it is the same bus to its clients (restart_bus()).
        self.bus_address = re.sub(r",guid=[0-9a-f]+", "", addr)
        os.chmod(os.path.join(self.tmp, "system_bus_socket"), 0o666)

    def kill_bus(self):
        """SIGKILL dbus-daemon, as when the system bus crashes: every connection on it breaks
        at once. polkitd (GDBus) exits with it; running monitors lose it too."""
        self._terminate(self.bus_proc, signal.SIGKILL)
        self.bus_proc = None

    def restart_bus(self):
        """A new dbus-daemon on the same socket path (it replaces the stale socket file of the
        killed one), then a fresh polkitd on it."""
        if self.bus_proc:
            raise HarnessError("dbus-daemon is still running")
        with open(os.path.join(self.tmp, "bus.log"), "a") as log:
            log.write(f"=== restarting dbus-daemon at {time.strftime('%T')}\n")
        self.stop_polkit(wait_gone=False)
        self.start_bus()
        self.start_polkit()

    def client_env(self, extra=None):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address,
            "LANG": "C.UTF-8",
            "SYSTEMD_COLORS": "0",
            "SYSTEMD_PAGER": "",
            "SYSTEMD_LOG_LEVEL": "info",
        }
        if extra:
            env.update(extra)
        return env

    def name_has_owner(self, name):
        out = self.run(["busctl", "--system", "--json=short", "call", "org.freedesktop.DBus",
                        "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", name])
        return json.loads(out.stdout)["data"][0]

    def name_owner_uid(self, name):
        out = self.run(["busctl", "--system", "--json=short", "call", "org.freedesktop.DBus",
                        "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser",
                        "s", name])
        return json.loads(out.stdout)["data"][0]

    # ------------------------------------------------------------------ polkitd

    def _prepare_polkit_dirs(self, host_actions):
        for d in (self.actions_dir, self.rules_dir, self.vendor_rules_dir):
            os.makedirs(d)
            os.chmod(d, 0o755)
        if not os.path.exists(self.polkit_policy):
            raise HarnessError(f"{self.polkit_policy} is missing")
        if host_actions:
            for f in os.listdir(HOST_POLKIT_ACTIONS):
                shutil.copy(os.path.join(HOST_POLKIT_ACTIONS, f), self.actions_dir)
        shutil.copy(self.polkit_policy, self.actions_dir)
        # polkitd needs org.freedesktop.policykit actions to exist for its own API (e.g. for
        # agents); copy it if the host has it.
        own = os.path.join(HOST_POLKIT_ACTIONS, "org.freedesktop.policykit.policy")
        if os.path.exists(own):
            shutil.copy(own, self.actions_dir)
        # Vendor rules: only the upstream default (admins = root). Hermetic: the host's
        # other packages' rules do not leak into the tests.
        with open(os.path.join(self.vendor_rules_dir, "50-default.rules"), "w") as f:
            f.write('polkit.addAdminRule(function(action, subject) {\n'
                    '    return ["unix-user:0"];\n'
                    '});\n')

    def write_rules(self, name, text, restart=True):
        """Drops a .rules file into the rules directory polkitd sees as
        /etc/polkit-1/rules.d. polkitd is restarted (if running) so the rule applies
        deterministically, not whenever its file monitor fires."""
        path = os.path.join(self.rules_dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        if restart and self.polkit_proc:
            self.stop_polkit()
            self.start_polkit()

    def grant(self, user, actions=None, restart=True):
        """A rule granting user the given polkit actions (default: all of the project's)."""
        actions = list(actions or ACTIONS.values())
        self.write_rules(f"10-grant-{user}.rules",
                         "polkit.addRule(function(action, subject) {\n"
                         f"    if ({json.dumps(actions)}.indexOf(action.id) >= 0 &&\n"
                         f"        subject.user == {json.dumps(user)})\n"
                         "        return polkit.Result.YES;\n"
                         "});\n", restart=restart)

    def start_polkit(self):
        if self.polkit_proc:
            raise HarnessError("polkitd is already running")
        script = ("set -e\n"
                  f"mount --bind {self.actions_dir} /usr/share/polkit-1/actions\n"
                  f"mount --bind {self.rules_dir} /etc/polkit-1/rules.d\n"
                  f"mount --bind {self.vendor_rules_dir} /usr/share/polkit-1/rules.d\n"
                  # polkitd changes to user polkitd itself after start-up.
                  f"exec {POLKITD}\n")
        log = open(os.path.join(self.tmp, "polkitd.log"), "a")
        log.write(f"=== starting polkitd at {time.strftime('%T')}\n")
        log.flush()
        self.polkit_proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address,
                 "G_MESSAGES_DEBUG": "all" if self.verbose else ""},
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        # gdbus wait returns as soon as the name has an owner; we also watch polkitd.
        waiter = subprocess.Popen(["gdbus", "wait", "--system", "--timeout", str(int(DEFAULT_TIMEOUT)),
                                   POLKIT_NAME], env=self.client_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in deadline_loop(DEFAULT_TIMEOUT + 1, f"{POLKIT_NAME} on the bus"):
                if self.polkit_proc.poll() is not None:
                    raise HarnessError(f"polkitd exited with {self.polkit_proc.returncode}: see polkitd.log")
                if waiter.poll() is not None:
                    break
        finally:
            self._terminate(waiter)
        if not self.name_has_owner(POLKIT_NAME):
            raise HarnessError(f"{POLKIT_NAME} has no owner")

    def stop_polkit(self, wait_gone=True):
        if not self.polkit_proc:
            return
        self._terminate(self.polkit_proc)
        self.polkit_proc = None
        if wait_gone and self.bus_proc:
            for _ in deadline_loop(DEFAULT_TIMEOUT, f"{POLKIT_NAME} to lose its owner"):
                if not self.name_has_owner(POLKIT_NAME):
                    break

    # ------------------------------------------------------------------ the service

    def write_config(self, **overrides):
        """The service configuration; keyword arguments override or add keys."""
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir)
        pw = pwd.getpwnam(SERVICE_USER)
        os.chown(self.state_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.state_dir, 0o700)
        os.makedirs(self.run_dir, exist_ok=True)
        os.chown(self.run_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.run_dir, 0o755)
        self.config = {
            "stateDirectory": self.state_dir,
            "benefitsFile": self.benefits,
            "serverName": "node1",
            "subscriptionId": "8c1d64d1-4b8f-4a5f-9d6e-2b7c1f0e3a11",
            # The service runs without CAP_NET_ADMIN in the host's network namespace here:
            # only the legacy networking tests (tests/legacy, test legacynet) let it build a bridge, in a
            # namespace of their own.
            "legacyNetwork": False,
            # The frontends' direct socket, private to this test (never /run/azshci).
            "frontendSocket": self.frontend_socket,
        }
        self.config.update(overrides)
        self.config_path = os.path.join(self.tmp, "attestation.json")
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        # The service refuses an inline CMP secret in a file others can read (docs/cmp.md):
        # such a file is root:<service group> 0640, as an administrator would keep it.
        if "secret" in self.config.get("issuer", {}):
            os.chown(self.config_path, 0, pw.pw_gid)
            os.chmod(self.config_path, 0o640)
        else:
            os.chmod(self.config_path, 0o644)

    def _notify_socket(self):
        if self.notify_sock:
            return
        path = os.path.join(self.tmp, "notify")
        self.notify_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.notify_sock.bind(path)
        os.chmod(path, 0o666)
        self.notify_path = path

    def start_service(self, wait_ready=True, args=(), wait_sync=True):
        if self.service_proc:
            raise HarnessError("the service is already running")
        if not os.access(self.service_bin, os.X_OK):
            raise HarnessError(f"{self.service_bin} is missing: build it first "
                               "(ninja -C BUILDDIR service/azshci-attestd)")
        if self.config is None:
            self.write_config()
        self._notify_socket()
        # Drop stale notifications of an earlier instance.
        self.notify_sock.setblocking(False)
        try:
            while self.notify_sock.recv(4096):
                pass
        except BlockingIOError:
            pass
        log = open(os.path.join(self.tmp, "service.log"), "a")
        log.write(f"=== starting azshci-attestd{self.service_where()} at {time.strftime('%T')}\n")
        log.flush()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address,
               "NOTIFY_SOCKET": self.notify_path, "LANG": "C.UTF-8", **SERVICE_UNIT_ENV}
        self.service_proc = subprocess.Popen(self.service_argv(args), env=env, stdout=log, stderr=log,
                                             stdin=subprocess.DEVNULL, cwd="/")
        log.close()
        if wait_ready:
            self.wait_ready()
            if wait_sync and self.config.get("enabled", True):
                self.wait_server_state("Active")

    def service_argv(self, args=()):
        """How the service is started: as the service user, like its unit does. Each process
        in the chain execs the next, so service_proc is the service itself."""
        return ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups", "--",
                self.service_bin, "--config", self.config_path, "--log-level", "debug", *args]

    def service_where(self):
        return ""

    def wait_server_state(self, state, timeout=60):
        """The service enrols with its (local) issuer right after start when it holds no
        certificate; tests start from the settled state, not from a race with that."""
        path = server_path(self.config.get("serverName", "node1"))
        for _ in deadline_loop(timeout, f"server {path} to become {state}", 0.05):
            props = self.get_all(path, IFACE_SERVER)
            if props["State"] == state:
                return props
            if props["State"] == "Error":
                raise HarnessError(f"server state Error: {props['Error']}")
            if self.service_proc.poll() is not None:
                raise HarnessError(f"the service exited with {self.service_proc.returncode}")

    def wait_ready(self, timeout=DEFAULT_TIMEOUT):
        """Waits for READY=1 on the notify socket; fails at once if the service exits."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise HarnessError("the service did not send READY=1 in time")
            if self.service_proc.poll() is not None:
                raise HarnessError(f"the service exited with {self.service_proc.returncode} before READY=1")
            ready, _, _ = select.select([self.notify_sock], [], [], min(left, 0.1))
            if not ready:
                continue
            data = self.notify_sock.recv(4096).decode(errors="replace")
            if "READY=1" in data.split("\n"):
                return

    def wait_service_exit(self, timeout=DEFAULT_TIMEOUT):
        """For a service expected to fail at start: its exit code."""
        try:
            rc = self.service_proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError("the service did not exit")
        self.service_exits.append(rc)
        self.service_proc = None
        return rc

    def stop_service(self):
        """SIGTERM; the service must exit 0 and give up its name."""
        rc = self._terminate(self.service_proc)
        self.service_proc = None
        self.service_exits.append(rc)
        if rc != 0:
            raise AssertionError(f"azshci-attestd exited with {rc} on SIGTERM, expected 0")
        self._wait_name_gone(BUS_NAME)

    def kill_service(self):
        """SIGKILL: no chance to clean up."""
        rc = self._terminate(self.service_proc, signal.SIGKILL)
        self.service_proc = None
        self.service_exits.append(rc)
        self._wait_name_gone(BUS_NAME)

    def restart_service(self, kill=False):
        if kill:
            self.kill_service()
        else:
            self.stop_service()
        self.start_service()

    def _wait_name_gone(self, name):
        for _ in deadline_loop(DEFAULT_TIMEOUT, f"{name} to lose its owner"):
            if not self.name_has_owner(name):
                break

    def service_log(self):
        with open(os.path.join(self.tmp, "service.log"), errors="replace") as f:
            return f.read()

    # ------------------------------------------------------------------ clients

    @staticmethod
    def user_prefix(user):
        if user in (None, "root"):
            return []
        pw = pwd.getpwnam(user)
        return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--"]

    def run(self, argv, user=None, check=True, input=None, timeout=DEFAULT_TIMEOUT, env=None):
        """Runs a client as root (user None) or as user, on the private bus."""
        cmd = self.user_prefix(user) + list(argv)
        try:
            p = subprocess.run(cmd, env=self.client_env(env), input=input, capture_output=True,
                               text=True, timeout=timeout, cwd="/")
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{' '.join(cmd)} hung for {timeout}s")
        if self.verbose:
            print(f"$ {' '.join(cmd)} -> {p.returncode}\n{p.stdout}{p.stderr}")
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed with {p.returncode}:\n{p.stdout}{p.stderr}")
        return p

    def call(self, method, signature="", *args, path=BUS_PATH, interface=IFACE, user=None,
             interactive=False):
        """A method call through `busctl --json=short call`; must succeed. Returns the reply's
        data list (busctl's JSON: {"type": SIG, "data": [...]}), [] for no reply values."""
        argv = ["busctl", "--system", "--json=short",
                f"--allow-interactive-authorization={'yes' if interactive else 'no'}",
                "call", BUS_NAME, path, interface, method]
        if signature:
            argv += [signature] + [str(a) for a in flatten_busctl_args(args)]
        p = self.run(argv, user=user)
        out = p.stdout.strip()
        return json.loads(out)["data"] if out else []

    def call_error(self, method, gvariant_args=(), path=BUS_PATH, interface=IFACE, user=None,
                   interactive=False):
        """A method call that must fail, through `gdbus call` (which, unlike busctl, prints
        the D-Bus error name). Returns CallError with .name and .message."""
        argv = ["gdbus", "call", "--system", "--dest", BUS_NAME, "--object-path", path,
                "--method", f"{interface}.{method}", "--timeout", str(int(DEFAULT_TIMEOUT))]
        if interactive:
            argv.append("--interactive")
        argv += ["--"] + list(gvariant_args)
        p = self.run(argv, user=user, check=False)
        if p.returncode == 0:
            raise AssertionError(f"{method} succeeded but was expected to fail: {p.stdout}")
        m = re.search(r"GDBus\.Error:([A-Za-z0-9_.\-]+): (.*)", p.stderr, re.S)
        if not m:
            raise AssertionError(f"cannot parse gdbus error from: {p.stderr!r}")
        message = m.group(2).split("\n(According to introspection data")[0].strip()
        return CallError(m.group(1), message, argv)

    def expect_error(self, name, method, gvariant_args=(), contains=(), **kw):
        e = self.call_error(method, gvariant_args, **kw)
        if e.name != name:
            raise AssertionError(f"{method}: expected error {name}, got {e.name}: {e.message}")
        for c in ([contains] if isinstance(contains, str) else contains):
            if c not in e.message:
                raise AssertionError(f"{method}: error message {e.message!r} does not mention {c!r}")
        return e

    def get_property(self, name, path=BUS_PATH, interface=IFACE, user=None):
        p = self.run(["busctl", "--system", "--json=short", "get-property", BUS_NAME, path,
                      interface, name], user=user)
        return json.loads(p.stdout)["data"]

    def get_all(self, path=BUS_PATH, interface=IFACE, user=None):
        """All properties of one interface as {name: value}."""
        data = self.call("GetAll", "s", interface, path=path,
                         interface="org.freedesktop.DBus.Properties", user=user)
        return {k: v["data"] for k, v in data[0].items()}

    def managed_objects(self):
        """{path: {interface: {property: value}}} from ObjectManager."""
        data = self.call("GetManagedObjects", path=BUS_PATH, interface="org.freedesktop.DBus.ObjectManager")
        return {path: {iface: {k: v["data"] for k, v in props.items()} for iface, props in ifaces.items()}
                for path, ifaces in data[0].items()}

    def vm_paths(self):
        return sorted(p for p, ifaces in self.managed_objects().items() if IFACE_VM in ifaces)

    def introspect_xml(self, path=BUS_PATH, user=None):
        data = self.call("Introspect", path=path, interface="org.freedesktop.DBus.Introspectable", user=user)
        return data[0]

    def ctl(self, *args, user=None, check=True):
        if not os.access(self.ctl_bin, os.X_OK):
            raise HarnessError(f"{self.ctl_bin} is missing")
        return self.run([self.ctl_bin, *args], user=user, check=check)

    def monitor(self):
        m = Monitor(self)
        self.monitors.append(m)
        return m

    def register_vm(self, user=None, **props):
        """RegisterVM with python values typed by key; returns the object path."""
        return self.call("RegisterVM", "a{sv}", vm_props_busctl(props), user=user)[0]


# ---------------------------------------------------------------------- argument helpers

VM_KEY_TYPES = {
    "Id": "s", "Name": "s", "Generation": "u", "PowerState": "s", "GuestServiceInterface": "b",
    "DataExchange": "b", "OsName": "s", "OsVersion": "s", "SqlVersion": "s",
    "ArcAgentVersion": "s", "VsockCid": "u", "LegacyMac": "s", "LegacyInterface": "s", "Sku": "s",
    "LicenseType": "s",
}


class Dict:
    """busctl a{sv} argument: count, then key, signature, value for each entry."""

    def __init__(self, items):
        self.items = items   # list of (key, sig, value)

    def busctl(self):
        out = [len(self.items)]
        for k, sig, v in self.items:
            out += [k, sig, busctl_value(sig, v)]
        return out


def busctl_value(sig, v):
    if sig == "b":
        return "true" if v else "false"
    return v


def flatten_busctl_args(args):
    out = []
    for a in args:
        if isinstance(a, Dict):
            out += a.busctl()
        elif isinstance(a, bool):
            out.append("true" if a else "false")
        else:
            out.append(a)
    return out


def vm_props_busctl(props):
    return Dict([(k, VM_KEY_TYPES.get(k, "s"), v) for k, v in props.items()])


def gvariant_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def gvariant_value(sig, v):
    if sig == "s":
        return gvariant_str(v)
    if sig == "u":
        return f"uint32 {v}"
    if sig == "i":
        return f"int32 {v}"
    if sig == "b":
        return "true" if v else "false"
    raise ValueError(sig)


def gvariant_dict(items):
    """a{sv} in GVariant text; items: {key: value} typed by VM_KEY_TYPES, or
    (key, sig, value) tuples to force a type."""
    parts = []
    seq = items.items() if isinstance(items, dict) else [(k, (s, v)) for k, s, v in items]
    for k, v in seq:
        if isinstance(v, tuple):
            sig, val = v
        else:
            sig, val = VM_KEY_TYPES.get(k, "s"), v
        parts.append(f"{gvariant_str(k)}: <{gvariant_value(sig, val)}>")
    return "@a{sv} {" + ", ".join(parts) + "}"


# ---------------------------------------------------------------------- introspection

STANDARD_INTERFACES = {
    "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
    "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.ObjectManager",
}


def interfaces_of(xml_text):
    """{interface: {"methods": {name: [(direction, type)]}, "properties": {name: (type, access)},
    "signals": {name: [type]}}} of an introspection document, standard interfaces left out.
    Argument names count too (they are part of the documented API)."""
    root = ET.fromstring(xml_text)
    out = {}
    for iface in root.findall("interface"):
        name = iface.get("name")
        if name in STANDARD_INTERFACES:
            continue
        methods = {}
        for m in iface.findall("method"):
            methods[m.get("name")] = [(a.get("direction", "in"), a.get("type"), a.get("name"))
                                      for a in m.findall("arg")]
        props = {p.get("name"): (p.get("type"), p.get("access")) for p in iface.findall("property")}
        signals = {s.get("name"): [a.get("type") for a in s.findall("arg")] for s in iface.findall("signal")}
        out[name] = {"methods": methods, "properties": props, "signals": signals}
    return out


# ---------------------------------------------------------------------- object paths

def bus_label_escape(s):
    """sd_bus_path_encode()'s escaping: [A-Za-z] stay, digits stay except in front, the rest
    become _xx; the empty string is "_"."""
    if not s:
        return "_"
    out = []
    for i, c in enumerate(s):
        if ("a" <= c <= "z") or ("A" <= c <= "Z") or (i > 0 and "0" <= c <= "9"):
            out.append(c)
        else:
            out.extend(f"_{b:02x}" for b in c.encode())
    return "".join(out)


def vm_path(vm_id):
    return f"{BUS_PATH}/vm/{bus_label_escape(vm_id)}"


def server_path(name):
    return f"{BUS_PATH}/server/{bus_label_escape(name)}"


def project_version(srcdir):
    with open(os.path.join(srcdir, "meson.build")) as f:
        m = re.search(r"version\s*:\s*'([^']+)'", f.read())
    return m.group(1)


# ---------------------------------------------------------------------- test registry

TESTS = {}


def testcase(name=None, **setup_args):
    """Registers a test function f(h); setup_args go to Harness.setup()."""
    def deco(fn):
        n = name or fn.__name__.removeprefix("test_").replace("_", "-")
        if n in TESTS:
            raise RuntimeError(f"duplicate test {n}")
        TESTS[n] = (fn, setup_args)
        return fn
    return deco


def eq(actual, expected, what=""):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}" if what
                             else f"expected {expected!r}, got {actual!r}")


# ====================================================================== attestation core
# Helpers of test_attest.py and test_sync.py (the attestation core: documents, Sync, the
# keystore). Additions only: nothing above uses them.

import base64  # noqa: E402
import datetime  # noqa: E402

ERROR_PREFIX = "org.azshci.Attestation1.Error."
METADATA_DOMAIN = "metadata.azshci.local"
DOC_TIME_FORMAT = "%m/%d/%y %H:%M:%S -0000"


def attest(h, transport, peer, nonce, api_version=None, user=TEST_FRONTEND_USER):
    """Attest (or AttestForVersion when api_version is given) as a member of azshci-frontend,
    through busctl; returns the response body string."""
    if api_version is None:
        return h.call("Attest", "sss", transport, peer, nonce, user=user)[0]
    return h.call("AttestForVersion", "ssss", transport, peer, nonce, api_version, user=user)[0]


def attest_error(h, name, transport, peer, nonce, api_version=None, contains=(), user=TEST_FRONTEND_USER):
    """Attest/AttestForVersion that must fail with error name (short names get the project's
    prefix); returns the CallError."""
    if "." not in name:
        name = ERROR_PREFIX + name
    args = [gvariant_str(transport), gvariant_str(peer), gvariant_str(nonce)]
    if api_version is None:
        return h.expect_error(name, "Attest", args, contains=contains, user=user)
    return h.expect_error(name, "AttestForVersion", args + [gvariant_str(api_version)], contains=contains,
                          user=user)


def direct_client(h, connections, peer, nonce, user=TEST_FRONTEND_USER):
    """tests/integration/direct-gdbus-client on the service's frontend socket: (exit code,
    {"reply": document, "error": "NAME: MESSAGE", "connections": ..., ...})."""
    tool = os.path.join(h.builddir, "tests", "integration", "direct-gdbus-client")
    if not os.access(tool, os.X_OK):
        raise AssertionError(f"{tool} is missing: build the project first")
    p = h.run([tool, h.frontend_socket, str(connections), "vsock", str(peer), nonce], user=user, check=False,
              timeout=connections * 6 + DEFAULT_TIMEOUT)
    out = {}
    for line in p.stdout.splitlines():
        key, _, rest = line.partition(" ")
        if key in ("reply", "error"):
            out.setdefault(key, rest)
        elif line.startswith("connections="):
            out.update(kv.split("=") for kv in line.split())
        else:
            out.setdefault("other", []).append(line)
    if p.stderr:
        out["stderr"] = p.stderr
    return p.returncode, out


def trust_anchor_file(h, name="ca.pem", user=TEST_USER):
    """The trust anchor from GetTrustAnchor (as an unprivileged user: it is public),
    written to tmp/name. The only way the tests obtain the root they verify against."""
    pem = h.call("GetTrustAnchor", user=user)[0]
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise AssertionError(f"GetTrustAnchor returned no certificate: {pem[:200]!r}")
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        f.write(pem)
    os.chmod(path, 0o644)
    return path


def _doc_files(h, doc):
    """Writes the response body and its decoded DER PKCS#7 to fresh files in tmp."""
    h.doc_files_count = getattr(h, "doc_files_count", 0) + 1
    base = os.path.join(h.tmp, f"doc{h.doc_files_count}")
    with open(base + ".json", "w") as f:
        f.write(doc)
    body = json.loads(doc)
    with open(base + ".der", "wb") as f:
        f.write(base64.b64decode(body["signature"], validate=True))
    os.chmod(base + ".json", 0o644)
    os.chmod(base + ".der", 0o644)
    return base + ".json", base + ".der"


def azshci_attest_verify(h, doc, *args, check=True, env=None):
    """`client/azshci-attest verify ARGS FILE` as an unprivileged user; returns the process."""
    tool = os.path.join(h.builddir, "client", "azshci-attest")
    if not os.access(tool, os.X_OK):
        raise HarnessError(f"{tool} is missing")
    path, _ = _doc_files(h, doc)
    return h.run([tool, "verify", *args, path], user=TEST_USER, check=check, env=env)


def openssl_smime_verify(h, doc, ca, check=True, env=None):
    """Plain `openssl smime -verify -inform DER -CAfile ca`; returns the process (stdout = the
    signed content)."""
    _, der = _doc_files(h, doc)
    return h.run(["openssl", "smime", "-verify", "-inform", "DER", "-in", der, "-CAfile", ca],
                 user=TEST_USER, check=check, env=env)


def verify_document(h, doc, ca, nonce=None, vm_id=None, domain=METADATA_DOMAIN, env=None):
    """Verifies a response body twice, with azshci-attest (chain to ca, SAN under domain,
    nonce and vmId when given, time window) and with openssl smime; both must agree on the
    signed content. Returns the payload exactly as signed (str)."""
    body = json.loads(doc)
    eq(list(body), ["encoding", "signature"], "response body keys")
    eq(body["encoding"], "pkcs7", "response encoding")
    args = ["--json", f"--ca={ca}"]
    if domain:
        args.append(f"--metadata-domain={domain}")
    if nonce is not None:
        args.append(f"--nonce={nonce}")
    if vm_id is not None:
        args.append(f"--vm-id={vm_id}")
    ours = azshci_attest_verify(h, doc, *args, env=env).stdout
    theirs = openssl_smime_verify(h, doc, ca, env=env).stdout
    if ours.rstrip("\n") != theirs:
        raise AssertionError(f"azshci-attest and openssl disagree on the payload:\n{ours!r}\n{theirs!r}")
    return theirs


def parse_doc_time(s):
    return datetime.datetime.strptime(s, DOC_TIME_FORMAT).replace(tzinfo=datetime.timezone.utc).timestamp()


def document_certs(h, doc):
    """The certificates embedded in a document, as PEM blocks (openssl pkcs7 -print_certs)."""
    _, der = _doc_files(h, doc)
    out = h.run(["openssl", "pkcs7", "-inform", "DER", "-in", der, "-print_certs"]).stdout
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)


def cert_field(h, pem, *opts):
    """`openssl x509 -noout OPTS` of one PEM certificate, stdout stripped."""
    return h.run(["openssl", "x509", "-noout", *opts], input=pem).stdout.strip()


def keystore_identity(h):
    """(key PEM, certificate PEM, chain PEMs) of <state>/keystore/identity.pem."""
    with open(os.path.join(h.state_dir, "keystore", "identity.pem")) as f:
        text = f.read()
    keys = re.findall(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----", text, re.S)
    certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    if len(keys) != 1 or not certs:
        raise AssertionError(f"identity.pem holds {len(keys)} key(s) and {len(certs)} certificate(s)")
    return keys[0] + "\n", certs[0] + "\n", [c + "\n" for c in certs[1:]]


def public_key_of(h, pem, is_key):
    """The SubjectPublicKeyInfo PEM of a private key or a certificate, by openssl."""
    if is_key:
        return h.run(["openssl", "pkey", "-pubout"], input=pem).stdout
    return h.run(["openssl", "x509", "-noout", "-pubkey"], input=pem).stdout


def log_count(h, text):
    return h.service_log().count(text)


def wait_log_count(h, text, count, timeout=DEFAULT_TIMEOUT):
    """Polls the service log until text occurs at least count times."""
    for _ in deadline_loop(timeout, f"{count}x {text!r} in the service log"):
        if log_count(h, text) >= count:
            return
        if h.service_proc and h.service_proc.poll() is not None:
            raise HarnessError(f"the service exited with {h.service_proc.returncode}")


def local_ca_issue(h, name, not_before, not_after, dns="node1." + METADATA_DOMAIN):
    """A fresh RSA key and a certificate for it issued with plain `openssl ca` by the
    service's embedded CA (its root key and certificate in <state>/ca/root.pem), valid from
    not_before to not_after (Unix seconds), with the extensions of the local issuer's leaves.
    Returns (key path, cert path), readable by the service user (for --import-key/-cert).
    This is how the tests get a certificate that really expires a few seconds later: the
    configuration cannot ask for less than a day, and libfaketime does not work with sd-event
    (0.9.10 shifts absolute timerfd values, which breaks the bus loop's immediate wake-ups)."""
    d = os.path.join(h.tmp, f"issue-{name}")
    os.makedirs(d)
    pw = pwd.getpwnam(SERVICE_USER)
    root = os.path.join(h.state_dir, "ca", "root.pem")
    key, csr, cert, conf = (os.path.join(d, f) for f in ("key.pem", "req.pem", "cert.pem", "ca.cnf"))
    with open(os.path.join(d, "index.txt"), "w"):
        pass
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("5A" + os.urandom(11).hex().upper() + "\n")   # even length, positive
    with open(conf, "w") as f:
        f.write(f"[ca]\ndefault_ca = c\n[c]\ndatabase = {d}/index.txt\nnew_certs_dir = {d}\n"
                f"serial = {d}/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                "[p]\ncommonName = supplied\n"
                "[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                "extendedKeyUsage = serverAuth,clientAuth,emailProtection\n"
                "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
                f"subjectAltName = DNS:{dns}\n")
    fmt = "%Y%m%d%H%M%SZ"
    h.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
    h.run(["openssl", "req", "-new", "-key", key, "-subj", f"/CN={dns}", "-out", csr])
    h.run(["openssl", "ca", "-batch", "-config", conf, "-in", csr, "-out", cert, "-keyfile", root, "-cert", root,
           "-startdate", time.strftime(fmt, time.gmtime(not_before)),
           "-enddate", time.strftime(fmt, time.gmtime(not_after)), "-extensions", "ext", "-notext"])
    for f in (key, cert):
        os.chown(f, pw.pw_uid, pw.pw_gid)
        os.chmod(f, 0o600)
    os.chmod(d, 0o755)
    return key, cert


def import_identity(h, key, cert):
    """`azshci-attestd --import-key --import-cert` as the service user (service stopped)."""
    h.run([os.path.join(h.builddir, "service", "azshci-attestd"), "--config", h.config_path,
           "--import-key", key, "--import-cert", cert], user=SERVICE_USER)


def find_test_cmp_ca(h):
    """tests/cmp/test-cmp-ca of the build dir (or $AZSHCI_TEST_CMP_CA); Skip when missing."""
    for p in (os.environ.get("AZSHCI_TEST_CMP_CA"), os.path.join(h.builddir, "tests", "cmp", "test-cmp-ca")):
        if p and os.access(p, os.X_OK):
            return p
    raise Skip("tests/cmp/test-cmp-ca is not built (set AZSHCI_TEST_CMP_CA or build tests/cmp)")


class TestCmpCa:
    """The in-tree CMP test CA on a loopback port, with a CA key made here by openssl (so it
    can be restarted with other options and the same identity)."""

    def __init__(self, h, port=0, ref="host1", secret="s3cret"):
        self.h = h
        self.bin = find_test_cmp_ca(h)
        self.dir = os.path.join(h.tmp, "cmp-ca")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.cert = os.path.join(self.dir, "ca-cert.pem")
        self.key = os.path.join(self.dir, "ca-key.pem")
        self.ref, self.secret = ref, secret
        self.port = port
        self.proc = None
        if not os.path.exists(self.cert):
            h.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-keyout", self.key, "-out", self.cert, "-days", "365", "-subj", "/CN=azshci test CMP CA",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
            os.chmod(self.cert, 0o644)

    def start(self, *extra, netns=None):
        """netns: run it in that network namespace (with --address=... in extra to listen
        where the services there reach it)."""
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        log = open(os.path.join(self.h.tmp, "cmp-ca.log"), "a")
        log.write(f"=== starting test-cmp-ca {' '.join(extra)} at {time.strftime('%T')}\n")
        log.flush()
        self.proc = subprocess.Popen(
            [*(["ip", "netns", "exec", netns] if netns else []),
             self.bin, f"--port={self.port}", f"--port-file={port_file}", f"--ca-cert={self.cert}",
             f"--ca-key={self.key}", f"--ref={self.ref}", f"--secret={self.secret}", "--verbose", *extra],
            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        for _ in deadline_loop(DEFAULT_TIMEOUT, "test-cmp-ca to listen"):
            if self.proc.poll() is not None:
                raise HarnessError(f"test-cmp-ca exited with {self.proc.returncode}: see cmp-ca.log")
            if os.path.exists(port_file):
                with open(port_file) as f:
                    self.port = int(f.read().strip())
                return self

    def stop(self):
        if self.proc:
            Harness._terminate(self.proc)
            self.proc = None

    def issuer_config(self, timeout=30, host="127.0.0.1"):
        return {"type": "cmp", "server": f"http://{host}:{self.port}/pkix/", "trustAnchor": self.cert,
                "reference": self.ref, "secret": self.secret, "timeoutSeconds": timeout}

    def log(self):
        with open(os.path.join(self.h.tmp, "cmp-ca.log"), errors="replace") as f:
            return f.read()


# ====================================================================== legacy network (tests/legacy)
# Helpers of tests/legacy (legacy OS support end to end in network namespaces). Additions
# only: nothing above uses them, and Harness itself behaves exactly as before.

class NetnsHarness(Harness):
    """A Harness whose service runs inside an existing network namespace (`ip netns` name
    netns) as user azshci with CAP_NET_ADMIN as its only capability (bounding, inheritable and
    ambient set: what the unit grants with CapabilityBoundingSet=/AmbientCapabilities=
    CAP_NET_ADMIN). It then builds the legacy bridge and firewall in that namespace and never
    touches the host's own network. dbus-daemon, polkitd and the clients stay in the caller's
    namespace: the bus is a unix socket in the file system, which network namespaces do not
    separate. The service's configuration says "legacyNetwork": true."""

    def __init__(self, srcdir, builddir, name="test", verbose=False, netns=None):
        super().__init__(srcdir, builddir, name, verbose)
        if not netns:
            raise HarnessError("NetnsHarness needs a network namespace")
        self.netns = netns

    def write_config(self, **overrides):
        overrides.setdefault("legacyNetwork", True)
        super().write_config(**overrides)

    def service_argv(self, args=()):
        return ["ip", "netns", "exec", self.netns,
                "setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups",
                "--bounding-set=-all,+net_admin", "--inh-caps=-all,+net_admin",
                "--ambient-caps=-all,+net_admin", "--",
                self.service_bin, "--config", self.config_path, "--log-level", "debug", *args]

    def service_where(self):
        return f" in netns {self.netns}"


# ====================================================================== openssl cmp mock server
# Helpers of test_cmp_daemon.py (the service against OpenSSL's `openssl cmp -port` mock
# server). Additions only: nothing above uses them.

def free_tcp_port():
    """A loopback TCP port nobody listens on right now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp_listening(port, proc, what, timeout=DEFAULT_TIMEOUT):
    """Polls connect() to 127.0.0.1:port until it succeeds; fails at once if proc exits."""
    for _ in deadline_loop(timeout, f"{what} to listen on 127.0.0.1:{port}"):
        if proc.poll() is not None:
            raise HarnessError(f"{what} exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return


class OpensslCmpMock:
    """OpenSSL's command-line CMP mock server (`openssl cmp -port`), which answers every
    certificate request with one fixed certificate (-rsp_cert) whatever key was asked for,
    plus the PKI made here with the openssl CLI for it: a root CA (EC P-256, 30 days), a
    responder certificate the CA issued (signs the mock's responses) and `issue()` for
    service keys and certificates.

    How the mock accepts our client: a service holding a valid certificate renews with a KUR
    signed by that certificate (docs/cmp.md), so the mock gets -srv_trusted = the CA (it
    verifies the KUR's signature protection against it) and -srv_cert/-srv_key = the
    responder (it signs its answers, which the service verifies against its trustAnchor,
    the CA, with the responder certificate from extraCerts). No -srv_secret: with one the
    mock would MAC-protect every answer, which a KUR client (no secret in use) refuses."""

    def __init__(self, h):
        self.h = h
        self.dir = os.path.join(h.tmp, "cmp-mock")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.ca_cert, self.ca_key = (os.path.join(self.dir, f) for f in ("ca-cert.pem", "ca-key.pem"))
        self.rsp_cert, self.rsp_key = (os.path.join(self.dir, f) for f in ("rsp-cert.pem", "rsp-key.pem"))
        self.log_path = os.path.join(h.tmp, "cmp-mock.log")
        self.proc = None
        self.port = None
        self.serial = 0x4200
        h.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "30", "-subj", "/CN=azshci mock CMP CA",
               "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
               "-addext", "subjectKeyIdentifier=hash"])
        os.chmod(self.ca_cert, 0o644)
        now = int(time.time())
        self._sign(self._new_key("rsp", "ec"), "/CN=azshci mock CMP responder", self.rsp_cert, now - 60,
                   now + 29 * 86400, "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                   "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n")

    def _new_key(self, name, kind="rsa"):
        path = os.path.join(self.dir, f"{name}-key.pem")
        if kind == "rsa":
            self.h.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path])
        else:
            self.h.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
        return path

    def _sign(self, key, subject, out, not_before, not_after, extensions):
        """`openssl ca` (it takes exact start and end dates, `openssl x509 -req` of 3.0 does
        not) with the CA here: a certificate for key."""
        base = out.removesuffix(".pem")
        csr, conf, db = base + ".csr", base + ".cnf", base + "-db"
        os.makedirs(db)
        with open(os.path.join(db, "index.txt"), "w"):
            pass
        self.serial += 1
        with open(os.path.join(db, "serial"), "w") as f:
            f.write(f"{self.serial:04X}\n")
        with open(conf, "w") as f:
            f.write(f"[ca]\ndefault_ca = c\n[c]\ndatabase = {db}/index.txt\nnew_certs_dir = {db}\n"
                    f"serial = {db}/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                    f"[p]\ncommonName = supplied\n[ext]\n{extensions}")
        fmt = "%Y%m%d%H%M%SZ"
        self.h.run(["openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr])
        self.h.run(["openssl", "ca", "-batch", "-config", conf, "-in", csr, "-out", out, "-keyfile", self.ca_key,
                    "-cert", self.ca_cert, "-startdate", time.strftime(fmt, time.gmtime(not_before)),
                    "-enddate", time.strftime(fmt, time.gmtime(not_after)), "-extensions", "ext", "-notext"])

    def issue(self, name, not_before=None, not_after=None, key=None, dns="node1." + METADATA_DOMAIN):
        """A fresh RSA-2048 key (or the given key file) and a certificate for it from the CA
        here, with the extensions of the local issuer's leaves (service/attestd/issuers/issuer-local.c:
        digitalSignature, EKU incl. emailProtection so `openssl smime -verify` accepts the
        documents, CN and SAN dns), from not_before (default: a minute ago) for 30 days (or
        to not_after). Returns (key path, cert path), owned by the service user, 0600."""
        now = int(time.time())
        not_before = now - 60 if not_before is None else not_before
        not_after = not_before + 30 * 86400 if not_after is None else not_after
        key = key or self._new_key(name)
        cert = os.path.join(self.dir, f"{name}-cert.pem")
        self._sign(key, f"/CN={dns}", cert, not_before, not_after,
                   "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                   "extendedKeyUsage = serverAuth,clientAuth,emailProtection\n"
                   "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
                   f"subjectAltName = DNS:{dns}\n")
        pw = pwd.getpwnam(SERVICE_USER)
        for f in (key, cert):
            os.chown(f, pw.pw_uid, pw.pw_gid)
            os.chmod(f, 0o600)
        return key, cert

    def start(self, rsp_cert):
        """`openssl cmp -port PORT` answering every request with rsp_cert; returns once it
        accepts connections."""
        if self.proc:
            raise HarnessError("the mock CMP server is already running")
        self.port = free_tcp_port()
        log = open(self.log_path, "a")
        log.write(f"=== starting openssl cmp mock server on port {self.port} at {time.strftime('%T')}\n")
        log.flush()
        self.proc = subprocess.Popen(
            ["openssl", "cmp", "-port", str(self.port), "-srv_cert", self.rsp_cert, "-srv_key", self.rsp_key,
             "-srv_trusted", self.ca_cert, "-rsp_cert", rsp_cert, "-rsp_extracerts", self.ca_cert,
             "-rsp_capubs", self.ca_cert, "-verbosity", "7"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=self.dir)
        log.close()
        wait_tcp_listening(self.port, self.proc, "openssl cmp mock server")
        return self

    def stop(self):
        if self.proc:
            Harness._terminate(self.proc)
            self.proc = None

    def url(self):
        return f"http://127.0.0.1:{self.port}/pkix/"

    def issuer_config(self, timeout=30):
        """The "cmp" issuer pointed at the mock. reference/secret are required by the
        configuration; the mock never sees them (KUR is signed, and no -srv_secret)."""
        return {"type": "cmp", "server": self.url(), "trustAnchor": self.ca_cert, "reference": "node1",
                "secret": "unused-by-kur", "timeoutSeconds": timeout}

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()
