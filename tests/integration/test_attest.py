# SPDX-License-Identifier: LGPL-2.1-or-later
"""Attested documents end to end: Attest/AttestForVersion as a member of azshci-frontend on
the real service, each document verified by two independent peers (client/azshci-attest and
plain `openssl smime -verify`) against the trust anchor the service publishes
(GetTrustAnchor, `azshcictl ca export`); payload fields and key order, api-version
filtering, nonces, and every error of Attest, including Expired with a really expired
certificate (libfaketime)."""

import base64
import json
import os
import re
import threading
import time

from harness import (IFACE_SERVER, METADATA_DOMAIN, TEST_FRONTEND_USER, TEST_USER, attest, attest_error,
                     azshci_attest_verify, cert_field, document_certs, eq, import_identity,
                     local_ca_issue, openssl_smime_verify, parse_doc_time, server_path, testcase,
                     trust_anchor_file, verify_document)
from vmdata import vm_id, vm_mac, vm_props

SUBSCRIPTION = "8c1d64d1-4b8f-4a5f-9d6e-2b7c1f0e3a11"   # harness.write_config()
SIX_HOURS = 6 * 3600
EMPTY_PLAN = {"name": "", "product": "", "publisher": ""}


def _expected_payload(payload, nonce, vm, api_version=None, sku="", license_type=None):
    """The exact compact JSON the service must sign, built here from the contract (keys in
    alphabetical order, per-version fields), with the timestamps taken from the payload."""
    ts = json.loads(payload)["timeStamp"]
    v = api_version or "9999-99-99"
    d = {}
    if license_type and v >= "2020-09-01":
        d["licenseType"] = license_type
    d["nonce"] = nonce
    d["plan"] = EMPTY_PLAN
    if v >= "2019-11-01":
        d["sku"] = sku
    if v >= "2019-04-30":
        d["subscriptionId"] = SUBSCRIPTION
    d["timeStamp"] = {"createdOn": ts["createdOn"], "expiresOn": ts["expiresOn"]}
    d["vmId"] = vm
    return json.dumps(d, separators=(",", ":"))


def _check_times(payload, before, after, validity=SIX_HOURS):
    ts = json.loads(payload)["timeStamp"]
    eq(list(ts), ["createdOn", "expiresOn"], "timeStamp keys")
    created, expires = parse_doc_time(ts["createdOn"]), parse_doc_time(ts["expiresOn"])
    if not (int(before) - 1 <= created <= after + 1):
        raise AssertionError(f"createdOn {ts['createdOn']} not within the call ({before:.0f}..{after:.0f})")
    eq(expires - created, validity, f"expiresOn - createdOn ({ts})")


def _attest_verified(h, ca, transport, peer, nonce, vm, api_version=None, **expect):
    before = time.time()
    doc = attest(h, transport, peer, nonce, api_version)
    after = time.time()
    payload = verify_document(h, doc, ca, nonce=nonce or None, vm_id=vm)
    eq(payload, _expected_payload(payload, nonce, vm, api_version, **expect),
       f"payload of {transport} {peer} api-version {api_version}")
    _check_times(payload, before, after)
    return doc, payload


