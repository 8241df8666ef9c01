/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <nftables/libnftables.h>
#include <stdarg.h>

#include "legacy-mark.h"
#include "legacy-net.h"
#include "nft-rules.h"
#include "strv.h"

static void nft_ctx_freep(struct nft_ctx **p) {
        if (*p)
                nft_ctx_free(*p);
}

static int errno_from_nft_message(const char *m) {
        static const struct {
                const char *text;
                int error;
        } table[] = {
                {"No such file or directory", ENOENT},
                {"Operation not permitted", EPERM},
                {"Permission denied", EACCES},
                {"File exists", EEXIST},
                {"Device or resource busy", EBUSY},
                {"Protocol not supported", EPROTONOSUPPORT},
                {"Address family not supported", EAFNOSUPPORT},
                {"Cannot allocate memory", ENOMEM},
        };

        if (!m)
                return -EIO;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strstr(m, table[i].text))
                        return -table[i].error;
        return -EIO;
}

/* Keeps only the first line of libnftables' error output (the others repeat the command and
 * underline the failing part). */
static char *first_line(const char *s) {
        size_t n;

        s = strempty(s);
        n = strcspn(s, "\n");
        return strndup(s, n);
}

int nft_rules_run(const char *cmd, bool terse, char **ret_output, char **ret_error) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        int r;

        assert(cmd);

        ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return -ENOMEM;
        if (terse)
                nft_ctx_output_set_flags(ctx, nft_ctx_output_get_flags(ctx) | NFT_CTX_OUTPUT_TERSE);
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
                return -ENOMEM;

        r = nft_run_cmd_from_buffer(ctx, cmd);
        if (r != 0) {
                const char *e = nft_ctx_get_error_buffer(ctx);

                r = errno_from_nft_message(e);
                if (ret_error) {
                        _cleanup_free_ char *l = first_line(e);
                        char *m = NULL;

                        if (asprintf(&m, "nftables: %s", isempty(l) ? strerror(-r) : l) < 0)
                                return -ENOMEM;
                        free(*ret_error);
                        *ret_error = m;
                }
                return r;
        }

        if (ret_output) {
                char *o = strdup(strempty(nft_ctx_get_output_buffer(ctx)));
                if (!o)
                        return -ENOMEM;
                *ret_output = o;
        }
        return 0;
}

/* The tables exactly as "nft list table" prints them (terse: no set elements); tag is
 * LEGACY_MARK_TAG as nft prints it. */
static int render_bridge(FILE *f, const char *table, const char *tag) {
        fprintf(f,
                "table bridge %1$s {\n"
                "\tset ports {\n"
                "\t\ttype ifname\n"
                "\t}\n"
                "\n"
                "\tset port_mac {\n"
                "\t\ttype ifname . ether_addr\n"
                "\t}\n"
                "\n"
                "\tmap port_mark {\n"
                "\t\ttype ifname : mark\n"
                "\t}\n"
                "\n"
                "\tset port_id {\n"
                "\t\ttype ifname . mark\n"
                "\t}\n"
                "\n"
                "\tchain prerouting {\n"
                "\t\ttype filter hook prerouting priority filter; policy accept;\n"
                "\t\tiifname @ports jump guest comment \"frames from VM ports\"\n"
                "\t}\n"
                "\n"
                "\tchain guest {\n"
                "\t\tiifname . ether saddr != @port_mac drop comment \"anti-spoofing: source MAC\"\n"
                "\t\tiifname . arp saddr ether != @port_mac drop comment \"anti-spoofing: ARP sender\"\n"
                "\t\tmeta mark set iifname map @port_mark comment \"identity: the port the frame came in through\"\n"
                "\t}\n"
                "\n"
                "\tchain forward {\n"
                "\t\ttype filter hook forward priority filter; policy accept;\n"
                "\t\tiifname @ports drop comment \"guest isolation\"\n"
                "\t\toifname @ports drop comment \"guest isolation\"\n"
                "\t}\n"
                "\n"
                "\tchain input {\n"
                "\t\ttype filter hook input priority filter; policy accept;\n"
                "\t\tiifname != @ports accept\n"
                "\t\tarp daddr ip %2$s accept comment \"guests resolve the host\"\n"
                "\t\tip daddr %2$s tcp dport %3$u accept comment \"attestation endpoint\"\n"
                "\t\tdrop comment \"nothing else to the host\"\n"
                "\t}\n"
                "\n"
                "\tchain output {\n"
                "\t\ttype filter hook output priority filter; policy accept;\n"
                "\t\tmeta mark %4$s/%5$u oifname . meta mark != @port_id drop comment \"a port's connections leave only through that port\"\n"
                "\t}\n"
                "}\n",
                table, LEGACY_NET_ADDRESS, (unsigned)LEGACY_NET_PORT, tag,
                (unsigned)__builtin_popcount(LEGACY_MARK_MASK));
        return 0;
}

