/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <linux/if.h>

#include "legacy-mark.h"
#include "legacy-net-status.h"
#include "netlink.h"
#include "nft-rules.h"
#include "strv.h"
#include "validate.h"

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

                        if (legacy_net_addr_is_ours(addrs + i))
                                s->address_ok = true;
                        if (asprintf(&t, "%s/%u", inet_ntop(AF_INET, &addrs[i].address, a, sizeof(a)),
                                    addrs[i].prefixlen) < 0)
                                return -ENOMEM;
                        r = strv_extend(&s->addresses, t);
                        free(t);
                        if (r < 0)
                                return r;
                        if (!legacy_net_addr_is_ours(addrs + i)) {
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
        const char *bridge = legacy_net_bridge_name(c), *table = legacy_net_table_name(c);
        _cleanup_(legacy_net_status_done) LegacyNetStatus s = {};
        _cleanup_strv_free_ char **pairs = NULL, **port_names = NULL, **marks = NULL, **nft_drift = NULL;
        _cleanup_(link_list_done) LinkList links = {};
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        const Link *br = NULL;
        bool present;
        int r;

        assert(ret);
        assert(expected || n_expected == 0);

        r = legacy_net_check_config(c, NULL);
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
