# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sync and the keystore on the real service: first enrolment and renewal with the embedded
CA (properties and their PropertiesChanged on the cluster and the server object), concurrent
callers sharing one enrolment, polkit on Sync, the keystore's files and that the signing key
appears nowhere else, and kill -9 in the middle of a sync (embedded CA, and the CMP issuer
against the in-tree CMP test CA answering slowly)."""

import base64
import calendar
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import time

from harness import (ACTIONS, BUS_NAME, BUS_PATH, DEFAULT_TIMEOUT, IFACE, IFACE_SERVER, IFACE_VM, SERVICE_USER,
                     TEST_USER, TestCmpCa, attest, cert_field, deadline_loop, document_certs, eq,
                     import_identity, keystore_identity, local_ca_issue, log_count, public_key_of,
                     server_path, testcase, trust_anchor_file, verify_document, wait_log_count)
from vmdata import vm_id, vm_props

DAY_USEC = 86400 * 10**6
INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
SRV = server_path("node1")


def _times(h):
    main = h.get_all()
    srv = h.get_all(SRV, IFACE_SERVER)
    return main, srv


def _changes(m, since, path, iface):
    """[{property: value}] of every PropertiesChanged for path/iface after since."""
    out = []
    for s in m.signals(since, member="PropertiesChanged", path=path):
        i, changed, _ = s["payload"]["data"]
        if i == iface:
            out.append({k: v["data"] for k, v in changed.items()})
    return out


def _merged(changes):
    d = {}
    for c in changes:
        d.update(c)
    return d


def _check_enrolled(h, before, after):
    """Cluster and server agree, Active, LastSync within the call, expiry = the keystore
    certificate's notAfter = notBefore + 30 days, notBefore at most a minute before."""
    main, srv = _times(h)
    eq((srv["State"], srv["Error"], srv["LastSync"], srv["CertificateExpiry"]),
       ("Active", "", main["LastSync"], main["CertificateExpiry"]), "server vs cluster after sync")
    if not (before * 1e6 <= main["LastSync"] <= after * 1e6):
        raise AssertionError(f"LastSync {main['LastSync']} not within the sync ({before}..{after})")
    _, cert, _ = keystore_identity(h)
    nb = _openssl_time(cert_field(h, cert, "-startdate"))
    na = _openssl_time(cert_field(h, cert, "-enddate"))
    eq(na - nb, 30 * 86400, "certificate validity (s)")
    eq(main["CertificateExpiry"], na * 10**6, "CertificateExpiry = notAfter of identity.pem")
    if not (before - 61 <= nb <= after):
        raise AssertionError(f"notBefore {nb} not within a minute before the sync ({before})")
    return main, srv


def _watched_enrolment(h, enrol):
    """A bus monitor marked, then enrol() (the Sync call, the service's start) timed and
    _check_enrolled() on it: returns the monitor, its mark and (main, srv)."""
    m = h.monitor()
    since = m.mark()
    before = time.time()
    enrol()
    after = time.time()
    return m, since, _check_enrolled(h, before, after)


def _openssl_time(line):
    return _utc(line.split("=", 1)[1])


def _utc(v):
    return calendar.timegm(time.strptime(v, "%b %d %H:%M:%S %Y GMT"))


def _fingerprint(h, pem):
    return cert_field(h, pem, "-fingerprint", "-sha256").split("=", 1)[1]


def _serial(h, pem):
    return cert_field(h, pem, "-serial").split("=", 1)[1]


