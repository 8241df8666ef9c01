# SPDX-License-Identifier: LGPL-2.1-or-later
"""Legacy access carried out on libvirt's domains (issue 14): the service adds and removes the
legacy NIC itself, says VM by VM what it did, reports a NIC removed by hand as drift and
repairs it, and carries out the recommended actions the host can (FixVM). Real libvirtd, real
QEMU guests (TCG), the real service and polkitd (libvirt_env.py); README.md says what each case
proves."""

import json
import os
import time

import guest
import harness
from harness import TEST_USER, deadline_loop, eq, gvariant_str
from test_libvirt import legacy_mac, legacy_tap, plain_domain

TESTS = {}
ALIAS = "ua-AZSHCI_GUEST-IMDS_DO_NOT_MODIFY"
OVMF_LOADER = f"<loader readonly='yes' type='pflash'>{guest.OVMF_CODE}</loader>"
POWER_OFF = "org.azshci.Attestation1.Error.PowerOffRequired"
LIBVIRT_FAILED = "org.azshci.Attestation1.Error.LibvirtFailed"
INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"


def case(name):
    def deco(fn):
        TESTS[name] = fn
        return fn
    return deco


def loop_guest(env, name, nonce, uefi=False):
    """A guest without NIC that waits for one, then fetches every second (guest.read_results)."""
    kernel, initrd = guest.build_guest(env.libvirt_dir)
    serial = os.path.join(env.libvirt_dir, "domains", f"{name}.serial")
    xml = guest.domain_xml(name, kernel, initrd, serial, None, None, nonce, loop=True, agent=False, uefi=uefi)
    return env.define(name, xml), serial


def nic_in(env, name, inactive):
    """The service's NIC in the domain's XML: its MAC, or None."""
    import re
    xml = env.virsh("dumpxml", *(["--inactive"] if inactive else []), name).stdout
    for m in re.finditer(r"<interface .*?</interface>", xml, re.S):
        if f"<alias name='{ALIAS}'/>" in m.group(0):
            mac = re.search(r"<mac address='([^']+)'/>", m.group(0))
            return mac.group(1) if mac else ""
    return None


def ctl_json(env, *args, check=True):
    p = env.h.ctl("--json", *args, check=check)
    return json.loads(p.stdout) if p.stdout.strip() else None, p


def results_by_name(out):
    return {c["name"]: (c["result"], c["message"]) for c in out["changes"]}


