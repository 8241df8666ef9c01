# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization with the real polkitd and the real bus policy."""

import json
import os
import pwd
import signal
import subprocess

from harness import (ACTIONS, BUS_NAME, BUS_PATH, IFACE, TEST_FRONTEND_USER, TEST_USER, eq,
                     gvariant_dict, gvariant_str, testcase, vm_path)
from harness import DEFAULT_TIMEOUT, IFACE_VM, deadline_loop, log_count, wait_log_count
from vmdata import vm_id, vm_props

INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"

# method → (polkit action key, function h → gdbus arguments). The arguments always ask for
# a real change: a call that changes nothing is answered without asking polkit (systemd's
# handler order), so it would prove nothing here. vm1 exists (registered by _prepare).
_counter = [100]


def _next():
    _counter[0] += 1
    return _counter[0]


def _legacy_flip(h):
    return ["false" if h.get_property("LegacyOsSupport") == "On" else "true"]


def _access_flip(h):
    from harness import IFACE_VM
    on = h.get_property("LegacyAccess", vm_path(vm_id(1)), IFACE_VM)
    return [gvariant_str("vm1"), "false" if on else "true"]


ADMIN_CALLS = {
    "Sync": ("sync", lambda h: []),
    "EnableLegacy": ("legacy", _legacy_flip),
    "SetVMAccess": ("vm-access", _access_flip),
    "RegisterVM": ("inventory", lambda h: [gvariant_dict(vm_props(_next()))]),
    "UpdateVM": ("inventory", lambda h: [gvariant_str("vm1"), gvariant_dict({"Sku": f"Sku{_next()}"})]),
    "UnregisterVM": ("inventory", lambda h: [gvariant_str("vm1")]),
    # The variants that report VM by VM, and FixVM (its device actions need a libvirt domain:
    # tests/libvirt vm-fix; EnableVMLegacyAccess asks for manage-vm-access).
    "EnableLegacyEx": ("legacy", lambda h: _legacy_flip(h) + ["uint64 0"]),
    "SetVMAccessEx": ("vm-access", _access_flip),
    "FixVM": ("vm-access", lambda h: [gvariant_str("vm1"), gvariant_str("EnableVMLegacyAccess")]),
}


def _prepare(h):
    h.register_vm(**vm_props(1))
    return h.managed_objects(), h.get_all()


def _expect_denied(h, user, methods=ADMIN_CALLS):
    """Each method is refused for user, both ways, and nothing changes."""
    objs, props = h.managed_objects(), h.get_all()
    for method in methods:
        args = ADMIN_CALLS[method][1](h)
        # polkit answers "challenge"; the caller did not allow interactive auth
        h.expect_error(INTERACTIVE, method, args, user=user)
        # interactive allowed, but no agent can answer: denied
        h.expect_error(ACCESS_DENIED, method, args, user=user, interactive=True)
    eq(h.managed_objects(), objs, "objects after refused calls")
    eq(h.get_all(), props, "properties after refused calls")


def _expect_allowed(h, user, method):
    args = ADMIN_CALLS[method][1](h)
    gd = h.run(["gdbus", "call", "--system", "--dest", BUS_NAME, "--object-path", BUS_PATH,
                "--method", f"{IFACE}.{method}", "--", *args], user=user, check=False)
    if gd.returncode != 0:
        raise AssertionError(f"{method} as {user} refused: {gd.stderr.strip()}")


@testcase()
def test_polkit_denies_unprivileged(h):
    """The real polkitd (auth_admin_keep, no agent) refuses every admin method to an
    unprivileged user: InteractiveAuthorizationRequired without the interactive flag,
    AccessDenied with it; the state is untouched."""
    _prepare(h)
    _expect_denied(h, TEST_USER)


@testcase()
def test_polkit_rules_grant(h):
    """A .rules file granting the test user all four actions lets every admin method
    through; the effects are real."""
    _prepare(h)
    h.grant(TEST_USER)
    for method in ("EnableLegacy", "SetVMAccess", "RegisterVM", "UpdateVM", "Sync", "UnregisterVM"):
        _expect_allowed(h, TEST_USER, method)
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport")
    eq(len(h.vm_paths()), 1, "VMs left (one registered, vm1 unregistered)")
    if vm_path(vm_id(1)) in h.vm_paths():
        raise AssertionError("vm1 was not unregistered")


