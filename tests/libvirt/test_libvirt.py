# SPDX-License-Identifier: LGPL-2.1-or-later
"""The libvirt inventory end to end (issue 13): a real private libvirtd from Debian, domains
changed with libvirt's own virsh, the real service following it on a private bus, and real
QEMU guests (TCG) fetching their documents over the legacy bridge through libvirt's taps.
Every case gets a fresh LibvirtEnv (libvirt_env.py); README.md here says what each proves."""

import json
import os
import signal
import time

import guest
import harness
from harness import HarnessError, deadline_loop, eq
from legacy_env import BRIDGE, sh

TESTS = {}


def case(name):
    def deco(fn):
        TESTS[name] = fn
        return fn
    return deco


def plain_domain(name, extra_os="", devices="", uuid=None):
    """A domain that is only defined, never started."""
    uuid_xml = f"<uuid>{uuid}</uuid>" if uuid else ""
    return f"""<domain type='qemu'><name>{name}</name>{uuid_xml}<memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type>{extra_os}</os><features><acpi/></features>
  <devices>{devices}</devices></domain>"""


def legacy_hash(key, vm_id):
    """The service's fixed hash of the legacy NIC (virt-domain.c), computed here independently:
    FNV-1a 64 of key + the VM id, then the final avalanche."""
    h = 0xcbf29ce484222325
    for b in f"{key}{vm_id}".encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    for mul in (0xff51afd7ed558ccd, 0xc4ceb9fe1a85ec53):
        h ^= h >> 33
        h = (h * mul) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 33)


def legacy_tap(vm_id):
    """The tap name the service gives a VM's legacy NIC: "azg" and 48 bits of the hash."""
    return "azg%012x" % (legacy_hash("azshci-legacy-tap\n", vm_id) >> 16)


