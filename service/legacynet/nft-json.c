/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>

#include "json-util.h"
#include "legacy-mark.h"
#include "legacy-net.h"
#include "nft-json.h"
#include "strv.h"

/* The JSON text of the tokens given, quotes escaped by the preprocessor: the ruleset below is
 * written as nft prints it, not as a C string. */
#define JSON_TEXT(...) #__VA_ARGS__

/* The tables exactly as `nft -j -t list table` prints them, without handles; one object per
 * line, each rule on its own line (tests/legacy/rule-removal.sh removes them one at a time).
 * The placeholders are replaced in the parsed tree: @TABLE@, @BRIDGE@, @ADDRESS@ with strings,
 * @PORT@, @MARK@ (LEGACY_MARK_TAG) and @MASKLEN@ (the bits of LEGACY_MARK_MASK) with numbers.
 * In nft's text: bridge prerouting "iifname @ports jump guest"; guest "iifname . ether saddr !=
 * @port_mac drop", "iifname . arp saddr ether != @port_mac drop", "meta mark set iifname map
 * @port_mark"; forward "iifname @ports drop", "oifname @ports drop"; input "iifname != @ports
 * accept", "arp daddr ip ADDRESS accept", "ip daddr ADDRESS tcp dport PORT accept", "drop";
 * output "meta mark MARK/MASKLEN oifname . meta mark != @port_id drop". inet input "iifname !=
 * { lo, BRIDGE } ip daddr ADDRESS drop", "iifname BRIDGE ip daddr ADDRESS tcp dport PORT
 * accept", "iifname BRIDGE drop"; forward "iifname BRIDGE drop", "oifname BRIDGE drop". netdev
 * egress "meta mark MARK/MASKLEN ether daddr set meta mark map @port_dest". */