static int render_inet(FILE *f, const char *table, const char *bridge) {
        fprintf(f,
                "table inet %1$s {\n"
                "\tchain input {\n"
                "\t\ttype filter hook input priority filter; policy accept;\n"
                "\t\tiifname != { \"lo\", \"%2$s\" } ip daddr %3$s drop comment \"the endpoint is for the legacy bridge only\"\n"
                "\t\tiifname \"%2$s\" ip daddr %3$s tcp dport %4$u accept comment \"attestation endpoint\"\n"
                "\t\tiifname \"%2$s\" drop comment \"nothing else to the host\"\n"
                "\t}\n"
                "\n"
                "\tchain forward {\n"
                "\t\ttype filter hook forward priority filter; policy accept;\n"
                "\t\tiifname \"%2$s\" drop comment \"not routable\"\n"
                "\t\toifname \"%2$s\" drop comment \"not routable\"\n"
                "\t}\n"
                "}\n",
                table, bridge, LEGACY_NET_ADDRESS, (unsigned)LEGACY_NET_PORT);
        return 0;
}

/* On the bridge device itself, before the bridge picks the port: a frame of the host that
 * carries a port's mark is addressed to that port's MAC, so that the bridge delivers it to that
 * port whatever MAC the host's neighbour table (which guests' ARP can repoint) gave it. */
static int render_netdev(FILE *f, const char *table, const char *bridge, const char *tag) {
        fprintf(f,
                "table netdev %1$s {\n"
                "\tmap port_dest {\n"
                "\t\ttype mark : ether_addr\n"
                "\t}\n"
                "\n"
                "\tchain egress {\n"
                "\t\ttype filter hook egress device \"%2$s\" priority filter; policy accept;\n"
                "\t\tmeta mark %3$s/%4$u ether daddr set meta mark map @port_dest comment \"a port's connections go to the port's MAC\"\n"
                "\t}\n"
                "}\n",
                table, bridge, tag, (unsigned)__builtin_popcount(LEGACY_MARK_MASK));
        return 0;
}

typedef enum Part {
        PART_BRIDGE = 1 << 0,
        PART_INET = 1 << 1,
        PART_NETDEV = 1 << 2,
} Part;

