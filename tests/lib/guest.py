# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real guest for libvirt's QEMU: a Debian kernel and a small initramfs built here.

    kernel, initrd = build_guest(tmpdir)                    # Skip when a part is missing
    xml = domain_xml("g1", kernel, initrd, serial_log, bridge="azshci-imds0",
                     mac="52:54:00:10:00:01", nonce="abc")

The initramfs holds busybox-static, the virtio-net and virtio-console modules of the installed
kernel (linux-image-amd64), Debian's qemu-guest-agent with its libraries, and an /init that
loads the modules, starts the agent on the org.qemu.guest_agent.0 port, brings eth0 up with a
link-local address, fetches http://169.254.169.253/metadata/attested/document with busybox wget
(retrying: the tap joins the bridge and gets its port only after start), prints the document
between markers on the serial console, then powers off (or stays up with azshci.stay=1, for
the guest agent). TCG only: KVM hangs here (no nested virtualisation).
"""

import glob
import os
import re
import shutil
import subprocess

from harness import Skip

MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
           "failover", "net_failover", "virtio_net", "virtio_console"]
BEGIN, END = "AZSHCI-DOC-BEGIN", "AZSHCI-DOC-END"
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
# What the guest agent reports as the OS (guest-get-osinfo reads os-release): a Linux initramfs
# standing in for a Windows 10 multi-session guest, so that the benefit rules apply to it.
OS_RELEASE = ('PRETTY_NAME="Windows 10 Enterprise multi-session"\nNAME="Windows 10 Enterprise"\n'
              'VERSION_ID="10.0.19045"\nID=azshci-test\n')

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /var/run /usr/bin /usr/sbin /sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net virtio_console; do
    insmod /modules/$m.ko || echo "azshci: insmod $m failed"
done
arg() { sed -n "s/.*azshci\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
for p in /sys/class/virtio-ports/*; do
    [ -e "$p/name" ] && [ "$(cat $p/name)" = org.qemu.guest_agent.0 ] && \
        /usr/sbin/qemu-ga -m virtio-serial -p /dev/${p##*/} -t /tmp -f /tmp/qga.pid >/tmp/qga.log 2>&1 &
done
ip link set lo up
url="http://169.254.169.253/metadata/attested/document?api-version=2018-10-01&nonce=$(arg nonce)"
# One fetch, killed after 8 s: busybox wget has no usable timeout of its own (1.35's static -T
# crashes), and a fetch whose NIC is unplugged under it, or whose SYN meets a port not yet on
# the bridge, would otherwise block for minutes and the guest would print nothing more.
fetch() { timeout -s KILL 8 wget -q -O /tmp/doc --header "Metadata: true" "$url"; }
if [ "$(arg loop)" = 1 ]; then
    # Without a NIC at boot: wait for one (hot-plugged later), then fetch every second and say
    # each time what happened (a document between the markers, or a failure).
    up=0
    while true; do
        if [ -e /sys/class/net/eth0 ]; then
            if [ $up = 0 ]; then
                ip link set eth0 up; ip addr add "$(arg ip)/16" dev eth0; up=1
            fi
            if fetch; then
                echo "AZSHCI-DOC-BEGIN"; cat /tmp/doc; echo; echo "AZSHCI-DOC-END"
            else
                echo "AZSHCI-FETCH-FAILED"
            fi
        else
            up=0
            echo "AZSHCI-NO-NIC"
        fi
        rm -f /tmp/doc
        sleep 1
    done
fi
ip link set eth0 up
ip addr add "$(arg ip)/16" dev eth0
i=0
while [ $i -lt 60 ]; do
    fetch && break
    i=$((i + 1)); sleep 0.5
done
echo "AZSHCI-DOC-BEGIN"
cat /tmp/doc
echo
echo "AZSHCI-DOC-END"
if [ "$(arg stay)" = 1 ]; then
    while true; do sleep 3600; done
fi
poweroff -f
"""


def _kernel():
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    for k in reversed(kernels):
        release = k[len("/boot/vmlinuz-"):]
        if os.path.isdir(f"/lib/modules/{release}"):
            return k, release
    raise Skip("no kernel with modules in /boot and /lib/modules (package linux-image-amd64)")


