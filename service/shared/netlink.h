/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* rtnetlink over libmnl: one request and its answer at a time, and the links (interfaces) as
 * the kernel describes them. Used by the legacy network (links and addresses it changes) and by
 * the HTTP frontend (the port a connection came in on). */

#define RTNL_BUFFER_SIZE  32768 /* for answers, dumps included */
#define RTNL_REQUEST_SIZE 4096  /* our requests are small; zeroed so padding is not garbage */

typedef struct Rtnl {
        struct mnl_socket *nl;
        unsigned portid;
        unsigned seq;
} Rtnl;

typedef struct AttrTable {
        const struct nlattr **tb;
        int max;
} AttrTable;

typedef struct Link {
        int ifindex;
        char name[IFNAMSIZ];
        char *alias;
        char kind[32];
        unsigned flags;
        int master;
        bool isolated;
} Link;

typedef struct LinkList {
        Link *links;
        size_t n;
} LinkList;

int rtnl_open(Rtnl *ret);
void rtnl_done(Rtnl *r);
/* Sends one request and processes the answer; cb (returning 0 or negative errno) sees each data
 * message. Non-dump requests are acknowledged, so kernel errors come back as -errno. */
int rtnl_call(Rtnl *rtnl, struct nlmsghdr *nlh, mnl_cb_t cb, void *userdata);

/* For mnl_attr_parse(): stores each attribute up to t->max in t->tb by type. */
int attr_table_cb(const struct nlattr *a, void *data);
char *attr_strdup(const struct nlattr *a);

void link_done(Link *l);
void link_list_done(LinkList *l);
/* The link called name, or with ifindex when name is NULL. -ENODEV when there is no such link. */
int link_get(Rtnl *rtnl, const char *name, int ifindex, Link *ret);
/* Every link. */
int link_dump(Rtnl *rtnl, LinkList *ret);
/* Starts a link request of type (RTM_NEWLINK, ...) for ifindex in buf (RTNL_REQUEST_SIZE bytes,
 * zeroed). */
struct nlmsghdr *link_request(char *buf, uint16_t type, uint16_t flags, int ifindex);

/* Changes of one link (ifindex), each one request. */
int link_set_alias(Rtnl *rtnl, int ifindex, const char *alias);
/* No IPv6 link-local address on the link (IN6_ADDR_GEN_MODE_NONE). */
int link_set_no_ipv6_ll(Rtnl *rtnl, int ifindex);
int link_set_up(Rtnl *rtnl, int ifindex);
int link_set_master(Rtnl *rtnl, int ifindex, int master);
/* The bridge port's "isolated" flag: isolated ports reach only non-isolated ones. */
int port_set_isolated(Rtnl *rtnl, int ifindex, bool isolated);
int link_delete(Rtnl *rtnl, int ifindex);

/* IPv4 addresses. */
typedef struct Addr {
        struct in_addr address;
        unsigned prefixlen;
} Addr;

typedef struct AddrList {
        int ifindex;
        Addr *addrs;
        size_t n;
} AddrList;

/* The IPv4 addresses of ifindex. */
int addr_dump(Rtnl *rtnl, int ifindex, AddrList *ret);
/* Adds (RTM_NEWADDR, replacing, with the broadcast address) or removes (RTM_DELADDR) address. */
int addr_change(Rtnl *rtnl, uint16_t type, int ifindex, struct in_addr address, unsigned prefixlen);
