/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <linux/vm_sockets.h>

#include "macro.h"
#include "vsock-peer.h"

static bool vsock_cid_is_guest(uint32_t cid) {
        /* 0 hypervisor, 1 local, 2 host, -1 any: no guest. */
        return cid > VMADDR_CID_HOST && cid != VMADDR_CID_ANY;
}

int vsock_peer_identify(const struct sockaddr *addr, socklen_t addrlen, char **ret_peer) {
        const struct sockaddr_vm *svm = (const struct sockaddr_vm *)addr;

        assert(ret_peer);

        if (!addr || addrlen < sizeof(struct sockaddr_vm) || addr->sa_family != AF_VSOCK)
                return -EAFNOSUPPORT;
        if (!vsock_cid_is_guest(svm->svm_cid))
                return -EADDRNOTAVAIL;
        if (asprintf(ret_peer, "%" PRIu32, (uint32_t)svm->svm_cid) < 0)
                return -ENOMEM;
        return 0;
}

static int parse_u32(const char *s, size_t len, uint32_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 10)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

int vsock_peer_parse(const char *peer, uint32_t *ret_cid) {
        uint32_t cid;
        int r;

        assert(peer);
        assert(ret_cid);

        r = parse_u32(peer, strlen(peer), &cid);
        if (r < 0)
                return r;
        if (peer[0] == '0' && peer[1] != '\0')
                return -EINVAL;
        if (!vsock_cid_is_guest(cid))
                return -EADDRNOTAVAIL;
        *ret_cid = cid;
        return 0;
}

int vsock_address_parse(const char *s, uint32_t *ret_cid, uint32_t *ret_port) {
        const char *colon;
        uint32_t cid = VMADDR_CID_ANY, port;
        int r;

        assert(s);
        assert(ret_cid);
        assert(ret_port);

        if (strncmp(s, "vsock:", 6) == 0)
                s += 6;
        colon = strchr(s, ':');
        if (colon) {
                if (colon > s) {
                        r = parse_u32(s, (size_t)(colon - s), &cid);
                        if (r < 0)
                                return r;
                }
                s = colon + 1;
        }
        r = parse_u32(s, strlen(s), &port);
        if (r < 0)
                return r;
        if (port == VMADDR_PORT_ANY)
                return -EINVAL;
        *ret_cid = cid;
        *ret_port = port;
        return 0;
}
