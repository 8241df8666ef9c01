/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The legacy firewall's JSON (nft-json.h) against what nft 1.0.6 really printed: the fixtures in
 * tests/unit/nft/ are `nft -j [-t] list ...` outputs captured in a network namespace after
 * `legacynet-tool enable` and two attached ports (va, vc), then after tampering by hand with
 * nft (README in that folder). No kernel or libnftables here. */

#define TEST_PREFIX "/nft-json/drift"

#include <glib.h>

#include "nft-json.h"
#include "strv.h"
#include "test-util.h"

#define TABLE  "azshci"
#define BRIDGE "azshci-imds0"

static char *fixture(const char *name) {
        const char *src = g_getenv("AZSHCI_SOURCE_DIR");
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        char *text = NULL;

        g_assert_nonnull(src);
        path = g_build_filename(src, "tests", "unit", "nft", name, NULL);
        if (!g_file_get_contents(path, &text, NULL, &error))
                g_error("fixture %s: %s", path, error->message); /* a missing fixture fails */
        return text;
}

static JsonNode *ruleset(void) {
        JsonNode *n = NULL;

        g_assert_cmpint(nft_json_ruleset(TABLE, BRIDGE, &n), ==, 0);
        g_assert_nonnull(n);
        return n;
}

/* The drift lines of one family's listing (fixture name; NULL: the table is missing). */
static char **drift_of(const char *family, const char *name) {
        g_autoptr(JsonNode) want = ruleset();
        g_autofree char *listing = name ? fixture(name) : NULL;
        char **drift = NULL;

        g_assert_cmpint(nft_json_drift(want, family, TABLE, listing, &drift), ==, 0);
        return drift;
}

static void assert_strv(char **have, const char *const *want) {
        g_autofree char *h = strv_join(have, "\n");
        g_autofree char *w = strv_join((char **)want, "\n");

        g_assert_cmpstr(h ?: "", ==, w ?: "");
}

TEST(clean) {
        static const char *const families[] = {"bridge", "inet", "netdev"};

        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                g_autofree char *name = g_strdup_printf("clean-%s.json", families[i]);
                _cleanup_strv_free_ char **drift = drift_of(families[i], name);

                if (drift)
                        g_error("drift in %s: %s", name, drift[0]);
        }
}

TEST(extra_rule) {
        /* nft add rule inet azshci input accept */
        _cleanup_strv_free_ char **drift = drift_of("inet", "inet-extra-accept.json");

        assert_strv(drift,
                (const char *const[]){
                        "nftables table inet azshci: unexpected rule in chain input: {\"expr\":[{\"accept\":null}]}",
                        NULL});
}

TEST(missing_rule) {
        /* nft delete rule bridge azshci forward handle <oifname @ports drop> */
        _cleanup_strv_free_ char **drift = drift_of("bridge", "bridge-missing-rule.json");

        assert_strv(drift,
                (const char *const[]){
                        "nftables table bridge azshci: missing rule in chain forward: "
                        "{\"comment\":\"guest isolation\",\"expr\":[{\"match\":{\"op\":\"==\",\"left\":{\"meta\":"
                        "{\"key\":\"oifname\"}},\"right\":\"@ports\"}},{\"drop\":null}]}",
                        NULL});
}

TEST(reordered) {
        /* The source MAC rule of chain guest deleted and added again: now last. */
        _cleanup_strv_free_ char **drift = drift_of("bridge", "bridge-reordered.json");

        assert_strv(drift,
                (const char *const[]){"nftables table bridge azshci: rules are out of order", NULL});
}