@testcase()
def test_polkit_action_mapping(h):
    """Each method asks for its own action: granting one action lets exactly its methods
    through and keeps the others refused."""
    _prepare(h)
    for key, action in ACTIONS.items():
        h.grant(TEST_USER, [action])
        allowed = [m for m, (k, _) in ADMIN_CALLS.items() if k == key]
        denied = [m for m, (k, _) in ADMIN_CALLS.items() if k != key]
        _expect_denied(h, TEST_USER, denied)
        for m in allowed:
            if m == "UnregisterVM":
                continue    # would remove vm1 that the other calls need; covered above
            _expect_allowed(h, TEST_USER, m)


@testcase()
def test_polkit_grant_other_user_only(h):
    """A rule for another user does not grant the test user."""
    _prepare(h)
    h.grant(TEST_FRONTEND_USER)
    _expect_denied(h, TEST_USER, ["EnableLegacy", "RegisterVM"])
    _expect_allowed(h, TEST_FRONTEND_USER, "EnableLegacy")


@testcase()
def test_polkit_stopped_denies(h):
    """With polkitd gone from the bus an unprivileged admin call is denied promptly (the
    harness fails a call that takes longer than its timeout), and root still passes
    without polkit."""
    _prepare(h)
    h.stop_polkit()
    for method in ("EnableLegacy", "RegisterVM"):
        h.expect_error(ACCESS_DENIED, method, ADMIN_CALLS[method][1](h), user=TEST_USER)
        h.expect_error(ACCESS_DENIED, method, ADMIN_CALLS[method][1](h), user=TEST_USER, interactive=True)
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport after refusals")
    h.call("EnableLegacy", "b", True)
    h.register_vm(**vm_props(3))
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport set by root without polkit")
    eq(len(h.vm_paths()), 2, "VMs")
    # polkit back: the service asks it again
    h.start_polkit()
    _expect_denied(h, TEST_USER, ["EnableLegacy"])


@testcase()
def test_bus_policy_attest(h):
    """The bus itself refuses Attest to a user outside azshci-frontend (the error comes from
    dbus-daemon, not from the service), also to root; a member of the group reaches the
    method."""
    h.register_vm(**vm_props(1))
    args = [gvariant_str("vsock"), gvariant_str("101"), gvariant_str("abc")]
    for user in (TEST_USER, None):
        e = h.expect_error(ACCESS_DENIED, "Attest", args, user=user)
        if "Rejected send message" not in e.message:
            raise AssertionError(f"Attest refused, but not by the bus: {e.message!r}")
    for user in (TEST_FRONTEND_USER, "azshci-frontend"):
        gd = h.run(["gdbus", "call", "--system", "--dest", BUS_NAME, "--object-path", BUS_PATH,
                    "--method", f"{IFACE}.Attest", "--", *args], user=user, check=False)
        if gd.returncode != 0 or "pkcs7" not in gd.stdout:
            raise AssertionError(f"Attest as {user} did not return a document: {gd.stdout}{gd.stderr}")


@testcase()
def test_bus_policy_other(h):
    """The bus policy: nobody but the service user may own the name; Properties.Set is
    not open; an unprivileged user may call the admin methods (polkit decides)."""
    gd = h.run(["gdbus", "call", "--system", "--dest", "org.freedesktop.DBus", "--object-path",
                "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.RequestName",
                BUS_NAME, "4"], user=TEST_USER, check=False)
    if gd.returncode == 0 or ACCESS_DENIED not in gd.stderr:
        raise AssertionError(f"an unprivileged user could request {BUS_NAME}: {gd.stdout}{gd.stderr}")
    e = h.expect_error(ACCESS_DENIED, "Set", [gvariant_str(IFACE), gvariant_str("LegacyOsSupport"),
                                              "<'On'>"], interface="org.freedesktop.DBus.Properties",
                       user=TEST_USER)
    if "Rejected send message" not in e.message:
        raise AssertionError(f"Properties.Set refused, but not by the bus: {e.message!r}")
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport")
    # The service user's uid owns the name.
    eq(h.name_owner_uid(BUS_NAME), pwd.getpwnam("azshci").pw_uid, "owner")


