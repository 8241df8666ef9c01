# SPDX-License-Identifier: LGPL-2.1-or-later
"""The legacy world of tests/legacy (tests/lib/legacy_env.py: the service in a host network
namespace with the legacy bridge, the HTTP frontend there, a private bus and polkitd) plus a
real, private libvirtd from Debian in that namespace, and the service following it.

    with LibvirtEnv(srcdir, builddir, name="t") as env:       # root only
        env.virsh("define", xml_file)
        path = env.wait_vm(uuid)                               # polls the bus with a deadline
        env.stop_libvirtd(); env.start_libvirtd()

libvirtd (Debian 12 has the monolithic daemon) runs as root in the host namespace inside
`unshare --mount --propagation private`, with private directories bound over /run/libvirt,
/var/lib/libvirt and /etc/libvirt (never the host's), a libvirtd.conf whose sockets need no
authentication (mode 0777: the service runs as user azshci) and a qemu.conf with
stdio_handler "file" (no virtlogd), security_driver "none", user/group root and no cgroups or
namespaces (nothing of systemd's here). Clients reach it at
qemu+unix:///system?socket=<private run dir>/libvirt-sock. Every domain is destroyed and every
QEMU it started is stopped at the end, also on failure.
"""

import json
import os
import signal
import subprocess
import time

import harness
import legacy_env
from harness import HarnessError, Skip, deadline_loop
from legacy_env import sh

LIBVIRTD = "/usr/sbin/libvirtd"
VIRSH = "/usr/bin/virsh"
METADATA_NS = "https://azshci.org/xmlns/libvirt/vm/1"

LIBVIRTD_CONF = """unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0777"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:stderr"
"""

QEMU_CONF = """stdio_handler = "file"
security_driver = "none"
user = "root"
group = "root"
cgroup_controllers = [ ]
namespaces = [ ]
remember_owner = 0
"""