def legacy_mac(vm_id):
    """The legacy NIC's MAC: the hash's bytes little-endian, first octet locally administered
    unicast."""
    h = legacy_hash("azshci-legacy-nic\n", vm_id)
    mac = [(h >> (8 * i)) & 0xFF for i in range(6)]
    mac[0] = (mac[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in mac)


def boot_domain(env, name, nonce="n", mac="52:54:00:10:00:01", stay=False, agent=False, serial=None, uuid=None,
                bridge=BRIDGE):
    kernel, initrd = guest.build_guest(env.libvirt_dir)
    serial = serial or os.path.join(env.libvirt_dir, "domains", f"{name}.serial")
    return guest.domain_xml(name, kernel, initrd, serial, bridge, mac, nonce, stay=stay, agent=agent, uuid=uuid), serial


def wait_document(serial, timeout=90):
    for _ in deadline_loop(timeout, f"the guest's document on {serial}", interval=0.2):
        doc = guest.read_document(serial)
        if doc is not None:
            if not doc:
                with open(serial, errors="replace") as f:
                    raise AssertionError(f"the guest fetched nothing:\n{f.read()[-3000:]}")
            return doc


def signal_paths(mon, mark, member):
    """The object paths of the ObjectManager's InterfacesAdded/Removed signals since mark."""
    return [s["payload"]["data"][0] for s in mon.signals(since=mark, member=member)]


@case("lifecycle")
def test_lifecycle(env):
    """define → start → suspend → resume → destroy → domrename → undefine, each followed on the
    bus; a defined domain appears within 1 s with no admin action. Its own NIC on the legacy
    bridge is no legacy NIC; granted, it gets the service's, whose tap (the name the service
    gave it) is LegacyInterface only while the domain runs."""
    env.enable_legacy(True)   # the bridge the domain's NIC joins at start
    mon = env.h.monitor()
    mark = mon.mark()
    xml, _ = boot_domain(env, "life1", stay=True)
    t0 = time.monotonic()
    vm_id = env.define("life1", xml)
    props = env.wait_vm(vm_id, timeout=1.0, Name="life1")
    print(f"defined domain on the bus after {time.monotonic() - t0:.2f}s")
    for k, v in dict(Source="libvirt", PowerState="Off", Generation=1, GuestServiceInterface=False,
                     VsockCid=0, DataExchange=False, LegacyMac="", LegacyInterface="",
                     Status="Unknown").items():
        eq(props[k], v, k)
    mon.sync()
    eq(signal_paths(mon, mark, "InterfacesAdded"), [harness.vm_path(vm_id)], "InterfacesAdded")
    env.set_access(vm_id, True)
    env.wait_vm(vm_id, LegacyMac=legacy_mac(vm_id), LegacyInterface="", what="the service's NIC while off")

    env.virsh("start", "life1")
    env.wait_vm(vm_id, PowerState="Running", LegacyInterface=legacy_tap(vm_id), what="running with its tap")
    harness.wait_log_count(env.h, f"Attached VM 'life1' ({legacy_tap(vm_id)},", 1)
    env.virsh("suspend", "life1")
    env.wait_vm(vm_id, PowerState="Paused")
    env.virsh("resume", "life1")
    env.wait_vm(vm_id, PowerState="Running")
    env.virsh("destroy", "life1")
    env.wait_vm(vm_id, PowerState="Off", LegacyInterface="")
    env.virsh("domrename", "life1", "life2")
    env.wait_vm(vm_id, Name="life2")
    mark = mon.mark()
    env.virsh("undefine", "life2")
    env.wait_vm_gone(vm_id)
    mon.sync()
    eq(signal_paths(mon, mark, "InterfacesRemoved"), [harness.vm_path(vm_id)], "InterfacesRemoved")


@case("vsock-firmware")
def test_vsock_firmware(env):
    """Defined (not started: no vhost-vsock here) domains: a virtio <vsock> is the guest
    service interface; an auto CID has no address until libvirt assigns one at start, and a
    static one in the definition of a domain that is off is no VsockCid either (only a running
    domain's CID identifies it); a pflash loader or firmware='efi' is generation 2."""
    auto = env.define("vs-auto", plain_domain("vs-auto", devices="<vsock model='virtio'><cid auto='yes'/></vsock>"))
    static = env.define("vs-static", plain_domain(
        "vs-static", devices="<vsock model='virtio'><cid auto='no' address='77'/></vsock>"))
    uefi = env.define("uefi", plain_domain(
        "uefi", extra_os="<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>"))
    none = env.define("novsock", plain_domain("novsock"))
    eq([env.wait_vm(auto)[k] for k in ("GuestServiceInterface", "VsockCid", "Generation")], [True, 0, 1], "vs-auto")
    eq([env.wait_vm(static)[k] for k in ("GuestServiceInterface", "VsockCid")], [True, 0], "vs-static")
    eq([env.wait_vm(uefi)[k] for k in ("GuestServiceInterface", "Generation")], [False, 2], "uefi")
    eq([env.wait_vm(none)[k] for k in ("GuestServiceInterface", "VsockCid", "Generation")], [False, 0, 1], "novsock")
    # libvirt says what the service says: the inactive XML of an auto CID has no address.
    xml = env.virsh("dumpxml", "vs-auto").stdout
    if "<cid auto='yes'/>" not in xml:
        raise AssertionError(f"libvirt's XML of an auto CID changed:\n{xml}")
    # A device added to the persistent config is followed (device events are for live
    # devices; redefining is a lifecycle event).
    env.define("novsock", plain_domain("novsock", uuid=none,
                                       devices="<vsock model='virtio'><cid auto='no' address='78'/></vsock>"))
    env.wait_vm(none, GuestServiceInterface=True, VsockCid=0)


@case("metadata")
def test_metadata(env):
    """The project's <metadata> element, set and removed with virsh metadata, is followed."""
    vm_id = env.define("md", plain_domain("md"))
    env.wait_vm(vm_id, Sku="")
    env.set_metadata("md", "<vm><sqlVersion>12.0.6024</sqlVersion><arcAgentVersion>1.40</arcAgentVersion>"
                           "<sku>2012-R2-Datacenter</sku><licenseType>Windows_Server</licenseType>"
                           "<osName>Windows Server 2012 R2 Datacenter</osName><osVersion>6.3.9600</osVersion>"
                           "<updateRevision>21620</updateRevision></vm>")
    props = env.wait_vm(vm_id, Sku="2012-R2-Datacenter")
    eq({k: props[k] for k in ("SqlVersion", "ArcAgentVersion", "LicenseType", "OsName", "OsVersion")},
       {"SqlVersion": "12.0.6024", "ArcAgentVersion": "1.40", "LicenseType": "Windows_Server",
        "OsName": "Windows Server 2012 R2 Datacenter", "OsVersion": "6.3.9600.21620"}, "metadata facts")
    # No agent: the seed's Unknown, asking for data exchange.
    eq((props["Status"], props["RecommendedActions"]), ("Unknown", ["EnableDataExchange"]), "status")
    # A bad value is left out (and logged), the rest kept.
    env.set_metadata("md", "<vm><sqlVersion>twelve</sqlVersion><sku>Standard</sku></vm>")
    props = env.wait_vm(vm_id, Sku="Standard")
    eq((props["SqlVersion"], props["OsName"]), ("", ""), "after the second metadata")
    harness.wait_log_count(env.h, "metadata: VM property 'SqlVersion' must be a dotted numeric version", 1)
    env.virsh("metadata", "md", "--uri", "https://azshci.org/xmlns/libvirt/vm/1", "--remove")
    env.wait_vm(vm_id, Sku="")


def attested_run(env, vm_id, name, nonce, serial):
    env.virsh("start", name)
    doc = wait_document(serial)
    payload = env.verify(doc, nonce=nonce, vm_id=vm_id)
    eq((payload["vmId"], payload["nonce"]), (vm_id, nonce), "the guest's document")
    return payload


@case("guest-document")
def test_guest_document(env):
    """A real QEMU guest (TCG) defined through libvirt without NIC, granted legacy access (the
    service adds its NIC), fetches its document over the legacy bridge through the tap libvirt
    made under the service's name; verified with openssl smime and azshci-attest verify --vm-id
    <domain UUID>. After the guest powers off and starts again (a new tap), it fetches again:
    the re-created tap was attached."""
    env.enable_legacy(True)
    serial1 = os.path.join(env.libvirt_dir, "domains", "g-1.serial")
    xml, _ = boot_domain(env, "g", nonce="first-run", serial=serial1, bridge=None)
    vm_id = env.define("g", xml)
    env.wait_vm(vm_id)
    env.set_access(vm_id, True)
    tap = legacy_tap(vm_id)
    t0 = time.monotonic()
    attested_run(env, vm_id, "g", "first-run", serial1)
    print(f"first document verified {time.monotonic() - t0:.1f}s after virsh start")
    # The service made libvirt's tap an isolated port bound to the guest's MAC.
    harness.wait_log_count(env.h, f"Attached VM 'g' ({tap},", 1)
    # poweroff -f in the guest: libvirt destroys it and removes the tap.
    env.wait_vm(vm_id, timeout=60, PowerState="Off", LegacyInterface="")
    serial2 = os.path.join(env.libvirt_dir, "domains", "g-2.serial")
    xml, _ = boot_domain(env, "g", nonce="second-run", serial=serial2, uuid=vm_id, bridge=None)
    env.define("g", xml)
    # The new definition has no NIC: granting again repairs it.
    if "g: repaired: its missing or changed legacy NIC" not in env.h.ctl("vm-access", "g", "on").stdout:
        raise AssertionError("g's NIC was not repaired")
    attested_run(env, vm_id, "g", "second-run", serial2)
    harness.wait_log_count(env.h, f"Attached VM 'g' ({tap},", 2)
    eq(env.vm_props(vm_id)["LegacyAccess"], True, "LegacyAccess kept across runs")


@case("guest-agent")
def test_guest_agent(env):
    """Debian's qemu-guest-agent inside the test guest: DataExchange and the OS facts come from
    the real agent through libvirt (virDomainGetGuestInfo). The guest's os-release plays a
    Windows 10 multi-session guest so that the benefit rules apply: InstallUpdates until the
    update revision (metadata) reaches the rule's minimum, then ActiveBenefits; without the
    agent, Unknown with EnableDataExchange."""
    env.enable_legacy(True)
    xml, _ = boot_domain(env, "ga", stay=True, agent=True)
    vm_id = env.define("ga", xml)
    env.wait_vm(vm_id)
    env.set_access(vm_id, True)
    env.virsh("start", "ga")
    props = env.wait_vm(vm_id, timeout=90, DataExchange=True, OsVersion="10.0.19045", what="the agent's OS facts")
    eq(props["OsName"], "Windows 10 Enterprise multi-session", "OsName")
    eq((props["Status"], props["RecommendedActions"]), ("InactiveBenefits", ["InstallUpdates"]), "before the update")
    eq(props["RequiredUpdates"], ["KB5036892 (OsVersion 10.0.19045.4291)"], "RequiredUpdates")
    env.set_metadata("ga", "<vm><updateRevision>4291</updateRevision></vm>")
    props = env.wait_vm(vm_id, OsVersion="10.0.19045.4291")
    eq((props["Status"], props["RecommendedActions"], props["RequiredUpdates"]), ("ActiveBenefits", [], []),
       "after the update")
    env.virsh("destroy", "ga")
    props = env.wait_vm(vm_id, PowerState="Off", DataExchange=False)
    eq((props["Status"], props["RecommendedActions"]), ("Unknown", ["EnableDataExchange"]), "without the agent")
    eq(props["OsName"], "Windows 10 Enterprise multi-session", "the last observed OsName is kept")


# A guest agent that answers guest-sync (libvirt's handshake before each command) and nothing
# else: a hung agent as libvirt sees it. It replaces Debian's qemu-ga in the test guest's /init
# (a mock of the agent only: the guest, QEMU, its virtio port and libvirt are real).
STALL_AGENT = r"""stall_agent() {
    exec 3<>"$1"
    while true; do   # read sees end of file while the host side is not connected
        while read -r line <&3; do
            echo "azshci-agent: $line"
            case "$line" in
            *guest-sync*) echo "{\"return\": $(echo "$line" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')}" >&3 ;;
            esac
        done
        sleep 0.2
    done
}
"""
QEMU_GA_LINE = "/usr/sbin/qemu-ga -m virtio-serial -p /dev/${p##*/} -t /tmp -f /tmp/qga.pid >/tmp/qga.log 2>&1 &"


@case("agent-stall")
def test_agent_stall(env):
    """A guest agent that answers guest-sync but never guest-get-osinfo: once libvirt has sent
    the query, every bus call is answered within 10 s (the service's agent timeout is 5 s;
    before the fix the service hung for good); DataExchange follows the channel, OsName stays
    empty; the failed query is logged once and backs off: the next events (a metadata change,
    on the bus within 3 s) do not ask the agent again (the guest saw one guest-get-osinfo)."""
    env.enable_legacy(True)
    if QEMU_GA_LINE not in guest.INIT:
        raise AssertionError("tests/lib/guest.py no longer starts qemu-ga as this test expects")
    saved = guest.INIT
    guest.INIT = saved.replace("for p in /sys/class/virtio-ports/*; do",
                               STALL_AGENT + "for p in /sys/class/virtio-ports/*; do").replace(
        QEMU_GA_LINE, "stall_agent /dev/${p##*/} &")
    try:
        xml, serial = boot_domain(env, "stall", stay=True, agent=True)
    finally:
        guest.INIT = saved
    vm_id = env.define("stall", xml)
    env.wait_vm(vm_id)
    env.virsh("start", "stall")
    asked = 'azshci-agent: {"execute":"guest-get-osinfo"}'

    def times_asked():
        with open(serial, errors="replace") as f:
            return f.read().count(asked)

    for _ in deadline_loop(90, "the agent to be asked for its OS info", interval=0.2):
        if times_asked() >= 1:
            break
    slowest, end = 0.0, time.monotonic() + 8
    while time.monotonic() < end:
        t0 = time.monotonic()
        env.h.get_property("InventoryStale")
        slowest = max(slowest, time.monotonic() - t0)
    print(f"slowest bus call while the agent stalled: {slowest:.2f}s")
    if slowest >= 10:
        raise AssertionError(f"a bus call took {slowest:.1f}s while the agent stalled")
    props = env.wait_vm(vm_id, DataExchange=True, PowerState="Running")
    eq(props["OsName"], "", "OsName of the silent agent")
    env.set_metadata("stall", "<vm><sku>after-stall</sku></vm>")
    env.wait_vm(vm_id, timeout=3, Sku="after-stall", what="the metadata change without asking the agent")
    eq(times_asked(), 1, "guest-get-osinfo queries the guest saw")
    eq(harness.log_count(env.h, "the guest agent gave no OS info (asked again in 5 min, or when it reconnects)"), 1,
       "failed agent queries logged")


@case("reconnect")
def test_reconnect(env):
    """libvirtd stopped: the inventory is kept and marked stale; domains change while it is
    down (their persistent configs added and removed); libvirtd started again: the service
    reconnects and converges, and the inventory is fresh again. A new domain whose legacy MAC a
    VM registered by hand already has is in the inventory, and neither VM keeps that MAC (nobody
    can tell which of them it identifies)."""
    eq(env.inventory_stale(), False, "InventoryStale while connected")
    cid_a = "5a1e0013-0a0a-4a0a-8a0a-0000000000a0"
    squatter = "5a1e0013-0f0f-4f0f-8f0f-00000000000f"
    env.h.register_vm(Id=squatter, Name="squatter", LegacyMac=legacy_mac(cid_a))
    a = env.define("keep", plain_domain("keep"))
    b = env.define("gone", plain_domain("gone"))
    env.wait_vm(a)
    env.wait_vm(b)
    env.stop_libvirtd()
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "InventoryStale to become true"):
        if env.inventory_stale() is True:
            break
    eq(env.vm_props(a) is not None and env.vm_props(b) is not None, True, "VMs kept while stale")
    qemu_dir = os.path.join(env.libvirt_dir, "etc", "qemu")
    os.unlink(os.path.join(qemu_dir, "gone.xml"))
    c = "5a1e0013-0c0c-4c0c-8c0c-00000000000c"
    with open(os.path.join(qemu_dir, "new.xml"), "w") as f:
        f.write(plain_domain("new", uuid=c))
    # Two new domains with the same static CID: while they are off neither has it (only a
    # running domain's CID identifies it), so both are in the inventory.
    vsock = "<vsock model='virtio'><cid auto='no' address='90'/></vsock>"
    nic = (f"<interface type='ethernet'><mac address='{legacy_mac(cid_a)}'/><target dev='{legacy_tap(cid_a)}'/>"
           "<model type='virtio'/><alias name='ua-AZSHCI_GUEST-IMDS_DO_NOT_MODIFY'/></interface>")
    for name, uuid, devices in (("cid-a", cid_a, vsock + nic), ("cid-b", "5a1e0013-0b0b-4b0b-8b0b-0000000000b0", vsock)):
        with open(os.path.join(qemu_dir, f"{name}.xml"), "w") as f:
            f.write(plain_domain(name, uuid=uuid, devices=devices))
    env.start_libvirtd()
    for _ in deadline_loop(60, "InventoryStale to become false"):
        if env.inventory_stale() is False:
            break
    env.wait_vm(c, Name="new")
    env.wait_vm_gone(b)
    eq(env.vm_props(a)["Name"], "keep", "the domain that stayed")
    harness.wait_log_count(env.h, "libvirt inventory follows", 2)
    eq([env.wait_vm(i)["VsockCid"] for i in (cid_a, "5a1e0013-0b0b-4b0b-8b0b-0000000000b0")], [0, 0],
       "VsockCid of cid-a, cid-b")
    eq((env.vm_props(cid_a)["LegacyMac"], env.vm_props(squatter)["LegacyMac"]), ("", ""),
       "the LegacyMac of cid-a and of the VM by hand that had it")
    harness.wait_log_count(env.h, "Domain 'cid-a' (5a1e0013-0a0a-4a0a-8a0a-0000000000a0): its LegacyMac is also VM "
                                  "'squatter''s: neither is identified", 1)
    env.h.restart_service()   # the state written by the reconcile loads
    env.wait_vm(c, Name="new")


