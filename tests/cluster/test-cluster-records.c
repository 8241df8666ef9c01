/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The pure half of the cluster code, without etcd: the key layout and the records
 * (cluster-records.h), and the etcd v3 JSON gateway bodies and replies (etcd-json.h). The
 * replies are ones Debian's etcd 3.4.23 gave (docs/cluster.md). */

#include <glib.h>

#include "cluster-records.h"
#include "cluster-view.h"
#include "etcd-json.h"
#include "test-util.h"

#define ID1 "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"

static const TestPredicateCase server_name_cases[] = {
        {"node-1.example", true},
        {"", false},
        {"..", false},
        {"a/b", false},
        {"a b", false},
        {"0123456789012345678901234567890123456789012345678901234567890123", false},
};

static const TestPredicateCase prefix_cases[] = {
        {"/azshci", true},
        {"/azshci/cluster-1", true},
        {"azshci", false},
        {"/azshci/", false},
        {"/", false},
        {"/a//b", false},
};

static int key_settings(const char *prefix, const char *name, char **ret) {
        g_assert_null(name);
        return cluster_key_settings(prefix, ret);
}

/* A key built under the prefix "/c" and what cluster_key_parse() reads back from it. */
typedef struct KeyCase {
        const char *kind_name;
        int (*build)(const char *prefix, const char *name, char **ret);
        const char *name;
        const char *key; /* NULL: not compared */
        ClusterKeyKind kind;
} KeyCase;

static const KeyCase key_cases[] = {
        {"settings", key_settings, NULL, "/c/settings", CLUSTER_KEY_SETTINGS},
        {"grant", cluster_key_grant, ID1, "/c/grants/" ID1, CLUSTER_KEY_GRANT},
        {"server", cluster_key_server, "node-2", "/c/servers/node-2", CLUSTER_KEY_SERVER},
        {"member", cluster_key_member, "node-3", NULL, CLUSTER_KEY_MEMBER},
        {"reapply", cluster_key_reapply, "node-3", "/c/reapply/node-3", CLUSTER_KEY_REAPPLY},
};

static void test_key_case(const void *data) {
        const KeyCase *c = data;
        _cleanup_free_ char *k = NULL, *name = NULL;
        ClusterKeyKind kind;

        g_assert_cmpint(c->build("/c", c->name, &k), ==, 0);
        if (c->key)
                g_assert_cmpstr(k, ==, c->key);
        g_assert_cmpint(cluster_key_parse("/c", k, &kind, &name), ==, 0);
        g_assert_cmpint(kind, ==, c->kind);
        g_assert_cmpstr(name, ==, c->name);
}

static void test_keys(void) {
        _cleanup_free_ char *k = NULL;

        g_assert_cmpint(cluster_key_grant("/c", "not-a-uuid", &k), ==, -EINVAL);
        g_assert_cmpint(cluster_key_all("/c", &k), ==, 0);
        g_assert_cmpstr(k, ==, "/c/");
}

/* Keys of another prefix, of a prefix that only starts the same, and unknown ones. */
static const char *const foreign_keys[] = {
        "/d/settings",
        "/cc/settings",
        "/c/other",
        "/c/grants/xyz",
        "/c/servers/a/b",
        "/c/servers/",
};

static void test_foreign_key(const void *data) {
        const char *const *key = data;
        _cleanup_free_ char *name = NULL;
        ClusterKeyKind kind;

        g_assert_cmpint(cluster_key_parse("/c", *key, &kind, &name), ==, -EBADMSG);
}

static void test_settings(void) {
        _cleanup_free_ char *json = NULL;
        ClusterSettings s = {};

        g_assert_cmpint(cluster_settings_to_json(&(ClusterSettings){.legacy_support = true}, &json), ==, 0);
        g_assert_cmpstr(json, ==, "{\"legacySupport\":true}");
        g_assert_cmpint(cluster_settings_from_json(json, &s, NULL), ==, 0);
        g_assert_true(s.legacy_support);
        /* Members a newer server added are ignored. */
        g_assert_cmpint(cluster_settings_from_json("{\"legacySupport\":false,\"future\":1}", &s, NULL), ==,
                0);
        g_assert_false(s.legacy_support);
}