@testcase(start_service=False)
def test_sync_first_enrolment(h):
    """With automatic sync off the fresh service stays Inactive with LastSync and
    CertificateExpiry 0 on both objects; one Sync makes it Active: LastSync in the call's
    window, CertificateExpiry = the new certificate's notAfter = notBefore + 30 days, and all
    of it signalled with values: cluster (LastSync, CertificateExpiry), server (State Active,
    LastSync, CertificateExpiry)."""
    h.write_config(automaticSync=False)
    h.start_service(wait_sync=False)
    main, srv = _times(h)
    eq((main["LastSync"], main["CertificateExpiry"]), (0, 0), "cluster before any sync")
    eq((srv["State"], srv["LastSync"], srv["CertificateExpiry"], srv["Error"]), ("Inactive", 0, 0, ""),
       "server before any sync")
    eq(os.path.exists(os.path.join(h.state_dir, "keystore", "identity.pem")), False, "identity.pem before sync")
    m, since, (main, srv) = _watched_enrolment(h, lambda: h.call("Sync"))
    m.sync()
    c = _merged(_changes(m, since, BUS_PATH, IFACE))
    eq(c, {"LastSync": main["LastSync"], "CertificateExpiry": main["CertificateExpiry"]},
       "cluster PropertiesChanged")
    sc = _changes(m, since, SRV, IFACE_SERVER)
    eq(_merged(sc).get("State"), "Active", "server State signalled")
    eq({k: _merged(sc).get(k) for k in ("LastSync", "CertificateExpiry")},
       {"LastSync": main["LastSync"], "CertificateExpiry": main["CertificateExpiry"]}, "server PropertiesChanged")
    eq(log_count(h, "Sync started"), 1, "syncs started")


@testcase(start_service=False)
def test_sync_automatic_at_start(h):
    """Without a certificate the service enrols by itself right after start (no Sync call):
    Inactive → Active signalled once on the server object, LastSync/CertificateExpiry
    signalled on both objects; restarted with a valid certificate it does not sync again."""
    h.write_config()
    m, since, _ = _watched_enrolment(h, h.start_service)   # start_service waits for Active
    m.sync()
    states = [c["State"] for c in _changes(m, since, SRV, IFACE_SERVER) if "State" in c]
    eq(states, ["Active"], "server State changes")
    main = h.get_all()
    eq(_merged(_changes(m, since, BUS_PATH, IFACE)),
       {"LastSync": main["LastSync"], "CertificateExpiry": main["CertificateExpiry"]}, "cluster PropertiesChanged")
    eq(log_count(h, "Sync started"), 1, "syncs started")
    h.restart_service()
    eq(_times(h)[0], main, "cluster properties after restart (no new sync)")
    eq(log_count(h, "Sync started"), 1, "syncs started after a restart with a valid certificate")


@testcase()
def test_sync_renews(h):
    """A manual Sync renews: a new certificate (new serial, new key with rotateKeyOnSync's
    default), LastSync grows, expiry does not move back, the previous pair is kept as
    identity.pem.old; documents before and after verify against the same published root,
    each signed by its own certificate; the renewal is signalled on both objects."""
    h.register_vm(**vm_props(1))
    ca = trust_anchor_file(h)
    main0, _ = _times(h)
    key0, cert0, _ = keystore_identity(h)
    doc0 = attest(h, "vsock", "101", "before")
    m, since, (main1, _) = _watched_enrolment(h, lambda: h.call("Sync"))
    key1, cert1, _ = keystore_identity(h)
    if _serial(h, cert1) == _serial(h, cert0):
        raise AssertionError("Sync did not issue a new certificate")
    if public_key_of(h, key1, True) == public_key_of(h, key0, True):
        raise AssertionError("Sync did not rotate the key")
    if main1["LastSync"] <= main0["LastSync"] or main1["CertificateExpiry"] < main0["CertificateExpiry"]:
        raise AssertionError(f"times after renewal {main1} vs before {main0}")
    with open(os.path.join(h.state_dir, "keystore", "identity.pem.old")) as f:
        old = f.read()
    eq(_serial(h, old), _serial(h, cert0), "identity.pem.old holds the previous certificate")
    doc1 = attest(h, "vsock", "101", "after")
    verify_document(h, doc0, ca, nonce="before", vm_id=vm_id(1))
    verify_document(h, doc1, ca, nonce="after", vm_id=vm_id(1))
    eq(_serial(h, document_certs(h, doc0)[0]), _serial(h, cert0), "signer before renewal")
    eq(_serial(h, document_certs(h, doc1)[0]), _serial(h, cert1), "signer after renewal")
    m.sync()
    eq(_merged(_changes(m, since, BUS_PATH, IFACE)),
       {"LastSync": main1["LastSync"], "CertificateExpiry": main1["CertificateExpiry"]}, "cluster PropertiesChanged")
    sc = _merged(_changes(m, since, SRV, IFACE_SERVER))
    eq((sc.get("LastSync"), sc.get("CertificateExpiry")), (main1["LastSync"], main1["CertificateExpiry"]),
       "server PropertiesChanged")