@case("stale-mid-reconcile")
def test_stale_mid_reconcile(env):
    """libvirtd gone while the service reconciles (the test build of the service stops itself at
    fault point libvirt-listed, the test stops libvirtd and continues it): InventoryStale stays
    true while the service reconnects: no PropertiesChanged says false (before the fix the
    reconcile's end cleared it until the first failed reconnection)."""
    env.define("one", plain_domain("one"))
    env.h.stop_service()
    binary = os.path.join(env.h.builddir, "service", "azshci-attestd-fault-injection")
    if not os.access(binary, os.X_OK):
        raise AssertionError(f"{binary} is missing: build it (ninja -C BUILDDIR service/azshci-attestd-fault-injection)")
    wrapper = os.path.join(env.h.tmp, "attestd-fault-libvirt-listed")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nAZSHCI_FAULT_STOP=libvirt-listed exec {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    env.h.service_bin = wrapper
    mon = env.h.monitor()
    mark = mon.mark()
    env.h.start_service(wait_ready=False)
    pid = env.h.service_proc.pid
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "the service to stop at libvirt-listed"):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                break
        if env.h.service_proc.poll() is not None:
            raise AssertionError(f"the service exited with {env.h.service_proc.returncode}")
    # Killed: a libvirtd asked to stop would wait for its stopped client.
    env.libvirtd.kill()
    env.libvirtd.wait(timeout=30)
    env.libvirtd = None
    os.kill(pid, signal.SIGCONT)
    # The first reconnection fails (libvirtd is down): stale again in any case, so what shows
    # the defect is a PropertiesChanged saying false before it. (The bus daemon answers the
    # monitor's sync: the service may be stopped at its fault point again by then.)
    harness.wait_log_count(env.h, "is stale: cannot connect", 1)
    mon.sync()
    told = [s["payload"]["data"][1]["InventoryStale"]["data"]
            for s in mon.signals(mark, member="PropertiesChanged", path=harness.BUS_PATH)
            if "InventoryStale" in s["payload"]["data"][1]]
    eq(False in told, False, f"InventoryStale told false while libvirtd was gone (told {told})")
    env.h.kill_service()
    env.h.service_bin = os.path.join(env.h.builddir, "service", "azshci-attestd")