static void test_grant(void) {
        _cleanup_free_ char *json = NULL;
        ClusterGrant g = {};

        g_assert_cmpint(cluster_grant_to_json(&(ClusterGrant){.legacy_access = true}, &json), ==, 0);
        g_assert_cmpstr(json, ==, "{\"legacyAccess\":true}");
        g_assert_cmpint(cluster_grant_from_json(json, &g, NULL), ==, 0);
        g_assert_true(g.legacy_access);
}

static void test_server_record(void) {
        _cleanup_(cluster_server_record_done) ClusterServerRecord back = {};
        _cleanup_free_ char *json = NULL;
        ClusterServerRecord r = {
                .state = (char *)"Active",
                .last_sync = 1700000000000000,
                .certificate_expiry = 1800000000000000,
                .legacy_applied = true,
                .error = NULL,
        };

        g_assert_cmpint(cluster_server_record_to_json(&r, &json), ==, 0);
        g_assert_cmpstr(json, ==,
                "{\"state\":\"Active\",\"lastSync\":1700000000000000,\"certificateExpiry\":"
                "1800000000000000,\"legacyApplied\":true,\"error\":\"\"}");
        g_assert_cmpint(cluster_server_record_from_json(json, &back, NULL), ==, 0);
        g_assert_cmpstr(back.state, ==, "Active");
        g_assert_cmpuint(back.last_sync, ==, 1700000000000000);
        g_assert_cmpuint(back.certificate_expiry, ==, 1800000000000000);
        g_assert_true(back.legacy_applied);
        g_assert_cmpstr(back.error, ==, "");
}

static int parse_settings(const char *json, char **error) {
        ClusterSettings s = {};

        return cluster_settings_from_json(json, &s, error);
}

static int parse_grant(const char *json, char **error) {
        ClusterGrant g = {};

        return cluster_grant_from_json(json, &g, error);
}

static int parse_server_record(const char *json, char **error) {
        _cleanup_(cluster_server_record_done) ClusterServerRecord r = {};

        return cluster_server_record_from_json(json, &r, error);
}

/* A record the parser of its kind refuses, with -EBADMSG and the exact message, or (message
 * NULL) with any error. */
typedef struct RecordErrorCase {
        const char *name;
        int (*parse)(const char *json, char **error);
        const char *json;
        const char *message;
} RecordErrorCase;

static const RecordErrorCase record_error_cases[] = {
        {"settings-not-a-boolean", parse_settings, "{\"legacySupport\":\"yes\"}",
                "cluster settings: \"legacySupport\" must be true or false"},
        {"settings-not-an-object", parse_settings, "[]", "cluster settings: not a JSON object"},
        {"settings-not-json", parse_settings, "{", NULL},
        {"grant-no-legacyAccess", parse_grant, "{}", "VM grant: \"legacyAccess\" must be true or false"},
        {"server-record-unknown-state", parse_server_record,
                "{\"state\":\"Happy\",\"lastSync\":0,\"certificateExpiry\":0,"
                "\"legacyApplied\":false,\"error\":\"\"}",
                "server record: \"state\" must be \"Active\", \"Expired\", \"Inactive\" or \"Error\""},
        {"server-record-negative-lastSync", parse_server_record,
                "{\"state\":\"Error\",\"lastSync\":-1,\"certificateExpiry\":0,"
                "\"legacyApplied\":false,\"error\":\"x\"}",
                "server record: \"lastSync\" must be a non-negative integer"},
};

static void test_record_error_case(const void *data) {
        const RecordErrorCase *c = data;
        _cleanup_free_ char *error = NULL;
        int r = c->parse(c->json, &error);

        if (!c->message) {
                g_assert_cmpint(r, <, 0);
                return;
        }
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_cmpstr(error, ==, c->message);
}

static void test_range_end(void) {
        _cleanup_free_ char *end = NULL;

        g_assert_cmpint(etcd_prefix_range_end("/azshci/", &end), ==, 0);
        g_assert_cmpstr(end, ==, "/azshci0");
        end = mfree(end);
        g_assert_cmpint(etcd_prefix_range_end("a\xff", &end), ==, 0);
        g_assert_cmpstr(end, ==, "b");
        end = mfree(end);
        g_assert_cmpint(etcd_prefix_range_end("", &end), ==, -EINVAL);
}