TEST(changed_chain) {
        /* The netdev table made again by hand: chain egress with policy drop, nothing else. */
        _cleanup_strv_free_ char **drift = drift_of("netdev", "netdev-policy-drop.json");

        assert_strv(drift,
                (const char *const[]){
                        "nftables table netdev azshci: missing map port_dest: {\"type\":\"mark\",\"map\":\"ether_addr\"}",
                        "nftables table netdev azshci: missing chain egress: "
                        "{\"type\":\"filter\",\"hook\":\"egress\",\"prio\":0,\"policy\":\"accept\"}",
                        "nftables table netdev azshci: missing rule in chain egress: "
                        "{\"comment\":\"a port's connections go to the port's MAC\",\"expr\":[{\"match\":{\"op\":"
                        "\"==\",\"left\":{\"meta\":{\"key\":\"mark\"}},\"right\":{\"prefix\":{\"addr\":"
                        "2768240640,\"len\":8}}}},{\"mangle\":{\"key\":{\"payload\":{\"protocol\":\"ether\","
                        "\"field\":\"daddr\"}},\"value\":{\"map\":{\"key\":{\"meta\":{\"key\":\"mark\"}},"
                        "\"data\":\"@port_dest\"}}}}]}",
                        "nftables table netdev azshci: unexpected chain egress: "
                        "{\"type\":\"filter\",\"hook\":\"egress\",\"prio\":0,\"policy\":\"drop\"}",
                        NULL});
}

TEST(missing_table) {
        _cleanup_strv_free_ char **drift = drift_of("inet", NULL);

        assert_strv(drift, (const char *const[]){"nftables table inet azshci is missing", NULL});
}

TEST(other_families_ignored) {
        /* A listing of the bridge table says nothing about the inet table's objects... */
        _cleanup_strv_free_ char **drift = drift_of("inet", "clean-bridge.json");

        /* ...so every inet object is missing, and no bridge object is unexpected. */
        g_assert_cmpuint(strv_length(drift), ==, 8);
        STRV_FOREACH (d, drift)
                g_assert_true(g_str_has_prefix(*d, "nftables table inet azshci: missing "));
}

static void test_has_table(void) {
        g_autofree char *all = fixture("tables.json"), *some = fixture("tables-inet-missing.json");
        static const char *const families[] = {"bridge", "inet", "netdev"};
        bool b = false;

        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                g_assert_cmpint(nft_json_has_table(all, families[i], TABLE, &b), ==, 0);
                g_assert_true(b);
                g_assert_cmpint(nft_json_has_table(some, families[i], TABLE, &b), ==, 0);
                g_assert_true(b == !streq(families[i], "inet"));
        }
        g_assert_cmpint(nft_json_has_table(all, "ip", TABLE, &b), ==, 0);
        g_assert_false(b);
        g_assert_cmpint(nft_json_has_table(all, "bridge", "azshci2", &b), ==, 0);
        g_assert_false(b);
}

static void test_elements(void) {
        g_autofree char *ports = fixture("set-ports.json"), *macs = fixture("set-port_mac.json"),
                        *marks = fixture("map-port_mark.json"), *bare = fixture("clean-bridge.json");
        _cleanup_strv_free_ char **l = NULL;

        g_assert_cmpint(nft_json_elements(ports, NFT_ELEMENTS_NAMES, &l), ==, 0);
        assert_strv(l, (const char *const[]){"va", "vc", NULL});
        l = strv_free(l);

        g_assert_cmpint(nft_json_elements(macs, NFT_ELEMENTS_NAME_MAC, &l), ==, 0);
        assert_strv(l, (const char *const[]){"va", "02:00:5e:10:00:0a", "vc", "02:00:5e:10:00:0b", NULL});
        l = strv_free(l);

        g_assert_cmpint(nft_json_elements(marks, NFT_ELEMENTS_NAME_MARK, &l), ==, 0);
        assert_strv(l, (const char *const[]){"va", "0xa5000004", "vc", "0xa5000006", NULL});
        l = strv_free(l);

        /* A terse listing: sets without elements. */
        g_assert_cmpint(nft_json_elements(bare, NFT_ELEMENTS_NAMES, &l), ==, 0);
        g_assert_null(l);

        /* The wrong kind for the listing, and what is not nft's JSON. */
        g_assert_cmpint(nft_json_elements(ports, NFT_ELEMENTS_NAME_MAC, &l), ==, -EBADMSG);
        g_assert_cmpint(nft_json_elements(macs, NFT_ELEMENTS_NAME_MARK, &l), ==, -EBADMSG);
        g_assert_cmpint(nft_json_elements(marks, NFT_ELEMENTS_NAMES, &l), ==, -EBADMSG);
        g_assert_cmpint(nft_json_elements("table bridge azshci {", NFT_ELEMENTS_NAMES, &l), ==, -EBADMSG);
        g_assert_cmpint(nft_json_elements("{\"nftables\": {}}", NFT_ELEMENTS_NAMES, &l), ==, -EBADMSG);
        g_assert_cmpint(nft_json_elements("{\"nftables\": [{\"set\": {\"elem\": [[\"va\", -1]]}}]}",
                                NFT_ELEMENTS_NAME_MARK, &l),
                ==, -EBADMSG);
        g_assert_null(l);
}

