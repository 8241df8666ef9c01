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

static const char *cfg_bridge(const LegacyNetConfig *c) {
        return c && !isempty(c->bridge) ? c->bridge : LEGACY_NET_BRIDGE_DEFAULT;
}

static const char *cfg_table(const LegacyNetConfig *c) {
        return c && !isempty(c->table) ? c->table : LEGACY_NET_TABLE_DEFAULT;
}

static int check_config(const LegacyNetConfig *c, char **ret_error) {
        if (!ifname_is_valid(cfg_bridge(c)))
                return set_error(ret_error, -EINVAL, "Invalid legacy bridge name '%s'", cfg_bridge(c));
        if (!table_name_is_valid(cfg_table(c)))
                return set_error(ret_error, -EINVAL, "Invalid nftables table name '%s'", cfg_table(c));
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

static bool addr_is_ours(const Addr *a) {
        return a->address.s_addr == our_address().s_addr && a->prefixlen == LEGACY_NET_PREFIXLEN;
}

/* ---- enable / disable -------------------------------------------------------------------- */

int legacy_net_enable(const LegacyNetConfig *c, char **ret_error) {
        const char *bridge = cfg_bridge(c), *table = cfg_table(c);
        _cleanup_free_ char *nft_error = NULL;
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_(link_done) Link l = {};
        AddrList addrs = {};
        bool have_ours = false, created = false;
        int r;

        r = check_config(c, ret_error);
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

                if (addr_is_ours(addrs.addrs + i)) {
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
        const char *bridge = cfg_bridge(c), *table = cfg_table(c);
        _cleanup_free_ char *nft_error = NULL;
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_(link_list_done) LinkList links = {};
        int r;

        r = check_config(c, ret_error);
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

        r = check_config(c, ret_error);
        if (r < 0)
                return r;
        if (!ifname_is_valid(ifname))
                return set_error(ret_error, -EINVAL, "Invalid legacy interface name '%s'", strempty(ifname));
        return 0;
}

static int attach_port(const LegacyNetConfig *c, const char *ifname, const char *mac, bool tap_only,
        char **ret_error) {
        const char *bridge = cfg_bridge(c), *table = cfg_table(c);
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
        const char *bridge = cfg_bridge(c), *table = cfg_table(c);
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

/* ---- status ------------------------------------------------------------------------------- */

static void port_status_done(LegacyNetPortStatus *p) {
        p->ifname = mfree(p->ifname);
        p->mac = mfree(p->mac);
        p->bound_mac = mfree(p->bound_mac);
}

void legacy_net_status_done(LegacyNetStatus *s) {
        if (!s)
                return;
        s->bridge = mfree(s->bridge);
        s->alias = mfree(s->alias);
        s->addresses = strv_free(s->addresses);
        for (size_t i = 0; i < s->n_ports; i++)
                port_status_done(s->ports + i);
        s->ports = mfree(s->ports);
        s->n_ports = 0;
        s->drift = strv_free(s->drift);
}

bool legacy_net_status_ok(const LegacyNetStatus *s) {
        assert(s);
        return strv_length(s->drift) == 0;
}

static LegacyNetPortStatus *status_add_port(LegacyNetStatus *s, const char *ifname) {
        LegacyNetPortStatus *a;

        a = reallocarray(s->ports, s->n_ports + 1, sizeof(LegacyNetPortStatus));
        if (!a)
                return NULL;
        s->ports = a;
        a = s->ports + s->n_ports;
        *a = (LegacyNetPortStatus){};
        a->ifname = strdup(ifname);
        if (!a->ifname)
                return NULL;
        s->n_ports++;
        return a;
}

static LegacyNetPortStatus *status_find_port(LegacyNetStatus *s, const char *ifname) {
        for (size_t i = 0; i < s->n_ports; i++)
                if (streq(s->ports[i].ifname, ifname))
                        return s->ports + i;
        return NULL;
}

static int fill_port(LegacyNetStatus *s, LegacyNetPortStatus *p, const LinkList *links, int bridge_ifindex,
        char **pairs, char **port_names, char **marks) {
        const char *b, *mark_s;
        char want[sizeof("0x") + 8] = "";
        int ifindex = 0, r;

        for (size_t i = 0; i < links->n; i++) {
                const Link *l = links->links + i;

                if (!streq(l->name, p->ifname))
                        continue;
                p->present = true;
                ifindex = l->ifindex;
                p->attached = bridge_ifindex > 0 && l->master == bridge_ifindex;
                p->isolated = p->attached && l->isolated;
                p->up = (l->flags & IFF_UP) != 0;
                break;
        }

        b = nft_rules_pairs_get(pairs, p->ifname);
        if (b) {
                r = free_and_strdup(&p->bound_mac, b);
                if (r < 0)
                        return r;
        }
        p->mac_bound = b && (!p->mac || streq(p->mac, b)) && strv_contains(port_names, p->ifname);

        if (!p->expected) {
                if (p->attached)
                        return strv_extendf(&s->drift, "port %s: attached to %s but not expected", p->ifname,
                                s->bridge);
                return strv_extendf(&s->drift, "port %s: has a MAC binding but is not expected", p->ifname);
        }
        if (!p->present)
                return strv_extendf(&s->drift, "port %s: interface does not exist", p->ifname);
        if (!p->attached)
                return strv_extendf(&s->drift, "port %s: not attached to %s", p->ifname, s->bridge);
        if (!p->isolated) {
                r = strv_extendf(&s->drift, "port %s: not isolated", p->ifname);
                if (r < 0)
                        return r;
        }
        if (!p->up) {
                r = strv_extendf(&s->drift, "port %s: down", p->ifname);
                if (r < 0)
                        return r;
        }
        if (!b)
                return strv_extendf(&s->drift, "port %s: MAC %s is not bound", p->ifname, strna(p->mac));
        if (p->mac && !streq(p->mac, b))
                return strv_extendf(&s->drift, "port %s: bound MAC is %s, expected %s", p->ifname, b,
                        p->mac);
        if (!strv_contains(port_names, p->ifname))
                return strv_extendf(&s->drift, "port %s: missing from the firewall's port set", p->ifname);

        /* A port recreated under the same name (VM restarted) has a new ifindex: until it is
         * attached again its frames carry the old mark and identify nobody. */
        mark_s = nft_rules_pairs_get(marks, p->ifname);
        {
                uint32_t mark;

                if (legacy_mark_from_ifindex(ifindex, &mark) >= 0)
                        snprintf(want, sizeof want, "0x%08" PRIx32, mark);
        }
        if (!mark_s)
                return strv_extendf(&s->drift, "port %s: has no identity mark (attach it again)", p->ifname);
        if (!streq(mark_s, want))
                return strv_extendf(&s->drift,
                        "port %s: identity mark %s is not its ifindex %d (attach it again)", p->ifname,
                        mark_s, ifindex);
        return 0;
}

/* The bridge of the status: its kind, state, alias and addresses, and no other interface with
 * its alias. *ret_br is the bridge among links, NULL when there is none. */
static int status_check_bridge(LegacyNetStatus *s, Rtnl *rtnl, const LinkList *links, const char *bridge,
        const Link **ret_br) {
        const Link *br = NULL;
        int r;

        for (size_t i = 0; i < links->n; i++)
                if (streq(links->links[i].name, bridge))
                        br = links->links + i;

        if (!br)
                r = strv_extendf(&s->drift, "bridge %s does not exist", bridge);
        else if (!streq(br->kind, "bridge"))
                r = strv_extendf(&s->drift, "interface %s is not a bridge (kind '%s')", bridge, br->kind);
        else {
                _cleanup_free_ Addr *addrs = NULL;
                AddrList al = {};

                s->bridge_present = s->bridge_is_bridge = true;
                s->bridge_up = (br->flags & IFF_UP) != 0;
                if (br->alias) {
                        s->alias = strdup(br->alias);
                        if (!s->alias)
                                return -ENOMEM;
                }
                s->alias_ok = streq_ptr(s->alias, LEGACY_NET_ALIAS);

                r = addr_dump(rtnl, br->ifindex, &al);
                if (r < 0)
                        return r;
                addrs = al.addrs;
                for (size_t i = 0; i < al.n; i++) {
                        char a[INET_ADDRSTRLEN], *t = NULL;

                        if (addr_is_ours(addrs + i))
                                s->address_ok = true;
                        if (asprintf(&t, "%s/%u", inet_ntop(AF_INET, &addrs[i].address, a, sizeof(a)),
                                    addrs[i].prefixlen) < 0)
                                return -ENOMEM;
                        r = strv_extend(&s->addresses, t);
                        free(t);
                        if (r < 0)
                                return r;
                        if (!addr_is_ours(addrs + i)) {
                                r = strv_extendf(&s->drift, "bridge %s: unexpected address %s/%u", bridge, a,
                                        addrs[i].prefixlen);
                                if (r < 0)
                                        return r;
                        }
                }

                r = 0;
                if (r >= 0 && !s->bridge_up)
                        r = strv_extendf(&s->drift, "bridge %s is down", bridge);
                if (r >= 0 && !s->alias_ok)
                        r = strv_extendf(&s->drift, "bridge %s: alias is '%s', expected '%s'", bridge,
                                strempty(s->alias), LEGACY_NET_ALIAS);
                if (r >= 0 && !s->address_ok)
                        r = strv_extendf(&s->drift, "bridge %s: address %s/%u is missing", bridge,
                                LEGACY_NET_ADDRESS, LEGACY_NET_PREFIXLEN);
        }
        if (r < 0)
                return r;

        for (size_t i = 0; i < links->n; i++) {
                const Link *l = links->links + i;

                if (l != br && streq_ptr(l->alias, LEGACY_NET_ALIAS)) {
                        r = strv_extendf(&s->drift, "interface %s also carries the alias %s", l->name,
                                LEGACY_NET_ALIAS);
                        if (r < 0)
                                return r;
                }
        }

        *ret_br = br;
        return 0;
}

/* The ports the status reports: the expected ones first, then those found on the bridge, then
 * stray bindings of the firewall (pairs: name, MAC, ...). */
static int status_collect_ports(LegacyNetStatus *s, const LegacyNetPort *expected, size_t n_expected,
        const LinkList *links, const Link *br, char **pairs) {
        for (size_t i = 0; i < n_expected; i++) {
                LegacyNetPortStatus *p;

                if (!expected[i].ifname || status_find_port(s, expected[i].ifname))
                        continue;
                p = status_add_port(s, expected[i].ifname);
                if (!p)
                        return -ENOMEM;
                p->expected = true;
                if (expected[i].mac && mac_normalize(expected[i].mac, &p->mac) < 0)
                        p->mac = NULL;
        }
        for (size_t i = 0; br && i < links->n; i++) {
                const Link *l = links->links + i;
                LegacyNetPortStatus *p;

                if (l->master != br->ifindex || status_find_port(s, l->name))
                        continue;
                p = status_add_port(s, l->name);
                if (!p)
                        return -ENOMEM;
                p->expected = !expected; /* without a list every port found is taken as intended */
        }
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
                LegacyNetPortStatus *p;

                if (status_find_port(s, pairs[i]))
                        continue;
                p = status_add_port(s, pairs[i]);
                if (!p)
                        return -ENOMEM;
                p->expected = !expected;
        }
        return 0;
}

int legacy_net_status(const LegacyNetConfig *c, const LegacyNetPort *expected, size_t n_expected,
        LegacyNetStatus *ret) {
        const char *bridge = cfg_bridge(c), *table = cfg_table(c);
        _cleanup_(legacy_net_status_done) LegacyNetStatus s = {};
        _cleanup_strv_free_ char **pairs = NULL, **port_names = NULL, **marks = NULL, **nft_drift = NULL;
        _cleanup_(link_list_done) LinkList links = {};
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        const Link *br = NULL;
        bool present;
        int r;

        assert(ret);
        assert(expected || n_expected == 0);

        r = check_config(c, NULL);
        if (r < 0)
                return r;

        s.bridge = strdup(bridge);
        if (!s.bridge)
                return -ENOMEM;

        r = rtnl_open(&rtnl);
        if (r < 0)
                return r;
        r = link_dump(&rtnl, &links);
        if (r < 0)
                return r;

        r = status_check_bridge(&s, &rtnl, &links, bridge, &br);
        if (r < 0)
                return r;

        r = nft_rules_check(table, bridge, &present, &nft_drift);
        if (r < 0)
                return r;
        s.table_present = present;
        s.table_intact = present && strv_length(nft_drift) == 0;
        STRV_FOREACH (d, nft_drift) {
                r = strv_extend(&s.drift, *d);
                if (r < 0)
                        return r;
        }

        r = nft_rules_get_bindings(table, &pairs, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        r = nft_rules_get_ports(table, &port_names, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        r = nft_rules_get_marks(table, &marks, NULL);
        if (r < 0 && r != -ENOENT)
                return r;

        r = status_collect_ports(&s, expected, n_expected, &links, br, pairs);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n_ports; i++) {
                r = fill_port(&s, s.ports + i, &links, br && s.bridge_is_bridge ? br->ifindex : 0, pairs,
                        port_names, marks);
                if (r < 0)
                        return r;
        }

        *ret = s;
        s = (LegacyNetStatus){};
        return 0;
}

static const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

char *legacy_net_status_format(const LegacyNetStatus *s) {
        _cleanup_free_ char *addrs = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        assert(s);

        addrs = strv_join(s->addresses, ", ");
        if (!addrs)
                return NULL;

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fprintf(f, "Bridge: %s (present: %s, up: %s)\n", strna(s->bridge),
                yes_no(s->bridge_present && s->bridge_is_bridge), yes_no(s->bridge_up));
        fprintf(f, "Alias: %s%s\n", strna(s->alias), s->alias_ok ? "" : " (wrong)");
        fprintf(f, "Address: %s%s\n", isempty(addrs) ? "none" : addrs,
                s->address_ok ? "" : " (missing " LEGACY_NET_ADDRESS "/16)");
        fprintf(f, "Firewall: %s\n",
                !s->table_present ? "missing"
                : s->table_intact ? "intact"
                                  : "modified");
        for (size_t i = 0; i < s->n_ports; i++) {
                const LegacyNetPortStatus *p = s->ports + i;

                fprintf(f, "Port %s: mac %s, bound %s, present %s, attached %s, isolated %s, up %s%s\n",
                        p->ifname, strna(p->mac), strna(p->bound_mac), yes_no(p->present),
                        yes_no(p->attached), yes_no(p->isolated), yes_no(p->up),
                        p->expected ? "" : " (unexpected)");
        }
        if (strv_length(s->drift) == 0)
                fputs("Drift: none\n", f);
        else
                STRV_FOREACH (d, s->drift)
                        fprintf(f, "Drift: %s\n", *d);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