static void test_build(void) {
        _cleanup_free_ char *b = NULL;

        /* "/c/" = L2Mv, "/c0" = L2Mw, "/c/settings" = L2Mvc2V0dGluZ3M=, "v" = dg== */
        g_assert_cmpint(etcd_build_range("/c/", "/c0", &b), ==, 0);
        g_assert_cmpstr(b, ==, "{\"key\":\"L2Mv\",\"range_end\":\"L2Mw\"}");
        b = mfree(b);
        g_assert_cmpint(etcd_build_put("/c/settings", "v", 0, &b), ==, 0);
        g_assert_cmpstr(b, ==, "{\"key\":\"L2Mvc2V0dGluZ3M=\",\"value\":\"dg==\"}");
        b = mfree(b);
        g_assert_cmpint(etcd_build_put("/c/settings", "v", 7587868, &b), ==, 0);
        g_assert_cmpstr(b, ==, "{\"key\":\"L2Mvc2V0dGluZ3M=\",\"value\":\"dg==\",\"lease\":\"7587868\"}");
        b = mfree(b);
        g_assert_cmpint(etcd_build_txn_cas(&(EtcdCas){.key = "/c/settings", .mod_revision = 5, .value = "v"},
                                1, &b),
                ==, 0);
        g_assert_cmpstr(b, ==,
                "{\"compare\":[{\"key\":\"L2Mvc2V0dGluZ3M=\",\"target\":\"MOD\",\"result\":\"EQUAL\","
                "\"mod_revision\":\"5\"}],\"success\":[{\"request_put\":{\"key\":\"L2Mvc2V0dGluZ3M=\","
                "\"value\":\"dg==\"}}],\"failure\":[{\"request_range\":{\"key\":\"L2Mvc2V0dGluZ3M=\"}}]}");
        b = mfree(b);
        g_assert_cmpint(etcd_build_lease_grant(5, &b), ==, 0);
        g_assert_cmpstr(b, ==, "{\"TTL\":\"5\"}");
        b = mfree(b);
        g_assert_cmpint(etcd_build_lease_keepalive(2324035814185618956, &b), ==, 0);
        g_assert_cmpstr(b, ==, "{\"ID\":\"2324035814185618956\"}");
        b = mfree(b);
        g_assert_cmpint(etcd_build_watch_create("/c/", "/c0", 8, &b), ==, 0);
        g_assert_cmpstr(b, ==,
                "{\"create_request\":{\"key\":\"L2Mv\",\"range_end\":\"L2Mw\",\"start_revision\":\"8\"}}");
}

#define HEADER "\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\","