def serial_tail(serial, lines=30):
    """The end of a guest's console, for the message of a wait that timed out."""
    try:
        with open(serial, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return "(no console log)"


def wait_guest(serial, timeout, what, done):
    """Polls the loop guest's results until done(results) returns something; a timeout names the
    results so far and shows the end of the console."""
    try:
        for _ in deadline_loop(timeout, f"{what} on {serial}", interval=0.3):
            got = done(guest.read_results(serial))
            if got is not None:
                return got
    except harness.HarnessError as e:
        res = [r[:12] for r in guest.read_results(serial)]
        raise AssertionError(f"{e}\nresults: {res[-12:]}\nconsole:\n{serial_tail(serial)}") from None


def wait_doc(serial, since, timeout=120, what="a document"):
    """The first document the loop guest printed after its since-th result."""
    return wait_guest(serial, timeout, what,
                      lambda res: next((r[4:] for r in res[since:] if r.startswith("doc:")), None))


def wait_unreachable(serial, timeout=90, n=4):
    """Until the loop guest's last n results are failures (no NIC, or no answer)."""
    return wait_guest(serial, timeout, f"{n} failures in a row",
                      lambda res: res if len(res) >= n and not any(r.startswith("doc:") for r in res[-n:]) else None)


@case("legacy-nic")
def test_legacy_nic(env):
    """legacy on with a running Generation 1 VM, one that is off, a running Generation 2 VM, one
    that is off, a domain whose NIC was removed by hand and a hand-registered VM without NIC:
    exact per-VM results; the running Generation 2 guest gets its NIC hot-plugged and fetches a
    document without a restart; the Generation 1 guest, powered off and granted, boots with the
    NIC and fetches; revoking removes the NIC and the guest can no longer fetch; a NIC detached
    by hand is drift (VM property, legacy status), repaired by legacy off and on."""
    g1run, serial1 = loop_guest(env, "g1run", "gen1")
    g2run, serial2 = loop_guest(env, "g2run", "gen2", uefi=True)
    g1off = env.define("g1off", plain_domain("g1off"))
    g2off = env.define("g2off", plain_domain("g2off", extra_os=OVMF_LOADER))
    gone = env.define("nicgone", plain_domain("nicgone"))
    manual = "5a1e0014-0d0d-4d0d-8d0d-00000000000d"
    env.h.register_vm(Id=manual, Name="by-hand", Generation=2, PowerState="Running")
    env.virsh("start", "g1run")
    env.virsh("start", "g2run")
    eq(env.wait_vm(g2run, PowerState="Running")["Generation"], 2, "g2run's generation")
    eq(env.wait_vm(g1run, PowerState="Running")["Generation"], 1, "g1run's generation")

    # nicgone: granted while legacy OS support is off (the NIC follows the grant), then its NIC
    # is detached by hand.
    out, _ = ctl_json(env, "vm-access", "nicgone", "on")
    eq(results_by_name(out)["nicgone"][0], "granted", "nicgone granted")
    mac_gone = legacy_mac(gone)
    eq(nic_in(env, "nicgone", inactive=True), mac_gone, "nicgone's NIC (derived MAC)")
    env.wait_vm(gone, LegacyMac=mac_gone, LegacyError="")
    env.virsh("detach-interface", "nicgone", "ethernet", "--mac", mac_gone, "--config")
    # A change to the configuration of a domain that is off sends no event: the drift check
    # (every 30 s, and legacy status) reads the domains with access again.
    env.h.ctl("legacy", "status")
    props = env.wait_vm(gone, LegacyMac="", what="its NIC gone")
    eq(props["LegacyError"], f"its legacy NIC {ALIAS} ({mac_gone}) is not in the domain (removed by hand?); "
       "repair: azshcictl vm-access 'nicgone' off && azshcictl vm-access 'nicgone' on", "nicgone's LegacyError")

    domid = env.virsh("domid", "g2run").stdout.strip()
    mark2 = len(guest.read_results(serial2))
    t0 = time.monotonic()
    out, p = ctl_json(env, "legacy", "on")
    mac1, mac2, mac1off, mac2off = (legacy_mac(i) for i in (g1run, g2run, g1off, g2off))
    refused_g1 = "VM 'g1run' is a Generation 1 VM and is Running: power it off before giving it legacy access."
    refused_manual = "VM 'by-hand' has no 'LegacyInterface': register the host side of its legacy NIC first."
    eq(results_by_name(out), {
        "by-hand": ("refused", refused_manual),
        "g1off": ("granted", f"legacy NIC {ALIAS} ({mac1off}) added to the domain's configuration (it is off)"),
        "g1run": ("refused", refused_g1),
        "g2off": ("granted", f"legacy NIC {ALIAS} ({mac2off}) added to the domain's configuration (it is off)"),
        "g2run": ("granted", f"legacy NIC {ALIAS} ({mac2}) added to the domain and hot-plugged"),
        "nicgone": ("repaired", f"its missing or changed legacy NIC {ALIAS} ({mac_gone}) added to the domain's "
                                "configuration (it is off)"),
    }, "legacy on: the results")
    eq((out["legacyOsSupport"], out["vmsWithAccess"], out["vms"]), ("On", 4, 6), "legacy on: the final state")
    eq(p.returncode, 0, "exit code of legacy on with refusals")
    text = env.h.ctl("legacy", "on").stdout   # again, as text: nothing left to change but the refusals
    lines = text.splitlines()
    eq((sorted(lines[:-1]), lines[-1]), ([f"by-hand: refused: {refused_manual}", f"g1run: refused: {refused_g1}"],
                                         "Legacy OS support: On; 4 of 6 VM(s) have legacy access."),
       "legacy on again, as text")
    # vm-access --all on grants what it can and names the rest; refusals are no failure.
    out, p = ctl_json(env, "vm-access", "--all", "on")
    eq((results_by_name(out), p.returncode), ({"by-hand": ("refused", refused_manual),
                                               "g1run": ("refused", refused_g1)}, 0), "vm-access --all on")
    eq(env.vm_props(g1run)["LegacyError"], f"no legacy access: {refused_g1}", "g1run's LegacyError")
    eq(env.vm_props(manual)["LegacyError"], f"no legacy access: {refused_manual}", "by-hand's LegacyError")

    # The running Generation 2 guest: hot-plugged, fetches without a restart.
    eq((nic_in(env, "g2run", inactive=False), nic_in(env, "g2run", inactive=True)), (mac2, mac2), "g2run's NIC")
    env.wait_vm(g2run, LegacyMac=mac2, LegacyAccess=True, LegacyInterface=legacy_tap(g2run))
    doc = wait_doc(serial2, mark2, what="g2run's document after the hot-plug")
    print(f"g2run fetched {time.monotonic() - t0:.1f}s after legacy on")
    eq(env.verify(doc, nonce="gen2", vm_id=g2run)["vmId"], g2run, "g2run's document")
    eq(env.virsh("domid", "g2run").stdout.strip(), domid, "g2run was not restarted")
    eq(nic_in(env, "g1run", inactive=True), None, "g1run got no NIC")

    # The Generation 1 guest: powered off, granted, boots with the NIC, fetches.
    env.virsh("destroy", "g1run")
    env.wait_vm(g1run, PowerState="Off")
    out, _ = ctl_json(env, "vm-access", "g1run", "on")
    eq(results_by_name(out)["g1run"], ("granted", f"legacy NIC {ALIAS} ({mac1}) added to the domain's configuration "
                                                  "(it is off)"), "g1run granted while off")
    eq(env.vm_props(g1run)["LegacyError"], "", "g1run's LegacyError once granted")
    env.virsh("start", "g1run")
    doc = wait_doc(serial1, 0, what="g1run's document after its start with the NIC")
    eq(env.verify(doc, nonce="gen1", vm_id=g1run)["vmId"], g1run, "g1run's document")
    env.virsh("destroy", "g1run")   # the CPU is shared

    # Revoke: the NIC leaves the domain, the guest cannot fetch any more.
    out, _ = ctl_json(env, "vm-access", "g2run", "off")
    eq(results_by_name(out)["g2run"], ("revoked", f"legacy NIC {ALIAS} removed from the domain"), "g2run revoked")
    eq(nic_in(env, "g2run", inactive=True), None, "g2run's configuration after the revoke")
    for _ in deadline_loop(60, "the NIC to leave the running g2run"):
        if nic_in(env, "g2run", inactive=False) is None:
            break
    res = wait_unreachable(serial2)
    print(f"g2run after the revoke: {res[-4:]}")
    env.wait_vm(g2run, LegacyAccess=False, LegacyMac="", LegacyError="")

    # Drift: granted again, then the NIC detached by hand from the running domain and its
    # configuration; reported, then repaired by legacy off and on.
    out, _ = ctl_json(env, "vm-access", "g2run", "on")
    eq(results_by_name(out)["g2run"][0], "granted", "g2run granted again")
    env.wait_vm(g2run, LegacyMac=mac2)
    env.virsh("detach-interface", "g2run", "ethernet", "--mac", mac2, "--live", "--config")
    drift = (f"its legacy NIC {ALIAS} ({mac2}) is not in the domain (removed by hand?); repair: "
             "azshcictl vm-access 'g2run' off && azshcictl vm-access 'g2run' on")
    env.wait_vm(g2run, timeout=60, LegacyMac="", LegacyError=drift)
    p = env.h.ctl("legacy", "status", check=False)
    eq(p.returncode, 1, "legacy status exit code on drift")
    if f"Drift: VM 'g2run': {drift}" not in p.stdout:
        raise AssertionError(f"legacy status does not report the NIC:\n{p.stdout}")
    env.h.ctl("legacy", "off")
    out, _ = ctl_json(env, "legacy", "on")
    eq(results_by_name(out)["g2run"], ("repaired", f"its missing or changed legacy NIC {ALIAS} ({mac2}) added to "
                                                   "the domain and hot-plugged"), "g2run repaired")
    env.wait_vm(g2run, LegacyMac=mac2, LegacyError="")
    mark2 = len(guest.read_results(serial2))
    wait_doc(serial2, mark2, what="g2run's document after the repair")
    eq(env.h.ctl("legacy", "status").returncode, 0, "legacy status after the repair")

    # legacy off --remove-vms: the seed's -RemoveVM.
    out, _ = ctl_json(env, "legacy", "off", "--remove-vms")
    eq(sorted((n, r[0]) for n, r in results_by_name(out).items()),
       [("g1off", "revoked"), ("g1run", "revoked"), ("g2off", "revoked"), ("g2run", "revoked"),
        ("nicgone", "revoked")], "legacy off --remove-vms")
    eq((out["legacyOsSupport"], out["vmsWithAccess"]), ("Off", 0), "after legacy off --remove-vms")
    eq([nic_in(env, n, inactive=True) for n in ("g1off", "g1run", "g2off", "g2run", "nicgone")], [None] * 5,
       "no NIC of the service left")


@case("vm-fix")
def test_vm_fix(env):
    """FixVM / azshcictl vm fix: the devices added to the configuration of a VM that is off,
    a running Generation 1 VM refused (PowerOffRequired), a hot-plug libvirt refuses named with
    libvirt's reason and nothing changed, a hand-registered VM refused, InstallUpdates naming
    the update; unprivileged users refused by polkitd for every new method."""
    off = env.define("fix-off", plain_domain("fix-off", extra_os=OVMF_LOADER))
    # Running domains without a kernel: SeaBIOS finds nothing to boot and waits (cheap).
    run1 = env.define("fix-run1", plain_domain("fix-run1"))
    run2 = env.define("fix-run2", plain_domain("fix-run2", extra_os=OVMF_LOADER))
    win = "5a1e0014-0e0e-4e0e-8e0e-00000000000e"
    env.h.register_vm(Id=win, Name="win10", Generation=2, PowerState="Running", DataExchange=True,
                      OsName="Windows 10 Enterprise multi-session", OsVersion="10.0.19045.1000")
    env.virsh("start", "fix-run1")
    env.virsh("start", "fix-run2")
    env.wait_vm(run1, PowerState="Running")
    env.wait_vm(run2, PowerState="Running")
    env.wait_vm(off)

    p = env.h.ctl("vm", "fix", "fix-off", "EnableGuestServiceInterface")
    eq(p.stdout, "EnableGuestServiceInterface: done: Added a virtio-vsock device (automatic CID) to VM 'fix-off' "
                 "(its configuration); GuestServiceInterface is true now; the CID is assigned when the domain "
                 "starts.\n", "vm fix EnableGuestServiceInterface")
    if "<vsock model='virtio'>" not in env.virsh("dumpxml", "--inactive", "fix-off").stdout:
        raise AssertionError("no vsock in fix-off's configuration")
    env.wait_vm(off, GuestServiceInterface=True)
    p = env.h.ctl("vm", "fix", "fix-off", "EnableGuestServiceInterface")
    eq(p.stdout, "EnableGuestServiceInterface: done: VM 'fix-off' has a virtio-vsock device (automatic CID) "
                 "already.\n", "vm fix twice")
    # No action: every recommended action (no agent: EnableDataExchange).
    eq(env.vm_props(off)["RecommendedActions"], ["EnableDataExchange"], "fix-off's recommended actions")
    p = env.h.ctl("vm", "fix", "fix-off")
    eq(p.stdout, "EnableDataExchange: done: Added the QEMU guest agent's channel (org.qemu.guest_agent.0) to VM "
                 "'fix-off' (its configuration); DataExchange becomes true once the guest agent in the VM "
                 "connects.\n", "vm fix without action")
    xml = env.virsh("dumpxml", "--inactive", "fix-off").stdout
    if "name='org.qemu.guest_agent.0'" not in xml:
        raise AssertionError(f"no agent channel in fix-off's configuration:\n{xml}")
    eq(env.vm_props(off)["DataExchange"], False, "DataExchange without an agent")

    e = env.h.expect_error(POWER_OFF, "FixVM", [gvariant_str("fix-run1"), gvariant_str("EnableDataExchange")])
    eq(e.message, "VM 'fix-run1' is a Generation 1 VM and is Running: power it off before adding the QEMU guest "
                  "agent's channel (org.qemu.guest_agent.0).", "running Generation 1")
    before = env.virsh("dumpxml", "--inactive", "fix-run2").stdout
    p = env.h.ctl("vm", "fix", "fix-run2", "EnableGuestServiceInterface", check=False)
    eq(p.returncode, 1, "exit code of a refused hot-plug")
    if ("EnableGuestServiceInterface: refused: VM 'fix-run2': libvirt could not add the device to the running "
            "domain (power it off and try again): ") not in p.stdout:
        raise AssertionError(f"the hot-plug refusal: {p.stdout!r}")
    print(f"libvirt's reason: {p.stdout.strip()}")
    eq(env.virsh("dumpxml", "--inactive", "fix-run2").stdout, before, "fix-run2's configuration unchanged")
    e = env.h.expect_error("org.freedesktop.DBus.Error.NotSupported", "FixVM",
                           [gvariant_str("win10"), gvariant_str("EnableGuestServiceInterface")])
    eq(e.message, "VM 'win10' is not a libvirt domain (Source manual): the service cannot add a virtio-vsock "
                  "device (automatic CID) to it; add it in the hypervisor and update the VM's registration.",
       "a hand-registered VM")
    e = env.h.expect_error("org.azshci.Attestation1.Error.GuestActionRequired", "FixVM",
                           [gvariant_str("win10"), gvariant_str("InstallUpdates")])
    eq(e.message, "VM 'win10' must install updates in the guest, which the host cannot do: install KB5036892 "
                  "(OsVersion 10.0.19045.4291), then the guest reports the new build.", "InstallUpdates")
    e = env.h.expect_error("org.freedesktop.DBus.Error.InvalidArgs", "FixVM",
                           [gvariant_str("win10"), gvariant_str("Reboot")])
    eq(e.message, "Unknown action 'Reboot': expected EnableGuestServiceInterface, EnableDataExchange, "
                  "EnableVMLegacyAccess or InstallUpdates.", "an unknown action")
    env.h.ctl("legacy", "on")
    p = env.h.ctl("vm", "fix", "fix-run1", "EnableVMLegacyAccess", check=False)
    eq((p.returncode, p.stdout), (1, "EnableVMLegacyAccess: refused: VM 'fix-run1' is a Generation 1 VM and is "
                                     "Running: power it off before giving it legacy access.\n"), "legacy access refused")

    # A VM libvirt cannot change now: "failed", named with the reason, exit 1 (also the VMs
    # that have access: their NIC could not be checked); the others are refused as usual.
    late = env.define("fix-late", plain_domain("fix-late"))
    env.wait_vm(late)
    env.stop_libvirtd()
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "InventoryStale to become true"):
        if env.inventory_stale() is True:
            break
    out, p = ctl_json(env, "vm-access", "--all", "on", check=False)
    res = results_by_name(out)
    eq((p.returncode, {n: r[0] for n, r in res.items()}),
       (1, {"fix-late": "failed", "fix-off": "failed", "fix-run2": "failed", "fix-run1": "refused",
            "win10": "refused"}), "vm-access --all on without libvirt")
    if not res["fix-late"][1].startswith("VM 'fix-late': libvirt is not reachable now ("):
        raise AssertionError(f"fix-late's failure: {res['fix-late'][1]!r}")
    eq(env.vm_props(late)["LegacyError"], f"no legacy access: {res['fix-late'][1]}", "fix-late's LegacyError")
    env.start_libvirtd()
    for _ in deadline_loop(60, "InventoryStale to become false"):
        if env.inventory_stale() is False:
            break

    # Unprivileged: polkitd refuses every new method; nothing changes.
    objs = env.h.managed_objects()
    for method, args in (("FixVM", [gvariant_str("fix-run2"), gvariant_str("EnableDataExchange")]),
                         ("FixVM", [gvariant_str("fix-off"), gvariant_str("EnableVMLegacyAccess")]),
                         ("EnableLegacyEx", ["false", "uint64 1"]),
                         ("SetVMAccessEx", [gvariant_str("*"), "false"])):
        env.h.expect_error(INTERACTIVE, method, args, user=TEST_USER)
        env.h.expect_error(ACCESS_DENIED, method, args, user=TEST_USER, interactive=True)
    eq(env.h.managed_objects(), objs, "objects after refused calls")
    p = env.h.ctl("--no-ask-password", "vm", "fix", "fix-run2", "EnableDataExchange", user=TEST_USER, check=False)
    eq(p.returncode, 3, "exit code of an unauthorized vm fix")


