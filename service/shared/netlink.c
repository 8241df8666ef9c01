/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <time.h>

#include "netlink.h"

void rtnl_done(Rtnl *r) {
        if (r->nl)
                mnl_socket_close(r->nl);
        r->nl = NULL;
}

int rtnl_open(Rtnl *ret) {
        struct mnl_socket *nl;

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return negative_errno();
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = negative_errno();
                mnl_socket_close(nl);
                return r;
        }
        *ret = (Rtnl){
                .nl = nl,
                .portid = mnl_socket_get_portid(nl),
                .seq = (unsigned)time(NULL),
        };
        return 0;
}

#define IN_SET_GET(t) ((t) == RTM_GETLINK || (t) == RTM_GETADDR)

typedef struct CallbackData {
        mnl_cb_t cb;
        void *userdata;
        int error;
} CallbackData;

/* After the callback failed, the rest of the answer is read without it: the kernel's DONE or
 * ACK for this sequence number must be consumed here, or the next call would read it as its own
 * answer (EPROTO: wrong sequence number) for as long as the socket lives. */
static int callback_trampoline(const struct nlmsghdr *nlh, void *data) {
        CallbackData *d = data;
        int r;

        if (d->error < 0)
                return MNL_CB_OK;
        r = d->cb(nlh, d->userdata);
        if (r < 0)
                d->error = r;
        return MNL_CB_OK;
}

int rtnl_call(Rtnl *rtnl, struct nlmsghdr *nlh, mnl_cb_t cb, void *userdata) {
        _cleanup_free_ char *buf = NULL;
        CallbackData d = {.cb = cb, .userdata = userdata};
        unsigned seq;

        buf = malloc(RTNL_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;

        /* NLM_F_DUMP shares its bits with NLM_F_REPLACE/NLM_F_EXCL: only GET requests dump. */
        bool dump = IN_SET_GET(nlh->nlmsg_type) && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;

        seq = nlh->nlmsg_seq = ++rtnl->seq;
        if (!dump)
                nlh->nlmsg_flags |= NLM_F_ACK;

        if (mnl_socket_sendto(rtnl->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();

        for (;;) {
                ssize_t n;
                int r;

                n = mnl_socket_recvfrom(rtnl->nl, buf, RTNL_BUFFER_SIZE);
                if (n < 0)
                        return negative_errno();
                errno = 0;
                r = mnl_cb_run(buf, n, seq, rtnl->portid, cb ? callback_trampoline : NULL, &d);
                if (r < 0)
                        return d.error < 0 ? d.error : negative_errno();
                if (r == MNL_CB_STOP)
                        return d.error;
        }
}

int attr_table_cb(const struct nlattr *a, void *data) {
        AttrTable *t = data;
        int type = mnl_attr_get_type(a);

        if (type <= t->max)
                t->tb[type] = a;
        return MNL_CB_OK;
}

char *attr_strdup(const struct nlattr *a) {
        return strndup(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
}

void link_done(Link *l) {
        l->alias = mfree(l->alias);
}

void link_list_done(LinkList *l) {
        for (size_t i = 0; i < l->n; i++)
                link_done(l->links + i);
        l->links = mfree(l->links);
        l->n = 0;
}

static int link_parse(const struct nlmsghdr *nlh, Link *ret) {
        const struct nlattr *tb[IFLA_MAX + 1] = {}, *li[IFLA_INFO_MAX + 1] = {},
                                           *bp[IFLA_BRPORT_MAX + 1] = {};
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
        AttrTable t = {tb, IFLA_MAX};
        Link l = {};

        if (nlh->nlmsg_type != RTM_NEWLINK)
                return 0;
        if (mnl_attr_parse(nlh, sizeof(*ifm), attr_table_cb, &t) < 0)
                return -EBADMSG;

        l.ifindex = ifm->ifi_index;
        l.flags = ifm->ifi_flags;
        if (tb[IFLA_IFNAME])
                snprintf(l.name, sizeof(l.name), "%.*s", (int)mnl_attr_get_payload_len(tb[IFLA_IFNAME]),
                        (const char *)mnl_attr_get_payload(tb[IFLA_IFNAME]));
        if (tb[IFLA_MASTER] && mnl_attr_get_payload_len(tb[IFLA_MASTER]) >= 4)
                l.master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
        if (tb[IFLA_IFALIAS] && mnl_attr_get_payload_len(tb[IFLA_IFALIAS]) > 0) {
                l.alias = attr_strdup(tb[IFLA_IFALIAS]);
                if (!l.alias)
                        return -ENOMEM;
                if (isempty(l.alias))
                        l.alias = mfree(l.alias);
        }
        if (tb[IFLA_LINKINFO]) {
                AttrTable ti = {li, IFLA_INFO_MAX};

                if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_table_cb, &ti) >= 0) {
                        if (li[IFLA_INFO_KIND])
                                snprintf(l.kind, sizeof(l.kind), "%.*s",
                                        (int)mnl_attr_get_payload_len(li[IFLA_INFO_KIND]),
                                        (const char *)mnl_attr_get_payload(li[IFLA_INFO_KIND]));
                        if (li[IFLA_INFO_SLAVE_DATA]) {
                                AttrTable tp = {bp, IFLA_BRPORT_MAX};

                                if (mnl_attr_parse_nested(li[IFLA_INFO_SLAVE_DATA], attr_table_cb, &tp) >=
                                                0 &&
                                        bp[IFLA_BRPORT_ISOLATED])
                                        l.isolated = mnl_attr_get_u8(bp[IFLA_BRPORT_ISOLATED]) != 0;
                        }
                }
        }

        link_done(ret);
        *ret = l;
        return 1;
}

struct nlmsghdr *link_request(char *buf, uint16_t type, uint16_t flags, int ifindex) {
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifm;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = ifindex;
        return nlh;
}

static int link_get_cb(const struct nlmsghdr *nlh, void *data) {
        int r = link_parse(nlh, data);
        return r < 0 ? r : 0;
}

int link_get(Rtnl *rtnl, const char *name, int ifindex, Link *ret) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;
        Link l = {};
        int r;

        nlh = link_request(buf, RTM_GETLINK, 0, ifindex);
        if (name)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);

        r = rtnl_call(rtnl, nlh, link_get_cb, &l);
        if (r < 0) {
                link_done(&l);
                return r;
        }
        if (l.ifindex <= 0)
                return -ENODEV;
        *ret = l;
        return 0;
}