static void test_parse(void) {
        _cleanup_(etcd_kv_list_done) EtcdKvList l = {}, cur = {};
        _cleanup_(etcd_watch_message_done) EtcdWatchMessage w = {}, w2 = {};
        _cleanup_free_ char *error = NULL;
        int64_t rev, id, ttl;
        bool ok;

        g_assert_cmpint(
                etcd_parse_range("{" HEADER "\"revision\":\"2\",\"raft_term\":\"2\"},\"kvs\":[{\"key\":"
                                 "\"L2Evc2V0dGluZ3M=\",\"create_revision\":\"2\",\"mod_revision\":\"2\","
                                 "\"version\":\"1\",\"value\":\"eyJ4IjoxfQ==\"}],\"count\":\"1\"}",
                        &l, NULL),
                ==, 0);
        g_assert_cmpint(l.revision, ==, 2);
        g_assert_cmpuint(l.n_kvs, ==, 1);
        g_assert_cmpstr(l.kvs[0].key, ==, "/a/settings");
        g_assert_cmpstr(l.kvs[0].value, ==, "{\"x\":1}");
        g_assert_cmpint(l.kvs[0].mod_revision, ==, 2);
        etcd_kv_list_done(&l);

        /* An empty range leaves "kvs" out. */
        g_assert_cmpint(etcd_parse_range("{" HEADER "\"revision\":\"9\"}}", &l, NULL), ==, 0);
        g_assert_cmpuint(l.n_kvs, ==, 0);
        g_assert_cmpint(l.revision, ==, 9);

        g_assert_cmpint(etcd_parse_put("{" HEADER "\"revision\":\"3\",\"raft_term\":\"2\"}}", &rev, NULL),
                ==, 0);
        g_assert_cmpint(rev, ==, 3);

        /* An error reply: the gateway's message. */
        g_assert_cmpint(
                etcd_parse_range("{\"error\":\"illegal base64 data at input byte 0\",\"message\":\"illegal "
                                 "base64 data at input byte 0\",\"code\":3}",
                        &l, &error),
                ==, -EIO);
        g_assert_cmpstr(error, ==, "etcd: illegal base64 data at input byte 0");
        error = mfree(error);

        /* A transaction whose compare failed reads the key back. */
        g_assert_cmpint(
                etcd_parse_txn_cas("{" HEADER "\"revision\":\"2\"},\"responses\":[{\"response_range\":{"
                                   "\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"L2Evc2V0dGluZ3M=\","
                                   "\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\","
                                   "\"value\":\"eyJ4IjoxfQ==\"}],\"count\":\"1\"}}]}",
                        &ok, &rev, &cur, NULL),
                ==, 0);
        g_assert_false(ok);
        g_assert_cmpuint(cur.n_kvs, ==, 1);
        g_assert_cmpint(cur.kvs[0].mod_revision, ==, 2);
        etcd_kv_list_done(&cur);
        g_assert_cmpint(etcd_parse_txn_cas("{" HEADER
                                           "\"revision\":\"3\"},\"succeeded\":true,\"responses\":[{"
                                           "\"response_put\":{\"header\":{\"revision\":\"3\"}}}]}",
                                &ok, &rev, &cur, NULL),
                ==, 0);
        g_assert_true(ok);
        g_assert_cmpint(rev, ==, 3);

        g_assert_cmpint(etcd_parse_lease("{" HEADER
                                         "\"revision\":\"2\"},\"ID\":\"2324035814185618951\",\"TTL\":\"3\"}",
                                &id, &ttl, NULL),
                ==, 0);
        g_assert_cmpint(id, ==, 2324035814185618951);
        g_assert_cmpint(ttl, ==, 3);
        /* keepalive of a lease that expired: no TTL */
        g_assert_cmpint(etcd_parse_lease("{\"result\":{" HEADER "\"revision\":\"3\"},\"ID\":\"12345\"}}",
                                &id, &ttl, NULL),
                ==, 0);
        g_assert_cmpint(id, ==, 12345);
        g_assert_cmpint(ttl, ==, 0);

        g_assert_cmpint(
                etcd_parse_watch("{\"result\":{" HEADER "\"revision\":\"4\"},\"events\":[{\"kv\":{\"key\":"
                                 "\"L2Evc2V0dGluZ3M=\",\"create_revision\":\"2\",\"mod_revision\":\"3\","
                                 "\"version\":\"2\",\"value\":\"djM=\"}},{\"type\":\"DELETE\",\"kv\":{"
                                 "\"key\":\"L2Evc2V0dGluZ3M=\",\"mod_revision\":\"4\"}}]}}",
                        &w, NULL),
                ==, 0);
        g_assert_false(w.created);
        g_assert_cmpuint(w.events.n_kvs, ==, 2);
        g_assert_cmpint(w.types[0], ==, ETCD_EVENT_PUT);
        g_assert_cmpstr(w.events.kvs[0].value, ==, "v3");
        g_assert_cmpint(w.events.kvs[0].mod_revision, ==, 3);
        g_assert_cmpint(w.types[1], ==, ETCD_EVENT_DELETE);
        g_assert_cmpint(w.events.kvs[1].mod_revision, ==, 4);

        g_assert_cmpint(etcd_parse_watch("{\"result\":{" HEADER "\"raft_term\":\"2\"},\"canceled\":true,"
                                         "\"compact_revision\":\"5\"}}",
                                &w2, NULL),
                ==, 0);
        g_assert_true(w2.canceled);
        g_assert_cmpint(w2.compact_revision, ==, 5);

        /* Wrong shapes are refused, never half-read. */
        g_assert_cmpint(etcd_parse_range("{\"header\":{\"revision\":\"x\"}}", &l, NULL), ==, -EBADMSG);
        g_assert_cmpint(etcd_parse_range("{\"kvs\":{}}", &l, NULL), ==, -EBADMSG);
        g_assert_cmpint(etcd_parse_lease("{\"ID\":\"0\"}", &id, &ttl, NULL), ==, -EBADMSG);
}

/* One entry that is not for this project (a key with a NUL byte, bad base64, an unknown event
 * type, a revision out of range) is left out; the others are read (docs/cluster.md, "Keys"). */
