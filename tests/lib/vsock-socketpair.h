/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The vsock frontend's HTTP server fed over socketpairs, for the C tests that run it in-process
 * (tests/frontends/test-vsock-socketpair.c, tests/faults/test-slowloris-vsock.c): peers are
 * injected with imds_http_add_connection() and the CID they would have had after accept() (the
 * internal API; production peers always come from accept()). Header-only; tests/lib/meson.build
 * exports its folder as tests_lib_inc. */

#include <glib.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imds-http.h"
#include "vsock-peer.h"

/* The identify function of ImdsHttpOptions: the vsock frontend's. */
static inline int test_vsock_identify(void *data, int fd, const struct sockaddr *addr, socklen_t addrlen,
        char **ret_peer) {
        return vsock_peer_identify(addr, addrlen, ret_peer);
}

/* Our end of a socketpair (flags, e.g. SOCK_NONBLOCK, for both ends) whose other end server
 * serves as if the kernel had reported peer CID cid; -1 if the server refused it (global
 * connection limit: libmicrohttpd closes its end). */
static inline int test_vsock_connect(ImdsHttp *server, uint32_t cid, int flags) {
        struct sockaddr_vm svm = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = 50000};
        int sv[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, sv), ==, 0);
        if (imds_http_add_connection(server, sv[1], (struct sockaddr *)&svm, sizeof svm) < 0) {
                close(sv[0]);
                return -1;
        }
        return sv[0];
}
