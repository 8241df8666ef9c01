# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page in a real browser against the real service (cockpit_env.py).

What the page shows is compared with `azshcictl --json` (an independent client of the same
service); what the page does is checked in the service's state, through azshcictl."""

import json
import os
import socket
import time

from harness import TEST_USER, HarnessError, deadline_loop, eq
from cockpit_env import PAGE_TIMEOUT

TESTS = {}


def testcase(fn):
    TESTS[fn.__name__.removeprefix("test_").replace("_", "-")] = fn
    return fn


# What the page must say for the service's values (the seed's words; written out here rather
# than taken from the page's script, so a wrong label in the page fails).
STATUS = {"ActiveBenefits": "Active benefits", "InactiveBenefits": "Inactive benefits",
          "Unknown": "Unknown", "NoApplicableBenefits": "No applicable benefits"}
BENEFIT = {"ExtendedSecurityUpdates": "Extended Security Updates",
           "AzureVirtualDesktop": "Azure Virtual Desktop",
           "WindowsServerAzureEdition": "Windows Server Azure Edition",
           "AzurePolicyGuestConfiguration": "Azure Policy guest configuration"}
ACTION = {"InstallUpdates": "Install updates",
          "EnableGuestServiceInterface": "Enable the guest service interface",
          "EnableLegacyOsSupport": "Turn on legacy OS support",
          "EnableVMLegacyAccess": "Grant legacy access",
          "EnableDataExchange": "Turn on data exchange",
          "SyncServer": "Sync the server"}
# The actions the page offers as a button (FixVM), by the VM's Source: a device goes into a
# libvirt domain only.
BUTTON_ACTIONS = {"manual": {"EnableVMLegacyAccess"},
                  "libvirt": {"EnableVMLegacyAccess", "EnableGuestServiceInterface", "EnableDataExchange"}}
REFUSED = ("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", "org.freedesktop.DBus.Error.AccessDenied")

DEMO_VMS = ("data", "demo", "vms.json")


# ---------------------------------------------------------------------- reading both sides