static void test_parse_bad_entry(void) {
        _cleanup_(etcd_kv_list_done) EtcdKvList l = {};
        _cleanup_(etcd_watch_message_done) EtcdWatchMessage w = {};

        g_assert_cmpint(etcd_parse_range("{\"header\":{\"revision\":\"7\"},\"kvs\":["
                                         "{\"key\":\"L2EvAGI=\",\"mod_revision\":\"5\",\"value\":\"eA==\"},"
                                         "{\"key\":\"!!\",\"mod_revision\":\"5\"},"
                                         "{\"key\":\"L2EvZ3JhbnRzL3g=\",\"mod_revision\":\"-3\"},"
                                         "{\"key\":\"L2Evc2V0dGluZ3M=\",\"mod_revision\":\"6\",\"value\":"
                                         "\"eyJsZWdhY3lTdXBwb3J0Ijp0cnVlfQ==\"},"
                                         "{\"key\":\"L2EvZ3JhbnRzL3g=\",\"mod_revision\":\"6\",\"value\":"
                                         "\"eAB5\"}]}",
                                &l, NULL),
                ==, 0);
        g_assert_cmpint(l.revision, ==, 7);
        g_assert_cmpuint(l.n_kvs, ==, 1);
        g_assert_cmpstr(l.kvs[0].key, ==, "/a/settings");
        g_assert_cmpstr(l.kvs[0].value, ==, "{\"legacySupport\":true}");
        g_assert_cmpint(l.kvs[0].mod_revision, ==, 6);

        g_assert_cmpint(etcd_parse_watch("{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":["
                                         "{\"type\":\"MOVE\",\"kv\":{\"key\":\"YQ==\"}},"
                                         "{\"kv\":{\"key\":\"L2EvAGI=\",\"mod_revision\":\"8\"}},"
                                         "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2Evc2V0dGluZ3M=\","
                                         "\"mod_revision\":\"8\"}}]}}",
                                &w, NULL),
                ==, 0);
        g_assert_cmpint(w.revision, ==, 8);
        g_assert_cmpuint(w.events.n_kvs, ==, 1);
        g_assert_cmpint(w.types[0], ==, ETCD_EVENT_DELETE);
        g_assert_cmpstr(w.events.kvs[0].key, ==, "/a/settings");
}

static int parse_range(const char *data, char **ret_error) {
        _cleanup_(etcd_kv_list_done) EtcdKvList l = {};
        return etcd_parse_range(data, &l, ret_error);
}

static int parse_put(const char *data, char **ret_error) {
        int64_t rev;
        return etcd_parse_put(data, &rev, ret_error);
}

static int parse_txn(const char *data, char **ret_error) {
        _cleanup_(etcd_kv_list_done) EtcdKvList l = {};
        int64_t rev;
        bool ok;
        return etcd_parse_txn_cas(data, &ok, &rev, &l, ret_error);
}

static int parse_watch(const char *data, char **ret_error) {
        _cleanup_(etcd_watch_message_done) EtcdWatchMessage w = {};
        return etcd_parse_watch(data, &w, ret_error);
}

/* Revisions outside 0..INT64_MAX - 1 in a reply's header (or a compact revision) are refused
 * with a clear error: the store computes revision + 1 and compares them. */
static const struct {
        const char *name;
        int (*parse)(const char *data, char **ret_error);
        const char *data;
        const char *error;
} revision_cases[] = {
#define OUT_OF_RANGE ": revision out of range (0..9223372036854775806)"
        {"range-negative", parse_range, "{\"header\":{\"revision\":\"-1\"}}",
                "etcd range reply" OUT_OF_RANGE},
        {"range-max", parse_range, "{\"header\":{\"revision\":\"9223372036854775807\"}}",
                "etcd range reply" OUT_OF_RANGE},
        {"put-max", parse_put, "{\"header\":{\"revision\":9223372036854775807}}",
                "etcd put reply" OUT_OF_RANGE},
        {"txn-negative", parse_txn, "{\"header\":{\"revision\":\"-5\"},\"succeeded\":true}",
                "etcd txn reply" OUT_OF_RANGE},
        {"txn-read-back", parse_txn,
                "{\"header\":{\"revision\":\"5\"},\"responses\":[{\"response_range\":{\"header\":{"
                "\"revision\":\"-1\"}}}]}",
                "etcd txn reply: read-back" OUT_OF_RANGE},
        {"watch-max", parse_watch, "{\"result\":{\"header\":{\"revision\":\"9223372036854775807\"}}}",
                "etcd watch message" OUT_OF_RANGE},
        {"watch-compact-negative", parse_watch,
                "{\"result\":{\"header\":{\"revision\":\"3\"},\"canceled\":true,\"compact_revision\":\"-2\"}}",
                "etcd watch message" OUT_OF_RANGE},
#undef OUT_OF_RANGE
};

static void test_revision_case(const void *data) {
        typeof(revision_cases[0]) *c = data;
        _cleanup_free_ char *error = NULL;

        g_assert_cmpint(c->parse(c->data, &error), ==, -EBADMSG);
        g_assert_cmpstr(error, ==, c->error);
}

/* A settings or grant record of the wrong shape: ignored (the last good value stays, a grant
 * that never was valid is none), its revision kept for the compare-and-swap that replaces it. */
static void test_view_bad_records(void) {
        ClusterView v = {.prefix = "/c", .server_name = "node1"};
        ClusterViewGrant *g;

        g_assert_cmpuint(cluster_view_apply(&v, "/c/settings", "not json", 3), ==, 0);
        g_assert_false(v.has_settings);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/settings"), ==, 3);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/settings", "{\"legacySupport\":true}", 4), ==,
                CLUSTER_CHANGED_SETTINGS);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/settings", "[]", 5), ==, 0);
        g_assert_true(v.has_settings);
        g_assert_true(v.settings.legacy_support);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/settings"), ==, 5);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/settings", NULL, 6), ==, CLUSTER_CHANGED_SETTINGS);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/settings"), ==, 0);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/settings", "x", 7), ==, 0);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/settings", NULL, 8), ==, 0);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/settings"), ==, 0);

        g_assert_cmpuint(cluster_view_apply(&v, "/c/grants/" ID1, "{\"legacyAccess\":1}", 9), ==, 0);
        g_assert_nonnull(g = cluster_view_find_grant(&v, ID1));
        g_assert_true(g->bad);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/grants/" ID1), ==, 9);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/grants/" ID1, "{\"legacyAccess\":false}", 10), ==,
                CLUSTER_CHANGED_GRANTS);
        g_assert_false(g->bad);
        g_assert_false(g->legacy_access);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/grants/" ID1, "{}", 11), ==, 0);
        g_assert_false(g->bad);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/grants/" ID1), ==, 11);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/grants/" ID1, NULL, 12), ==, CLUSTER_CHANGED_GRANTS);
        g_assert_null(cluster_view_find_grant(&v, ID1));

        /* this server's reapply request, by revision */
        g_assert_cmpint(cluster_view_reapply_revision(&v), ==, 0);
        (void)cluster_view_apply(&v, "/c/reapply/node2", "{\"requested\":1}", 13);
        g_assert_cmpint(cluster_view_reapply_revision(&v), ==, 0);
        (void)cluster_view_apply(&v, "/c/reapply/node1", "{\"requested\":1}", 14);
        g_assert_cmpint(cluster_view_reapply_revision(&v), ==, 14);
        cluster_view_clear(&v);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        test_add_predicate_cases("/cluster/names/server", cluster_server_name_is_valid, server_name_cases,
                G_N_ELEMENTS(server_name_cases));
        test_add_predicate_cases("/cluster/names/prefix", cluster_prefix_is_valid, prefix_cases,
                G_N_ELEMENTS(prefix_cases));
        test_add_cases("/cluster/keys", key_cases, kind_name, test_key_case);
        g_test_add_func("/cluster/keys/grant-not-a-uuid-and-all", test_keys);
        for (size_t i = 0; i < G_N_ELEMENTS(foreign_keys); i++)
                test_add_case("/cluster/keys/foreign", foreign_keys[i], &foreign_keys[i], test_foreign_key);
        g_test_add_func("/cluster/settings", test_settings);
        g_test_add_func("/cluster/grant", test_grant);
        g_test_add_func("/cluster/server-record", test_server_record);
        test_add_cases("/cluster/record-errors", record_error_cases, name, test_record_error_case);
        g_test_add_func("/etcd/range-end", test_range_end);
        g_test_add_func("/etcd/build", test_build);
        g_test_add_func("/etcd/parse", test_parse);
        g_test_add_func("/etcd/parse-bad-entry", test_parse_bad_entry);
        g_test_add_func("/cluster/view/bad-records", test_view_bad_records);
        test_add_cases("/etcd/revision-range", revision_cases, name, test_revision_case);
        return g_test_run();
}