/* clang-format off */
static const char ruleset_template[] = JSON_TEXT([
 {"table": {"family": "bridge", "name": "@TABLE@"}}
 , {"set": {"family": "bridge", "name": "ports", "table": "@TABLE@", "type": "ifname"}}
 , {"set": {"family": "bridge", "name": "port_mac", "table": "@TABLE@", "type": ["ifname", "ether_addr"]}}
 , {"map": {"family": "bridge", "name": "port_mark", "table": "@TABLE@", "type": "ifname", "map": "mark"}}
 , {"set": {"family": "bridge", "name": "port_id", "table": "@TABLE@", "type": ["ifname", "mark"]}}
 , {"chain": {"family": "bridge", "table": "@TABLE@", "name": "prerouting", "type": "filter", "hook": "prerouting", "prio": -200, "policy": "accept"}}
 , {"chain": {"family": "bridge", "table": "@TABLE@", "name": "guest"}}
 , {"chain": {"family": "bridge", "table": "@TABLE@", "name": "forward", "type": "filter", "hook": "forward", "prio": -200, "policy": "accept"}}
 , {"chain": {"family": "bridge", "table": "@TABLE@", "name": "input", "type": "filter", "hook": "input", "prio": -200, "policy": "accept"}}
 , {"chain": {"family": "bridge", "table": "@TABLE@", "name": "output", "type": "filter", "hook": "output", "prio": -200, "policy": "accept"}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "prerouting", "comment": "frames from VM ports", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@ports"}}, {"jump": {"target": "guest"}}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "guest", "comment": "anti-spoofing: source MAC", "expr": [{"match": {"op": "!=", "left": {"concat": [{"meta": {"key": "iifname"}}, {"payload": {"protocol": "ether", "field": "saddr"}}]}, "right": "@port_mac"}}, {"drop": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "guest", "comment": "anti-spoofing: ARP sender", "expr": [{"match": {"op": "!=", "left": {"concat": [{"meta": {"key": "iifname"}}, {"payload": {"protocol": "arp", "field": "saddr ether"}}]}, "right": "@port_mac"}}, {"drop": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "guest", "comment": "identity: the port the frame came in through", "expr": [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"map": {"key": {"meta": {"key": "iifname"}}, "data": "@port_mark"}}}}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "forward", "comment": "guest isolation", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@ports"}}, {"drop": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "forward", "comment": "guest isolation", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "@ports"}}, {"drop": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "input", "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": "@ports"}}, {"accept": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "input", "comment": "guests resolve the host", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "arp", "field": "daddr ip"}}, "right": "@ADDRESS@"}}, {"accept": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "input", "comment": "attestation endpoint", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@ADDRESS@"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@PORT@"}}, {"accept": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "input", "comment": "nothing else to the host", "expr": [{"drop": null}]}}
 , {"rule": {"family": "bridge", "table": "@TABLE@", "chain": "output", "comment": "a port's connections leave only through that port", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": {"prefix": {"addr": "@MARK@", "len": "@MASKLEN@"}}}}, {"match": {"op": "!=", "left": {"concat": [{"meta": {"key": "oifname"}}, {"meta": {"key": "mark"}}]}, "right": "@port_id"}}, {"drop": null}]}}
 , {"table": {"family": "inet", "name": "@TABLE@"}}
 , {"chain": {"family": "inet", "table": "@TABLE@", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}
 , {"chain": {"family": "inet", "table": "@TABLE@", "name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}
 , {"rule": {"family": "inet", "table": "@TABLE@", "chain": "input", "comment": "the endpoint is for the legacy bridge only", "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": {"set": ["lo", "@BRIDGE@"]}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@ADDRESS@"}}, {"drop": null}]}}
 , {"rule": {"family": "inet", "table": "@TABLE@", "chain": "input", "comment": "attestation endpoint", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@BRIDGE@"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@ADDRESS@"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@PORT@"}}, {"accept": null}]}}
 , {"rule": {"family": "inet", "table": "@TABLE@", "chain": "input", "comment": "nothing else to the host", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@BRIDGE@"}}, {"drop": null}]}}
 , {"rule": {"family": "inet", "table": "@TABLE@", "chain": "forward", "comment": "not routable", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@BRIDGE@"}}, {"drop": null}]}}
 , {"rule": {"family": "inet", "table": "@TABLE@", "chain": "forward", "comment": "not routable", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "@BRIDGE@"}}, {"drop": null}]}}
 , {"table": {"family": "netdev", "name": "@TABLE@"}}
 , {"map": {"family": "netdev", "name": "port_dest", "table": "@TABLE@", "type": "mark", "map": "ether_addr"}}
 , {"chain": {"family": "netdev", "table": "@TABLE@", "name": "egress", "type": "filter", "hook": "egress", "prio": 0, "policy": "accept", "dev": "@BRIDGE@"}}
 , {"rule": {"family": "netdev", "table": "@TABLE@", "chain": "egress", "comment": "a port's connections go to the port's MAC", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": {"prefix": {"addr": "@MARK@", "len": "@MASKLEN@"}}}}, {"mangle": {"key": {"payload": {"protocol": "ether", "field": "daddr"}}, "value": {"map": {"key": {"meta": {"key": "mark"}}, "data": "@port_dest"}}}}]}}
]);
/* clang-format on */

static const char *const families[] = {"bridge", "inet", "netdev"};

DEFINE_TRIVIAL_CLEANUP_FUNC(GPtrArray *, g_ptr_array_unref);

typedef struct Placeholders {
        const char *table, *bridge;
} Placeholders;

/* Replaces n, in place, with the value of the placeholder it holds, if any. */
static void substitute_value(const Placeholders *p, JsonNode *n) {
        const char *s = json_node_get_string(n);

        if (streq(s, "@TABLE@"))
                json_node_set_string(n, p->table);
        else if (streq(s, "@BRIDGE@"))
                json_node_set_string(n, p->bridge);
        else if (streq(s, "@ADDRESS@"))
                json_node_set_string(n, LEGACY_NET_ADDRESS);
        else if (streq(s, "@PORT@"))
                json_node_set_int(n, LEGACY_NET_PORT);
        else if (streq(s, "@MARK@"))
                json_node_set_int(n, LEGACY_MARK_TAG);
        else if (streq(s, "@MASKLEN@"))
                json_node_set_int(n, __builtin_popcount(LEGACY_MARK_MASK));
}

static void substitute(const Placeholders *p, JsonNode *n) {
        if (json_node_is_string(n))
                substitute_value(p, n);
        else if (JSON_NODE_HOLDS_OBJECT(n)) {
                _cleanup_(g_list_freep) GList *values = json_object_get_values(json_node_get_object(n));

                for (GList *v = values; v; v = v->next)
                        substitute(p, v->data);
        } else if (JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *a = json_node_get_array(n);

                for (guint i = 0; i < json_array_get_length(a); i++)
                        substitute(p, json_array_get_element(a, i));
        }
}

int nft_json_ruleset(const char *table, const char *bridge, JsonNode **ret) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        Placeholders p = {.table = table, .bridge = bridge};
        JsonNode *root;
        int r;

        assert(table);
        assert(bridge);
        assert(ret);

        /* A parser of its own: json_parse_data()'s trees are immutable. */
        parser = json_parser_new();
        r = json_parser_load(parser, "nft-json.c", ruleset_template, NULL);
        if (r < 0)
                return r;
        root = json_parser_steal_root(parser);
        substitute(&p, root);
        *ret = root;
        return 0;
}

/* The objects of a `nft -j list ...` output: the array under "nftables". The parser owns it. */
static int parse_listing(const char *listing, JsonParser **ret_parser, JsonArray **ret) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        JsonObject *root;
        JsonNode *a;
        int r;

        r = json_parse_object("nft", listing, &parser, &root, NULL);
        if (r < 0)
                return r;
        a = json_object_get_member(root, "nftables");
        if (!a || !JSON_NODE_HOLDS_ARRAY(a))
                return -EBADMSG;
        *ret = json_node_get_array(a);
        *ret_parser = TAKE_PTR(parser);
        return 0;
}

/* The kind of a listed object ({"KIND": {...}}) and its body; -EBADMSG if it is not one. */
static int object_kind(JsonNode *n, const char **ret_kind, JsonObject **ret_body) {
        _cleanup_(g_list_freep) GList *members = NULL;
        JsonObject *o;
        JsonNode *body;

        if (!JSON_NODE_HOLDS_OBJECT(n))
                return -EBADMSG;
        o = json_node_get_object(n);
        members = json_object_get_members(o);
        if (!members || members->next)
                return -EBADMSG;
        body = json_object_get_member(o, members->data);
        if (!JSON_NODE_HOLDS_OBJECT(body))
                return -EBADMSG;
        *ret_kind = members->data;
        *ret_body = json_node_get_object(body);
        return 0;
}

static const char *body_string(JsonObject *body, const char *key) {
        JsonNode *v = json_object_get_member(body, key);

        return json_node_is_string(v) ? json_node_get_string(v) : NULL;
}

int nft_json_has_table(const char *listing, const char *family, const char *name, bool *ret) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        JsonArray *objects;
        int r;

        assert(listing);
        assert(family);
        assert(name);
        assert(ret);

        r = parse_listing(listing, &parser, &objects);
        if (r < 0)
                return r;
        for (guint i = 0; i < json_array_get_length(objects); i++) {
                const char *kind;
                JsonObject *body;

                r = object_kind(json_array_get_element(objects, i), &kind, &body);
                if (r < 0)
                        return r;
                if (streq(kind, "table") && streq_ptr(body_string(body, "family"), family) &&
                        streq_ptr(body_string(body, "name"), name)) {
                        *ret = true;
                        return 0;
                }
        }
        *ret = false;
        return 0;
}

static int mark_to_string(JsonNode *n, char **ret) {
        gint64 v;

        if (!json_node_is_integer(n))
                return -EBADMSG;
        v = json_node_get_int(n);
        if (v < 0 || v > UINT32_MAX)
                return -EBADMSG;
        return asprintf(ret, "0x%08" PRIx32, (uint32_t)v) < 0 ? -ENOMEM : 0;
}

/* One element: its name, and its value unless kind is NFT_ELEMENTS_NAMES. */
static int parse_element(JsonNode *e, NftElements kind, char ***l) {
        _cleanup_free_ char *value = NULL;
        JsonArray *pair = NULL;
        JsonNode *name;
        int r;

        if (kind == NFT_ELEMENTS_NAMES) {
                if (!json_node_is_string(e))
                        return -EBADMSG;
                return strv_extend(l, json_node_get_string(e));
        }

        if (kind == NFT_ELEMENTS_NAME_MAC && JSON_NODE_HOLDS_OBJECT(e)) {
                JsonNode *c = json_object_get_member(json_node_get_object(e), "concat");

                if (c && JSON_NODE_HOLDS_ARRAY(c))
                        pair = json_node_get_array(c);
        } else if (kind == NFT_ELEMENTS_NAME_MARK && JSON_NODE_HOLDS_ARRAY(e))
                pair = json_node_get_array(e);
        if (!pair || json_array_get_length(pair) != 2)
                return -EBADMSG;
        name = json_array_get_element(pair, 0);
        if (!json_node_is_string(name))
                return -EBADMSG;

        if (kind == NFT_ELEMENTS_NAME_MAC) {
                JsonNode *mac = json_array_get_element(pair, 1);

                if (!json_node_is_string(mac) || strlen(json_node_get_string(mac)) != 17)
                        return -EBADMSG;
                value = strdup(json_node_get_string(mac));
                if (!value)
                        return -ENOMEM;
                for (char *c = value; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
        } else {
                r = mark_to_string(json_array_get_element(pair, 1), &value);
                if (r < 0)
                        return r;
        }

        r = strv_extend(l, json_node_get_string(name));
        if (r < 0)
                return r;
        return strv_extend(l, value);
}

int nft_json_elements(const char *listing, NftElements kind, char ***ret) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_strv_free_ char **l = NULL;
        JsonArray *objects;
        int r;

        assert(listing);
        assert(ret);

        r = parse_listing(listing, &parser, &objects);
        if (r < 0)
                return r;
        for (guint i = 0; i < json_array_get_length(objects); i++) {
                const char *k;
                JsonObject *body;
                JsonNode *elem;

                r = object_kind(json_array_get_element(objects, i), &k, &body);
                if (r < 0)
                        return r;
                if (!streq(k, "set") && !streq(k, "map"))
                        continue;
                elem = json_object_get_member(body, "elem");
                if (!elem)
                        break;
                if (!JSON_NODE_HOLDS_ARRAY(elem))
                        return -EBADMSG;
                for (guint j = 0; j < json_array_get_length(json_node_get_array(elem)); j++) {
                        r = parse_element(json_array_get_element(json_node_get_array(elem), j), kind, &l);
                        if (r < 0)
                                return r;
                }
                break;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- install ---------------------------------------------------------------------------- */

static void add_command(JsonBuilder *b, const char *command, const char *kind, const char *family,
        const char *table) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, command);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, kind);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "family");
        json_builder_add_string_value(b, family);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, table);
        json_builder_end_object(b);
        json_builder_end_object(b);
        json_builder_end_object(b);
}

/* {"add": {"element": {"family": family, "table": table, "name": name, "elem": [ value ]}}},
 * left open at the "elem" array's element: the caller adds the value, then closes. */
static void begin_element(JsonBuilder *b, const char *family, const char *table, const char *name) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "add");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "element");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "family");
        json_builder_add_string_value(b, family);
        json_builder_set_member_name(b, "table");
        json_builder_add_string_value(b, table);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, name);
        json_builder_set_member_name(b, "elem");
        json_builder_begin_array(b);
}