def _find_module(release, name):
    hits = glob.glob(f"/lib/modules/{release}/kernel/**/{name}.ko", recursive=True)
    if not hits:
        raise AssertionError(f"kernel {release} has no module {name}.ko")
    return hits[0]


def _libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = re.findall(r"(/\S+\.so[^\s]*)", out)
    return sorted(set(libs))


def _copy(src, root):
    dst = os.path.join(root, src.lstrip("/"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(os.path.realpath(src), dst)


def build_guest(tmpdir):
    """Builds the initramfs in tmpdir; returns (kernel, initrd)."""
    for tool in ("/bin/busybox", "/usr/bin/cpio", "/usr/bin/qemu-system-x86_64", "/usr/sbin/qemu-ga"):
        if not os.access(tool, os.X_OK):
            raise Skip(f"{tool} is missing (packages busybox-static, cpio, qemu-system-x86, qemu-guest-agent)")
    p = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True)
    if not {"wget", "timeout"} <= set(p.stdout.split()):
        raise Skip("/bin/busybox is not the static busybox with wget and timeout (package busybox-static)")
    kernel, release = _kernel()
    root = os.path.join(tmpdir, "initramfs")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "modules"))
    os.makedirs(os.path.join(root, "etc"))
    shutil.copy2("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for m in MODULES:
        shutil.copy2(_find_module(release, m), os.path.join(root, "modules", f"{m}.ko"))
    _copy("/usr/sbin/qemu-ga", root)
    for lib in _libraries("/usr/sbin/qemu-ga"):
        _copy(lib, root)
    with open(os.path.join(root, "etc", "os-release"), "w") as f:
        f.write(OS_RELEASE)
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    initrd = os.path.join(tmpdir, "initrd.cpio")
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    with open(initrd, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files.encode(), stdout=out,
                       check=True)
    return kernel, initrd


def domain_xml(name, kernel, initrd, serial_log, bridge, mac, nonce, ip="169.254.10.50", stay=False,
               uuid=None, agent=True, loop=False, uefi=False):
    """A TCG domain booting the test kernel and initramfs, its NIC on bridge (no NIC with bridge
    None). loop: the guest waits for a NIC and fetches every second (read_results). uefi: OVMF
    (a Generation 2 VM), else SeaBIOS."""
    cmdline = (f"console=ttyS0 quiet panic=-1 azshci.nonce={nonce} azshci.ip={ip}" + (" azshci.stay=1" if stay else "")
               + (" azshci.loop=1" if loop else ""))
    agent_xml = ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
                 if agent else "")
    nic_xml = (f"<interface type='bridge'><source bridge='{bridge}'/><mac address='{mac}'/><model type='virtio'/></interface>"
               if bridge else "")
    loader_xml = (f"<loader readonly='yes' type='pflash'>{OVMF_CODE}</loader><nvram template='{OVMF_VARS}'/>"
                  if uefi else "")
    uuid_xml = f"<uuid>{uuid}</uuid>" if uuid else ""
    return f"""<domain type='qemu'>
  <name>{name}</name>{uuid_xml}
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>{loader_xml}
    <kernel>{kernel}</kernel><initrd>{initrd}</initrd><cmdline>{cmdline}</cmdline></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    {nic_xml}
    <serial type='file'><source path='{serial_log}'/><target port='0'/></serial>
    {agent_xml}
  </devices>
</domain>
"""


def read_results(serial_log):
    """What a loop guest printed so far: a list of "doc:<document>", "failed" and "no-nic"."""
    try:
        with open(serial_log, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for m in re.finditer(BEGIN + r"\r?\n(.*?)\r?\n" + END + "|AZSHCI-FETCH-FAILED|AZSHCI-NO-NIC", text, re.S):
        if m.group(0) == "AZSHCI-FETCH-FAILED":
            out.append("failed")
        elif m.group(0) == "AZSHCI-NO-NIC":
            out.append("no-nic")
        else:
            out.append("doc:" + m.group(1).strip())
    return out


def read_document(serial_log):
    """The document the guest printed, or None while it has not."""
    try:
        with open(serial_log, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    m = re.search(BEGIN + r"\r?\n(.*?)\r?\n" + END, text, re.S)
    return m.group(1).strip() if m else None
