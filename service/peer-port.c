/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <time.h>

#include "legacy-mark.h"
#include "peer-port.h"

struct PeerPort {
        struct mnl_socket *nl;
        unsigned portid;
        unsigned seq;
};

int peer_port_new(PeerPort **ret) {
        PeerPort *p;

        assert(ret);

        p = calloc(1, sizeof(PeerPort));
        if (!p)
                return -ENOMEM;
        p->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!p->nl) {
                int r = negative_errno();
                free(p);
                return r;
        }
        if (mnl_socket_bind(p->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = negative_errno();
                mnl_socket_close(p->nl);
                free(p);
                return r;
        }
        p->portid = mnl_socket_get_portid(p->nl);
        p->seq = (unsigned)time(NULL);
        *ret = p;
        return 0;
}

PeerPort *peer_port_free(PeerPort *p) {
        if (!p)
                return NULL;
        if (p->nl)
                mnl_socket_close(p->nl);
        return mfree(p);
}

/* Sends one request and runs cb on the reply (a single answer or an error). */
static int request(PeerPort *p, struct nlmsghdr *nlh, mnl_cb_t cb, void *data) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        unsigned seq = ++p->seq;
        ssize_t n;
        int r;

        nlh->nlmsg_seq = seq;
        if (mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        for (;;) {
                n = mnl_socket_recvfrom(p->nl, buf, sizeof buf);
                if (n < 0)
                        return negative_errno();
                r = mnl_cb_run(buf, (size_t)n, seq, p->portid, cb, data);
                if (r < 0)
                        return negative_errno();
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

typedef struct LinkResult {
        bool found;
        char name[IF_NAMESIZE];
        int master;
} LinkResult;

static int link_cb(const struct nlmsghdr *nlh, void *data) {
        LinkResult *res = data;
        struct nlattr *a;

        if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
                return MNL_CB_STOP;
        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg)) {
                if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0 &&
                        strlen(mnl_attr_get_str(a)) < sizeof res->name) {
                        strcpy(res->name, mnl_attr_get_str(a));
                        res->found = true;
                } else if (mnl_attr_get_type(a) == IFLA_MASTER && mnl_attr_get_payload_len(a) == 4)
                        res->master = (int)mnl_attr_get_u32(a);
        }
        return MNL_CB_STOP;
}

int peer_port_identify(PeerPort *p, int fd, const char *bridge, char ret[static IF_NAMESIZE]) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        LinkResult res = {};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
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

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;

        r = request(p, nlh, link_cb, &res);
        if (r == -ENODEV || (r >= 0 && !res.found))
                return -ENODEV;
        if (r < 0)
                return r;

        if (bridge) {
                /* Looked up every time: a repair (legacy off/on) recreates the bridge. */
                unsigned b = if_nametoindex(bridge);
                if (b == 0 || res.master != (int)b)
                        return -EXDEV;
        }

        memcpy(ret, res.name, IF_NAMESIZE);
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