@case("stale-identity")
def test_stale_identity(env):
    """A libvirt VM's CID, tap and Running of the state file are not trusted before libvirt
    answered: with libvirtd down at start the VM keeps its legacy access but has no VsockCid,
    no LegacyInterface and is not Running, Attest for its old CID is UnknownVM and its tap
    (there, as another domain could have it after a reboot) is not put on the bridge; libvirt
    back, its facts are the live XML's."""
    env.enable_legacy(True)
    vm_id = env.define("saved", plain_domain("saved"))
    env.wait_vm(vm_id, Name="saved")
    env.set_access(vm_id, True)
    env.wait_vm(vm_id, LegacyMac=legacy_mac(vm_id), LegacyAccess=True)
    env.h.stop_service()
    env.stop_libvirtd()
    # What the state file would say of the domain had it been running before a reboot.
    path = os.path.join(env.h.state_dir, "state.json")
    with open(path) as f:
        state = json.load(f)
    saved = [vm for vm in state["vms"] if vm["Id"] == vm_id]
    eq(len(saved), 1, "the domain's VM in the state file")
    saved[0].update(VsockCid=77, LegacyInterface=legacy_tap(vm_id), PowerState="Running",
                    GuestServiceInterface=True, DataExchange=True)
    with open(path, "w") as f:
        json.dump(state, f)
    # The tap that name would be: a port the service must not attach on the saved word.
    tap = legacy_tap(vm_id)
    sh(["ip", "-n", env.host_ns, "tuntap", "add", "dev", tap, "mode", "tap"])
    sh(["ip", "-n", env.host_ns, "link", "set", tap, "up"])
    env.h.start_service()
    eq(env.inventory_stale(), True, "InventoryStale with libvirtd down")
    props = env.vm_props(vm_id)
    eq({k: props[k] for k in ("VsockCid", "LegacyInterface", "PowerState", "LegacyAccess", "Source")},
       dict(VsockCid=0, LegacyInterface="", PowerState="Off", LegacyAccess=True, Source="libvirt"),
       "the saved VM before libvirt answered")
    harness.attest_error(env.h, "UnknownVM", "vsock", "77", "n1")
    link = sh(["ip", "-n", env.host_ns, "-o", "link", "show", "dev", tap]).stdout
    eq(f"master {BRIDGE}" in link, False, f"{tap} on {BRIDGE}: {link.strip()}")
    eq(harness.log_count(env.h, f"Attached VM 'saved' ({tap},"), 0, "attach log lines")

    env.start_libvirtd()
    for _ in deadline_loop(60, "InventoryStale to become false"):
        if env.inventory_stale() is False:
            break
    props = env.wait_vm(vm_id, LegacyMac=legacy_mac(vm_id), PowerState="Off", VsockCid=0, LegacyInterface="",
                        LegacyAccess=True, GuestServiceInterface=False, DataExchange=False)
    eq(props["DataExchange"], False, "DataExchange from the live XML")