static void end_element(JsonBuilder *b) {
        json_builder_end_array(b);
        json_builder_end_object(b);
        json_builder_end_object(b);
        json_builder_end_object(b);
}

/* value1 . value2 (a concatenation) or value1 : value2 (a map element); value1 is a string,
 * value2 a string or, when mark2 is set, the number it holds. */
static void add_pair(JsonBuilder *b, bool concat, const char *s1, uint32_t mark1, bool mark1_is_key,
        const char *s2, uint32_t mark2, bool mark2_is_value) {
        if (concat) {
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "concat");
        }
        json_builder_begin_array(b);
        if (mark1_is_key)
                json_builder_add_int_value(b, mark1);
        else
                json_builder_add_string_value(b, s1);
        if (mark2_is_value)
                json_builder_add_int_value(b, mark2);
        else
                json_builder_add_string_value(b, s2);
        json_builder_end_array(b);
        if (concat)
                json_builder_end_object(b);
}

static int parse_mark(const char *s, uint32_t *ret) {
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 16);
        if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

static int add_bindings(JsonBuilder *b, const char *table, char **pairs, char **marks) {
        int r;

        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
                begin_element(b, "bridge", table, "ports");
                json_builder_add_string_value(b, pairs[i]);
                end_element(b);
                begin_element(b, "bridge", table, "port_mac");
                add_pair(b, true, pairs[i], 0, false, pairs[i + 1], 0, false);
                end_element(b);
        }
        for (size_t i = 0; marks && marks[i] && marks[i + 1]; i += 2) {
                const char *mac = NULL;
                uint32_t mark;

                r = parse_mark(marks[i + 1], &mark);
                if (r < 0)
                        return r;
                begin_element(b, "bridge", table, "port_mark");
                add_pair(b, false, marks[i], 0, false, NULL, mark, true);
                end_element(b);
                begin_element(b, "bridge", table, "port_id");
                add_pair(b, true, marks[i], 0, false, NULL, mark, true);
                end_element(b);

                for (size_t j = 0; pairs && pairs[j] && pairs[j + 1]; j += 2)
                        if (streq(pairs[j], marks[i]))
                                mac = pairs[j + 1];
                if (mac) {
                        begin_element(b, "netdev", table, "port_dest");
                        add_pair(b, false, NULL, mark, true, mac, 0, false);
                        end_element(b);
                }
        }
        return 0;
}