@testcase()
def test_sync_at_start_when_expired(h):
    """A certificate that expired while the service was stopped is renewed by the automatic
    sync at the next start: a 10-second certificate from the embedded CA (openssl ca) is
    imported, the service (automatic sync off) shows it Expired once it ran out; restarted
    with automatic sync on, it syncs by itself without any call (one new "Sync started"),
    becomes Active with a fresh 30-day certificate, and signs again."""
    h.register_vm(**vm_props(1))
    ca = trust_anchor_file(h)
    h.stop_service()
    now = int(time.time())
    key, cert = local_ca_issue(h, "short", now - 60, now + 10)
    h.write_config(automaticSync=False)
    import_identity(h, key, cert)
    h.start_service(wait_sync=False)
    h.wait_server_state("Active")
    h.wait_server_state("Expired", timeout=60)
    h.stop_service()
    started = log_count(h, "Sync started")
    h.write_config()
    before = time.time()
    h.start_service()   # waits for Active
    after = time.time()
    eq(log_count(h, "Sync started"), started + 1, "automatic syncs at start")
    _check_enrolled(h, before, after)
    _keystore_consistent(h, ca, "renewed")


def _busctl_sync(h, user=None):
    argv = h.user_prefix(user) + ["busctl", "--system", "--json=short", "call", BUS_NAME, BUS_PATH, IFACE, "Sync"]
    return subprocess.Popen(argv, env=h.client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@testcase()
def test_sync_concurrent_callers(h):
    """Five Sync calls in flight at once (queued while the service is SIGSTOPped, then
    released together) all succeed with one enrolment: one "Sync started", one "Sync
    succeeded", one new certificate (identity.pem.old is the one from before), one LastSync
    change signalled."""
    _, cert0, _ = keystore_identity(h)
    started, succeeded = log_count(h, "Sync started"), log_count(h, "Sync succeeded")
    m = h.monitor()
    since = m.mark()
    pid = h.service_proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        procs = [_busctl_sync(h) for _ in range(5)]
        for _ in deadline_loop(20, "the monitor to see 5 Sync calls"):
            m.sync()
            calls = [x for x in m.messages[since:] if x.get("type") == "method_call" and x.get("member") == "Sync"]
            if len(calls) >= 5:
                break
    finally:
        os.kill(pid, signal.SIGCONT)
    for p in procs:
        out, err = p.communicate(timeout=30)
        eq((p.returncode, err), (0, ""), "concurrent Sync caller")
    eq(log_count(h, "Sync started") - started, 1, "syncs started for 5 callers")
    eq(log_count(h, "Sync succeeded") - succeeded, 1, "syncs succeeded for 5 callers")
    with open(os.path.join(h.state_dir, "keystore", "identity.pem.old")) as f:
        eq(_serial(h, f.read()), _serial(h, cert0), "identity.pem.old = the certificate before the 5 calls")
    m.sync()
    eq(len([c for c in _changes(m, since, BUS_PATH, IFACE) if "LastSync" in c]), 1, "LastSync changes signalled")


@testcase()
def test_sync_polkit(h):
    """An unprivileged Sync is refused by polkit (InteractiveAuthorizationRequired without the
    interactive flag, AccessDenied with it, no agent) and changes nothing (no sync started,
    identity.pem untouched, LastSync the same); a rule granting the sync action lets it
    through."""
    path = os.path.join(h.state_dir, "keystore", "identity.pem")
    with open(path, "rb") as f:
        ident = f.read()
    main = h.get_all()
    started = log_count(h, "Sync started")
    h.expect_error(INTERACTIVE, "Sync", user=TEST_USER)
    h.expect_error(ACCESS_DENIED, "Sync", user=TEST_USER, interactive=True)
    eq(h.get_all(), main, "cluster properties after refused Syncs")
    eq(log_count(h, "Sync started"), started, "syncs started by refused callers")
    with open(path, "rb") as f:
        eq(f.read() == ident, True, "identity.pem untouched")
    h.grant(TEST_USER, [ACTIONS["sync"]])
    h.call("Sync", user=TEST_USER)
    eq(log_count(h, "Sync started"), started + 1, "syncs after the grant")
    if h.get_property("LastSync") <= main["LastSync"]:
        raise AssertionError("a granted Sync did not renew")


def _private_parts(h, key_pem):
    """The secret numbers of a private key (RSA: private exponent and primes; EC: the
    scalar), as bytes, from `openssl pkey -text`."""
    text = h.run(["openssl", "pkey", "-text", "-noout"], input=key_pem).stdout
    parts, cur = {}, None
    for line in text.splitlines():
        if not line.startswith(" "):
            name = line.split(":")[0].strip()
            cur = name if name in ("privateExponent", "prime1", "prime2", "priv") else None
            if cur:
                parts[cur] = ""
        elif cur:
            parts[cur] += line.strip().replace(":", "")
    out = [bytes.fromhex(v).lstrip(b"\0") for v in parts.values()]
    if not out or min(len(x) for x in out) < 30:
        raise AssertionError(f"cannot find the private numbers of the key: {sorted(parts)}")
    return out


def _leaks(text, secrets):
    """Whether text holds any secret: in hex, or in base64 at any of the 3 byte alignments,
    or raw inside any base64 blob of the text."""
    low = text.lower()
    blobs = [base64.b64decode(b[:len(b) - len(b) % 4]) for b in re.findall(r"[A-Za-z0-9+/]{40,}", text)]
    for sec in secrets:
        if sec[:24].hex() in low:
            return "hex"
        for k in range(3):
            if base64.b64encode(sec[k:k + 24]).decode() in text:
                return "base64"
        if any(sec[:24] in blob for blob in blobs):
            return "inside a base64 blob"
    return None


@testcase()
def test_keystore_protection(h):
    """After a renewal: keystore/ is 0700, identity.pem and identity.pem.old are 0600 regular
    files, all owned by azshci; ca/ 0700 and ca/root.pem 0600; ca.pem public. identity.pem's
    key matches its certificate, which signs the documents. No file in the state directory
    outside keystore/ and ca/ contains "PRIVATE KEY", and neither "PRIVATE KEY" nor the
    secret numbers of the signing key or the CA key (in hex, in base64, or inside any decoded
    base64 blob) appear in the service log, in the bus traffic of the whole test (busctl
    monitor), in introspection and properties of every object, GetManagedObjects,
    GetTrustAnchor, azshcictl output or the document."""
    m = h.monitor()
    h.register_vm(**vm_props(1))
    h.call("Sync")
    doc = attest(h, "vsock", "101", "k")
    uid = pwd.getpwnam(SERVICE_USER).pw_uid
    for rel, mode, kind in (("keystore", 0o700, stat.S_ISDIR), ("keystore/identity.pem", 0o600, stat.S_ISREG),
                            ("keystore/identity.pem.old", 0o600, stat.S_ISREG), ("ca", 0o700, stat.S_ISDIR),
                            ("ca/root.pem", 0o600, stat.S_ISREG)):
        st = os.lstat(os.path.join(h.state_dir, rel))
        eq((kind(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid), (True, mode, uid), f"{rel} type/mode/owner")
    key, cert, _ = keystore_identity(h)
    eq(public_key_of(h, key, True), public_key_of(h, cert, False), "identity.pem key matches its certificate")
    eq(_serial(h, document_certs(h, doc)[0]), _serial(h, cert), "documents signed by identity.pem's certificate")
    with open(os.path.join(h.state_dir, "ca", "root.pem")) as f:
        ca_key = re.search(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----", f.read(), re.S).group(0)
    secrets = _private_parts(h, key) + _private_parts(h, ca_key)
    with open(os.path.join(h.state_dir, "keystore", "identity.pem")) as f:
        if not _leaks(f.read(), secrets[:3]):
            raise AssertionError("the leak search does not find the key in identity.pem: it is blind")

    holders = []
    for root, _, files in os.walk(h.state_dir):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                if b"PRIVATE KEY" in fh.read():
                    holders.append(os.path.relpath(p, h.state_dir))
    bad = [p for p in holders if not (p.startswith("keystore/") or p.startswith("ca/"))]
    eq(bad, [], "files with a private key outside keystore/ and ca/")
    if "keystore/identity.pem" not in holders:
        raise AssertionError(f"grep found no key in identity.pem ({holders}): the search is broken")

    texts = {"service log": h.service_log()}
    paths = [BUS_PATH, SRV, h.vm_paths()[0], "/", "/org", "/org/azshci"]
    for p in paths:
        texts[f"introspect {p}"] = h.introspect_xml(p)
    for p, iface in ((BUS_PATH, IFACE), (SRV, IFACE_SERVER), (h.vm_paths()[0], IFACE_VM)):
        texts[f"GetAll {p}"] = json.dumps(h.get_all(p, iface))
    texts["GetManagedObjects"] = json.dumps(h.managed_objects())
    texts["GetTrustAnchor"] = h.call("GetTrustAnchor")[0]
    texts["busctl tree"] = h.run(["busctl", "--system", "tree", BUS_NAME]).stdout
    texts["azshcictl status"] = h.ctl("--json", "status").stdout
    texts["azshcictl ca export"] = h.ctl("ca", "export").stdout
    texts["document"] = doc
    m.sync()
    with open(os.path.join(h.tmp, "monitor.log")) as f:
        texts["bus traffic"] = f.read()
    if "GetTrustAnchor" not in texts["bus traffic"] or "Attest" not in texts["bus traffic"]:
        raise AssertionError("the monitor did not record the test's calls: the search is blind")
    for what, text in texts.items():
        if "PRIVATE KEY" in text:
            raise AssertionError(f"{what} contains 'PRIVATE KEY'")
        how = _leaks(text, secrets)
        if how:
            raise AssertionError(f"{what} contains a private key ({how})")


def _keystore_consistent(h, ca, nonce):
    """identity.pem parses, its key matches its certificate, the service reports that
    certificate's expiry and signs verifiable documents with it. Returns its SHA-256 fingerprint."""
    key, cert, _ = keystore_identity(h)
    eq(public_key_of(h, key, True), public_key_of(h, cert, False), "identity.pem key matches its certificate")
    eq(h.get_property("CertificateExpiry"), _utc(cert_field(h, cert, "-enddate").split("=", 1)[1]) * 10**6,
       "CertificateExpiry = identity.pem's notAfter")
    doc = attest(h, "vsock", "101", nonce)
    verify_document(h, doc, ca, nonce=nonce, vm_id=vm_id(1))
    eq(_fingerprint(h, document_certs(h, doc)[0]), _fingerprint(h, cert), "document signer = identity.pem")
    # Only the pair and the previous pair. A temporary of an interrupted store
    # (identity.pem.tmp-XXXXXX, identity.pem.old.new) is removed when the keystore is opened at
    # start, so one here is a defect, not the trace of a kill.
    left = sorted(os.listdir(os.path.join(h.state_dir, "keystore")))
    extra = [f for f in left if f not in ("identity.pem", "identity.pem.old")]
    eq(extra, [], "files left in the keystore")
    return _fingerprint(h, cert)


def _keystore_cert_fingerprint(h, name):
    """SHA-256 fingerprint of the certificate in keystore/<name> (identity.pem.old)."""
    with open(os.path.join(h.state_dir, "keystore", name)) as f:
        certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(), re.S)
    if not certs:
        raise AssertionError(f"{name} holds no certificate")
    return _fingerprint(h, certs[0] + "\n")


FAULT_BIN = "azshci-attestd-fault-injection"


def _use_fault_point(h, point):
    """The following starts run the test build of the service (service/attestd/fault.h), which stops
    itself (SIGSTOP) when it reaches point; a missing test build is a failure."""
    binary = os.path.join(h.builddir, "service", FAULT_BIN)
    if not os.access(binary, os.X_OK):
        raise AssertionError(f"{binary} is missing: build it (ninja -C BUILDDIR service/{FAULT_BIN})")
    wrapper = os.path.join(h.tmp, "attestd-fault-" + point)
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nAZSHCI_FAULT_STOP={point} exec {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    h.service_bin = wrapper


def _wait_stopped(h, what):
    """Until the service process is stopped (state T in /proc/PID/stat)."""
    pid = h.service_proc.pid
    for _ in deadline_loop(DEFAULT_TIMEOUT, f"the service to stop at {what}"):
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        if h.service_proc.poll() is not None:
            raise AssertionError(f"the service exited with {h.service_proc.returncode}")


@testcase()
def test_kill9_during_sync_local(h):
    """kill -9 in the window the test is named for, three times: a Sync (embedded CA) has
    stored the new key and certificate and the service has not taken them up. The test build
    of the service stops itself there (fault point sync-stored); stopped, identity.pem holds
    the new certificate, identity.pem.old the previous one, no Sync succeeded was logged and
    state.json's lastSync is unchanged; then kill -9. After the restart the service signs with
    the new certificate: Active, CertificateExpiry = its notAfter, documents verify; the
    previous one is identity.pem.old; LastSync is the one from before (the sync was never
    acknowledged); only the keystore's two files are there."""
    h.register_vm(**vm_props(1))
    ca = trust_anchor_file(h)
    current = _keystore_consistent(h, ca, "k0")
    h.stop_service()
    _use_fault_point(h, "sync-stored")
    h.start_service()
    for i in range(1, 4):
        last_sync = h.get_property("LastSync")
        succeeded = log_count(h, "Sync succeeded")
        with open(os.path.join(h.state_dir, "state.json")) as f:
            state_last_sync = json.load(f)["lastSync"]
        eq(state_last_sync, last_sync, "state.json's lastSync before the sync")
        p = _busctl_sync(h)
        _wait_stopped(h, "sync-stored")
        eq(log_count(h, "Fault injection: stopping at sync-stored."), i, "stops at the fault point")
        _, cert, _ = keystore_identity(h)
        new = _fingerprint(h, cert)
        if new == current:
            raise AssertionError("stopped at sync-stored, but identity.pem still holds the previous certificate")
        eq(_keystore_cert_fingerprint(h, "identity.pem.old"), current, "identity.pem.old at the fault point")
        eq(log_count(h, "Sync succeeded"), succeeded, "Sync succeeded at the fault point")
        with open(os.path.join(h.state_dir, "state.json")) as f:
            eq(json.load(f)["lastSync"], state_last_sync, "state.json's lastSync at the fault point")
        h.kill_service()
        out, _ = p.communicate(timeout=30)
        eq(p.returncode != 0, True, f"the Sync caller got no success: {out!r}")
        h.start_service()
        eq(_keystore_consistent(h, ca, f"k{i}"), new, "signing certificate after the restart")
        eq(_keystore_cert_fingerprint(h, "identity.pem.old"), current, "identity.pem.old after the restart")
        eq(h.get_property("LastSync"), last_sync, "LastSync after the restart")
        eq(h.get_all(SRV, IFACE_SERVER)["State"], "Active", "server State after the restart")
        current = new


@testcase()
def test_keystore_fallback(h):
    """identity.pem damaged (truncated) with a good identity.pem.old: the service says in its
    log that it uses the previous pair and signs with it (Active, its expiry, documents
    verify); the next Sync stores a new pair without making the damaged file the previous
    one (identity.pem.old stays the good pair, the log says so); after a restart all is
    normal."""
    h.register_vm(**vm_props(1))
    ca = trust_anchor_file(h)
    first = _keystore_consistent(h, ca, "f0")
    h.call("Sync")
    second = _keystore_consistent(h, ca, "f1")
    eq(_keystore_cert_fingerprint(h, "identity.pem.old"), first, "identity.pem.old after the renewal")
    h.stop_service()
    path = os.path.join(h.state_dir, "keystore", "identity.pem")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 3])

    h.start_service()
    cur = path
    old = path + ".old"
    if f"Cannot use {cur} (Bad message); using the previous key and certificate from {old}." \
            not in h.service_log():
        raise AssertionError("the log does not say that the previous key and certificate are used")
    with open(old) as f:
        old_cert = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(), re.S)[0] + "\n"
    eq(h.get_property("CertificateExpiry"), _utc(cert_field(h, old_cert, "-enddate").split("=", 1)[1]) * 10**6,
       "CertificateExpiry = identity.pem.old's notAfter")
    doc = attest(h, "vsock", "101", "f2")
    verify_document(h, doc, ca, nonce="f2", vm_id=vm_id(1))
    eq(_fingerprint(h, document_certs(h, doc)[0]), first, "document signer = the previous pair")

    h.call("Sync")
    if f"Not keeping {cur} as the previous key and certificate (Bad message): the previous pair stays as it is." \
            not in h.service_log():
        raise AssertionError("the log does not say that the damaged file was not kept")
    eq(_keystore_cert_fingerprint(h, "identity.pem.old"), first, "identity.pem.old after the Sync (the good pair)")
    third = _keystore_consistent(h, ca, "f3")
    if third in (first, second):
        raise AssertionError("the Sync after the fallback did not store a new certificate")
    h.restart_service()
    eq(_keystore_consistent(h, ca, "f4"), third, "signing certificate after a restart")


