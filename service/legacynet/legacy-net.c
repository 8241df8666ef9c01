/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <stdarg.h>
#include <time.h>

#include "legacy-mark.h"
#include "legacy-net.h"
#include "netlink.h"
#include "log.h"
#include "nft-rules.h"
#include "strv.h"
#include "validate.h"

/* ---- errors ---------------------------------------------------------------------------- */

static int set_error(char **ret_error, int r, const char *format, ...) _printf_(3, 4);
static int set_error(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        assert(r < 0);

        if (ret_error) {
                char *m = NULL;

                va_start(ap, format);
                if (vasprintf(&m, format, ap) < 0)
                        m = NULL;
                va_end(ap);
                free(*ret_error);
                *ret_error = m;
        }
        return r;
}

/* Prefixes an error message set by a lower layer (or strerror when there is none). */
static int wrap_error(char **ret_error, int r, const char *what, char *inner) {
        _cleanup_free_ char *i = inner;

        return set_error(ret_error, r, "%s: %s", what, i ?: strerror(-r));
}

/* ---- names ------------------------------------------------------------------------------ */

static bool table_name_is_valid(const char *s) {
        size_t n;

        if (isempty(s))
                return false;
        n = strlen(s);
        return n <= 32 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

const char *legacy_net_bridge_name(const LegacyNetConfig *c) {
        return c && !isempty(c->bridge) ? c->bridge : LEGACY_NET_BRIDGE_DEFAULT;
}

const char *legacy_net_table_name(const LegacyNetConfig *c) {
        return c && !isempty(c->table) ? c->table : LEGACY_NET_TABLE_DEFAULT;
}

int legacy_net_check_config(const LegacyNetConfig *c, char **ret_error) {
        if (!ifname_is_valid(legacy_net_bridge_name(c)))
                return set_error(ret_error, -EINVAL, "Invalid legacy bridge name '%s'",
                        legacy_net_bridge_name(c));
        if (!table_name_is_valid(legacy_net_table_name(c)))
                return set_error(ret_error, -EINVAL, "Invalid nftables table name '%s'",
                        legacy_net_table_name(c));
        return 0;
}

/* The bridge's MAC: locally administered unicast, derived from the machine id and the bridge
 * name (FNV-1a), so it is the same every time the bridge is created. Set explicitly, or the
 * bridge would take the lowest port MAC and the host's MAC would change whenever a VM comes or
 * goes; stable, or guests would keep a stale ARP entry after a repair (disable + enable). */
static void bridge_mac(const char *name, uint8_t mac[static ETH_ALEN]) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        char id[64] = {};
        FILE *f;

        f = fopen("/etc/machine-id", "re");
        if (f) {
                if (!fgets(id, sizeof(id), f))
                        id[0] = 0;
                fclose(f);
        }
        for (const char *p = "azshci-legacy-bridge\n"; *p; p++)
                h = (h ^ (uint8_t)*p) * UINT64_C(0x100000001b3);
        for (const char *p = id; *p && *p != '\n'; p++)
                h = (h ^ (uint8_t)*p) * UINT64_C(0x100000001b3);
        for (const char *p = name; *p; p++)
                h = (h ^ (uint8_t)*p) * UINT64_C(0x100000001b3);

        for (size_t i = 0; i < ETH_ALEN; i++)
                mac[i] = (uint8_t)(h >> (8 * i));
        mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

static int bridge_create(Rtnl *rtnl, const char *name) {
        char buf[RTNL_REQUEST_SIZE] = {};
        struct nlmsghdr *nlh;
        struct nlattr *nest;
        uint8_t mac[ETH_ALEN];

        bridge_mac(name, mac);

        nlh = link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        mnl_attr_put(nlh, IFLA_ADDRESS, sizeof(mac), mac);
        nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
        mnl_attr_nest_end(nlh, nest);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

static struct in_addr our_address(void) {
        struct in_addr a = {};

        (void)inet_pton(AF_INET, LEGACY_NET_ADDRESS, &a);
        return a;
}

bool legacy_net_addr_is_ours(const Addr *a) {
        return a->address.s_addr == our_address().s_addr && a->prefixlen == LEGACY_NET_PREFIXLEN;
}

/* ---- enable / disable -------------------------------------------------------------------- */

int legacy_net_enable(const LegacyNetConfig *c, char **ret_error) {
        const char *bridge = legacy_net_bridge_name(c), *table = legacy_net_table_name(c);
        _cleanup_free_ char *nft_error = NULL;
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_(link_done) Link l = {};
        AddrList addrs = {};
        bool have_ours = false, created = false;
        int r;

        r = legacy_net_check_config(c, ret_error);
        if (r < 0)
                return r;

        r = rtnl_open(&rtnl);
        if (r < 0)
                return set_error(ret_error, r, "Cannot open rtnetlink: %s", strerror(-r));

        r = link_get(&rtnl, bridge, 0, &l);
        if (r == -ENODEV) {
                r = bridge_create(&rtnl, bridge);
                if (r < 0 && r != -EEXIST)
                        return set_error(ret_error, r, "Cannot create bridge %s: %s", bridge, strerror(-r));
                created = true;
                r = link_get(&rtnl, bridge, 0, &l);
        }
        if (r < 0)
                return set_error(ret_error, r, "Cannot read link %s: %s", bridge, strerror(-r));
        if (!streq(l.kind, "bridge"))
                return set_error(ret_error, -EEXIST, "Interface %s exists and is not a bridge (kind '%s')",
                        bridge, l.kind);

        /* The firewall before the bridge is up (a new bridge is created down), and after it
         * exists: the netdev table's chain hooks the bridge device itself. */
        r = nft_rules_install(table, bridge, &nft_error);
        if (r < 0)
                return wrap_error(ret_error, r, "Cannot install the legacy firewall", TAKE_PTR(nft_error));

        if (!streq_ptr(l.alias, LEGACY_NET_ALIAS)) {
                r = link_set_alias(&rtnl, l.ifindex, LEGACY_NET_ALIAS);
                if (r < 0)
                        return set_error(ret_error, r, "Cannot set the alias of %s: %s", bridge,
                                strerror(-r));
        }

        if (created) {
                r = link_set_no_ipv6_ll(&rtnl, l.ifindex);
                if (r < 0)
                        log_debug_errno(r, "Cannot turn off IPv6 link-local addresses on %s, ignoring: %m",
                                bridge);
        }

        r = addr_dump(&rtnl, l.ifindex, &addrs);
        if (r < 0)
                return set_error(ret_error, r, "Cannot read the addresses of %s: %s", bridge, strerror(-r));
        for (size_t i = 0; i < addrs.n; i++) {
                char s[INET_ADDRSTRLEN];

                if (legacy_net_addr_is_ours(addrs.addrs + i)) {
                        have_ours = true;
                        continue;
                }
                r = addr_change(&rtnl, RTM_DELADDR, l.ifindex, addrs.addrs[i].address,
                        addrs.addrs[i].prefixlen);
                if (r < 0 && r != -EADDRNOTAVAIL) {
                        free(addrs.addrs);
                        return set_error(ret_error, r, "Cannot remove address %s/%u from %s: %s",
                                inet_ntop(AF_INET, &addrs.addrs[i].address, s, sizeof(s)),
                                addrs.addrs[i].prefixlen, bridge, strerror(-r));
                }
        }
        free(addrs.addrs);

        if (!have_ours) {
                r = addr_change(&rtnl, RTM_NEWADDR, l.ifindex, our_address(), LEGACY_NET_PREFIXLEN);
                if (r < 0)
                        return set_error(ret_error, r, "Cannot add %s/%u to %s: %s", LEGACY_NET_ADDRESS,
                                LEGACY_NET_PREFIXLEN, bridge, strerror(-r));
        }

        if (!(l.flags & IFF_UP)) {
                r = link_set_up(&rtnl, l.ifindex);
                if (r < 0)
                        return set_error(ret_error, r, "Cannot bring %s up: %s", bridge, strerror(-r));
        }

        log_debug("Legacy network enabled: bridge %s, tables bridge/inet %s.", bridge, table);
        return 0;
}

int legacy_net_disable(const LegacyNetConfig *c, char **ret_error) {
        const char *bridge = legacy_net_bridge_name(c), *table = legacy_net_table_name(c);
        _cleanup_free_ char *nft_error = NULL;
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_(link_list_done) LinkList links = {};
        int r;

        r = legacy_net_check_config(c, ret_error);
        if (r < 0)
                return r;

        r = nft_rules_remove(table, &nft_error);
        if (r < 0)
                return wrap_error(ret_error, r, "Cannot remove the legacy firewall", TAKE_PTR(nft_error));

        r = rtnl_open(&rtnl);
        if (r < 0)
                return set_error(ret_error, r, "Cannot open rtnetlink: %s", strerror(-r));
        r = link_dump(&rtnl, &links);
        if (r < 0)
                return set_error(ret_error, r, "Cannot list links: %s", strerror(-r));

        /* Our bridge by name, and any bridge carrying our alias (one renamed behind our back). */
        for (size_t i = 0; i < links.n; i++) {
                const Link *l = links.links + i;

                if (!streq(l->kind, "bridge"))
                        continue;
                if (!streq(l->name, bridge) && !streq_ptr(l->alias, LEGACY_NET_ALIAS))
                        continue;
                r = link_delete(&rtnl, l->ifindex);
                if (r < 0 && r != -ENODEV)
                        return set_error(ret_error, r, "Cannot delete bridge %s: %s", l->name, strerror(-r));
        }

        log_debug("Legacy network disabled.");
        return 0;
}

/* ---- ports -------------------------------------------------------------------------------- */

/* What attach and detach check before they touch anything: the configuration and the name. */
static int check_port(const LegacyNetConfig *c, const char *ifname, char **ret_error) {
        int r;

        r = legacy_net_check_config(c, ret_error);
        if (r < 0)
                return r;
        if (!ifname_is_valid(ifname))
                return set_error(ret_error, -EINVAL, "Invalid legacy interface name '%s'", strempty(ifname));
        return 0;
}

static int attach_port(const LegacyNetConfig *c, const char *ifname, const char *mac, bool tap_only,
        char **ret_error) {
        const char *bridge = legacy_net_bridge_name(c), *table = legacy_net_table_name(c);
        _cleanup_free_ char *m = NULL, *nft_error = NULL;
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_(link_done) Link br = {}, port = {};
        uint32_t mark;
        int r;

        r = check_port(c, ifname, ret_error);
        if (r < 0)
                return r;
        if (!mac || mac_normalize(mac, &m) < 0)
                return set_error(ret_error, -EINVAL, "Invalid MAC address '%s' for %s", strempty(mac),
                        ifname);
        if (streq(ifname, bridge))
                return set_error(ret_error, -EINVAL, "%s is the legacy bridge itself", ifname);

        r = rtnl_open(&rtnl);
        if (r < 0)
                return set_error(ret_error, r, "Cannot open rtnetlink: %s", strerror(-r));

        r = link_get(&rtnl, bridge, 0, &br);
        if (r == -ENODEV || (r >= 0 && !streq(br.kind, "bridge")))
                return set_error(ret_error, -ENODEV,
                        "Legacy bridge %s does not exist (enable legacy OS support first)", bridge);
        if (r < 0)
                return set_error(ret_error, r, "Cannot read link %s: %s", bridge, strerror(-r));

        r = link_get(&rtnl, ifname, 0, &port);
        if (r == -ENODEV)
                return set_error(ret_error, r, "Legacy interface %s does not exist", ifname);
        if (r < 0)
                return set_error(ret_error, r, "Cannot read link %s: %s", ifname, strerror(-r));
        if (streq(port.kind, "bridge"))
                return set_error(ret_error, -EINVAL, "Legacy interface %s is a bridge, not a VM port",
                        ifname);
        /* The kernel says what the interface is: a tap (kind "tun") is a VM's, whatever its name. */
        if (tap_only && !streq(port.kind, "tun"))
                return set_error(ret_error, -EPERM,
                        "Legacy interface %s is not a tap (kind '%s'), not a VM port", ifname, port.kind);
        if (port.master != 0 && port.master != br.ifindex) {
                _cleanup_(link_done) Link other = {};

                (void)link_get(&rtnl, NULL, port.master, &other);
                return set_error(ret_error, -EBUSY, "Legacy interface %s already belongs to %s", ifname,
                        other.ifindex > 0 ? other.name : "another master");
        }

        /* The port's identity for the HTTP frontend: its ifindex, in the mark of its frames. */
        r = legacy_mark_from_ifindex(port.ifindex, &mark);
        if (r < 0)
                return set_error(ret_error, r,
                        "Legacy interface %s has ifindex %d, above the %d a port mark can carry "
                        "(recreate the interface)",
                        ifname, port.ifindex, LEGACY_MARK_IFINDEX_MAX);

        /* Bind first: the firewall treats the name as a guest port before it forwards anything. */
        r = nft_rules_bind(table, ifname, m, mark, &nft_error);
        if (r == -ENOENT)
                return set_error(ret_error, r,
                        "Legacy firewall table %s is missing (enable legacy OS support first)", table);
        if (r < 0)
                return wrap_error(ret_error, r, "Cannot bind the MAC address of the legacy port",
                        TAKE_PTR(nft_error));

        if (port.master != br.ifindex) {
                r = link_set_master(&rtnl, port.ifindex, br.ifindex);
                if (r < 0)
                        return set_error(ret_error, r, "Cannot attach %s to %s: %s", ifname, bridge,
                                strerror(-r));
        }
        r = port_set_isolated(&rtnl, port.ifindex, true);
        if (r < 0)
                return set_error(ret_error, r, "Cannot isolate port %s: %s", ifname, strerror(-r));
        if (!(port.flags & IFF_UP)) {
                r = link_set_up(&rtnl, port.ifindex);
                if (r < 0)
                        return set_error(ret_error, r, "Cannot bring %s up: %s", ifname, strerror(-r));
        }

        log_debug("Legacy port %s attached to %s with MAC %s.", ifname, bridge, m);
        return 0;
}

int legacy_net_attach_port(const LegacyNetConfig *c, const char *ifname, const char *mac, char **ret_error) {
        return attach_port(c, ifname, mac, false, ret_error);
}

int legacy_net_attach_tap(const LegacyNetConfig *c, const char *ifname, const char *mac, char **ret_error) {
        return attach_port(c, ifname, mac, true, ret_error);
}

int legacy_net_detach_port(const LegacyNetConfig *c, const char *ifname, char **ret_error) {
        const char *bridge = legacy_net_bridge_name(c), *table = legacy_net_table_name(c);
        _cleanup_free_ char *nft_error = NULL;
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_(link_done) Link br = {}, port = {};
        int r;

        r = check_port(c, ifname, ret_error);
        if (r < 0)
                return r;

        r = rtnl_open(&rtnl);
        if (r < 0)
                return set_error(ret_error, r, "Cannot open rtnetlink: %s", strerror(-r));

        r = link_get(&rtnl, bridge, 0, &br);
        if (r < 0 && r != -ENODEV)
                return set_error(ret_error, r, "Cannot read link %s: %s", bridge, strerror(-r));
        if (r >= 0) {
                r = link_get(&rtnl, ifname, 0, &port);
                if (r < 0 && r != -ENODEV)
                        return set_error(ret_error, r, "Cannot read link %s: %s", ifname, strerror(-r));
                if (r >= 0 && port.master == br.ifindex) {
                        r = link_set_master(&rtnl, port.ifindex, 0);
                        if (r < 0 && r != -ENODEV)
                                return set_error(ret_error, r, "Cannot detach %s from %s: %s", ifname,
                                        bridge, strerror(-r));
                }
        }

        r = nft_rules_unbind(table, ifname, &nft_error);
        if (r < 0)
                return wrap_error(ret_error, r, "Cannot unbind the MAC address of the legacy port",
                        TAKE_PTR(nft_error));

        log_debug("Legacy port %s detached from %s.", ifname, bridge);
        return 0;
}
