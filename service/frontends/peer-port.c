/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <net/if.h>
#include <sys/socket.h>

#include "legacy-mark.h"
#include "netlink.h"
#include "peer-port.h"

struct PeerPort {
        Rtnl rtnl;
};

int peer_port_new(PeerPort **ret) {
        _cleanup_free_ PeerPort *p = NULL;
        int r;

        assert(ret);

        p = calloc(1, sizeof(PeerPort));
        if (!p)
                return -ENOMEM;
        r = rtnl_open(&p->rtnl);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

PeerPort *peer_port_free(PeerPort *p) {
        if (!p)
                return NULL;
        rtnl_done(&p->rtnl);
        return mfree(p);
}

int peer_port_identify(PeerPort *p, int fd, const char *bridge, char ret[static IF_NAMESIZE]) {
        _cleanup_(link_done) Link l = {};
        uint32_t mark = 0;
        socklen_t len = sizeof mark;
        int ifindex, r;

        assert(p);
        assert(fd >= 0);
        assert(ret);

        if (getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) < 0)
                return negative_errno();
        ifindex = legacy_mark_to_ifindex(mark);
        if (ifindex < 0)
                return ifindex;

        r = link_get(&p->rtnl, NULL, ifindex, &l);
        if (r >= 0 && isempty(l.name))
                r = -ENODEV;
        if (r < 0)
                return r;

        if (bridge) {
                /* Looked up every time: a repair (legacy off/on) recreates the bridge. */
                unsigned b = if_nametoindex(bridge);
                if (b == 0 || l.master != (int)b)
                        return -EXDEV;
        }

        memcpy(ret, l.name, IF_NAMESIZE);
        return 0;
}

const char *peer_port_strerror(int error) {
        switch (error) {
        case -ENOENT:
                return "the connection carries no legacy port mark (it does not come from a VM port of the "
                       "legacy bridge, or net.ipv4.tcp_fwmark_accept is 0)";
        case -ENODEV:
                return "the port its mark names no longer exists";
        case -EXDEV:
                return "the port its mark names is not a port of the legacy bridge";
        default:
                return strerror(-error);
        }
}