int nft_json_install(const char *table, const char *bridge, char **pairs, char **marks, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();
        _cleanup_(json_node_unrefp) JsonNode *ruleset = NULL;
        JsonArray *objects;
        int r;

        assert(table);
        assert(bridge);
        assert(ret);

        r = nft_json_ruleset(table, bridge, &ruleset);
        if (r < 0)
                return r;
        objects = json_node_get_array(ruleset);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "nftables");
        json_builder_begin_array(b);
        /* One transaction: "add" makes the "delete" safe when the table is missing. */
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                add_command(b, "add", "table", families[i], table);
                add_command(b, "delete", "table", families[i], table);
        }
        /* Listed objects without a command are added. */
        for (guint i = 0; i < json_array_get_length(objects); i++)
                json_builder_add_value(b, json_node_copy(json_array_get_element(objects, i)));
        r = add_bindings(b, table, pairs, marks);
        if (r < 0)
                return r;
        json_builder_end_array(b);
        json_builder_end_object(b);

        return json_builder_to_malloc_string(b, ret);
}

/* ---- drift ------------------------------------------------------------------------------ */

/* A copy of the listed object n without the members of its body named in skip (NULL ended). */
static JsonNode *object_without(const char *kind, JsonObject *body, const char *const *skip) {
        _cleanup_(g_list_freep) GList *members = json_object_get_members(body);
        JsonObject *copy = json_object_new(), *outer = json_object_new();
        JsonNode *n;

        for (GList *m = members; m; m = m->next) {
                bool skipped = false;

                for (const char *const *s = skip; *s; s++)
                        if (streq(m->data, *s))
                                skipped = true;
                if (!skipped)
                        json_object_set_member(copy, m->data,
                                json_node_copy(json_object_get_member(body, m->data)));
        }
        json_object_set_object_member(outer, kind, copy);
        n = json_node_init_object(json_node_alloc(), outer);
        json_object_unref(outer);
        return n;
}