@testcase()
def test_attest_document_vsock(h):
    """A vsock document, verified by azshci-attest (chain to the published root, SAN under
    metadata.azshci.local, nonce, vmId, time) and by openssl smime -verify -CAfile with the
    same root; both yield the same payload, which is exactly the contract's compact JSON
    (alphabetical keys, subscriptionId from the config, sku, licenseType, 6 h window). The
    PKCS#7 has one signer, no signed attributes, only the leaf embedded; the root from
    GetTrustAnchor equals `azshcictl ca export` and the service's exported ca.pem. Wrong
    nonce/vmId/domain/root make the verifiers fail with their specific reasons."""
    h.register_vm(**vm_props(1, Sku="Datacenter-AzureEdition", LicenseType="Windows_Server"))
    ca = trust_anchor_file(h)
    with open(ca) as f:
        anchor = f.read()
    eq(h.ctl("ca", "export", user=TEST_USER).stdout, anchor, "azshcictl ca export vs GetTrustAnchor")
    with open(f"{h.state_dir}/ca.pem") as f:
        eq(f.read(), anchor, "<state>/ca.pem vs GetTrustAnchor")

    doc, payload = _attest_verified(h, ca, "vsock", "101", "nonce-Abc_123", vm_id(1),
                                    sku="Datacenter-AzureEdition", license_type="Windows_Server")
    keys = list(json.loads(payload))
    eq(keys, sorted(keys), "payload keys in alphabetical order")
    eq(keys, ["licenseType", "nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"], "payload keys")

    # PKCS#7 shape, as openssl sees it.
    certs = document_certs(h, doc)
    eq(len(certs), 1, "certificates embedded (leaf only by default)")
    san = cert_field(h, certs[0], "-ext", "subjectAltName")
    if "DNS:node1." + METADATA_DOMAIN not in san:
        raise AssertionError(f"signer SAN {san!r} lacks DNS:node1.{METADATA_DOMAIN}")
    der = f"{h.tmp}/doc{h.doc_files_count}.der"
    cms = h.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", der]).stdout
    eq(cms.count("signerInfos:"), 1, "signerInfos sections")
    eq(cms.count("d.issuerAndSerialNumber:") + cms.count("d.subjectKeyIdentifier:"), 1, "signers")
    if not re.search(r"eContentType: pkcs7-data .*\n\s+eContent: ", cms):
        raise AssertionError(f"content not attached as pkcs7-data:\n{cms}")
    if not re.search(r"signedAttrs:\s*<ABSENT>", cms):
        raise AssertionError(f"the signer has signed attributes:\n{cms}")
    serial = cert_field(h, certs[0], "-serial").split("=")[1]
    if f"serialNumber: 0x{serial}" not in cms.split("signerInfos:")[1]:
        raise AssertionError(f"the signer is not the embedded certificate {serial}")

    # The verifiers must be able to fail.
    for args, rc in ((["--nonce=other"], 6), ([f"--vm-id={vm_id(2)}"], 7),
                     (["--metadata-domain=metadata.azure.com"], 5)):
        p = azshci_attest_verify(h, doc, f"--ca={ca}", *args, check=False)
        eq(p.returncode, rc, f"azshci-attest verify {args}: {p.stderr.strip()}")
    other = f"{h.tmp}/other-root.pem"
    h.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{h.tmp}/other-key.pem",
           "-out", other, "-days", "1", "-subj", "/CN=not the azshci root"])
    p = azshci_attest_verify(h, doc, f"--ca={other}", check=False)
    eq(p.returncode, 4, f"azshci-attest verify with a foreign root: {p.stderr.strip()}")
    p = openssl_smime_verify(h, doc, other, check=False)
    if p.returncode == 0:
        raise AssertionError("openssl smime -verify accepted the document with a foreign root")
    der = base64.b64decode(json.loads(doc)["signature"])
    eq(der.count(b'"nonce":"nonce-Abc_123"'), 1, "signed content in the DER")
    tampered = json.dumps({"encoding": "pkcs7", "signature": base64.b64encode(
        der.replace(b'"nonce":"nonce-Abc_123"', b'"nonce":"nonce-Abc_124"')).decode()})
    p = azshci_attest_verify(h, tampered, f"--ca={ca}", check=False)
    eq(p.returncode, 3, f"azshci-attest verify of altered content: {p.stderr.strip()}")
    p = openssl_smime_verify(h, tampered, ca, check=False)
    if p.returncode == 0:
        raise AssertionError("openssl smime -verify accepted altered content")