def fmt_time(usec):
    if not usec:
        return "n/a"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(usec // 1000000))


def ctl_json(h, *args, user=None):
    return json.loads(h.ctl("--json", *args, user=user).stdout)


def expected_vm_rows(vms):
    rows = []
    for vm in vms:
        rows.append({
            "name": vm["Name"],
            "source": vm["Source"],
            "status": STATUS[vm["Status"]],
            "eligible": ", ".join(BENEFIT[b] for b in vm["EligibleBenefits"]) or "-",
            "active": ", ".join(BENEFIT[b] for b in vm["ActiveBenefits"]) or "-",
            "actions": [[ACTION[a], a in BUTTON_ACTIONS[vm["Source"]]] for a in vm["RecommendedActions"]],
            # listed under "Install updates", exactly the service's strings
            "updates": vm["RequiredUpdates"] if "InstallUpdates" in vm["RecommendedActions"] else [],
            "access": [vm["LegacyAccess"], "Yes" if vm["LegacyAccess"] else "No"],
            "legacyError": vm["LegacyError"] or None,
        })
    return rows


PAGE_VM_ROWS = """[...document.querySelectorAll('#vms-table tbody tr')].map(tr => ({
    name: tr.querySelector('.name').textContent,
    source: tr.querySelector('.source').textContent,
    status: tr.querySelector('.status').textContent,
    eligible: tr.querySelector('.eligible').textContent,
    active: tr.querySelector('.active').textContent,
    actions: [...tr.querySelectorAll('.actions [data-action]')].map(e => [e.textContent, e.tagName === 'BUTTON']),
    updates: [...tr.querySelectorAll('.actions .required-updates:not([hidden]) li')].map(li => li.textContent),
    access: [tr.querySelector('.access input').checked, tr.querySelector('.access .switch-text').textContent],
    legacyError: (e => e ? e.textContent : null)(tr.querySelector('.access .legacy-error')),
}))"""

PAGE_COUNTS = """Object.fromEntries([...document.querySelectorAll('#counts .count')].map(
    b => [b.dataset.status, Number(b.querySelector('.count-value').textContent)]))"""

PAGE_SERVERS = """[...document.querySelectorAll('#servers-table tbody tr')].map(tr =>
    [...tr.cells].map(td => td.textContent).concat([tr.querySelector('.state .badge').className]))"""

PAGE_HOST = """({state: host('host-state'), legacy: host('host-legacy'), lastSync: host('host-last-sync'),
    expiry: host('host-expiry'), subscription: host('host-subscription'), version: host('host-version'),
    clusterStore: shown('host-cluster-store') && shown('host-cluster-store-label') ? host('host-cluster-store') : null,
    clusterStoreWarning: shown('cluster-store-warning') ? document.querySelector('#cluster-store-warning .error-text').textContent : null,
    staleBanner: shown('inventory-stale') ? document.querySelector('#inventory-stale strong').textContent : null})"""

PAGE_HOST_EXPR = ("(() => { const host = id => document.getElementById(id).textContent; "
                  "const shown = id => !document.getElementById(id).hidden; return " + PAGE_HOST + "; })()")

STALE_BANNER = "VM inventory may be out of date: libvirt is not reachable"
STORE_WARNING = ("The cluster store (etcd) is unreachable: this server serves its last known state and "
                 "cluster-wide changes fail until it is back.")


def page_host(page):
    return page.js(PAGE_HOST_EXPR)


def expected_host(status):
    c = status["cluster"]
    return {"state": c["HostState"], "legacy": c["LegacyOsSupport"], "lastSync": fmt_time(c["LastSync"]),
            "expiry": fmt_time(c["CertificateExpiry"]), "subscription": c["SubscriptionId"],
            "version": c["Version"],
            "clusterStore": None if c["ClusterStore"] == "Standalone" else c["ClusterStore"],
            "clusterStoreWarning": STORE_WARNING if c["ClusterStore"] == "Unreachable" else None,
            "staleBanner": STALE_BANNER if c["InventoryStale"] else None}


def expected_servers(status):
    return [[s["Name"], s["State"], fmt_time(s["LastSync"]), fmt_time(s["CertificateExpiry"]),
             s["LegacyOsSupport"], s["Error"] or "-", "badge badge-" + s["State"].lower()]
            for s in status["servers"]]


def wait_equal(page, expr, expected, what, timeout=PAGE_TIMEOUT):
    """Polls the page until expr gives expected (the page follows the service's signals)."""
    got = None
    try:
        for _ in deadline_loop(timeout, what, 0.05):
            got = page.js(expr)
            if got == expected:
                return got
    except HarnessError:
        raise AssertionError(f"{what}: the page shows\n{json.dumps(got, indent=1)}\n"
                             f"but the service (azshcictl) says\n{json.dumps(expected, indent=1)}")


def wait_download(world, name="ca.pem"):
    """Polls the download directory until Chromium has written name; returns its text."""
    path = os.path.join(world.downloads, name)
    for _ in deadline_loop(PAGE_TIMEOUT, f"the download of {name}", 0.05):
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                return f.read()


def assert_page_matches_service(h, page):
    """Counts, every VM row, the host facts and the servers table, against azshcictl --json
    read now (the state does not change while we compare)."""
    vms = ctl_json(h, "vms")
    status = ctl_json(h, "status")
    summary = vms["summary"]
    wait_equal(page, PAGE_VM_ROWS, expected_vm_rows(vms["vms"]), "VM table")
    wait_equal(page, PAGE_COUNTS, {k: summary[k] for k in STATUS}, "counts")
    eq(sum(summary[k] for k in STATUS), summary["Total"], "counts add up to Total")
    wait_equal(page, PAGE_HOST_EXPR, expected_host(status), "host")
    wait_equal(page, PAGE_SERVERS, expected_servers(status), "servers table")
    return vms, status


def vm_of(h, name):
    return ctl_json(h, "vm", "show", name)


def row(name):
    return f'#vms-table tbody tr[data-vm="{name}"]'


def remove_vm_unreloaded(h, page, name):
    """Removes the VM name: its row goes, the page shows what the service has, and it was not
    reloaded (window.azshciNoReload = 42 set before)."""
    h.ctl("vm", "remove", name)
    page.wait(f"document.querySelector('{row(name)}') === null", "the removed VM's row to go")
    assert_page_matches_service(h, page)
    eq(page.js("window.azshciNoReload"), 42, "the page was not reloaded")


def method_reply(mon, member, since=0):
    """The (arguments, reply values) of the one call of member to the service seen by the bus
    monitor after position since: what the page really sent and got ([error name, message]
    for an error)."""
    mon.sync()
    mon._drain()
    msgs = mon.messages[since:]
    calls = [m for m in msgs if m.get("type") == "method_call" and m.get("member") == member]
    eq(len(calls), 1, f"calls of {member} the monitor saw")
    cookie = calls[0]["cookie"]
    for m in msgs:
        if m.get("type") in ("method_return", "error") and m.get("reply_cookie") == cookie:
            if m["type"] == "error":
                return calls[0]["payload"]["data"], [m["error_name"]] + m["payload"]["data"]
            return calls[0]["payload"]["data"], m["payload"]["data"]
    raise AssertionError(f"no reply to {member} seen by the monitor")


def calls_of(mon, member, since=0):
    mon.sync()
    mon._drain()
    return [m for m in mon.messages[since:] if m.get("type") == "method_call" and m.get("member") == member]


PAGE_RESULTS = """[...document.querySelectorAll('#legacy-results-list li')].map(li =>
    [li.dataset.id, li.dataset.vm, li.dataset.result, li.querySelector('.result-message').textContent,
     li.textContent])"""


def expected_results(entries):
    """The page's list for a reply's a(ssss): one line per entry, in the reply's order."""
    return [[i, n, r, msg, f"{n} {r} {msg}"] for i, n, r, msg in entries]


def legacy_change(page, mon, selector, member, confirm=False, remove_vms=None):
    """Clicks selector (and confirms), waits for the new per-VM results; returns the call's
    arguments and the reply the page got, after checking that the page lists exactly it."""
    since = mon.mark()
    page.js("document.getElementById('legacy-results-title').textContent = ''")
    page.click(selector)
    if confirm:
        page.wait("!document.getElementById('legacy-confirm').hidden", "the confirmation")
        if remove_vms is not None:
            eq(page.js("!document.getElementById('legacy-remove-vms-option').hidden"), True,
               "the remove-VMs option when turning off")
            if remove_vms:
                page.click("#legacy-remove-vms")
        page.click("#legacy-confirm-yes")
    page.wait("!document.getElementById('legacy-results').hidden && "
              "document.getElementById('legacy-results-title').textContent", f"the results of {member}")
    args, reply = method_reply(mon, member, since)
    eq(page.js(PAGE_RESULTS), expected_results(reply[0]), f"the page's list of the {member} reply")
    # The switch follows the service's LegacyOsSupport (a signal): the next click starts from it.
    on = ctl_json(mon.h, "status")["cluster"]["LegacyOsSupport"] == "On"
    page.wait(f"document.getElementById('legacy-switch').checked === {json.dumps(on)}",
              "the switch to follow LegacyOsSupport")
    return args, reply[0]


def import_demo(world):
    world.h.ctl("vm", "import", os.path.join(world.h.srcdir, *DEMO_VMS))


def open_dashboard(world, user=None, demo=True):
    if demo:
        import_demo(world)
    world.start_cockpit(user=user)
    page = world.open_page()
    assert_page_matches_service(world.h, page)
    return page


def inline_error(page, selector):
    return page.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                   "return e && !e.hidden ? e.textContent : null; })()")