/* The install transaction: the replace, the objects, then the bindings back. */
static void test_install(void) {
        char *pairs[] = {"va", "02:00:5e:10:00:0a", "vx", "02:00:5e:10:00:0c", NULL};
        char *marks[] = {"va", "0xa5000004", NULL};
        g_autoptr(JsonNode) want = ruleset();
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autofree char *cmd = NULL, *elements = NULL;
        g_autoptr(GString) tail = g_string_new(NULL);
        JsonArray *a;
        guint n_objects;

        g_assert_cmpint(nft_json_install(TABLE, BRIDGE, pairs, marks, &cmd), ==, 0);
        g_assert_true(json_parser_load_from_data(parser, cmd, -1, NULL));
        a = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "nftables");
        n_objects = json_array_get_length(json_node_get_array(want));

        /* add + delete for each family, the 33 objects of the ruleset (21 bridge, 8 inet, 4 netdev), 2 + 2 +
         * 3 elements. */
        g_assert_cmpuint(n_objects, ==, 33);
        g_assert_cmpuint(json_array_get_length(a), ==, 6 + n_objects + 7);
        g_assert_true(json_node_equal(json_array_get_element(a, 6),
                json_array_get_element(json_node_get_array(want), 0)));
        for (guint i = 6 + n_objects; i < json_array_get_length(a); i++) {
                g_autofree char *s = json_to_string(json_array_get_element(a, i), false);
                g_string_append_printf(tail, "%s\n", s);
        }
        g_assert_cmpstr(tail->str, ==,
                "{\"add\":{\"element\":{\"family\":\"bridge\",\"table\":\"azshci\",\"name\":\"ports\",\"elem\":[\"va\"]}}}\n"
                "{\"add\":{\"element\":{\"family\":\"bridge\",\"table\":\"azshci\",\"name\":\"port_mac\",\"elem\":[{\"concat\":[\"va\",\"02:00:5e:10:00:0a\"]}]}}}\n"
                "{\"add\":{\"element\":{\"family\":\"bridge\",\"table\":\"azshci\",\"name\":\"ports\",\"elem\":[\"vx\"]}}}\n"
                "{\"add\":{\"element\":{\"family\":\"bridge\",\"table\":\"azshci\",\"name\":\"port_mac\",\"elem\":[{\"concat\":[\"vx\",\"02:00:5e:10:00:0c\"]}]}}}\n"
                "{\"add\":{\"element\":{\"family\":\"bridge\",\"table\":\"azshci\",\"name\":\"port_mark\",\"elem\":[[\"va\",2768240644]]}}}\n"
                "{\"add\":{\"element\":{\"family\":\"bridge\",\"table\":\"azshci\",\"name\":\"port_id\",\"elem\":[{\"concat\":[\"va\",2768240644]}]}}}\n"
                "{\"add\":{\"element\":{\"family\":\"netdev\",\"table\":\"azshci\",\"name\":\"port_dest\",\"elem\":[[2768240644,\"02:00:5e:10:00:0a\"]]}}}\n");

        /* A mark that is not one. */
        marks[1] = "0xa50000zz";
        g_assert_cmpint(nft_json_install(TABLE, BRIDGE, pairs, marks, &elements), ==, -EINVAL);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        g_test_add_func("/nft-json/has-table", test_has_table);
        g_test_add_func("/nft-json/elements", test_elements);
        g_test_add_func("/nft-json/install", test_install);
        return g_test_run();
}