@testcase()
def test_enable_legacy_rechecked_after_polkit(h):
    """EnableLegacy checks again after polkit answered: a call waiting for polkit (polkitd
    stopped; the monitor shows the service asked) while root turns legacy OS support on and
    revokes vm1's access, answered once polkitd runs again, changes nothing (before the fix it
    ran the grant loop again and gave vm1 back the access the admin had just revoked)."""
    h.register_vm(**vm_props(1, LegacyInterface="azv1"))
    h.grant(TEST_USER, [ACTIONS["legacy"]])
    mon = h.monitor()
    os.kill(h.polkit_proc.pid, signal.SIGSTOP)
    call = subprocess.Popen(h.user_prefix(TEST_USER) + ["gdbus", "call", "--system", "--dest", BUS_NAME,
                                                         "--object-path", BUS_PATH,
                                                         "--method", f"{IFACE}.EnableLegacy", "true"],
                            env=h.client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in deadline_loop(DEFAULT_TIMEOUT, "the service to ask polkit about EnableLegacy"):
            mon._drain()
            if any(m.get("member") == "CheckAuthorization" for m in mon.messages):
                break
        h.call("EnableLegacy", "b", True)   # root: no polkit
        h.call("SetVMAccess", "sb", "vm1", False)
        eq(h.get_property("LegacyAccess", vm_path(vm_id(1)), IFACE_VM), False, "vm1's access revoked by root")
    finally:
        os.kill(h.polkit_proc.pid, signal.SIGCONT)
    out, err = call.communicate(timeout=DEFAULT_TIMEOUT)
    eq((call.returncode, out.strip(), err.strip()), (0, "()", ""), "the waiting EnableLegacy(true)")
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport")
    eq(h.get_property("LegacyAccess", vm_path(vm_id(1)), IFACE_VM), False,
       "vm1's access after the waiting EnableLegacy(true) was authorized")


LIMITS_EXCEEDED = "org.freedesktop.DBus.Error.LimitsExceeded"
PENDING_PER_USER = 4   # POLKIT_QUERIES_PER_CALLER_MAX in service/attestd/polkit.h


def _pending_call(h, user, method="EnableLegacy", args=("true",)):
    """An interactive-flagged admin call as user, left running (polkitd is held)."""
    return subprocess.Popen(h.user_prefix(user) + ["gdbus", "call", "--system", "--interactive", "--dest", BUS_NAME,
                                                   "--object-path", BUS_PATH, "--method", f"{IFACE}.{method}",
                                                   "--", *args],
                            env=h.client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_checks(mon, member, count, since=0):
    for _ in deadline_loop(DEFAULT_TIMEOUT, f"{count} {member} calls on the bus"):
        mon._drain()
        seen = [m for m in mon.messages[since:] if m.get("member") == member]
        if len(seen) >= count:
            return seen


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=DEFAULT_TIMEOUT)


@testcase()
def test_polkit_pending_limit(h):
    """At most 4 authorization checks pending per user: with polkitd held (SIGSTOP) an
    unprivileged user's 5th interactive admin call is refused at once with LimitsExceeded and
    the exact message, polkit is not asked; another user's call still reaches polkit. When the
    waiting callers leave, their checks are cancelled (CancelCheckAuthorization with the id
    CheckAuthorization carried, one log line each) and the user may start 4 again."""
    mon = h.monitor()
    procs = []
    os.kill(h.polkit_proc.pid, signal.SIGSTOP)
    try:
        procs = [_pending_call(h, TEST_USER) for _ in range(PENDING_PER_USER)]
        checks = _wait_checks(mon, "CheckAuthorization", PENDING_PER_USER)
        extra = h.run(["gdbus", "call", "--system", "--interactive", "--dest", BUS_NAME, "--object-path", BUS_PATH,
                       "--method", f"{IFACE}.EnableLegacy", "true"], user=TEST_USER, check=False)
        eq((extra.returncode, extra.stderr.strip()),
           (1, f"Error: GDBus.Error:{LIMITS_EXCEEDED}: Too many authorization requests pending for this user "
               "(at most 4); answer or cancel one first."), "the 5th pending call")
        mon.sync()
        mon._drain()
        eq(len([m for m in mon.messages if m.get("member") == "CheckAuthorization"]), PENDING_PER_USER,
           "CheckAuthorization calls after the refused one")
        ids = sorted(m["payload"]["data"][4] for m in checks)
        eq(len(set(ids)), PENDING_PER_USER, "distinct cancellation ids")
        eq(all(i.startswith("azshci-") for i in ids), True, f"cancellation ids {ids}")
        other = _pending_call(h, TEST_FRONTEND_USER)
        procs.append(other)
        _wait_checks(mon, "CheckAuthorization", PENDING_PER_USER + 1)

        since = mon.mark()
        _stop(procs)
        cancels = _wait_checks(mon, "CancelCheckAuthorization", PENDING_PER_USER + 1, since)
        eq(sorted(m["payload"]["data"][0] for m in cancels if m["payload"]["data"][0] in ids), ids,
           "the cancelled ids")
        wait_log_count(h, "the caller left the bus", PENDING_PER_USER + 1)

        since = mon.mark()
        procs = [_pending_call(h, TEST_USER) for _ in range(PENDING_PER_USER)]
        _wait_checks(mon, "CheckAuthorization", PENDING_PER_USER, since)
    finally:
        _stop(procs)
        os.kill(h.polkit_proc.pid, signal.SIGCONT)


@testcase()
def test_polkit_caller_left(h):
    """A caller that leaves while polkit decides is forgotten. A rule grants the user, but
    first holds polkitd (polkit.spawn waits for a gate file) after polkitd has looked the caller
    up; the caller is killed meanwhile. The service cancels the check with its id
    (CancelCheckAuthorization, one log line); the gate opens, polkitd answers yes, and nothing
    changes: LegacyOsSupport stays Off (before the fix the continuation turned it On for a
    caller that was gone). A fresh call from the user goes through."""
    gate_dir = os.path.join(h.tmp, "polkit-gate")
    os.mkdir(gate_dir)
    os.chmod(gate_dir, 0o777)
    entered, gate = os.path.join(gate_dir, "entered"), os.path.join(gate_dir, "open")
    # polkitd kills a spawned helper after 10 s: the wait gives up after 8 s (then the test fails
    # on its own deadlines).
    wait = f"touch {entered}; i=0; while [ ! -e {gate} ] && [ $i -lt 160 ]; do sleep 0.05; i=$((i+1)); done"
    h.write_rules("10-gate.rules",
                  "polkit.addRule(function(action, subject) {\n"
                  f"    if (action.id == {json.dumps(ACTIONS['legacy'])} && subject.user == {json.dumps(TEST_USER)}) {{\n"
                  f"        polkit.spawn([\"/bin/sh\", \"-c\", {json.dumps(wait)}]);\n"
                  "        return polkit.Result.YES;\n"
                  "    }\n"
                  "});\n")
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport before")
    mon = h.monitor()
    call = _pending_call(h, TEST_USER)
    try:
        check = _wait_checks(mon, "CheckAuthorization", 1)[0]
        for _ in deadline_loop(DEFAULT_TIMEOUT, "polkitd to run the rule for the caller", 0.02):
            if os.path.exists(entered):
                break
    finally:
        _stop([call])
    cancel_id = check["payload"]["data"][4]
    wait_log_count(h, f"Cancelling the authorization check {cancel_id} for {ACTIONS['legacy']}", 1)
    with open(gate, "w"):
        pass
    for _ in deadline_loop(DEFAULT_TIMEOUT, "polkitd's answer to the cancelled check"):
        mon._drain()
        if any(m.get("reply_cookie") == check["cookie"] for m in mon.messages):
            break
    mon.sync()
    eq(h.get_property("LegacyOsSupport"), "Off", "LegacyOsSupport after the caller left")
    cancels = _wait_checks(mon, "CancelCheckAuthorization", 1)
    eq([m["payload"]["data"] for m in cancels], [[cancel_id]], "CancelCheckAuthorization calls")
    eq(log_count(h, "Cancelling the authorization check"), 1, "cancellations logged")
    # A later call from the same user goes through (the gate stays open).
    _expect_allowed(h, TEST_USER, "EnableLegacy")
    eq(h.get_property("LegacyOsSupport"), "On", "LegacyOsSupport after a fresh authorized call")