@testcase()
def test_attest_legacy_http(h):
    """The http (legacy) path by bridge port (the VM's LegacyInterface): refused while legacy
    OS support is off, works once it is on (which grants existing VMs), refused again when the
    VM's access is revoked; the port name matches exactly (interface names are case-sensitive)
    and the VM's MAC identifies nothing; the vsock path of a VM without the guest service
    interface is refused; the document verifies with both peers."""
    h.register_vm(**vm_props(2, GuestServiceInterface=False, Generation=1, PowerState="Off",
                             LegacyInterface="vnet2"))
    ca = trust_anchor_file(h)
    mac = "vnet2"   # the peer of an http request: the port
    attest_error(h, "AccessDenied", "http", mac, "n1", contains=("vm2", "legacy OS support is off"))
    attest_error(h, "AccessDenied", "vsock", "102", "n1", contains=("vm2", "guest service interface"))
    h.call("EnableLegacy", "b", True)
    eq(h.get_property("LegacyAccess", path=h.vm_paths()[0], interface="org.azshci.Attestation1.VM"), True,
       "LegacyAccess after EnableLegacy")
    _attest_verified(h, ca, "http", mac, "legacy1", vm_id(2), sku="")
    _attest_verified(h, ca, "http", mac, "legacy2", vm_id(2), api_version="2019-11-01", sku="")
    attest_error(h, "UnknownVM", "http", "VNET2", "n1", contains="VNET2")
    attest_error(h, "org.freedesktop.DBus.Error.InvalidArgs", "http", vm_mac(2), "n1",
                 contains="interface name of a legacy bridge port")
    attest_error(h, "AccessDenied", "vsock", "102", "n1", contains="guest service interface")
    h.call("SetVMAccess", "sb", "vm2", False)
    attest_error(h, "AccessDenied", "http", mac, "n1", contains=("vm2", "legacy access"))
    h.call("SetVMAccess", "sb", "vm2", True)
    _attest_verified(h, ca, "http", mac, "legacy3", vm_id(2), sku="")
    h.call("EnableLegacy", "b", False)
    attest_error(h, "AccessDenied", "http", mac, "n1", contains="legacy OS support is off")


@testcase()
def test_attest_api_versions(h):
    """AttestForVersion filters fields per api-version: 2018-10-01 has neither subscriptionId
    nor sku; 2019-04-30 adds subscriptionId; 2019-11-01 adds sku; licenseType appears from
    2020-09-01 and only when set; Attest equals the newest version. Every document verifies
    and equals the contract's JSON exactly."""
    h.register_vm(**vm_props(1, Sku="2022-datacenter-azure-edition", LicenseType="Windows_Server"))
    h.register_vm(**vm_props(3))   # no Sku, no LicenseType
    ca = trust_anchor_file(h)
    expect_keys = {
        "2018-10-01": ["nonce", "plan", "timeStamp", "vmId"],
        "2019-03-11": ["nonce", "plan", "timeStamp", "vmId"],
        "2019-04-30": ["nonce", "plan", "subscriptionId", "timeStamp", "vmId"],
        "2019-08-15": ["nonce", "plan", "subscriptionId", "timeStamp", "vmId"],
        "2019-11-01": ["nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"],
        "2020-07-15": ["nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"],
        "2020-09-01": ["licenseType", "nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"],
        "2025-04-07": ["licenseType", "nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"],
        None: ["licenseType", "nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"],
    }
    for i, (v, keys) in enumerate(expect_keys.items()):
        _, payload = _attest_verified(h, ca, "vsock", "101", f"v{i}", vm_id(1), api_version=v,
                                      sku="2022-datacenter-azure-edition", license_type="Windows_Server")
        eq(list(json.loads(payload)), keys, f"payload keys for api-version {v}")
    for v in ("2020-09-01", None):
        _, payload = _attest_verified(h, ca, "vsock", "103", "unset", vm_id(3), api_version=v, sku="")
        eq("licenseType" in json.loads(payload), False, f"licenseType present although unset ({v})")


@testcase()
def test_attest_default_nonce(h):
    """An empty nonce becomes the current UTC time as YYYYMMDD-HHMMSS (from the call's time
    window), for Attest and AttestForVersion."""
    h.register_vm(**vm_props(1))
    ca = trust_anchor_file(h)
    for v in (None, "2018-10-01"):
        before = time.time()
        doc = attest(h, "vsock", "101", "", v)
        after = time.time()
        payload = verify_document(h, doc, ca, vm_id=vm_id(1))
        nonce = json.loads(payload)["nonce"]
        allowed = {time.strftime("%Y%m%d-%H%M%S", time.gmtime(t)) for t in range(int(before), int(after) + 1)}
        if nonce not in allowed:
            raise AssertionError(f"default nonce {nonce!r} is not the UTC time of the call {sorted(allowed)}")
        eq(payload, _expected_payload(payload, nonce, vm_id(1), v), f"payload with default nonce ({v})")