static int render(const char *table, const char *bridge, Part parts, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char tag[sizeof("0x") + 8];
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        snprintf(tag, sizeof tag, "0x%08" PRIx32, LEGACY_MARK_TAG);
        if (parts & PART_BRIDGE)
                render_bridge(f, table, tag);
        if (parts & PART_INET)
                render_inet(f, table, bridge);
        if (parts & PART_NETDEV)
                render_netdev(f, table, bridge, tag);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int nft_rules_render(const char *table, const char *bridge, char **ret) {
        assert(table);
        assert(bridge);
        assert(ret);

        return render(table, bridge, PART_BRIDGE | PART_INET | PART_NETDEV, ret);
}

typedef enum ElementKind {
        ELEMENTS_NAMES,     /* "name" */
        ELEMENTS_NAME_MAC,  /* "name" . aa:bb:cc:dd:ee:ff */
        ELEMENTS_NAME_MARK, /* "name" : 0xa5000003 */
} ElementKind;

/* The value after a name: the separator, then the MAC or mark (lowercased). NULL when there is
 * none (ELEMENTS_NAMES). Advances *p. */
static int parse_element_value(const char **p, ElementKind kind, char **ret) {
        const char *q = *p;
        size_t n;

        if (kind == ELEMENTS_NAMES) {
                *ret = NULL;
                return 0;
        }
        q += strspn(q, " \t");
        if (*q != (kind == ELEMENTS_NAME_MAC ? '.' : ':'))
                return -EBADMSG;
        q++;
        q += strspn(q, " \t");
        if (kind == ELEMENTS_NAME_MAC) {
                n = strspn(q, "0123456789abcdefABCDEF:");
                if (n != 17)
                        return -EBADMSG;
        } else {
                if (strncmp(q, "0x", 2) != 0)
                        return -EBADMSG;
                n = 2 + strspn(q + 2, "0123456789abcdefABCDEF");
                if (n < 3 || n > 10)
                        return -EBADMSG;
        }
        *ret = strndup(q, n);
        if (!*ret)
                return -ENOMEM;
        for (char *c = *ret; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        *p = q + n;
        return 0;
}

/* Collects the quoted names of a set or map listing's "elements = { ... }", and unless kind is
 * ELEMENTS_NAMES the value that follows each name: a strv of names, or of pairs name, value. */
static int parse_elements(const char *listing, ElementKind kind, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p;
        int r;

        p = strstr(listing, "elements = {");
        if (!p) {
                *ret = NULL;
                return 0;
        }
        p += strlen("elements = {");

        for (;;) {
                _cleanup_free_ char *name = NULL, *value = NULL;
                const char *e;

                p += strspn(p, " \t\n,");
                if (*p == '}' || *p == '\0')
                        break;
                if (*p != '"')
                        return -EBADMSG;
                e = strchr(p + 1, '"');
                if (!e)
                        return -EBADMSG;
                name = strndup(p + 1, e - p - 1);
                if (!name)
                        return -ENOMEM;
                p = e + 1;

                r = parse_element_value(&p, kind, &value);
                if (r < 0)
                        return r;

                r = strv_extend(&l, name);
                if (r < 0)
                        return r;
                if (value) {
                        r = strv_extend(&l, value);
                        if (r < 0)
                                return r;
                }
        }

        *ret = TAKE_PTR(l);
        return 0;
}

static int list_set(const char *table, const char *set, ElementKind kind, char ***ret, char **ret_error) {
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        int r;

        if (asprintf(&cmd, "list %s bridge %s %s", kind == ELEMENTS_NAME_MARK ? "map" : "set", table, set) <
                0)
                return -ENOMEM;
        r = nft_rules_run(cmd, false, &out, ret_error);
        if (r < 0)
                return r;
        r = parse_elements(out, kind, ret);
        if (r == -EBADMSG && ret_error) {
                free(*ret_error);
                if (asprintf(ret_error, "nftables: cannot parse the elements of bridge %s %s", table, set) <
                        0)
                        *ret_error = NULL;
        }
        return r;
}

int nft_rules_get_bindings(const char *table, char ***ret_pairs, char **ret_error) {
        assert(table);
        assert(ret_pairs);

        return list_set(table, "port_mac", ELEMENTS_NAME_MAC, ret_pairs, ret_error);
}

const char *nft_rules_pairs_get(char **pairs, const char *key) {
        assert(key);

        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                if (streq(pairs[i], key))
                        return pairs[i + 1];
        return NULL;
}

int nft_rules_get_marks(const char *table, char ***ret_pairs, char **ret_error) {
        assert(table);
        assert(ret_pairs);

        return list_set(table, "port_mark", ELEMENTS_NAME_MARK, ret_pairs, ret_error);
}

static int get_ports(const char *table, char ***ret_names, char **ret_error) {
        return list_set(table, "ports", ELEMENTS_NAMES, ret_names, ret_error);
}

int nft_rules_install(const char *table, const char *bridge, char **ret_error) {
        _cleanup_strv_free_ char **pairs = NULL, **marks = NULL;
        _cleanup_free_ char *rules = NULL, *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        assert(table);
        assert(bridge);

        r = nft_rules_get_bindings(table, &pairs, NULL);
        if (r < 0 && r != -ENOENT)
                /* A damaged set we cannot read: start over without bindings. */
                pairs = strv_free(pairs);
        r = nft_rules_get_marks(table, &marks, NULL);
        if (r < 0)
                /* Missing (an older ruleset) or damaged: attaching the ports again marks them. */
                marks = strv_free(marks);

        r = nft_rules_render(table, bridge, &rules);
        if (r < 0)
                return r;

        /* One transaction: "add" makes the "delete" safe when the table is missing. */
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                "add table bridge %1$s\n"
                "delete table bridge %1$s\n"
                "add table inet %1$s\n"
                "delete table inet %1$s\n"
                "add table netdev %1$s\n"
                "delete table netdev %1$s\n"
                "%2$s",
                table, rules);
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                fprintf(f,
                        "add element bridge %1$s ports { \"%2$s\" }\n"
                        "add element bridge %1$s port_mac { \"%2$s\" . %3$s }\n",
                        table, pairs[i], pairs[i + 1]);
        for (size_t i = 0; marks && marks[i] && marks[i + 1]; i += 2) {
                const char *mac = nft_rules_pairs_get(pairs, marks[i]);

                fprintf(f,
                        "add element bridge %1$s port_mark { \"%2$s\" : %3$s }\n"
                        "add element bridge %1$s port_id { \"%2$s\" . %3$s }\n",
                        table, marks[i], marks[i + 1]);
                if (mac)
                        fprintf(f, "add element netdev %s port_dest { %s : %s }\n", table, marks[i + 1],
                                mac);
        }
        if (fclose(f) != 0)
                return -ENOMEM;

        return nft_rules_run(buf, false, NULL, ret_error);
}

int nft_rules_remove(const char *table, char **ret_error) {
        _cleanup_free_ char *cmd = NULL;

        assert(table);

        if (asprintf(&cmd,
                    "add table bridge %1$s\n"
                    "delete table bridge %1$s\n"
                    "add table inet %1$s\n"
                    "delete table inet %1$s\n"
                    "add table netdev %1$s\n"
                    "delete table netdev %1$s\n",
                    table) < 0)
                return -ENOMEM;
        return nft_rules_run(cmd, false, NULL, ret_error);
}

/* Deletes the marks of ifname from the map and the set of identities, except the mark keep. */
static void put_delete_marks(FILE *f, const char *table, char **marks, const char *ifname,
        const char *keep) {
        for (size_t i = 0; marks && marks[i] && marks[i + 1]; i += 2)
                if (streq(marks[i], ifname) && !streq_ptr(marks[i + 1], keep))
                        fprintf(f,
                                "delete element bridge %1$s port_mark { \"%2$s\" : %3$s }\n"
                                "delete element bridge %1$s port_id { \"%2$s\" . %3$s }\n",
                                table, ifname, marks[i + 1]);
}

/* Rewrites the netdev table's destinations from the ports' marks and MACs, leaving out ifname
 * (NULL: nobody), then adds mark : mac when given. Derived data, so rebuilt whole: replacing
 * one element would fail on a missing one. */
static void put_port_dest(FILE *f, const char *table, char **marks, char **pairs, const char *ifname,
        const char *mark, const char *mac) {
        fprintf(f, "flush map netdev %s port_dest\n", table);
        for (size_t i = 0; marks && marks[i] && marks[i + 1]; i += 2) {
                const char *m = nft_rules_pairs_get(pairs, marks[i]);

                if (m && !streq_ptr(marks[i], ifname))
                        fprintf(f, "add element netdev %s port_dest { %s : %s }\n", table, marks[i + 1], m);
        }
        if (mark && mac)
                fprintf(f, "add element netdev %s port_dest { %s : %s }\n", table, mark, mac);
}

int nft_rules_bind(const char *table, const char *ifname, const char *mac, uint32_t mark, char **ret_error) {
        _cleanup_strv_free_ char **pairs = NULL, **marks = NULL;
        _cleanup_free_ char *buf = NULL;
        char mark_s[sizeof("0x") + 8];
        size_t size = 0;
        FILE *f;
        int r;

        assert(table);
        assert(ifname);
        assert(mac);

        r = nft_rules_get_bindings(table, &pairs, ret_error);
        if (r < 0)
                return r;
        r = nft_rules_get_marks(table, &marks, ret_error);
        if (r < 0)
                return r;
        snprintf(mark_s, sizeof mark_s, "0x%08" PRIx32, mark);

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                if (streq(pairs[i], ifname) && !streq(pairs[i + 1], mac))
                        fprintf(f, "delete element bridge %s port_mac { \"%s\" . %s }\n", table, ifname,
                                pairs[i + 1]);
        put_delete_marks(f, table, marks, ifname, mark_s);
        fprintf(f,
                "add element bridge %1$s ports { \"%2$s\" }\n"
                "add element bridge %1$s port_mac { \"%2$s\" . %3$s }\n"
                "add element bridge %1$s port_mark { \"%2$s\" : %4$s }\n"
                "add element bridge %1$s port_id { \"%2$s\" . %4$s }\n",
                table, ifname, mac, mark_s);
        put_port_dest(f, table, marks, pairs, ifname, mark_s, mac);
        if (fclose(f) != 0)
                return -ENOMEM;

        return nft_rules_run(buf, false, NULL, ret_error);
}

int nft_rules_unbind(const char *table, const char *ifname, char **ret_error) {
        _cleanup_strv_free_ char **pairs = NULL, **names = NULL, **marks = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        bool any = false;
        FILE *f;
        int r;

        assert(table);
        assert(ifname);

        r = nft_rules_get_bindings(table, &pairs, ret_error);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = get_ports(table, &names, ret_error);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = nft_rules_get_marks(table, &marks, ret_error);
        if (r < 0)
                return r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                if (streq(pairs[i], ifname)) {
                        fprintf(f, "delete element bridge %s port_mac { \"%s\" . %s }\n", table, ifname,
                                pairs[i + 1]);
                        any = true;
                }
        if (strv_contains(names, ifname)) {
                fprintf(f, "delete element bridge %s ports { \"%s\" }\n", table, ifname);
                any = true;
        }
        if (nft_rules_pairs_get(marks, ifname)) {
                put_delete_marks(f, table, marks, ifname, NULL);
                put_port_dest(f, table, marks, pairs, ifname, NULL, NULL);
                any = true;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (!any)
                return 0;

        return nft_rules_run(buf, false, NULL, ret_error);
}

/* Splits into trimmed, non-empty lines. */
static int split_lines(const char *text, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = text;
        int r;

        while (*p) {
                size_t n = strcspn(p, "\n");
                const char *s = p, *e = p + n;

                while (s < e && isspace((unsigned char)*s))
                        s++;
                while (e > s && isspace((unsigned char)e[-1]))
                        e--;
                if (e > s) {
                        _cleanup_free_ char *line = strndup(s, e - s);
                        if (!line)
                                return -ENOMEM;
                        r = strv_extend(&l, line);
                        if (r < 0)
                                return r;
                }
                p += n;
                if (*p == '\n')
                        p++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int check_part(const char *table, const char *bridge, Part part, bool *present, char ***drift) {
        _cleanup_strv_free_ char **want = NULL, **have = NULL;
        _cleanup_free_ char *expected = NULL, *listing = NULL, *cmd = NULL, *error = NULL;
        _cleanup_free_ bool *used = NULL;
        const char *family = part == PART_BRIDGE ? "bridge" : part == PART_INET ? "inet" : "netdev";
        size_t n_have;
        bool order_ok;
        int r;

        r = render(table, bridge, part, &expected);
        if (r < 0)
                return r;
        r = split_lines(expected, &want);
        if (r < 0)
                return r;

        if (asprintf(&cmd, "list table %s %s", family, table) < 0)
                return -ENOMEM;
        r = nft_rules_run(cmd, true, &listing, &error);
        if (r == -ENOENT) {
                *present = false;
                return strv_extendf(drift, "nftables table %s %s is missing", family, table);
        }
        if (r < 0)
                return r;

        r = split_lines(listing, &have);
        if (r < 0)
                return r;
        n_have = strv_length(have);
        used = calloc(n_have + 1, sizeof(bool));
        if (!used)
                return -ENOMEM;

        order_ok = strv_equal(want, have);
        if (order_ok)
                return 0;

        /* Report what is missing and what is extra; if both are empty the order changed. */
        bool any = false;
        STRV_FOREACH (w, want) {
                bool found = false;

                for (size_t i = 0; i < n_have; i++)
                        if (!used[i] && streq(have[i], *w)) {
                                used[i] = found = true;
                                break;
                        }
                if (!found) {
                        r = strv_extendf(drift, "nftables table %s %s: missing '%s'", family, table, *w);
                        if (r < 0)
                                return r;
                        any = true;
                }
        }
        for (size_t i = 0; i < n_have; i++)
                if (!used[i]) {
                        r = strv_extendf(drift, "nftables table %s %s: unexpected '%s'", family, table,
                                have[i]);
                        if (r < 0)
                                return r;
                        any = true;
                }
        if (!any)
                return strv_extendf(drift, "nftables table %s %s: rules are out of order", family, table);
        return 0;
}

int nft_rules_check(const char *table, const char *bridge, bool *ret_present, char ***ret_drift) {
        _cleanup_strv_free_ char **drift = NULL;
        bool present = true;
        int r;

        assert(table);
        assert(bridge);
        assert(ret_present);
        assert(ret_drift);

        r = check_part(table, bridge, PART_BRIDGE, &present, &drift);
        if (r < 0)
                return r;
        r = check_part(table, bridge, PART_INET, &present, &drift);
        if (r < 0)
                return r;
        r = check_part(table, bridge, PART_NETDEV, &present, &drift);
        if (r < 0)
                return r;

        *ret_present = present;
        *ret_drift = TAKE_PTR(drift);
        return 0;
}

int nft_rules_get_ports(const char *table, char ***ret_names, char **ret_error) {
        assert(table);
        assert(ret_names);

        return get_ports(table, ret_names, ret_error);
}