@case("definer-nic")
def test_definer_nic(env):
    """Whoever defines a domain writes its legacy NIC's target dev: a domain that is off, defined
    with the service's alias, the MAC derived from its UUID and target dev naming a host
    interface (libvirt keeps such a name in the saved definition), has no LegacyInterface, and
    granting it legacy access neither puts that interface on the legacy bridge nor keeps the
    NIC: it is replaced by the service's own, whose tap the service names."""
    env.enable_legacy(True)
    env.host(["ip", "link", "add", "victim0", "type", "veth", "peer", "name", "victim1"])   # a host interface
    uuid = "5a1e0014-5e5e-4e5e-8e5e-00000000005e"
    nic = (f"<interface type='ethernet'><mac address='{legacy_mac(uuid)}'/><target dev='victim0' managed='no'/>"
           f"<model type='virtio'/><alias name='{ALIAS}'/></interface>")
    env.define("squat", plain_domain("squat", uuid=uuid, devices=nic))
    if "<target dev='victim0'" not in env.virsh("dumpxml", "--inactive", "squat").stdout:
        raise AssertionError("libvirt no longer keeps a chosen target dev: the case proves nothing")
    eq({k: env.wait_vm(uuid)[k] for k in ("LegacyMac", "LegacyInterface")},
       {"LegacyMac": legacy_mac(uuid), "LegacyInterface": ""}, "the squatting domain while off")
    out, _ = ctl_json(env, "vm-access", "squat", "on")
    eq(results_by_name(out)["squat"], ("granted", f"legacy NIC {ALIAS} ({legacy_mac(uuid)}) added to the domain's "
                                        "configuration (it is off)"), "squat granted")
    props = env.wait_vm(uuid, LegacyAccess=True)
    eq((props["LegacyInterface"], props["LegacyError"]), ("", ""), "squat's LegacyInterface and LegacyError")
    xml = env.virsh("dumpxml", "--inactive", "squat").stdout
    if f"<target dev='{legacy_tap(uuid)}'/>" not in xml or "victim0" in xml:
        raise AssertionError(f"squat's NIC was not replaced by the service's:\n{xml}")
    env.h.ctl("legacy", "status", check=False)
    link = env.host_links()["victim0"]
    eq(link.get("master"), None, "victim0's master")
    eq(harness.log_count(env.h, "Attached VM 'squat'"), 0, "interfaces attached for squat")