class LibvirtEnv(legacy_env.LegacyEnv):
    """See the module docstring. Attributes beyond LegacyEnv's: uri, libvirt_dir."""

    def __init__(self, srcdir, builddir, name="libvirt", verbose=False):
        super().__init__(srcdir, builddir, name=name, verbose=verbose)
        self.libvirtd = None
        self.libvirt_dir = None
        self.uri = None

    @staticmethod
    def check_environment():
        legacy_env.LegacyEnv.check_environment()
        for tool in (LIBVIRTD, VIRSH, "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"):
            if not os.path.exists(tool):
                raise Skip(f"{tool} is missing (packages libvirt-daemon-driver-qemu, libvirt-clients)")
        try:
            import pwd
            pwd.getpwnam("libvirt-qemu")
        except KeyError:
            raise Skip("user libvirt-qemu is missing: libvirtd needs it (package libvirt-daemon-system)")

    def start(self, start_frontend=True):
        super().start(start_frontend=start_frontend)
        try:
            self.libvirt_dir = os.path.join(self.h.tmp, "libvirt")
            for d in ("run", "lib", "etc", "domains"):
                os.makedirs(os.path.join(self.libvirt_dir, d), exist_ok=True)
            with open(os.path.join(self.libvirt_dir, "etc", "libvirtd.conf"), "w") as f:
                f.write(LIBVIRTD_CONF)
            with open(os.path.join(self.libvirt_dir, "etc", "qemu.conf"), "w") as f:
                f.write(QEMU_CONF)
            self.uri = f"qemu+unix:///system?socket={self.libvirt_dir}/run/libvirt-sock"
            self.start_libvirtd()
            # The service again, now following libvirt.
            self.h.stop_service()
            self.h.write_config(inventory={"provider": "libvirt", "uri": self.uri})
            self.h.start_service()
        except BaseException:
            self.close(failed=True)
            raise

    # ------------------------------------------------------------------ libvirtd

    def start_libvirtd(self):
        if self.libvirtd:
            raise HarnessError("libvirtd is already running")
        os.makedirs("/run/libvirt", exist_ok=True)   # the mount point of the private run dir
        d = self.libvirt_dir
        script = (f"mount --bind {d}/run /run/libvirt && mount --bind {d}/lib /var/lib/libvirt && "
                  f"mount --bind {d}/etc /etc/libvirt && exec {LIBVIRTD} --pid-file /run/libvirt/libvirtd.pid")
        # (the default pid file, /run/libvirtd.pid, would be shared with any other libvirtd)
        log = open(os.path.join(d, "libvirtd.log"), "a")
        log.write(f"=== starting libvirtd at {time.strftime('%T')}\n")
        log.flush()
        self.libvirtd = subprocess.Popen(
            ["ip", "netns", "exec", self.host_ns, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", script], stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd="/",
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        log.close()
        for _ in deadline_loop(30, "libvirtd to answer"):
            if self.libvirtd.poll() is not None:
                raise HarnessError(f"libvirtd exited with {self.libvirtd.returncode}: {self.libvirtd_log()}")
            if os.path.exists(f"{d}/run/libvirt-sock") and self.virsh("version", check=False).returncode == 0:
                break

    def stop_libvirtd(self):
        """Stops libvirtd (SIGTERM); the domains it runs keep running, as with systemctl stop."""
        if self.libvirtd:
            harness.Harness._terminate(self.libvirtd)
            self.libvirtd = None

    def libvirtd_log(self):
        with open(os.path.join(self.libvirt_dir, "libvirtd.log"), errors="replace") as f:
            return f.read()

    def virsh(self, *args, check=True, timeout=30):
        return sh([VIRSH, "-q", "-c", self.uri, *args], check=check, timeout=timeout)

    def define(self, name, xml):
        """Writes xml to the private directory and defines it; returns the domain's UUID."""
        path = os.path.join(self.libvirt_dir, "domains", f"{name}.xml")
        with open(path, "w") as f:
            f.write(xml)
        self.virsh("define", path)
        return self.virsh("domuuid", name).stdout.strip()

    def set_metadata(self, domain, xml):
        self.virsh("metadata", domain, "--uri", METADATA_NS, "--key", "azshci", "--set", xml)

    def _qemu_pids(self):
        pids = []
        piddir = os.path.join(self.libvirt_dir or "/nonexistent", "run", "qemu")
        for f in os.listdir(piddir) if os.path.isdir(piddir) else []:
            if f.endswith(".pid"):
                try:
                    pids.append(int(open(os.path.join(piddir, f)).read().strip()))
                except (OSError, ValueError):
                    pass
        return pids

    def close(self, failed=False):
        try:
            if self.libvirtd and self.libvirtd.poll() is None:
                p = self.virsh("list", "--name", check=False)
                for name in p.stdout.split():
                    self.virsh("destroy", name, check=False)
            # QEMUs libvirt started outlive it: stop those it recorded, by their pid.
            for pid in self._qemu_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.stop_libvirtd()
            if failed and self.libvirt_dir and os.path.exists(os.path.join(self.libvirt_dir, "libvirtd.log")):
                print(f"----- libvirtd log -----\n{self.libvirtd_log().rstrip()}")
        finally:
            super().close(failed=failed)

    # ------------------------------------------------------------------ the bus

    def vm_props(self, vm_id):
        """The VM's properties (dict), or None when there is no such object."""
        path = harness.vm_path(vm_id)
        objs = self.h.managed_objects()
        if path not in objs:
            return None
        return objs[path][harness.IFACE_VM]

    def wait_vm(self, vm_id, timeout=harness.DEFAULT_TIMEOUT, what="", **expected):
        """Polls until the VM exists with the expected property values; returns its properties."""
        props = None
        for _ in deadline_loop(timeout, f"VM {vm_id} {what or expected}"):
            props = self.vm_props(vm_id)
            if props is not None and all(props.get(k) == v for k, v in expected.items()):
                return props
        return props

    def wait_vm_gone(self, vm_id, timeout=harness.DEFAULT_TIMEOUT):
        for _ in deadline_loop(timeout, f"VM {vm_id} to disappear"):
            if self.vm_props(vm_id) is None:
                return

    def inventory_stale(self):
        return self.h.get_property("InventoryStale")
