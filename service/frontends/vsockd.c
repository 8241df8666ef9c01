/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshci-vsockd: the guest service interface frontend. The same HTTP/1.1 protocol over
 * AF_VSOCK; the VM is identified by the peer CID the kernel reports for the accepted socket. */

#include <linux/vm_sockets.h>

#include "imds-frontend.h"
#include "vsock-peer.h"

static int parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_vm *svm = (struct sockaddr_vm *)ret;
        uint32_t cid, port;
        int r;

        r = vsock_address_parse(s, &cid, &port);
        if (r < 0)
                return r;
        *ret = (struct sockaddr_storage){};
        svm->svm_family = AF_VSOCK;
        svm->svm_cid = cid;
        svm->svm_port = port;
        *ret_len = sizeof(struct sockaddr_vm);
        return 0;
}

static bool family_ok(int family) {
        return family == AF_VSOCK;
}

static int identify(void *data, int fd, const struct sockaddr *addr, socklen_t addrlen, char **ret_peer) {
        return vsock_peer_identify(addr, addrlen, ret_peer);
}

static const ImdsTransportDef transport = {
        .program = "azshci-vsockd",
        .transport = "vsock",
        .description = "The AF_VSOCK (guest service interface) frontend of the azshci attestation service:\n"
                       "the same HTTP/1.1 protocol as azshci-imdsd; a VM is identified by the peer\n"
                       "CID of the accepted vsock connection.",
        .listen_help = "[vsock:][CID:]PORT (CID default: any)",
        .http = false,
        .parse_listen = parse_listen,
        .family_ok = family_ok,
        .identify = identify,
};

int main(int argc, char *argv[]) {
        return imds_frontend_main(&transport, argc, argv);
}