@case("nic-rollback")
def test_nic_rollback(env):
    """A grant that cannot be completed takes the legacy NIC it added out of the domain again:
    when the domain's new facts clash (a VM registered by hand has the MAC the NIC gets), the
    result is refused, says so, and the NIC is gone; when the change cannot be saved (the state
    directory is not writable), the call fails and the NIC is gone too."""
    uuid = "5a1e0014-7b7b-4b7b-8b7b-00000000007b"
    env.define("rb", plain_domain("rb", uuid=uuid))
    env.wait_vm(uuid)
    mac = legacy_mac(uuid)
    env.h.register_vm(Id="5a1e0014-7c7c-4c7c-8c7c-00000000007c", Name="squatter", LegacyMac=mac,
                      LegacyInterface="azvsquat")
    p = env.h.ctl("vm-access", "rb", "on", check=False)
    want = f"VM property 'LegacyMac': {mac} already belongs to VM 'squatter'. (the legacy NIC was removed again)"
    if p.returncode == 0 or want not in p.stdout + p.stderr:
        raise AssertionError(f"vm-access rb on: exit {p.returncode}, {p.stdout!r} {p.stderr!r}")
    eq(nic_in(env, "rb", inactive=True), None, "rb's configuration after the refusal")
    env.h.call("UnregisterVM", "s", "squatter")

    os.chmod(env.h.state_dir, 0o500)
    try:
        p = env.h.ctl("vm-access", "rb", "on", check=False)
    finally:
        os.chmod(env.h.state_dir, 0o700)
    if p.returncode == 0:
        raise AssertionError(f"vm-access succeeded without a writable state directory:\n{p.stdout}")
    eq(nic_in(env, "rb", inactive=True), None, "rb's configuration after the failed commit")
    harness.wait_log_count(env.h, "VM 'rb': the change was not saved: its legacy NIC was removed again.", 1)
    eq(env.vm_props(uuid)["LegacyAccess"], False, "rb's LegacyAccess")


