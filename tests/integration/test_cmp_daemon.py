# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real service with its "cmp" issuer against a CMP peer nobody here wrote: OpenSSL's
command-line mock server (`openssl cmp -port ...`), which answers every request with one
fixed certificate. The key that certificate is for is pre-provisioned through the documented
import path (`azshci-attestd --import-key/--import-cert` as the service user, service
stopped), and the service re-certifies it ("rotateKeyOnSync": false). Also: a service that
rotates its key gets the fixed certificate for its old key and must refuse it, and the
import refuses certificates that do not match the key, have expired or are valid too long.
Helpers: OpensslCmpMock at the end of harness.py."""

import calendar
import os
import re
import time

from harness import (ERROR_PREFIX, SERVICE_USER, OpensslCmpMock, attest, cert_field, document_certs, eq,
                     import_identity, keystore_identity, log_count, server_path, testcase, trust_anchor_file,
                     verify_document)
from harness import IFACE_SERVER
from vmdata import vm_id, vm_props

SRV = server_path("node1")


def _not_after_usec(h, cert_pem):
    v = cert_field(h, cert_pem, "-enddate").split("=", 1)[1]
    return calendar.timegm(time.strptime(v, "%b %d %H:%M:%S %Y GMT")) * 10**6


def _fingerprint(h, cert_pem):
    return cert_field(h, cert_pem, "-fingerprint", "-sha256").split("=", 1)[1]


def _read(path):
    with open(path) as f:
        return f.read()


def _canonical_key(h, key_pem):
    """The private key re-encoded by `openssl pkey` (PKCS#8 PEM): equal iff same key."""
    return h.run(["openssl", "pkey"], input=key_pem).stdout


def _keystore_snapshot(h):
    """{file name: bytes} of every file in <state>/keystore (empty dict if it does not exist)."""
    d = os.path.join(h.state_dir, "keystore")
    if not os.path.isdir(d):
        return {}
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def _setup(h, mock, rotate):
    """CA + key + fixed certificate, imported while the service is stopped; the mock serving
    that certificate; the service configured for it and started (no automatic sync)."""
    key, cert = mock.issue("node1")
    mock.start(cert)
    h.write_config(issuer=mock.issuer_config(), rotateKeyOnSync=rotate, automaticSync=False)
    import_identity(h, key, cert)
    h.start_service(wait_sync=False)
    h.wait_server_state("Active")   # the imported certificate is valid: no sync needed
    h.register_vm(**vm_props(1))
    return key, cert


def _mock_messages(mock):
    """The CMP messages the mock received and sent, in order ("received KUR", "sending KUP",
    ...), from its debug log (-verbosity 7)."""
    return re.findall(r"CMP DEBUG: ((?:received|sending) [A-Z]+)$", mock.log(), re.M)


def _with_mock_log(h, mock, fn):
    try:
        fn(h, mock)
    except BaseException:
        print(f"----- openssl cmp mock server log -----\n{mock.log().rstrip()}\n----- end -----")
        raise
    finally:
        mock.stop()


@testcase(start_service=False)
def test_cmp_mock_sync(h):
    """The service re-certifies its imported key with the `openssl cmp` mock server: Sync
    (a KUR signed with the imported certificate, accepted by the mock's -srv_trusted = the
    CA) replies OK, the mock saw exactly KUR + certConf and no rejection; both objects show
    LastSync within the call and CertificateExpiry = the fixed certificate's notAfter, the
    server is Active without Error; identity.pem holds exactly the fixed certificate
    (fingerprint) and the same private key; GetTrustAnchor is the CA; a document signed with
    that certificate verifies with azshci-attest and openssl smime -verify against the CA."""
    _with_mock_log(h, OpensslCmpMock(h), _cmp_mock_sync)


def _cmp_mock_sync(h, mock):
    key, cert = _setup(h, mock, rotate=False)
    key_pem, cert_pem = _read(key), _read(cert)
    eq(_read(trust_anchor_file(h)).strip(), _read(mock.ca_cert).strip(), "GetTrustAnchor = the mock's CA")
    eq(log_count(h, "Sync started"), 0, "syncs before the call")
    eq(_mock_messages(mock), [], "CMP messages the mock saw before Sync")

    before = time.time()
    h.call("Sync")
    after = time.time()

    # KUR (signed with the imported certificate) answered by KUP, then a positive certConf.
    eq(_mock_messages(mock), ["received KUR", "sending KUP", "received CERTCONF", "sending PKICONF"],
       "CMP messages the mock saw")
    if "rejected by client" in mock.log():
        raise AssertionError("the service rejected the mock's certificate")
    eq(log_count(h, "Sync succeeded"), 1, "syncs succeeded")
    main = h.get_all()
    srv = h.get_all(SRV, IFACE_SERVER)
    expiry = _not_after_usec(h, cert_pem)
    eq((srv["State"], srv["Error"], srv["CertificateExpiry"], srv["LastSync"]),
       ("Active", "", expiry, main["LastSync"]), "server after Sync")
    eq(main["CertificateExpiry"], expiry, "cluster CertificateExpiry = the fixed certificate's notAfter")
    if not (before * 1e6 <= main["LastSync"] <= after * 1e6):
        raise AssertionError(f"LastSync {main['LastSync']} not within the call ({before}..{after})")

    ks_key, ks_cert, _ = keystore_identity(h)
    eq(_fingerprint(h, ks_cert), _fingerprint(h, cert_pem), "identity.pem certificate = the mock's certificate")
    eq(_canonical_key(h, ks_key), _canonical_key(h, key_pem), "identity.pem key = the imported key")

    ca = trust_anchor_file(h, "anchor.pem")
    doc = attest(h, "vsock", "101", "mock1")
    verify_document(h, doc, ca, nonce="mock1", vm_id=vm_id(1))
    eq(_fingerprint(h, document_certs(h, doc)[0]), _fingerprint(h, cert_pem), "document signer")
    # And directly against the CA file the test made (not only the copy the service hands out).
    verify_document(h, doc, mock.ca_cert, nonce="mock1", vm_id=vm_id(1))


@testcase(start_service=False)
def test_cmp_mock_wrong_key_refused(h):
    """With "rotateKeyOnSync": true the service asks for a fresh key, the mock returns the
    fixed certificate for the old one: Sync fails with Error.SyncFailed and exactly "CMP
    server URL returned an unacceptable certificate: it is for a different public key than
    the one requested", which the server's Error property carries; the mock logs the
    negative certConf; the keystore is byte-for-byte unchanged, the server stays Active with
    the old expiry, and documents are still signed with the old certificate and verify."""
    _with_mock_log(h, OpensslCmpMock(h), _cmp_mock_wrong_key)


def _cmp_mock_wrong_key(h, mock):
    key, cert = _setup(h, mock, rotate=True)
    cert_pem = _read(cert)
    ca = trust_anchor_file(h)
    snap = _keystore_snapshot(h)
    main0 = h.get_all()
    doc0 = attest(h, "vsock", "101", "old1")

    message = (f"CMP server {mock.url()} returned an unacceptable certificate: it is for a different public "
               "key than the one requested")
    e = h.expect_error(ERROR_PREFIX + "SyncFailed", "Sync")
    eq(e.message, message, "SyncFailed message")
    srv = h.get_all(SRV, IFACE_SERVER)
    eq((srv["State"], srv["Error"], srv["CertificateExpiry"]), ("Active", message, _not_after_usec(h, cert_pem)),
       "server after the refused certificate")
    eq(h.get_all(), main0, "cluster properties after the failed Sync")
    # The KUR went out, the certificate was refused towards the CA (negative certConf), no IR.
    eq(_mock_messages(mock), ["received KUR", "sending KUP", "received CERTCONF", "sending PKICONF"],
       "CMP messages the mock saw")
    if "certificate rejected by client with PKIStatus: rejection" not in mock.log():
        raise AssertionError("the mock did not receive a negative certConf")
    eq(log_count(h, "Sync succeeded"), 0, "syncs succeeded")
    eq(_keystore_snapshot(h), snap, "keystore files after the failed Sync")

    doc1 = attest(h, "vsock", "101", "old2")
    for doc, nonce in ((doc0, "old1"), (doc1, "old2")):
        verify_document(h, doc, ca, nonce=nonce, vm_id=vm_id(1))
        eq(_fingerprint(h, document_certs(h, doc)[0]), _fingerprint(h, cert_pem), f"signer of {nonce}")


def _import(h, key, cert):
    return h.run([h.service_bin, "--config", h.config_path, "--import-key", key, "--import-cert", cert],
                 user=SERVICE_USER, check=False)


@testcase(start_service=False)
def test_cmp_mock_import_refused(h):
    """`azshci-attestd --import-key/--import-cert` (as the service user, service stopped)
    refuses, with exit 1 and one exact message each: a certificate for another key ("does
    not match the key"), an expired one ("already expired (notAfter ...)") and one valid 31
    days with the maximum at 30 ("valid longer than the allowed 30 days"). Into an empty
    keystore nothing is written; over an imported identity the keystore stays
    byte-for-byte the same, and the started service signs with that identity, whose
    documents verify against the CA."""
    _with_mock_log(h, OpensslCmpMock(h), _cmp_mock_import_refused)


def _cmp_mock_import_refused(h, mock):
    now = int(time.time())
    good_key, good_cert = mock.issue("good")
    mock.start(good_cert)
    h.write_config(issuer=mock.issuer_config(), rotateKeyOnSync=False, automaticSync=False)
    other_key, _ = mock.issue("other")
    expired_key, expired_cert = mock.issue("expired", now - 40 * 86400, now - 10 * 86400)
    long_key, long_cert = mock.issue("long", now - 60, now - 60 + 31 * 86400)
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    cases = [
        (other_key, good_cert, "certificate does not match the key it was requested for"),
        (expired_key, expired_cert,
         f"certificate already expired (notAfter {time.strftime(fmt, time.gmtime(now - 10 * 86400))})"),
        (long_key, long_cert,
         f"certificate is valid longer than the allowed 30 days ({time.strftime(fmt, time.gmtime(now - 60))} "
         f"to {time.strftime(fmt, time.gmtime(now - 60 + 31 * 86400))})"),
    ]

    for snap_what in ("empty keystore", "imported identity"):
        snap = _keystore_snapshot(h)
        for key, cert, why in cases:
            p = _import(h, key, cert)
            eq((p.returncode, p.stdout, p.stderr),
               (1, "", f"azshci-attestd: Refusing to import {cert}: {why}\n"), f"import of {cert} into {snap_what}")
            eq(_keystore_snapshot(h), snap, f"keystore after the refused import of {cert} ({snap_what})")
        if snap_what == "empty keystore":
            eq(os.path.exists(os.path.join(h.state_dir, "keystore", "identity.pem")), False,
               "identity.pem after refused imports")
            import_identity(h, good_key, good_cert)

    h.start_service(wait_sync=False)
    h.wait_server_state("Active")
    h.register_vm(**vm_props(1))
    doc = attest(h, "vsock", "101", "imp")
    verify_document(h, doc, mock.ca_cert, nonce="imp", vm_id=vm_id(1))
    eq(_fingerprint(h, document_certs(h, doc)[0]), _fingerprint(h, _read(good_cert)), "signer = the good import")
    eq(h.get_property("CertificateExpiry"), _not_after_usec(h, _read(good_cert)), "CertificateExpiry")