@testcase()
def test_attest_concurrent_nonces(h):
    """48 Attest calls in flight at once (three VMs, distinct nonces, several api-versions):
    every document carries exactly its own request's nonce and VM, and verifies."""
    for n in (1, 2, 3):
        h.register_vm(**vm_props(n))
    ca = trust_anchor_file(h)
    versions = [None, "2018-10-01", "2019-11-01", "2021-02-01"]
    reqs = [(str(100 + 1 + i % 3), vm_id(1 + i % 3), f"c{i:02d}-{'x' * (i % 20)}", versions[i % 4])
            for i in range(48)]
    results, errors = [None] * len(reqs), []
    start = threading.Barrier(len(reqs))

    def worker(i, cid, nonce, v):
        try:
            start.wait(30)
            results[i] = attest(h, "vsock", cid, nonce, v)
        except BaseException as e:   # noqa: B902 (re-raised below)
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(i, c, n, v)) for i, (c, _, n, v) in enumerate(reqs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    nonces = set()
    for (cid, vm, nonce, v), doc in zip(reqs, results):
        payload = verify_document(h, doc, ca, nonce=nonce, vm_id=vm)
        d = json.loads(payload)
        eq((d["nonce"], d["vmId"]), (nonce, vm), f"document for request {nonce}")
        eq(payload, _expected_payload(payload, nonce, vm, v), f"payload for request {nonce}")
        nonces.add(d["nonce"])
    eq(len(nonces), len(reqs), "distinct nonces in the documents")


@testcase()
def test_attest_errors(h):
    """Every refusal has its own D-Bus error: InvalidNonce (33 characters, space, dot, slash,
    non-ASCII), InvalidArgs (unknown transport, malformed peer, unsupported or empty
    api-version), UnknownVM (unregistered CID or port, and after UnregisterVM); a 32-character
    nonce of the whole alphabet is fine."""
    h.register_vm(**vm_props(1, LegacyInterface="vnet1"))
    ca = trust_anchor_file(h)
    ok32 = "aZ09_-" + "b" * 26
    _attest_verified(h, ca, "vsock", "101", ok32, vm_id(1))
    for nonce in ("a" * 33, "a b", "a.b", "a/b", "ä", "abc=", "a+b"):
        attest_error(h, "InvalidNonce", "vsock", "101", nonce)
        attest_error(h, "InvalidNonce", "vsock", "101", nonce, "2019-11-01")
    invalid = "org.freedesktop.DBus.Error.InvalidArgs"
    attest_error(h, invalid, "tcp", "101", "n", contains="tcp")
    attest_error(h, invalid, "", "101", "n")
    attest_error(h, invalid, "VSOCK", "101", "n")
    attest_error(h, invalid, "vsock", "abc", "n", contains="abc")
    attest_error(h, invalid, "vsock", "-1", "n")
    # VM 1's CID 101 in any spelling but the canonical one (vsock_peer_parse).
    for peer in ("+101", " 101", "101 ", "0101", "0x65", "101.0"):
        attest_error(h, invalid, "vsock", peer, "n", contains="guest CID in decimal")
    attest_error(h, invalid, "http", "52:54:00:zz:00:01", "n")
    attest_error(h, invalid, "http", "", "n")
    attest_error(h, invalid, "http", "a-name-longer-than-15", "n")
    for v in ("2018-09-30", "2017-12-01", "2025-13-01", "latest", ""):
        attest_error(h, invalid, "vsock", "101", "n", v, contains="api-version")
    attest_error(h, "UnknownVM", "vsock", "999", "n", contains="999")
    attest_error(h, "UnknownVM", "http", "vnet99", "n", contains="No VM is registered for http peer vnet99.")
    h.call("EnableLegacy", "b", True)
    attest_error(h, "UnknownVM", "http", "vnet99", "n")
    h.call("UnregisterVM", "s", "vm1")
    attest_error(h, "UnknownVM", "vsock", "101", "n")
    attest_error(h, "UnknownVM", "http", "vnet1", "n")


@testcase(start_service=False)
def test_attest_not_configured(h):
    """"enabled": false → Attest and AttestForVersion of a registered VM are NotConfigured;
    with automatic sync off and no Sync yet (no certificate) → NotConfigured too, and the
    first Sync makes the same request succeed."""
    h.write_config(enabled=False)
    h.start_service()
    h.register_vm(**vm_props(1))
    attest_error(h, "NotConfigured", "vsock", "101", "n")
    attest_error(h, "NotConfigured", "vsock", "101", "n", "2019-11-01")
    h.stop_service()
    h.write_config(automaticSync=False)
    h.start_service(wait_sync=False)
    eq(h.get_all(server_path("node1"), IFACE_SERVER)["State"], "Inactive", "server without a certificate")
    attest_error(h, "NotConfigured", "vsock", "101", "n", contains="no signing certificate")
    h.call("Sync")
    _attest_verified(h, trust_anchor_file(h), "vsock", "101", "n", vm_id(1))


@testcase()
def test_attest_expired(h):
    """A certificate that really expires while the service runs: a key and a certificate
    valid for 15 more seconds, issued by the embedded CA with plain `openssl ca`, imported
    with --import-key/--import-cert (automatic sync off, so nothing renews it). The service
    signs with exactly that certificate (same serial) while valid; when it runs out the
    service itself turns the server Expired (PropertiesChanged State), Attest and
    AttestForVersion → Expired naming the expiry; the old document no longer verifies at
    the real time; a Sync renews (Active, now + 30 d) and documents verify again."""
    h.register_vm(**vm_props(1))
    ca = trust_anchor_file(h)
    h.stop_service()
    now = time.time()
    key, cert = local_ca_issue(h, "short", int(now) - 60, int(now) + 15)
    h.write_config(automaticSync=False)
    import_identity(h, key, cert)
    h.start_service(wait_sync=False)
    srv = h.wait_server_state("Active")
    with open(cert) as f:
        cert_pem = f.read()
    not_after = cert_field(h, cert_pem, "-enddate").split("=", 1)[1]
    expiry = srv["CertificateExpiry"]
    eq(time.strftime("%b %e %H:%M:%S %Y GMT", time.gmtime(expiry / 1e6)), not_after, "CertificateExpiry")
    doc = attest(h, "vsock", "101", "short")
    payload = verify_document(h, doc, ca, nonce="short", vm_id=vm_id(1))
    eq(cert_field(h, document_certs(h, doc)[0], "-serial"), cert_field(h, cert_pem, "-serial"),
       "signer of the document = the imported certificate")
    eq(parse_doc_time(json.loads(payload)["timeStamp"]["expiresOn"]), expiry // 1000000,
       "expiresOn capped at the certificate's expiry")

    m = h.monitor()
    since = m.mark()
    srv = h.wait_server_state("Expired", timeout=60)
    eq((srv["CertificateExpiry"], srv["Error"]), (expiry, ""), "server with the expired certificate")
    m.sync()
    states = [s["payload"]["data"][1]["State"]["data"] for s in m.signals(since, member="PropertiesChanged",
                                                                          path=server_path("node1"))
              if "State" in s["payload"]["data"][1]]
    eq(states, ["Expired"], "server State changes signalled")
    e = attest_error(h, "Expired", "vsock", "101", "late", contains="expired")
    if time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(expiry / 1e6)) not in e.message:
        raise AssertionError(f"Expired message does not name the expiry: {e.message}")
    attest_error(h, "Expired", "vsock", "101", "late", "2019-11-01")
    p = azshci_attest_verify(h, doc, f"--ca={ca}", check=False)
    if p.returncode not in (4, 8):
        raise AssertionError(f"azshci-attest of a document past its certificate: exit {p.returncode}: {p.stderr}")
    p = openssl_smime_verify(h, doc, ca, check=False)
    if p.returncode == 0:
        raise AssertionError("openssl smime -verify accepted a document signed by an expired certificate")

    before = time.time()
    h.call("Sync")
    srv = h.wait_server_state("Active")
    if abs(srv["CertificateExpiry"] / 1e6 - (before + 30 * 86400)) > 120:
        raise AssertionError(f"renewed expiry {srv['CertificateExpiry']} is not now + 30 days")
    _attest_verified(h, ca, "vsock", "101", "renewed", vm_id(1))


