#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the binary seed inputs of the structured fuzz targets (corpus/vm-properties,
corpus/imds-request, corpus/document-verify): their formats are described at the top of each
fuzz-*.c. Run once by hand after a format change; the outputs are checked in.

  make-seeds.py [--signed-rsa BODY.json --signed-ec BODY.json] [--azure VECTOR.json]

The signed bodies come from build/tests/unit/azshci-test-sign with the local CA whose root is
seed-root.pem (see docs/hardening.md)."""

import argparse
import base64
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

FIELDS = ["Id", "Name", "Generation", "PowerState", "GuestServiceInterface", "DataExchange", "OsName",
          "OsVersion", "SqlVersion", "ArcAgentVersion", "VsockCid", "LegacyMac", "Sku", "LicenseType"]
T = {"s": 0, "u": 1, "b": 2, "i": 3, "x": 4, "d": 5, "o": 6, "g": 7, "y": 8, "as": 9, "a{sv}": 10, "v": 11,
     "(su)": 12, "ay": 13}


def s(text):
    b = text.encode()
    assert len(b) < 256
    return bytes([len(b)]) + b


def entry(key, typ, value):
    out = bytes([FIELDS.index(key)]) if key in FIELDS else b"\xff" + s(key)
    out += bytes([T[typ]])
    if typ in ("s", "o", "g", "ay"):
        out += s(value)
    elif typ in ("u", "i"):
        out += struct.pack("<I", value & 0xffffffff)
    elif typ in ("x",):
        out += struct.pack("<Q", value & 0xffffffffffffffff)
    elif typ == "d":
        out += struct.pack("<d", value)
    elif typ in ("b", "y"):
        out += bytes([value])
    elif typ == "as":
        out += bytes([len(value)]) + b"".join(s(v) for v in value)
    elif typ == "(su)":
        out += s(value[0]) + struct.pack("<I", value[1])
    elif typ == "a{sv}":
        out += bytes([len(value)]) + b"".join(entry(*e) for e in value)
    elif typ == "v":
        out += bytes([T[value[0]]]) + s(value[1])   # a variant holding a string-like value
    return out


def write(sub, name, data):
    d = os.path.join(CORPUS, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


ID = "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"


def vm_seeds():
    full = [("Id", "s", ID), ("Name", "s", "vm-one"), ("Generation", "u", 2), ("PowerState", "s", "Running"),
            ("GuestServiceInterface", "b", 1), ("DataExchange", "b", 1),
            ("OsName", "s", "Windows Server 2012 R2 Datacenter"), ("OsVersion", "s", "6.3.9600.21620"),
            ("SqlVersion", "s", "11.0.7001.0"), ("ArcAgentVersion", "s", "1.39"), ("VsockCid", "u", 3),
            ("LegacyMac", "s", "52:54:00:12:34:56"), ("Sku", "s", "2012-R2-Datacenter"),
            ("LicenseType", "s", "Windows_Server")]
    write("vm-properties", "full.bin", b"".join(entry(*e) for e in full))
    write("vm-properties", "minimal.bin", entry("Id", "s", ID) + entry("Name", "s", "a"))
    write("vm-properties", "update.bin", entry("OsVersion", "s", "10.0.22621.3447") + entry("VsockCid", "u", 7))
    write("vm-properties", "unknown-key.bin", entry("Colour", "s", "red"))
    write("vm-properties", "wrong-types.bin",
          entry("Generation", "i", 2) + entry("VsockCid", "x", 3) + entry("Name", "as", ["a", "b"]) +
          entry("Id", "v", ("s", ID)) + entry("LegacyMac", "ay", "52:54:00:12:34:56") +
          entry("Sku", "(su)", ("x", 1)) + entry("OsName", "a{sv}", [("Name", "s", "x")]) +
          entry("DataExchange", "y", 1) + entry("PowerState", "o", "/a") + entry("OsVersion", "g", "s") +
          entry("Generation", "d", 2.0))
    write("vm-properties", "bad-values.bin",
          entry("Id", "s", "NOT-A-UUID") + entry("Generation", "u", 3) + entry("PowerState", "s", "Sleeping") +
          entry("VsockCid", "u", 2) + entry("LegacyMac", "s", "ff:ff:ff:ff:ff:ff") +
          entry("OsVersion", "s", "10..0") + entry("Name", "s", ""))
    write("vm-properties", "duplicates.bin", entry("Id", "s", ID) + entry("Id", "s", ID.upper()) +
          entry("Name", "s", "a") + entry("Name", "s", "b"))


def imds_seeds():
    def req(flags, method, uri, metadata=""):
        return bytes([flags]) + method.encode() + b"\n" + uri.encode() + b"\n" + metadata.encode()
    D = "/metadata/attested/document"
    write("imds-request", "document", req(1, "GET", D + "?api-version=2018-10-01&nonce=abc_-123", "true"))
    write("imds-request", "document-no-nonce", req(1, "GET", D + "?api-version=2020-09-01", "True"))
    write("imds-request", "versions", req(1, "GET", "/metadata/versions", "true"))
    write("imds-request", "no-metadata", req(0, "GET", D + "?api-version=2018-10-01"))
    write("imds-request", "two-metadata", req(3, "GET", D + "?api-version=2018-10-01", "true"))
    write("imds-request", "forwarded", req(9, "GET", D + "?api-version=2018-10-01", "true"))
    write("imds-request", "post", req(1, "POST", D, "true"))
    write("imds-request", "escapes", req(1, "GET", D + "?api%2Dversion=2018%2D10%2D01&nonce=a%2Bb+c%zz", "true"))
    write("imds-request", "duplicate", req(1, "GET", D + "?nonce=a&nonce=b&api-version=2018-10-01", "true"))
    write("imds-request", "long-nonce", req(1, "GET", D + "?api-version=2018-10-01&nonce=" + "n" * 40, "true"))
    write("imds-request", "headers-too-large", req(0x11, "GET", D, "true"))
    write("imds-request", "not-found", req(1, "GET", "/metadata/instance?api-version=2021-02-01", "true"))
    write("imds-request", "bus-error", req(1, "GET", D + "?&&api-version=2018-10-01&",
                                            "org.azshci.Attestation1.Error.Expired"))


def doc_seeds(rsa, ec, azure):
    # flags: 0x01 skip_chain, 0x02 ignore_time, 0x04 nonce, 0x08 vmId, 0x10 SAN, 0x80 raw DER
    for name, path in (("rsa", rsa), ("ecdsa-chain", ec)):
        if not path:
            continue
        with open(path, "rb") as f:
            body = f.read().strip()
        write("document-verify", f"{name}-all-checks", bytes([0x1c]) + body)
        write("document-verify", f"{name}-plain", bytes([0x00]) + body)
        der = base64.b64decode(json.loads(body)["signature"])
        write("document-verify", f"{name}-der", bytes([0x9c]) + der)
    if azure:
        with open(azure, "rb") as f:
            body = f.read().strip()
        # The vector is a response body; its time is long past and its root is not ours.
        write("document-verify", "azure-insecure", bytes([0x03]) + body)
        write("document-verify", "azure-strict", bytes([0x1c]) + body)
        der = base64.b64decode(json.loads(body)["signature"])
        write("document-verify", "azure-der", bytes([0x83]) + der)
    write("document-verify", "not-json", b"\x00" + b"MIIG")
    write("document-verify", "wrong-encoding", b"\x03" + b'{"encoding":"base64","signature":"AAAA"}')
    write("document-verify", "bad-base64", b"\x03" + b'{"encoding":"pkcs7","signature":"!!!"}')


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--signed-rsa")
    p.add_argument("--signed-ec")
    p.add_argument("--azure")
    a = p.parse_args()
    vm_seeds()
    imds_seeds()
    doc_seeds(a.signed_rsa, a.signed_ec, a.azure)


if __name__ == "__main__":
    main()