def grant_unsaved(env, name):
    """vm-access NAME on with the state directory not writable: fails, and the service logs
    that the NIC it added was removed again."""
    os.chmod(env.h.state_dir, 0o500)
    try:
        p = env.h.ctl("vm-access", name, "on", check=False)
    finally:
        os.chmod(env.h.state_dir, 0o700)
    if p.returncode == 0:
        raise AssertionError(f"vm-access succeeded without a writable state directory:\n{p.stdout}")
    harness.wait_log_count(env.h, f"VM '{name}': the change was not saved: its legacy NIC was removed again.", 1)

@case("nic-undo-exact")
def test_nic_undo_exact(env):
    """A grant whose change cannot be saved is undone exactly where it changed the domain: a
    running Generation 2 domain with the service's NIC in its configuration but not running
    (added by hand here; a domain started before its NIC was put back looks the same) gets the
    NIC hot-plugged only; the state directory is not writable, so the call fails and the
    hot-plug is taken back, while the configuration keeps its NIC. (Before the fix the undo
    removed the NIC from the configuration too: the VM lost its NIC at its next boot.)"""
    uuid = "5a1e0014-7d7d-4d7d-8d7d-00000000007d"
    mac = legacy_mac(uuid)
    # Running without a kernel: OVMF finds nothing to boot and waits (cheap).
    env.define("undo", plain_domain("undo", uuid=uuid, extra_os=OVMF_LOADER))
    env.virsh("start", "undo")
    eq(env.wait_vm(uuid, PowerState="Running")["Generation"], 2, "undo's generation")
    nic = os.path.join(env.libvirt_dir, "domains", "undo-nic.xml")
    with open(nic, "w") as f:
        f.write(f"<interface type='ethernet'><mac address='{mac}'/><target dev='{legacy_tap(uuid)}'/>"
                f"<model type='virtio'/><alias name='{ALIAS}'/></interface>")
    env.virsh("attach-device", "undo", nic, "--config")
    eq((nic_in(env, "undo", inactive=True), nic_in(env, "undo", inactive=False)), (mac, None),
       "undo's NIC (configuration, running) before the grant")

    grant_unsaved(env, "undo")
    eq(nic_in(env, "undo", inactive=True), mac, "undo's configuration after the failed commit")
    eq(harness.log_count(env.h, "VM 'undo': removed the legacy NIC " + ALIAS + " (running domain)."), 1,
       "the undo's log line (the running domain only)")
    eq(env.vm_props(uuid)["LegacyAccess"], False, "undo's LegacyAccess")

    # A domain (off) whose NIC of the service was edited by hand (another MAC): the grant
    # replaces it with the service's own; the change cannot be saved, so the edited NIC is put
    # back as it was.
    edited = "5a1e0014-7e7e-4e7e-8e7e-00000000007e"
    other_mac = "52:54:00:7e:7e:7e"
    env.define("edited", plain_domain("edited", uuid=edited, devices=(
        f"<interface type='ethernet'><mac address='{other_mac}'/><target dev='{legacy_tap(edited)}'/>"
        f"<model type='virtio'/><alias name='{ALIAS}'/></interface>")))
    env.wait_vm(edited)
    grant_unsaved(env, "edited")
    eq(nic_in(env, "edited", inactive=True), other_mac, "edited's configuration after the failed commit")


@case("fix-unsaved")
def test_fix_unsaved(env):
    """FixVM whose change cannot be saved (the state directory not writable) after libvirt
    added the device: the error says the domain has the device all the same (before the fix
    it said only that the state could not be saved, as if nothing had changed)."""
    uuid = env.define("fix-ro", plain_domain("fix-ro", extra_os=OVMF_LOADER))
    env.wait_vm(uuid)
    state = os.path.join(env.h.state_dir, "state.json")
    os.chmod(env.h.state_dir, 0o500)
    try:
        e = env.h.expect_error(ACCESS_DENIED, "FixVM", ["'fix-ro'", "'EnableGuestServiceInterface'"])
    finally:
        os.chmod(env.h.state_dir, 0o700)
    eq(e.message, f"Failed to save the state to {state}: Permission denied; a virtio-vsock device (automatic CID) "
       "was added to VM 'fix-ro' (its configuration) all the same and stays there.", "FixVM's error")
    if "<vsock model='virtio'>" not in env.virsh("dumpxml", "--inactive", "fix-ro").stdout:
        raise AssertionError("fix-ro's configuration has no vsock after the failed FixVM")
