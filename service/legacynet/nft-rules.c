/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <nftables/libnftables.h>

#include "json-util.h"
#include "nft-json.h"
#include "nft-rules.h"
#include "strv.h"

static void nft_ctx_freep(struct nft_ctx **p) {
        if (*p)
                nft_ctx_free(*p);
}

/* Keeps only the first line of libnftables' error output (the others repeat the command and
 * underline the failing part). */
static char *first_line(const char *s) {
        size_t n;

        s = strempty(s);
        n = strcspn(s, "\n");
        return strndup(s, n);
}

/* Runs cmd (nft's text, or its JSON when flags has NFT_CTX_OUTPUT_JSON: libnftables 1.0.6 reads
 * JSON input under the output flag). libnftables says that a command failed, not why in a form
 * a program can read: a failure returns error (what the caller attempted decides which), and
 * the first line of libnftables' error buffer is the message. */
static int run(const char *cmd, unsigned flags, int error, char **ret_output, char **ret_error) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;

        assert(cmd);
        assert(error < 0);

        ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return -ENOMEM;
        nft_ctx_output_set_flags(ctx, nft_ctx_output_get_flags(ctx) | flags);
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
                return -ENOMEM;

        if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
                if (ret_error) {
                        _cleanup_free_ char *l = first_line(nft_ctx_get_error_buffer(ctx));
                        char *m = NULL;

                        if (asprintf(&m, "nftables: %s", isempty(l) ? strerror(-error) : l) < 0)
                                return -ENOMEM;
                        free(*ret_error);
                        *ret_error = m;
                }
                return error;
        }

        if (ret_output) {
                char *o = strdup(strempty(nft_ctx_get_output_buffer(ctx)));
                if (!o)
                        return -ENOMEM;
                *ret_output = o;
        }
        return 0;
}

int nft_rules_run(const char *cmd, bool terse, char **ret_output, char **ret_error) {
        return run(cmd, terse ? NFT_CTX_OUTPUT_TERSE : 0, -EINVAL, ret_output, ret_error);
}

/* Runs a list command with JSON output. */
static int list_json(const char *cmd, bool terse, char **ret_output, char **ret_error) {
        return run(cmd, NFT_CTX_OUTPUT_JSON | (terse ? NFT_CTX_OUTPUT_TERSE : 0), -EIO, ret_output,
                ret_error);
}

static int has_table(const char *family, const char *table, bool *ret, char **ret_error) {
        _cleanup_free_ char *out = NULL;
        int r;

        r = list_json("list tables", false, &out, ret_error);
        if (r < 0)
                return r;
        r = nft_json_has_table(out, family, table, ret);
        if (r < 0)
                return json_error(ret_error, r, "nftables: cannot parse the list of tables");
        return 0;
}

/* The elements of bridge table's set (or map) name. -ENOENT when the table is missing. */
static int list_set(const char *table, const char *name, NftElements kind, char ***ret, char **ret_error) {
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        bool exists;
        int r;

        if (asprintf(&cmd, "list %s bridge %s %s", kind == NFT_ELEMENTS_NAME_MARK ? "map" : "set", table,
                    name) < 0)
                return -ENOMEM;
        r = list_json(cmd, false, &out, ret_error);
        if (r < 0) {
                /* Which failure: the table is missing (not an error for the callers), or not. */
                if (has_table("bridge", table, &exists, NULL) >= 0 && !exists)
                        return -ENOENT;
                return r;
        }
        r = nft_json_elements(out, kind, ret);
        if (r == -EBADMSG)
                return json_error(ret_error, r, "nftables: cannot parse the elements of bridge %s %s", table,
                        name);
        return r;
}

int nft_rules_get_bindings(const char *table, char ***ret_pairs, char **ret_error) {
        assert(table);
        assert(ret_pairs);

        return list_set(table, "port_mac", NFT_ELEMENTS_NAME_MAC, ret_pairs, ret_error);
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

        return list_set(table, "port_mark", NFT_ELEMENTS_NAME_MARK, ret_pairs, ret_error);
}

int nft_rules_get_ports(const char *table, char ***ret_names, char **ret_error) {
        assert(table);
        assert(ret_names);

        return list_set(table, "ports", NFT_ELEMENTS_NAMES, ret_names, ret_error);
}

int nft_rules_install(const char *table, const char *bridge, char **ret_error) {
        _cleanup_strv_free_ char **pairs = NULL, **marks = NULL;
        _cleanup_free_ char *cmd = NULL;
        int r;

        assert(table);
        assert(bridge);

        r = nft_rules_get_bindings(table, &pairs, NULL);
        if (r < 0)
                /* Missing, or a damaged set we cannot read: start over without bindings. */
                pairs = strv_free(pairs);
        r = nft_rules_get_marks(table, &marks, NULL);
        if (r < 0)
                /* Missing (an older ruleset) or damaged: attaching the ports again marks them. */
                marks = strv_free(marks);

        r = nft_json_install(table, bridge, pairs, marks, &cmd);
        if (r < 0)
                return r;
        return run(cmd, NFT_CTX_OUTPUT_JSON, -EIO, NULL, ret_error);
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
        return run(cmd, 0, -EIO, NULL, ret_error);
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

        return run(buf, 0, -EIO, NULL, ret_error);
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
        r = nft_rules_get_ports(table, &names, ret_error);
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

        return run(buf, 0, -EIO, NULL, ret_error);
}

int nft_rules_check(const char *table, const char *bridge, bool *ret_present, char ***ret_drift) {
        static const char *const families[] = {"bridge", "inet", "netdev"};
        _cleanup_(json_node_unrefp) JsonNode *want = NULL;
        _cleanup_strv_free_ char **drift = NULL;
        _cleanup_free_ char *tables = NULL;
        bool present = true;
        int r;

        assert(table);
        assert(bridge);
        assert(ret_present);
        assert(ret_drift);

        r = nft_json_ruleset(table, bridge, &want);
        if (r < 0)
                return r;
        r = list_json("list tables", false, &tables, NULL);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                _cleanup_free_ char *cmd = NULL, *listing = NULL;
                bool exists;

                r = nft_json_has_table(tables, families[i], table, &exists);
                if (r < 0)
                        return r;
                if (exists) {
                        if (asprintf(&cmd, "list table %s %s", families[i], table) < 0)
                                return -ENOMEM;
                        r = list_json(cmd, true, &listing, NULL);
                        if (r < 0)
                                return r;
                } else
                        present = false;
                r = nft_json_drift(want, families[i], table, listing, &drift);
                if (r < 0)
                        return r;
        }

        *ret_present = present;
        *ret_drift = TAKE_PTR(drift);
        return 0;
}