# ---------------------------------------------------------------------- the tests

@testcase
def test_dashboard(world):
    """The page shows exactly what the service holds (demo inventory: every status), the
    count cards filter the table, the search filters by name; screenshots light and dark."""
    h = world.h
    page = open_dashboard(world)
    vms = ctl_json(h, "vms")["vms"]
    names = [v["Name"] for v in vms]
    eq(len(names), 11, "demo VMs")
    # the page's Source and RequiredUpdates columns are compared with something there
    eq(sorted({v["Source"] for v in vms}), ["manual"], "the demo's VM sources")
    if not any(v["RequiredUpdates"] and "InstallUpdates" in v["RecommendedActions"] for v in vms):
        raise AssertionError("no demo VM lists RequiredUpdates under InstallUpdates")
    # Disconnected (another server whose lease expired; no cluster here) has a look of its own
    eq(page.js("(() => { const s = document.createElement('span'); s.className = 'badge badge-disconnected';"
               " document.body.appendChild(s); const st = getComputedStyle(s); const r = [st.borderTopStyle, st.color];"
               " s.remove(); return r; })()"), ["dashed", page.js("getComputedStyle(document.querySelector('.muted')).color")],
       "the Disconnected badge's style")
    shown = "[...document.querySelectorAll('#vms-table tbody tr')].map(tr => tr.dataset.vm)"

    shots = world.screenshot_dir()
    page.screenshot(os.path.join(shots, "dashboard-light.png"))
    page.screenshot(os.path.join(shots, "dashboard-dark.png"), dark=True)
    bg = page.js("getComputedStyle(document.body).backgroundColor")
    eq(bg, "rgb(21, 21, 21)", "the dark theme's background")
    page.color_scheme(dark=False)
    eq(page.js("getComputedStyle(document.body).backgroundColor"), "rgb(240, 240, 240)", "the light background")
    for f in ("dashboard-light.png", "dashboard-dark.png"):
        with open(os.path.join(shots, f), "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                raise AssertionError(f"{f} is not a PNG")

    for status in STATUS:
        page.click(f'#counts .count[data-status="{status}"]')
        want = [v["Name"] for v in vms if v["Status"] == status]
        wait_equal(page, shown, want, f"rows after clicking the {status} card")
        eq(page.js(f"document.querySelector('#counts .count[data-status=\"{status}\"]')"
                   ".getAttribute('aria-pressed')"), "true", f"{status} card pressed")
        page.click(f'#counts .count[data-status="{status}"]')
        wait_equal(page, shown, names, f"rows after clicking the {status} card again")

    page.type_text("#vm-search", "ESU")
    wait_equal(page, shown, [n for n in names if "esu" in n], "rows after searching 'ESU'")
    page.click('#counts .count[data-status="ActiveBenefits"]')
    wait_equal(page, shown, [v["Name"] for v in vms if "esu" in v["Name"] and v["Status"] == "ActiveBenefits"],
               "rows for 'ESU' and Active benefits")


@testcase
def test_live_updates(world):
    """VMs registered, changed and removed from the command line while the page is open show
    up without a reload (InterfacesAdded, PropertiesChanged, InterfacesRemoved)."""
    h = world.h
    page = open_dashboard(world)
    page.js("window.azshciNoReload = 42")
    h.ctl("vm", "add", "--name", "live-vm", "--id", "0d1e2f30-4a5b-4c6d-8e7f-112233445566",
          "--os-name", "Windows 11 Enterprise multi-session", "--os-version", "10.0.22621.3447",
          "--guest-service-interface", "yes", "--data-exchange", "yes", "--vsock-cid", "77")
    page.wait(f"document.querySelector('{row('live-vm')}') !== null", "the new VM's row")
    assert_page_matches_service(h, page)

    h.ctl("vm", "update", "live-vm", "OsVersion=10.0.22621.100")   # too old: benefit inactive
    eq(vm_of(h, "live-vm")["Status"], "InactiveBenefits", "live-vm after the update")
    page.wait(f"document.querySelector('{row('live-vm')}').dataset.status === 'InactiveBenefits'",
              "the row to follow the update")
    assert_page_matches_service(h, page)

    remove_vm_unreloaded(h, page, "live-vm")


@testcase
def test_service_restart(world):
    """The service stops: the page says so and keeps the last state. It starts again: the page
    reads everything once more and follows its signals as before."""
    h = world.h
    page = open_dashboard(world)
    page.js("window.azshciNoReload = 42")
    h.stop_service()
    text = page.wait("(e => !e.hidden && e.textContent)(document.getElementById('connection-error'))",
                     "the page to notice the service is gone")
    eq(text, "The attestation service is not running.", "the alert")
    h.start_service()
    page.wait("document.getElementById('connection-error').hidden", "the alert to go")
    assert_page_matches_service(h, page)
    remove_vm_unreloaded(h, page, "debian-web")


@testcase
def test_sync_now(world):
    """"Sync now" renews the certificate: the service's LastSync and expiry move, the page
    shows the new values."""
    h = world.h
    page = open_dashboard(world)
    before = ctl_json(h, "status")["cluster"]
    page.click("#sync-button")
    for _ in deadline_loop(PAGE_TIMEOUT, "Sync now to change the service's LastSync", 0.05):
        after = ctl_json(h, "status")["cluster"]
        if after["LastSync"] != before["LastSync"]:
            break
    if not after["LastSync"] > before["LastSync"]:
        raise AssertionError(f"LastSync went from {before['LastSync']} to {after['LastSync']}")
    assert_page_matches_service(h, page)
    eq(inline_error(page, "#sync-error"), None, "sync error")


G1_REFUSED = ("VM 'esu-ws2008r2' is a Generation 1 VM and is Running: power it off before giving it "
              "legacy access.")


@testcase
def test_legacy_switch(world):
    """The legacy OS support switch asks first (and Cancel changes nothing); confirmed, it calls
    EnableLegacyEx and lists the reply per VM (granted, refused with the reason); the refused
    VM's LegacyError shows in its row. Revoke all and Grant all (SetVMAccessEx "*") list theirs
    (Grant all grants what it can and names the refusal). Turning off keeps the VMs' access,
    or with "also remove" (flag 0x1) revokes every VM."""
    h = world.h
    page = open_dashboard(world)
    mon = h.monitor()
    before = {v["Name"]: v for v in ctl_json(h, "vms")["vms"]}

    page.click("#legacy-switch")
    text = page.wait("!document.getElementById('legacy-confirm').hidden && "
                     "document.getElementById('legacy-confirm-text').textContent", "the confirmation")
    for part in ("every VM registered now (11 VMs)", "A VM that cannot be granted now (a Generation 1 VM "
                 "that is not Off, a VM without a legacy NIC) is listed with the reason"):
        if part not in text:
            raise AssertionError(f"confirmation {text!r} does not say {part!r}")
    eq(page.js("document.getElementById('legacy-remove-vms-option').hidden"), True,
       "the remove-VMs option when turning on")
    eq(page.js("document.getElementById('legacy-switch').checked"), False, "switch before confirming")
    page.click("#legacy-confirm-no")
    page.wait("document.getElementById('legacy-confirm').hidden", "the confirmation to close")
    eq(ctl_json(h, "status")["cluster"]["LegacyOsSupport"], "Off", "LegacyOsSupport after Cancel")

    args, results = legacy_change(page, mon, "#legacy-switch", "EnableLegacyEx", confirm=True)
    eq(args, [True, 0], "EnableLegacyEx's arguments")
    eq(ctl_json(h, "status")["cluster"]["LegacyOsSupport"], "On", "LegacyOsSupport after confirming")
    after = {v["Name"]: v for v in ctl_json(h, "vms")["vms"]}
    # Every VM that had no access is in the reply: granted, or the running Generation 1 VM refused.
    eq({r[1]: r[2] for r in results},
       {n: "refused" if n == "esu-ws2008r2" else "granted" for n, v in before.items() if not v["LegacyAccess"]},
       "the results by VM")
    eq([r[3] for r in results if r[1] == "esu-ws2008r2"], [G1_REFUSED], "the refusal's message")
    eq(page.js("document.getElementById('legacy-results-title').textContent"),
       f"Legacy OS support turned on: {len(results) - 1} granted, 1 refused", "the results' title")
    for name, vm in after.items():
        eq(vm["LegacyAccess"], name != "esu-ws2008r2", f"{name}'s LegacyAccess after EnableLegacyEx(true)")
    # The refused VM says why in its row (LegacyError, compared with azshcictl for every row).
    eq(after["esu-ws2008r2"]["LegacyError"], "no legacy access: " + G1_REFUSED, "esu-ws2008r2's LegacyError")
    page.wait(f"(e => e && e.textContent === {json.dumps('no legacy access: ' + G1_REFUSED)})"
              f"(document.querySelector('{row('esu-ws2008r2')} .access .legacy-error'))", "the LegacyError warning")
    eq(page.js(f"document.querySelectorAll('#vms-table .legacy-error').length"), 1, "rows with a LegacyError")
    eq(page.js("document.getElementById('legacy-switch').checked"), True, "switch after confirming")
    assert_page_matches_service(h, page)
    page.screenshot(os.path.join(world.screenshot_dir(), "legacy-results.png"))

    args, results = legacy_change(page, mon, "#revoke-all", "SetVMAccessEx")
    eq(args, ["*", False], "Revoke all's arguments")
    eq(sorted((r[1], r[2]) for r in results), sorted((n, "revoked") for n in after if n != "esu-ws2008r2"),
       "Revoke all's results")
    if any(v["LegacyAccess"] for v in ctl_json(h, "vms")["vms"]):
        raise AssertionError("Revoke all left a VM with legacy access")
    assert_page_matches_service(h, page)

    # Grant all grants what it can; the running Generation 1 VM is a result, not an error.
    args, results = legacy_change(page, mon, "#grant-all", "SetVMAccessEx")
    eq(args, ["*", True], "Grant all's arguments")
    eq({r[1]: r[2] for r in results}, {n: "refused" if n == "esu-ws2008r2" else "granted" for n in after},
       "Grant all's results")
    eq(inline_error(page, "#legacy-error"), None, "the error after Grant all")
    eq(page.js("document.getElementById('legacy-results-title').textContent"),
       f"Grant all: {len(after) - 1} granted, 1 refused", "Grant all's title")
    assert_page_matches_service(h, page)

    # Off: every VM keeps its access.
    args, results = legacy_change(page, mon, "#legacy-switch", "EnableLegacyEx", confirm=True, remove_vms=False)
    eq([args, results], [[False, 0], []], "EnableLegacyEx(false) without removing the VMs")
    eq(page.js("document.getElementById('legacy-results-title').textContent"),
       "Legacy OS support turned off: no VM needed a change", "the title of an empty reply")
    eq(sorted(v["Name"] for v in ctl_json(h, "vms")["vms"] if v["LegacyAccess"]),
       sorted(n for n in after if n != "esu-ws2008r2"), "the VMs with access after turning off")
    assert_page_matches_service(h, page)

    # On again (only the refused VM is in the reply), then off with "also remove" (0x1).
    args, results = legacy_change(page, mon, "#legacy-switch", "EnableLegacyEx", confirm=True)
    eq([r[1:3] for r in results], [["esu-ws2008r2", "refused"]], "turning on again")
    args, results = legacy_change(page, mon, "#legacy-switch", "EnableLegacyEx", confirm=True, remove_vms=True)
    eq(args, [False, 1], "EnableLegacyEx's arguments with the remove-VMs option")
    eq(sorted((r[1], r[2]) for r in results), sorted((n, "revoked") for n in after if n != "esu-ws2008r2"),
       "the results of turning off and removing the VMs")
    vms = ctl_json(h, "vms")["vms"]
    eq([v["Name"] for v in vms if v["LegacyAccess"] or v["LegacyError"]], [], "VMs with access or an error")
    eq(ctl_json(h, "status")["cluster"]["LegacyOsSupport"], "Off", "LegacyOsSupport at the end")
    assert_page_matches_service(h, page)


def vm_note(page, name):
    return page.js(f"[...document.querySelectorAll('{row(name)} .actions .vm-note')].map(e => e.textContent)")


@testcase
def test_vm_access_toggle(world):
    """One VM's legacy access switch grants and revokes exactly that VM's access
    (SetVMAccessEx) and its row says what the service did."""
    h = world.h
    page = open_dashboard(world)
    mon = h.monitor()
    others = {v["Name"]: v["LegacyAccess"] for v in ctl_json(h, "vms")["vms"] if v["Name"] != "debian-web"}
    for on, result in ((True, "granted"), (False, "revoked")):
        since = mon.mark()
        page.click(row("debian-web") + " .access .switch-track")
        page.wait(f"document.querySelector('{row('debian-web')} .access input').checked === {json.dumps(on)}",
                  f"the switch {on}")
        eq(vm_of(h, "debian-web")["LegacyAccess"], on, "debian-web's LegacyAccess")
        eq({v["Name"]: v["LegacyAccess"] for v in ctl_json(h, "vms")["vms"] if v["Name"] != "debian-web"},
           others, "the other VMs")
        args, reply = method_reply(mon, "SetVMAccessEx", since)
        eq(args, ["debian-web", on], "SetVMAccessEx's arguments")
        eq([r[1:3] for r in reply[0]], [["debian-web", result]], "SetVMAccessEx's reply")
        page.wait(f"[...document.querySelectorAll('{row('debian-web')} .vm-note')].length", "the row's note")
        eq(vm_note(page, "debian-web"), [f"{result}: {reply[0][0][3]}"], "debian-web's note")
        assert_page_matches_service(h, page)


PROTO_NAMES = ("constructor", "__proto__", "toString", "hasOwnProperty")


@testcase
def test_prototype_names(world):
    """VMs named like properties every JavaScript object inherits ("constructor", "__proto__",
    ...) are valid VM names: each gets its row, with its switch enabled, and a call for one
    of them shows its note in that row (the page keys its per-VM state by name)."""
    h = world.h
    for i, name in enumerate(PROTO_NAMES):
        h.ctl("vm", "add", "--name", name, "--id", f"0d1e2f30-4a5b-4c6d-8e7f-1122334455{i:02d}",
              "--os-name", "Windows Server 2012 R2 Datacenter", "--os-version", "6.3.9600.0")
    eq(sorted(v["Name"] for v in ctl_json(h, "vms")["vms"]), sorted(PROTO_NAMES), "the VMs registered")
    page = open_dashboard(world, demo=False)
    for name in PROTO_NAMES:
        eq(page.js(f"document.querySelector('{row(name)} .access input').disabled"), False,
           f"{name}'s access switch enabled")
    page.click(row("constructor") + " .access .switch-track")
    page.wait(f"document.querySelector('{row('constructor')} .access input').checked === true",
              "constructor's switch on")
    eq(vm_of(h, "constructor")["LegacyAccess"], True, "constructor's LegacyAccess")
    page.wait(f"[...document.querySelectorAll('{row('constructor')} .vm-note')].length", "constructor's note")
    eq([n.split(":")[0] for n in vm_note(page, "constructor")], ["granted"], "constructor's note")
    eq(page.js(f"document.querySelector('{row('constructor')} .access input').disabled"), False,
       "constructor's switch enabled after the call")
    assert_page_matches_service(h, page)


@testcase
def test_recommended_action(world):
    """A recommended action's button calls FixVM (avd-win10-ms gets legacy access, the action
    goes away, the row shows FixVM's message); when the service refuses (a running Generation
    1 VM), the D-Bus error name and message show in that VM's row and nothing changes.
    Install updates is no button: its text lists the KBs and builds the guest needs; the device
    actions of a VM registered by hand are text too."""
    h = world.h
    page = open_dashboard(world)
    mon = h.monitor()
    if "EnableVMLegacyAccess" not in vm_of(h, "avd-win10-ms")["RecommendedActions"]:
        raise AssertionError("the demo VM avd-win10-ms should recommend EnableVMLegacyAccess")
    since = mon.mark()
    page.click(row("avd-win10-ms") + ' button[data-action="EnableVMLegacyAccess"]')
    page.wait(f"document.querySelector('{row('avd-win10-ms')} button[data-action]') === null && "
              f"document.querySelector('{row('avd-win10-ms')} .vm-note') !== null", "the action's button to go")
    args, reply = method_reply(mon, "FixVM", since)
    eq(args, ["avd-win10-ms", "EnableVMLegacyAccess"], "FixVM's arguments")
    eq(calls_of(mon, "SetVMAccessEx", since) + calls_of(mon, "SetVMAccess", since), [], "other calls")
    eq(reply, ["VM 'avd-win10-ms': legacy access granted: this server does not manage the legacy network "
              "(\"legacyNetwork\": false)."], "FixVM's reply")
    eq(vm_note(page, "avd-win10-ms"), ["Grant legacy access: done: " + reply[0]], "avd-win10-ms's note")
    vm = vm_of(h, "avd-win10-ms")
    eq(vm["LegacyAccess"], True, "avd-win10-ms's LegacyAccess")
    if "EnableVMLegacyAccess" in vm["RecommendedActions"]:
        raise AssertionError(f"still recommended: {vm['RecommendedActions']}")
    assert_page_matches_service(h, page)

    before = h.managed_objects()
    since = mon.mark()
    page.click(row("esu-ws2008r2") + ' button[data-action="EnableVMLegacyAccess"]')
    err = page.wait(f"(e => e && e.textContent)(document.querySelector('{row('esu-ws2008r2')} .inline-error'))",
                    "the error in esu-ws2008r2's row")
    eq(err, G1_REFUSED + " (org.azshci.Attestation1.Error.PowerOffRequired)", "esu-ws2008r2's row error")
    eq(method_reply(mon, "FixVM", since)[0], ["esu-ws2008r2", "EnableVMLegacyAccess"], "the refused FixVM")
    eq(vm_note(page, "esu-ws2008r2"), [], "no note for a refused action")
    eq(h.managed_objects(), before, "the service's objects after the refused call")

    # Install updates: the service's words for what to install, and no button.
    vms = [v for v in ctl_json(h, "vms")["vms"] if "InstallUpdates" in v["RecommendedActions"]]
    if not vms:
        raise AssertionError("no demo VM recommends InstallUpdates")
    for vm in vms:
        sel = row(vm["Name"])
        eq(page.js(f"document.querySelectorAll('{sel} button[data-action=\"InstallUpdates\"]').length"), 0,
           f"{vm['Name']}: Install updates buttons")
        eq(page.js(f"document.querySelector('{sel} span[data-action=\"InstallUpdates\"]').textContent"),
           "Install updates", f"{vm['Name']}: the action's text")
        eq(page.js(f"[...document.querySelectorAll('{sel} .required-updates li')].map(li => li.textContent)"),
           vm["RequiredUpdates"], f"{vm['Name']}: the updates listed")
        if not all(u.startswith(("KB", "ArcAgentVersion")) for u in vm["RequiredUpdates"]):
            raise AssertionError(f"{vm['Name']}: RequiredUpdates {vm['RequiredUpdates']} name no KB")
    devices = [(v["Name"], a) for v in ctl_json(h, "vms")["vms"] for a in v["RecommendedActions"]
               if a in ("EnableGuestServiceInterface", "EnableDataExchange")]
    if not devices:
        raise AssertionError("no demo VM recommends a device action")
    for name, a in devices:
        eq(page.js(f"document.querySelector('{row(name)} [data-action=\"{a}\"]').tagName"), "SPAN",
           f"{name}'s {a} (a VM registered by hand)")


@testcase
def test_trust_anchor(world):
    """"Download trust anchor" saves ca.pem, byte for byte what GetTrustAnchor returns."""
    h = world.h
    page = open_dashboard(world)
    page.click("#ca-button")
    eq(wait_download(world), ctl_json(h, "ca", "export")["pem"], "downloaded ca.pem")
    eq(inline_error(page, "#ca-error"), None, "trust anchor error")


@testcase
def test_unprivileged(world):
    """A Cockpit session of a user without rights: everything reads, every action shows the
    polkit refusal (error name and message) next to it and how to get access, and the service
    state does not change."""
    h = world.h
    import_demo(world)
    # Powered off, so that Grant all is not refused for it before polkit is asked.
    h.ctl("vm", "update", "esu-ws2008r2", "PowerState=Off")
    page = open_dashboard(world, user=TEST_USER, demo=False)
    objects, props = h.managed_objects(), h.get_all()
    eq(page.js("document.getElementById('access-alert').hidden"), True, "access alert before any action")

    def refused(selector, what):
        text = page.wait(f"(e => e && !e.hidden && e.textContent)(document.querySelector({json.dumps(selector)}))",
                         f"the refusal of {what}")
        if not any(name in text for name in REFUSED):
            raise AssertionError(f"{what}: {text!r} does not show the polkit refusal")
        if "administrative access" not in text:
            raise AssertionError(f"{what}: {text!r} does not say how to get access")

    page.click("#sync-button")
    refused("#sync-error", "Sync now")
    page.click("#legacy-switch")
    page.wait("!document.getElementById('legacy-confirm').hidden", "the confirmation")
    page.click("#legacy-confirm-yes")
    refused("#legacy-error", "the legacy switch")
    eq(page.js("document.getElementById('legacy-switch').checked"), False, "switch after the refusal")
    page.click("#grant-all")
    refused("#legacy-error", "Grant all")
    page.click(row("debian-web") + " .access .switch-track")
    refused(row("debian-web") + " .inline-error", "debian-web's access switch")
    mon = h.monitor()
    page.click(row("esu-ws2008r2") + ' button[data-action="EnableVMLegacyAccess"]')
    refused(row("esu-ws2008r2") + " .inline-error", "esu-ws2008r2's recommended action")
    args, err = method_reply(mon, "FixVM")
    eq(args, ["esu-ws2008r2", "EnableVMLegacyAccess"], "the refused FixVM's arguments")
    if err[0] not in REFUSED:
        raise AssertionError(f"FixVM answered {err!r}, not a polkit refusal")
    text = page.js(f"document.querySelector('{row('esu-ws2008r2')} .inline-error .error-text').textContent")
    eq(text, f"{err[1]} ({err[0]})", "the refusal in esu-ws2008r2's row")
    eq(page.js("document.getElementById('access-alert').hidden"), False, "access alert after a refusal")
    page.screenshot(os.path.join(world.screenshot_dir(), "unprivileged-refused.png"))

    eq(h.managed_objects(), objects, "the service's objects after refused actions")
    eq(h.get_all(), props, "the service's properties after refused actions")
    assert_page_matches_service(h, page)

    page.click("#ca-button")   # reading is open to everyone
    eq(wait_download(world), ctl_json(h, "ca", "export")["pem"], "ca.pem downloaded by the unprivileged user")


PO_DE = """cockpit.locale({
    "": {"plural-forms": n => n != 1, "language": "de", "language-direction": "ltr"},
    "Sync now": [null, "Jetzt synchronisieren"],
    "Active benefits": [null, "Aktive Vorteile"],
    "Grant legacy access": [null, "Legacy-Zugriff gewähren"]
});
"""


@testcase
def test_translations(world):
    """The page's strings go through Cockpit's translation mechanism: a po.de.js in the package
    (a test fixture: none ships yet) translates the HTML (translate attributes) and the script's
    strings (cockpit.gettext) for a German browser (Cockpit's CockpitLang cookie)."""
    h = world.h
    import_demo(world)
    world.start_cockpit(stage_extra={"po.de.js": PO_DE})
    world.start_browser()
    world.devtools.send("Network.enable")
    world.devtools.send("Network.setCookie", name="CockpitLang", value="de", url=world.page_url())
    page = world.open_page()
    eq(page.js("document.getElementById('sync-button').textContent"), "Jetzt synchronisieren", "HTML string")
    eq(page.js("document.querySelector('#counts .count[data-status=\"ActiveBenefits\"] .count-label').textContent"),
       "Aktive Vorteile", "HTML string of a count card")
    eq(page.js(f"document.querySelector('{row('avd-win10-ms')} button[data-action]').textContent"),
       "Legacy-Zugriff gewähren", "script string")
    eq(page.js(f"document.querySelector('{row('avd-host-01')} .status').textContent"), "Aktive Vorteile",
       "script string of a status")
    eq(page.js("document.getElementById('ca-button').textContent"), "Download trust anchor (ca.pem)",
       "a string the catalogue does not have")


@testcase
def test_stale_sources(world):
    """InventoryStale and ClusterStore as the page shows them. Started as usual (manual
    inventory, no cluster): no banner, no cluster store row, no warning. Then the service runs
    with a libvirt inventory whose socket does not exist and a cluster whose etcd endpoint has
    nothing listening (real service, no mock: both are simply unreachable): the page, reading
    everything again when the service comes back, shows the banner, the store "Unreachable" and
    its warning, exactly as azshcictl reads them."""
    h = world.h
    page = open_dashboard(world)
    got = page_host(page)
    eq([got["staleBanner"], got["clusterStore"], got["clusterStoreWarning"]], [None, None, None],
       "banner, cluster store row and warning of a standalone server with the manual inventory")

    with socket.socket() as s:   # a port nothing listens on: etcd unreachable
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    h.stop_service()
    h.write_config(inventory={"provider": "libvirt", "uri": "qemu+unix:///system?socket=/nonexistent"},
                   cluster={"endpoints": [f"http://127.0.0.1:{port}"], "timeoutSeconds": 1})
    h.start_service(wait_sync=False)
    for _ in deadline_loop(PAGE_TIMEOUT, "InventoryStale true and ClusterStore Unreachable", 0.05):
        c = ctl_json(h, "status")["cluster"]
        if c["InventoryStale"] is True and c["ClusterStore"] == "Unreachable":
            break
    got = wait_equal(page, PAGE_HOST_EXPR, expected_host(ctl_json(h, "status")), "host, libvirt and etcd unreachable")
    eq([got["staleBanner"], got["clusterStore"], got["clusterStoreWarning"]],
       [STALE_BANNER, "Unreachable", STORE_WARNING], "banner, cluster store row and warning")
    eq(page.js("document.querySelector('#host-cluster-store .badge').className"), "badge badge-unreachable",
       "the store's badge")