@testcase()
def test_attest_queue_limit(h):
    """The service queues at most SIGN_QUEUE_MAX (4096) documents to sign: a frontend that
    sends 200 AttestBatch calls of 64 requests at once (12,800 documents) on one direct
    connection gets the first 64 calls (4,096 documents) signed, and every call that would queue
    more refused as a whole with LimitsExceeded and its message; nothing else fails, and the
    service signs normally afterwards."""
    h.register_vm(**vm_props(1))
    tool = os.path.join(h.builddir, "tests", "integration", "direct-flood")
    if not os.access(tool, os.X_OK):
        raise AssertionError(f"{tool} is missing: build the project first")
    p = h.run([tool, h.frontend_socket, "200", "101"], user=TEST_FRONTEND_USER, timeout=180)
    lines = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line and "=" not in line.split(" ", 1)[0])
    counts = dict(kv.split("=") for kv in p.stdout.splitlines()[0].split())
    documents, refused, other = int(counts["documents"]), int(counts["refused-calls"]), int(counts["other"])
    eq(other, 0, f"requests that failed otherwise ({lines.get('other')})")
    eq(documents + 64 * refused, 200 * 64, "documents + 64 x refused calls")
    if documents < 4096 or refused < 1:
        raise AssertionError(f"expected at least 4096 documents and one refused call, got {documents} and {refused}")
    msg = lines.get("limit", "")
    if not re.fullmatch(r"The signing queue is full \(\d+ documents waiting, at most 4096\): try again shortly\.", msg):
        raise AssertionError(f"LimitsExceeded message: {msg!r}")
    ca = trust_anchor_file(h)
    _attest_verified(h, ca, "vsock", "101", "after-flood", vm_id(1))