@testcase(start_service=False)
def test_kill9_during_cmp_sync(h):
    """The cmp issuer against the in-tree CMP test CA: first enrolment (IR), then the CA is
    restarted with the same key and a 60 s delay, a Sync (KUR) is started and the service is
    killed with -9 while the CA holds the request. After restart the old key and certificate
    are still there (same certificate), the server is Active, and documents verify against the
    configured trust anchor (GetTrustAnchor); with the CA fast again a Sync renews by KUR."""
    ca = TestCmpCa(h)
    try:
        ca.start()
        h.write_config(issuer=ca.issuer_config(timeout=120))
        h.start_service()
        h.register_vm(**vm_props(1))
        anchor = trust_anchor_file(h)
        with open(ca.cert) as f:
            eq(open(anchor).read().strip(), f.read().strip(), "GetTrustAnchor = the CMP CA certificate")
        serial = _keystore_consistent(h, anchor, "c0")
        ca.stop()
        ca.start("--delay", "60")
        started = log_count(h, "Sync started")
        p = _busctl_sync(h)
        wait_log_count(h, "Sync started", started + 1)
        # The CA holds the request for 60 s: wait until it has it, then kill.
        for _ in deadline_loop(20, "the CMP request to reach the CA"):
            if _ca_has_connection(ca.port):
                break
        h.kill_service()
        p.communicate(timeout=30)
        ca.stop()
        ca.start()
        h.start_service()
        eq(_keystore_consistent(h, anchor, "c1"), serial, "certificate (fingerprint) after kill -9 during the KUR")
        eq(log_count(h, "Sync succeeded"), 1, "syncs that succeeded (only the first enrolment)")
        h.call("Sync")
        new = _keystore_consistent(h, anchor, "c2")
        if new == serial:
            raise AssertionError("the Sync after the restart did not renew")
    finally:
        ca.stop()


def _ca_has_connection(port):
    """An established TCP connection to the CA's port (from /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, st = parts[1], parts[3]
            if st == "01" and int(local.split(":")[1], 16) == port:
                return True
    return False