/* The objects of family in objects, as they are compared: without handles, elements or a
 * chain's device. */
static int comparable_objects(JsonArray *objects, const char *family, GPtrArray **ret) {
        static const char *const skip[] = {"handle", "elem", "dev", NULL};
        GPtrArray *l = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);

        for (guint i = 0; i < json_array_get_length(objects); i++) {
                const char *kind;
                JsonObject *body;
                int r;

                r = object_kind(json_array_get_element(objects, i), &kind, &body);
                if (r < 0) {
                        g_ptr_array_unref(l);
                        return r;
                }
                if (!streq_ptr(body_string(body, "family"), family)) /* also skips "metainfo" */
                        continue;
                g_ptr_array_add(l, object_without(kind, body, skip));
        }
        *ret = l;
        return 0;
}

/* "rule in chain input: {...}" or "chain input: {...}": the object without the members that
 * place it. */
static char *describe(JsonNode *n) {
        static const char *const skip_rule[] = {"family", "table", "chain", NULL};
        static const char *const skip_other[] = {"family", "table", "name", NULL};
        _cleanup_(json_node_unrefp) JsonNode *rest = NULL;
        const char *kind, *where;
        JsonObject *body;
        char *text, *s = NULL;
        bool rule;

        if (object_kind(n, &kind, &body) < 0)
                return NULL;
        rule = streq(kind, "rule");
        where = body_string(body, rule ? "chain" : "name");
        rest = object_without(kind, body, rule ? skip_rule : skip_other);
        text = json_to_string(json_object_get_member(json_node_get_object(rest), kind), false);
        if (asprintf(&s, "%s %s%s: %s", kind, rule ? "in chain " : "", strna(where), text) < 0)
                s = NULL;
        g_free(text);
        return s;
}