@case("takeover")
def test_takeover(env):
    """A domain defined with the id of a VM registered by hand takes its record (libvirt owns its
    facts from then on) but not the legacy access an admin granted to that VM: whoever defines a
    domain chooses its UUID (docs/trust-model.md)."""
    vm_id = "5a1e0013-7a7a-4a7a-8a7a-00000000007a"
    env.h.register_vm(Id=vm_id, Name="byhand", LegacyMac="02:00:00:00:7a:7a", LegacyInterface="byhand0")
    env.set_access(vm_id, True)
    eq(env.vm_props(vm_id)["LegacyAccess"], True, "the VM by hand's access")
    env.define("squat", plain_domain("squat", uuid=vm_id))
    props = env.wait_vm(vm_id, Name="squat", Source="libvirt")
    eq(props["LegacyAccess"], False, "LegacyAccess after the domain took the record")
    harness.wait_log_count(env.h, "VM 'byhand' (5a1e0013-7a7a-4a7a-8a7a-00000000007a) was registered by hand; "
                                  "libvirt's domain 'squat' has it now, without the legacy access granted to it.", 1)


@case("manual-api")
def test_manual_api(env):
    """With the libvirt provider the manual API refuses to change or remove a domain's VM
    (OwnedByLibvirt, naming the fields) and to register its id again; admin state (legacy
    access) stays the admin's; hand-registered VMs keep working beside the domains."""
    from harness import gvariant_dict, gvariant_str
    owned = "org.azshci.Attestation1.Error.OwnedByLibvirt"
    nic = f"<interface type='bridge'><source bridge='{BRIDGE}'/><mac address='52:54:00:10:00:09'/></interface>"
    vm_id = env.define("dom", plain_domain("dom", devices=nic))
    env.wait_vm(vm_id, Source="libvirt", LegacyMac="")   # an admin's NIC on the bridge is no legacy NIC
    e = env.h.expect_error(owned, "UpdateVM", [gvariant_str("dom"), gvariant_dict({"Sku": "x", "OsName": "y"})])
    eq(e.message, "VM 'dom' is a libvirt domain and libvirt owns OsName, Sku: change the domain, or its "
                  "<metadata> with virsh metadata (docs/libvirt.md).", "UpdateVM error")
    e = env.h.expect_error(owned, "UnregisterVM", [gvariant_str(vm_id)])
    eq(e.message, "VM 'dom' is a libvirt domain: undefine it in libvirt (virsh undefine) to remove it.",
       "UnregisterVM error")
    e = env.h.expect_error(owned, "RegisterVM", [gvariant_dict({"Id": vm_id, "Name": "other"})])
    eq(e.message, f"VM {vm_id} is libvirt's domain 'dom': it is in the inventory already and libvirt owns "
                  "its facts.", "RegisterVM error")
    env.h.call("UpdateVM", "sa{sv}", "dom", harness.Dict([("Name", "s", "dom")]))   # no change: fine
    env.enable_legacy(True)
    env.set_access("dom", True)
    eq(env.vm_props(vm_id)["LegacyAccess"], True, "LegacyAccess of a domain")
    manual = "5a1e0013-0d0d-4d0d-8d0d-00000000000d"
    env.h.register_vm(Id=manual, Name="by-hand", DataExchange=True)
    eq(env.wait_vm(manual)["Source"], "manual", "a hand-registered VM")
    env.h.call("UnregisterVM", "s", "by-hand")
    env.wait_vm_gone(manual)