static int link_dump_cb(const struct nlmsghdr *nlh, void *data) {
        LinkList *list = data;
        Link l = {}, *a;
        int r;

        r = link_parse(nlh, &l);
        if (r <= 0)
                return r;
        a = reallocarray(list->links, list->n + 1, sizeof(Link));
        if (!a) {
                link_done(&l);
                return -ENOMEM;
        }
        list->links = a;
        list->links[list->n++] = l;
        return 0;
}

int link_dump(Rtnl *rtnl, LinkList *ret) {
        char buf[RTNL_REQUEST_SIZE] = {};
        LinkList list = {};
        int r;

        r = rtnl_call(rtnl, link_request(buf, RTM_GETLINK, NLM_F_DUMP, 0), link_dump_cb, &list);
        if (r < 0) {
                link_list_done(&list);
                return r;
        }
        *ret = list;
        return 0;
}

int link_set_alias(Rtnl *rtnl, int ifindex, const char *alias) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;

        nlh = link_request(buf, RTM_SETLINK, 0, ifindex);
        mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int link_set_no_ipv6_ll(Rtnl *rtnl, int ifindex) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;
        struct nlattr *spec, *inet6;

        nlh = link_request(buf, RTM_SETLINK, 0, ifindex);
        spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
        inet6 = mnl_attr_nest_start(nlh, AF_INET6);
        mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
        mnl_attr_nest_end(nlh, inet6);
        mnl_attr_nest_end(nlh, spec);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int link_set_up(Rtnl *rtnl, int ifindex) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifm;

        nlh = link_request(buf, RTM_NEWLINK, 0, ifindex);
        ifm = mnl_nlmsg_get_payload(nlh);
        ifm->ifi_change = IFF_UP;
        ifm->ifi_flags = IFF_UP;
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int link_set_master(Rtnl *rtnl, int ifindex, int master) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;

        nlh = link_request(buf, RTM_NEWLINK, 0, ifindex);
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int port_set_isolated(Rtnl *rtnl, int ifindex, bool isolated) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;
        struct nlattr *info, *data;

        nlh = link_request(buf, RTM_NEWLINK, 0, ifindex);
        info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
        mnl_attr_put_u8(nlh, IFLA_BRPORT_ISOLATED, isolated);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, info);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int link_delete(Rtnl *rtnl, int ifindex) {
        char buf[RTNL_REQUEST_SIZE] = {};

        return rtnl_call(rtnl, link_request(buf, RTM_DELLINK, 0, ifindex), NULL, NULL);
}

static int addr_dump_cb(const struct nlmsghdr *nlh, void *data) {
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFA_MAX + 1] = {}, *a;
        AttrTable t = {tb, IFA_MAX};
        AddrList *list = data;
        Addr *n;

        if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET ||
                (int)ifa->ifa_index != list->ifindex)
                return 0;
        if (mnl_attr_parse(nlh, sizeof(*ifa), attr_table_cb, &t) < 0)
                return -EBADMSG;
        a = tb[IFA_LOCAL] ?: tb[IFA_ADDRESS];
        if (!a || mnl_attr_get_payload_len(a) != sizeof(struct in_addr))
                return 0;

        n = reallocarray(list->addrs, list->n + 1, sizeof(Addr));
        if (!n)
                return -ENOMEM;
        list->addrs = n;
        memcpy(&list->addrs[list->n].address, mnl_attr_get_payload(a), sizeof(struct in_addr));
        list->addrs[list->n].prefixlen = ifa->ifa_prefixlen;
        list->n++;
        return 0;
}

int addr_dump(Rtnl *rtnl, int ifindex, AddrList *ret) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;
        AddrList list = {.ifindex = ifindex};
        int r;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_INET;

        r = rtnl_call(rtnl, nlh, addr_dump_cb, &list);
        if (r < 0) {
                free(list.addrs);
                return r;
        }
        *ret = list;
        return 0;
}

int addr_change(Rtnl *rtnl, uint16_t type, int ifindex, struct in_addr address, unsigned prefixlen) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_REPLACE : 0);
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (uint8_t)prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (unsigned)ifindex;
        mnl_attr_put(nlh, IFA_LOCAL, sizeof(address), &address);
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof(address), &address);
        if (type == RTM_NEWADDR && prefixlen < 31) {
                struct in_addr b = {
                        .s_addr = address.s_addr | htonl(UINT32_MAX >> prefixlen),
                };
                mnl_attr_put(nlh, IFA_BROADCAST, sizeof(b), &b);
        }
        return rtnl_call(rtnl, nlh, NULL, NULL);
}
