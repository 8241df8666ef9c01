/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <time.h>

#include "peer-mac.h"

struct PeerMac {
        struct mnl_socket *nl;
        unsigned portid;
        unsigned seq;
};

int peer_mac_new(PeerMac **ret) {
        PeerMac *p;

        assert(ret);

        p = calloc(1, sizeof(PeerMac));
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

PeerMac *peer_mac_free(PeerMac *p) {
        if (!p)
                return NULL;
        if (p->nl)
                mnl_socket_close(p->nl);
        return mfree(p);
}

int peer_address(const struct sockaddr *addr, socklen_t addrlen, void *ret_addr, size_t *ret_len,
        int *ret_scope) {
        assert(addr);
        assert(ret_addr);
        assert(ret_len);

        if (ret_scope)
                *ret_scope = 0;
        if (addr->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in)) {
                memcpy(ret_addr, &((const struct sockaddr_in *)addr)->sin_addr, 4);
                *ret_len = 4;
                return AF_INET;
        }
        if (addr->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *sa6 = (const struct sockaddr_in6 *)addr;

                if (IN6_IS_ADDR_V4MAPPED(&sa6->sin6_addr)) {
                        memcpy(ret_addr, sa6->sin6_addr.s6_addr + 12, 4);
                        *ret_len = 4;
                        return AF_INET;
                }
                memcpy(ret_addr, &sa6->sin6_addr, 16);
                *ret_len = 16;
                if (ret_scope && IN6_IS_ADDR_LINKLOCAL(&sa6->sin6_addr))
                        *ret_scope = (int)sa6->sin6_scope_id;
                return AF_INET6;
        }
        return -EAFNOSUPPORT;
}

/* Sends one request and runs cb on the reply (a single answer or an error). */
static int request(PeerMac *p, struct nlmsghdr *nlh, mnl_cb_t cb, void *data) {
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

typedef struct NeighResult {
        bool found;
        uint8_t mac[6];
} NeighResult;

static int neigh_cb(const struct nlmsghdr *nlh, void *data) {
        const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
        NeighResult *res = data;
        struct nlattr *a;

        if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm))
                return MNL_CB_STOP;
        /* Only resolved entries; NOARP ones (loopback, point-to-point) carry no real address. */
        if (!(ndm->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)))
                return MNL_CB_STOP;
        mnl_attr_for_each(a, nlh, sizeof(*ndm)) {
                static const uint8_t zero[6] = {};

                if (mnl_attr_get_type(a) != NDA_LLADDR || mnl_attr_get_payload_len(a) != 6)
                        continue;
                if (memcmp(mnl_attr_get_payload(a), zero, 6) == 0)
                        continue;
                memcpy(res->mac, mnl_attr_get_payload(a), 6);
                res->found = true;
        }
        return MNL_CB_STOP;
}

int peer_mac_lookup(PeerMac *p, const struct sockaddr *addr, socklen_t addrlen, int ifindex,
        char ret[static PEER_MAC_STRLEN]) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        NeighResult res = {};
        struct nlmsghdr *nlh;
        struct ndmsg *ndm;
        uint8_t a[16];
        size_t alen;
        int family, r;

        assert(p);
        assert(addr);
        assert(ret);

        family = peer_address(addr, addrlen, a, &alen, NULL);
        if (family < 0)
                return family;
        if (ifindex <= 0)
                return -EINVAL;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETNEIGH;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
        ndm->ndm_family = (uint8_t)family;
        ndm->ndm_ifindex = ifindex;
        mnl_attr_put(nlh, NDA_DST, alen, a);

        r = request(p, nlh, neigh_cb, &res);
        if (r == -ENOENT || (r >= 0 && !res.found))
                return -ENOENT;
        if (r < 0)
                return r;
        snprintf(ret, PEER_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", res.mac[0], res.mac[1], res.mac[2],
                res.mac[3], res.mac[4], res.mac[5]);
        return 0;
}

static int route_cb(const struct nlmsghdr *nlh, void *data) {
        struct nlattr *a;
        int *oif = data;

        if (nlh->nlmsg_type != RTM_NEWROUTE)
                return MNL_CB_STOP;
        mnl_attr_for_each(a, nlh, sizeof(struct rtmsg)) if (mnl_attr_get_type(a) == RTA_OIF &&
                                                            mnl_attr_get_payload_len(a) == 4) *oif =
                (int)mnl_attr_get_u32(a);
        return MNL_CB_STOP;
}

int peer_mac_ingress_ifindex(PeerMac *p, int fd, const struct sockaddr *addr, socklen_t addrlen,
        int ifindex) {
        char buf[MNL_SOCKET_BUFFER_SIZE], ifname[IF_NAMESIZE + 1] = {};
        socklen_t len = sizeof ifname - 1;
        struct nlmsghdr *nlh;
        struct rtmsg *rtm;
        uint8_t a[16];
        size_t alen;
        int family, scope, oif = 0, r;

        assert(p);
        assert(addr);

        if (ifindex > 0)
                return ifindex;

        if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, &len) >= 0 && ifname[0]) {
                unsigned idx = if_nametoindex(ifname);
                if (idx == 0)
                        return negative_errno();
                return (int)idx;
        }

        family = peer_address(addr, addrlen, a, &alen, &scope);
        if (family < 0)
                return family;
        if (scope > 0)
                return scope;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETROUTE;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = (uint8_t)family;
        rtm->rtm_dst_len = (uint8_t)(alen * 8);
        mnl_attr_put(nlh, RTA_DST, alen, a);

        r = request(p, nlh, route_cb, &oif);
        if (r < 0)
                return r;
        return oif > 0 ? oif : -ENETUNREACH;
}