@case("memcheck")
def test_memcheck(env):
    """The service under valgrind memcheck (as tests/faults/test_valgrind.py runs it) while it
    follows libvirt: domains defined, changed through metadata (also a bad value), renamed,
    undefined, libvirtd restarted (reconnect and reconcile). No error, nothing definitely lost."""
    import faultlib
    env.h.stop_service()
    logdir = faultlib.use_valgrind(env.h)
    # Without the legacy network: libnftables' own netlink buffers have uninitialised padding
    # that memcheck reports (tests/faults/test_valgrind.py runs without it too).
    env.h.write_config(legacyNetwork=False, inventory=env.h.config["inventory"])
    env.h.start_service()
    a = env.define("mc-a", plain_domain("mc-a", devices="<vsock model='virtio'><cid auto='no' address='55'/></vsock>"))
    env.wait_vm(a, timeout=60)
    env.set_metadata("mc-a", "<vm><sqlVersion>12.0.1</sqlVersion><sku>S</sku><updateRevision>x</updateRevision></vm>")
    env.wait_vm(a, timeout=60, Sku="S")
    env.virsh("domrename", "mc-a", "mc-b")
    env.wait_vm(a, timeout=60, Name="mc-b")
    b = env.define("mc-c", plain_domain("mc-c"))
    env.wait_vm(b, timeout=60)
    env.stop_libvirtd()
    for _ in deadline_loop(60, "InventoryStale to become true"):
        if env.inventory_stale() is True:
            break
    env.start_libvirtd()
    for _ in deadline_loop(90, "InventoryStale to become false"):
        if env.inventory_stale() is False:
            break
    # Issue 14's paths: the legacy NIC granted, repaired, revoked; per-VM results; FixVM and
    # its refusals (a VM by hand).
    env.h.register_vm(Id="5a1e0013-0e0e-4e0e-8e0e-00000000000e", Name="mc-hand", PowerState="Running")
    env.h.call("SetVMAccessEx", "sb", "mc-c", True)
    env.h.call("EnableLegacyEx", "bt", True, 0)
    env.h.call("FixVM", "ss", "mc-c", "EnableGuestServiceInterface")
    env.h.expect_error("org.freedesktop.DBus.Error.NotSupported", "FixVM",
                       [harness.gvariant_str("mc-hand"), harness.gvariant_str("EnableDataExchange")])
    env.h.call("GetLegacyNetworkStatus")
    env.h.call("EnableLegacyEx", "bt", False, 1)
    env.virsh("undefine", "mc-c")
    env.wait_vm_gone(b, timeout=60)
    rc = faultlib.stop_under_valgrind(env.h)
    faultlib.check_valgrind_logs(logdir)
    eq(rc, 0, "the service's exit code under valgrind")
