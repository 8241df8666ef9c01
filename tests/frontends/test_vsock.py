# SPDX-License-Identifier: LGPL-2.1-or-later
"""azshci-vsockd over a real AF_VSOCK socket. Needs a vsock transport that loops back to this
host (vsock_loopback); skipped with the reason where there is none. A loopback peer has CID 1
(local), which no VM can own: the frontend must refuse to identify it (403) and never call the
service for it, while /metadata/versions works over vsock. The per-CID document path is tested
over a socketpair in test-vsock-socketpair.c."""

import os
import socket
import subprocess

import harness
from harness import Skip, deadline_loop
from frontend import eq, frontend_case, parse_curl_i

PORT = 15151


def vsock_loopback_available():
    if not hasattr(socket, "AF_VSOCK"):
        return "Python has no AF_VSOCK"
    try:
        srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    except OSError as e:
        return f"no AF_VSOCK sockets here ({e})"
    try:
        srv.bind((socket.VMADDR_CID_ANY, PORT + 1))
        srv.listen(1)
        c = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        c.settimeout(2)
        try:
            c.connect((1, PORT + 1))   # VMADDR_CID_LOCAL
        except OSError as e:
            return f"no vsock loopback transport (vsock_loopback module not available: connect to CID 1: {e})"
        finally:
            c.close()
    finally:
        srv.close()
    return None


def vsock_get(path, headers="Metadata: true\r\n"):
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((1, PORT))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return parse_curl_i(data)


@frontend_case("frontend-vsock-real")
def test_vsock_real(h, env):
    reason = vsock_loopback_available()
    if reason:
        raise Skip(reason)
    f = env.frontend(f"vsock::{PORT}", binary="azshci-vsockd")
    for _ in deadline_loop(harness.DEFAULT_TIMEOUT, "vsockd to answer"):
        try:
            r = vsock_get("/metadata/versions")
            break
        except OSError:
            pass
    eq(r.status, 200, f"versions over vsock ({r!r})")
    r = vsock_get("/metadata/attested/document?api-version=2018-10-01&nonce=v")
    eq(r.status, 403, f"CID 1 ({r!r})")
    eq(r.body, '{"error":"Forbidden: the requesting VM could not be identified"}', "body")
    if "AttestForVersion" in f.log():
        raise AssertionError("the service was called for a local peer")