static int add_drift(char ***drift, const char *family, const char *table, const char *what, JsonNode *n) {
        _cleanup_free_ char *d = describe(n);

        if (!d)
                return -ENOMEM;
        return strv_extendf(drift, "nftables table %s %s: %s %s", family, table, what, d);
}

static bool sequences_equal(GPtrArray *a, GPtrArray *b) {
        if (a->len != b->len)
                return false;
        for (guint i = 0; i < a->len; i++)
                if (!json_node_equal(a->pdata[i], b->pdata[i]))
                        return false;
        return true;
}

/* Reports what is missing and what is extra; if neither, the order changed. */
static int compare(GPtrArray *want, GPtrArray *have, const char *family, const char *table, char ***drift) {
        _cleanup_free_ bool *used = NULL;
        bool any = false;
        int r;

        if (sequences_equal(want, have))
                return 0;

        used = calloc(have->len + 1, sizeof(bool));
        if (!used)
                return -ENOMEM;
        for (guint w = 0; w < want->len; w++) {
                bool found = false;

                for (guint h = 0; h < have->len && !found; h++)
                        if (!used[h] && json_node_equal(want->pdata[w], have->pdata[h]))
                                used[h] = found = true;
                if (!found) {
                        r = add_drift(drift, family, table, "missing", want->pdata[w]);
                        if (r < 0)
                                return r;
                        any = true;
                }
        }
        for (guint h = 0; h < have->len; h++)
                if (!used[h]) {
                        r = add_drift(drift, family, table, "unexpected", have->pdata[h]);
                        if (r < 0)
                                return r;
                        any = true;
                }
        if (!any)
                return strv_extendf(drift, "nftables table %s %s: rules are out of order", family, table);
        return 0;
}

int nft_json_drift(JsonNode *want, const char *family, const char *table, const char *listing,
        char ***drift) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_(g_ptr_array_unrefp) GPtrArray *w = NULL, *h = NULL;
        JsonArray *objects;
        int r;

        assert(want);
        assert(family);
        assert(table);
        assert(drift);

        if (!listing)
                return strv_extendf(drift, "nftables table %s %s is missing", family, table);

        r = parse_listing(listing, &parser, &objects);
        if (r < 0)
                return r;
        r = comparable_objects(objects, family, &h);
        if (r < 0)
                return r;
        r = comparable_objects(json_node_get_array(want), family, &w);
        if (r < 0)
                return r;
        return compare(w, h, family, table, drift);
}