@testcase()
def test_attest_batch(h):
    """AttestBatch (what a frontend sends when several requests wait at once): one result per
    request, in order; each document (bytes) carries its own request's nonce, VM and api-version and
    verifies; each refused request gets the very error (name and message) AttestForVersion gives
    it alone, and does not stop the others. An empty batch answers []; 65 requests are refused
    as a whole; only the frontends' group may call it (bus policy)."""
    h.register_vm(**vm_props(1, LegacyInterface="vnet1"))
    h.register_vm(**vm_props(2))
    h.call("EnableLegacy", "b", True)
    ca = trust_anchor_file(h)
    reqs = [("vsock", "101", "b0", "2020-09-01"),
            ("vsock", "101", "a b", "2020-09-01"),
            ("vsock", "999", "b2", "2020-09-01"),
            ("http", "vnet1", "b3", "2019-11-01"),
            ("vsock", "102", "b4", "latest"),
            ("vsock", "102", "b5-" + "x" * 29, "2018-10-01")]
    before = time.time()
    results = h.call("AttestBatch", "a(ssss)", len(reqs), *[x for r in reqs for x in r],
                     user=TEST_FRONTEND_USER)[0]
    after = time.time()
    eq(len(results), len(reqs), f"results ({results})")
    for i, vm in ((0, vm_id(1)), (3, vm_id(1)), (5, vm_id(2))):
        doc, name, message = results[i]
        eq((name, message), ("", ""), f"error of request {i}")
        doc = bytes(doc).decode("ascii")   # the document travels as bytes (ay)
        nonce, version = reqs[i][2], reqs[i][3]
        payload = verify_document(h, doc, ca, nonce=nonce, vm_id=vm)
        eq(payload, _expected_payload(payload, nonce, vm, version), f"payload of request {i}")
        _check_times(payload, before, after)
    for i, name in ((1, "InvalidNonce"), (2, "UnknownVM"), (4, "org.freedesktop.DBus.Error.InvalidArgs")):
        alone = attest_error(h, name, *reqs[i])
        eq(results[i], [[], alone.name, alone.message], f"result of request {i}")
    eq(results[2][2], "No VM is registered for vsock peer 999.", "UnknownVM message")

    eq(h.call("AttestBatch", "a(ssss)", 0, user=TEST_FRONTEND_USER), [[]], "empty batch")
    too_many = "[" + ", ".join(["('vsock', '101', 'n', '2020-09-01')"] * 65) + "]"
    h.expect_error("org.freedesktop.DBus.Error.InvalidArgs", "AttestBatch", [too_many],
                   contains="At most 64 requests per AttestBatch call.", user=TEST_FRONTEND_USER)
    h.expect_error("org.freedesktop.DBus.Error.AccessDenied", "AttestBatch",
                   ["[('vsock', '101', 'n', '2020-09-01')]"], user=TEST_USER)
