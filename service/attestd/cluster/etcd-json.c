/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-glib/json-glib.h>

#include "etcd-json.h"
#include "json-util.h"
#include "log.h"
#include "x509-util.h"

void etcd_kv_list_done(EtcdKvList *l) {
        assert(l);
        for (size_t i = 0; i < l->n_kvs; i++) {
                free(l->kvs[i].key);
                free(l->kvs[i].value);
        }
        free(l->kvs);
        *l = (EtcdKvList){};
}

void etcd_watch_message_done(EtcdWatchMessage *m) {
        assert(m);
        etcd_kv_list_done(&m->events);
        free(m->types);
        free(m->cancel_reason);
        *m = (EtcdWatchMessage){};
}

int etcd_prefix_range_end(const char *prefix, char **ret) {
        _cleanup_free_ char *end = NULL;
        size_t n;

        assert(prefix);
        assert(ret);

        end = strdup(prefix);
        if (!end)
                return -ENOMEM;
        for (n = strlen(end); n > 0; n--) {
                if ((unsigned char)end[n - 1] < 0xff) {
                        end[n - 1]++;
                        end[n] = 0;
                        *ret = TAKE_PTR(end);
                        return 0;
                }
        }
        return -EINVAL; /* empty or all 0xff: no prefix range */
}

/* --- building --- */

static int add_b64(JsonBuilder *b, const char *member, const char *s) {
        _cleanup_free_ char *enc = NULL;
        int r;

        r = base64_encode(s, strlen(s), &enc);
        if (r < 0)
                return r;
        json_builder_set_member_name(b, member);
        json_builder_add_string_value(b, enc);
        return 0;
}

static void add_int64(JsonBuilder *b, const char *member, int64_t v) {
        char buf[32];

        /* The gateway's protobuf mapping takes 64-bit numbers as strings. */
        snprintf(buf, sizeof(buf), "%" PRIi64, v);
        json_builder_set_member_name(b, member);
        json_builder_add_string_value(b, buf);
}

static int add_range_members(JsonBuilder *b, const char *key, const char *range_end) {
        int r;

        r = add_b64(b, "key", key);
        if (r < 0)
                return r;
        if (range_end) {
                r = add_b64(b, "range_end", range_end);
                if (r < 0)
                        return r;
        }
        return 0;
}

int etcd_build_range(const char *key, const char *range_end, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();
        int r;

        assert(key);
        assert(ret);

        json_builder_begin_object(b);
        r = add_range_members(b, key, range_end);
        if (r < 0)
                return r;
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

static int add_put_members(JsonBuilder *b, const char *key, const char *value, int64_t lease) {
        int r;

        r = add_b64(b, "key", key);
        if (r < 0)
                return r;
        r = add_b64(b, "value", value);
        if (r < 0)
                return r;
        if (lease != 0)
                add_int64(b, "lease", lease);
        return 0;
}

int etcd_build_put(const char *key, const char *value, int64_t lease, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();
        int r;

        assert(key);
        assert(value);
        assert(ret);

        json_builder_begin_object(b);
        r = add_put_members(b, key, value, lease);
        if (r < 0)
                return r;
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

int etcd_build_txn_cas(const EtcdCas *ops, size_t n_ops, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();
        int r;

        assert(ops);
        assert(n_ops > 0);
        assert(ret);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "compare");
        json_builder_begin_array(b);
        for (size_t i = 0; i < n_ops; i++) {
                assert(ops[i].mod_revision >= 0);
                json_builder_begin_object(b);
                r = add_b64(b, "key", ops[i].key);
                if (r < 0)
                        return r;
                json_builder_set_member_name(b, "target");
                json_builder_add_string_value(b, "MOD");
                json_builder_set_member_name(b, "result");
                json_builder_add_string_value(b, "EQUAL");
                add_int64(b, "mod_revision", ops[i].mod_revision);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);

        json_builder_set_member_name(b, "success");
        json_builder_begin_array(b);
        for (size_t i = 0; i < n_ops; i++) {
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "request_put");
                json_builder_begin_object(b);
                r = add_put_members(b, ops[i].key, ops[i].value, ops[i].lease);
                if (r < 0)
                        return r;
                json_builder_end_object(b);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);

        json_builder_set_member_name(b, "failure");
        json_builder_begin_array(b);
        for (size_t i = 0; i < n_ops; i++) {
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "request_range");
                json_builder_begin_object(b);
                r = add_range_members(b, ops[i].key, NULL);
                if (r < 0)
                        return r;
                json_builder_end_object(b);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

/* {"MEMBER": v}: the lease requests. */
static int build_int_object(const char *member, int64_t v, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();

        assert(ret);

        json_builder_begin_object(b);
        add_int64(b, member, v);
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

int etcd_build_lease_grant(int64_t ttl_sec, char **ret) {
        assert(ttl_sec > 0);
        return build_int_object("TTL", ttl_sec, ret);
}

int etcd_build_lease_keepalive(int64_t lease, char **ret) {
        return build_int_object("ID", lease, ret);
}

int etcd_build_watch_create(const char *key, const char *range_end, int64_t start_revision, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();
        int r;

        assert(key);
        assert(start_revision >= 0);
        assert(ret);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "create_request");
        json_builder_begin_object(b);
        r = add_range_members(b, key, range_end);
        if (r < 0)
                return r;
        if (start_revision > 0)
                add_int64(b, "start_revision", start_revision);
        json_builder_end_object(b);
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

/* --- parsing --- */

/* A 64-bit number as the gateway writes it: a decimal string, or an integer; absent = 0. */
static int get_int64(JsonObject *o, const char *member, int64_t *ret) {
        JsonNode *n = json_object_get_member(o, member);
        const char *s;
        char *end;
        long long v;

        if (!n) {
                *ret = 0;
                return 0;
        }
        if (json_node_is_integer(n)) {
                *ret = json_node_get_int(n);
                return 0;
        }
        if (!json_node_is_string(n))
                return -EBADMSG;
        s = json_node_get_string(n);
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* A revision: 0 (absent) up to INT64_MAX - 1, so that the next one (revision + 1, where a watch
 * resumes) is one too; anything else from etcd gives -ERANGE. */
static int get_revision(JsonObject *o, const char *member, int64_t *ret) {
        int64_t v;
        int r;

        r = get_int64(o, member, &v);
        if (r < 0)
                return r;
        if (v < 0 || v == INT64_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* The error of a reply that did not parse: -ERANGE is a revision out of range. */
static int reply_error(char **ret_error, int r, const char *what) {
        if (r == -ENOMEM)
                return r;
        if (r == -ERANGE)
                return json_error(ret_error, -EBADMSG, "%s: revision out of range (0..%" PRIi64 ")", what,
                        INT64_MAX - 1);
        return json_error(ret_error, -EBADMSG, "%s: unexpected shape", what);
}

static int get_bool(JsonObject *o, const char *member, bool *ret) {
        JsonNode *n = json_object_get_member(o, member);

        if (!n) {
                *ret = false;
                return 0;
        }
        if (!json_node_is_bool(n))
                return -EBADMSG;
        *ret = json_node_get_boolean(n);
        return 0;
}

/* A member that is an object: -ENOENT when it is absent, -EBADMSG when it is something else. */
static int get_object(JsonObject *o, const char *member, JsonObject **ret) {
        JsonNode *n = json_object_get_member(o, member);

        if (!n)
                return -ENOENT;
        if (!JSON_NODE_HOLDS_OBJECT(n))
                return -EBADMSG;
        *ret = json_node_get_object(n);
        return 0;
}

static int get_b64(JsonObject *o, const char *member, char **ret, size_t *ret_size) {
        JsonNode *n = json_object_get_member(o, member);
        _cleanup_free_ unsigned char *data = NULL;
        const char *s;
        size_t size;
        char *str;
        int r;

        if (!n) { /* an empty value is left out */
                str = strdup("");
                if (!str)
                        return -ENOMEM;
                *ret = str;
                if (ret_size)
                        *ret_size = 0;
                return 0;
        }
        if (!json_node_is_string(n))
                return -EBADMSG;
        s = json_node_get_string(n);
        r = base64_decode(s, strlen(s), &data, &size);
        if (r < 0)
                return r;
        if (memchr(data, 0, size))
                return -EBADMSG; /* keys and values of this project are text */
        str = malloc(size + 1);
        if (!str)
                return -ENOMEM;
        memcpy(str, data, size);
        str[size] = 0;
        *ret = str;
        if (ret_size)
                *ret_size = size;
        return 0;
}

static int parse_kv(JsonNode *node, EtcdKv *ret) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        JsonObject *o;
        size_t size;
        int r;

        if (!node || !JSON_NODE_HOLDS_OBJECT(node))
                return -EBADMSG;
        o = json_node_get_object(node);
        if (!json_object_has_member(o, "key"))
                return -EBADMSG;
        r = get_b64(o, "key", &key, NULL);
        if (r < 0)
                return r;
        r = get_b64(o, "value", &value, &size);
        if (r < 0)
                return r;
        *ret = (EtcdKv){.key = TAKE_PTR(key), .value = TAKE_PTR(value), .value_size = size};
        r = get_revision(o, "create_revision", &ret->create_revision);
        if (r >= 0)
                r = get_revision(o, "mod_revision", &ret->mod_revision);
        if (r >= 0)
                r = get_int64(o, "lease", &ret->lease);
        if (r < 0) {
                free(ret->key);
                free(ret->value);
                *ret = (EtcdKv){};
                return r;
        }
        return 0;
}

static int parse_header_revision(JsonObject *o, int64_t *ret) {
        JsonObject *h;
        int r;

        r = get_object(o, "header", &h);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        return get_revision(h, "revision", ret);
}

/* One item of "kvs", or of "events" (then {"type":…,"kv":{…}}). */
static int parse_entry(JsonNode *item, bool event, EtcdKv *ret, EtcdEventType *ret_type) {
        JsonNode *kv = item;

        *ret_type = ETCD_EVENT_PUT; /* the default enum is left out */
        if (event) {
                JsonObject *ev;
                JsonNode *t;

                if (!item || !JSON_NODE_HOLDS_OBJECT(item))
                        return -EBADMSG;
                ev = json_node_get_object(item);
                kv = json_object_get_member(ev, "kv");
                t = json_object_get_member(ev, "type");
                if (t && json_node_is_string(t) && streq(json_node_get_string(t), "DELETE"))
                        *ret_type = ETCD_EVENT_DELETE;
                else if (t && !(json_node_is_string(t) && streq(json_node_get_string(t), "PUT")))
                        return -EBADMSG;
        }
        return parse_kv(kv, ret);
}

static int parse_kvs(JsonObject *o, const char *member, bool events, EtcdKvList *ret,
        EtcdEventType **ret_types) {
        _cleanup_(etcd_kv_list_done) EtcdKvList l = {};
        _cleanup_free_ EtcdEventType *types = NULL;
        JsonNode *n = json_object_get_member(o, member);
        JsonArray *a;
        unsigned len;
        int r;

        r = parse_header_revision(o, &l.revision);
        if (r < 0)
                return r;
        if (n) {
                if (!JSON_NODE_HOLDS_ARRAY(n))
                        return -EBADMSG;
                a = json_node_get_array(n);
                len = json_array_get_length(a);
                l.kvs = calloc(len ?: 1, sizeof(EtcdKv));
                types = calloc(len ?: 1, sizeof(EtcdEventType));
                if (!l.kvs || !types)
                        return -ENOMEM;
                /* One entry that is not for this project (a key or value that is not text, say)
                 * must not hide the others: it is logged and left out. */
                for (unsigned i = 0; i < len; i++) {
                        r = parse_entry(json_array_get_element(a, i), events, &l.kvs[l.n_kvs],
                                &types[l.n_kvs]);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                log_warning_errno(r,
                                        "Ignoring entry %u of an etcd reply at revision %" PRIi64 ": %s.", i,
                                        l.revision,
                                        r == -ERANGE ? "revision out of range"
                                                     : "not a text key and value of the documented shape");
                                continue;
                        }
                        l.n_kvs++;
                }
        }
        *ret = l;
        l = (EtcdKvList){};
        if (ret_types)
                *ret_types = TAKE_PTR(types);
        return 0;
}

/* Parses data into an object; an error reply gives -EIO with its message. */
static int parse_object(const char *data, JsonParser **ret_parser, JsonObject **ret, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        JsonObject *o;
        JsonNode *e;
        int r;

        r = json_parse_object("etcd reply", data, &p, &o, ret_error);
        if (r < 0)
                return r;
        e = json_object_get_member(o, "error");
        if (e) {
                JsonNode *msg = json_object_get_member(o, "message");
                const char *text = msg && json_node_is_string(msg) ? json_node_get_string(msg)
                                   : json_node_is_string(e)        ? json_node_get_string(e)
                                                                   : "unknown error";
                return json_error(ret_error, -EIO, "etcd: %s", text);
        }
        *ret_parser = TAKE_PTR(p);
        *ret = o;
        return 0;
}

int etcd_parse_range(const char *data, EtcdKvList *ret, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        JsonObject *o;
        int r;

        assert(data);
        assert(ret);

        r = parse_object(data, &p, &o, ret_error);
        if (r < 0)
                return r;
        r = parse_kvs(o, "kvs", false, ret, NULL);
        if (r < 0)
                return reply_error(ret_error, r, "etcd range reply");
        return 0;
}

int etcd_parse_put(const char *data, int64_t *ret_revision, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        JsonObject *o;
        int r;

        assert(data);
        assert(ret_revision);

        r = parse_object(data, &p, &o, ret_error);
        if (r < 0)
                return r;
        r = parse_header_revision(o, ret_revision);
        if (r < 0)
                return reply_error(ret_error, r, "etcd put reply");
        if (*ret_revision <= 0)
                return json_error(ret_error, -EBADMSG, "etcd put reply: no revision");
        return 0;
}

int etcd_parse_txn_cas(const char *data, bool *ret_succeeded, int64_t *ret_revision, EtcdKvList *ret_current,
        char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        _cleanup_(etcd_kv_list_done) EtcdKvList current = {};
        JsonObject *o;
        JsonNode *n;
        bool ok;
        int r;

        assert(data);
        assert(ret_succeeded);
        assert(ret_revision);
        assert(ret_current);

        r = parse_object(data, &p, &o, ret_error);
        if (r < 0)
                return r;
        r = get_bool(o, "succeeded", &ok);
        if (r >= 0)
                r = parse_header_revision(o, ret_revision);
        if (r < 0)
                return reply_error(ret_error, r, "etcd txn reply");
        if (!ok) {
                JsonArray *a;

                n = json_object_get_member(o, "responses");
                if (!n || !JSON_NODE_HOLDS_ARRAY(n))
                        return json_error(ret_error, -EBADMSG, "etcd txn reply: no read-back");
                a = json_node_get_array(n);
                current.kvs = calloc(json_array_get_length(a) + 1, sizeof(EtcdKv));
                if (!current.kvs)
                        return -ENOMEM;
                for (unsigned i = 0; i < json_array_get_length(a); i++) {
                        _cleanup_(etcd_kv_list_done) EtcdKvList one = {};
                        JsonNode *e = json_array_get_element(a, i);
                        JsonObject *rr;

                        if (!JSON_NODE_HOLDS_OBJECT(e) ||
                                get_object(json_node_get_object(e), "response_range", &rr) < 0)
                                return json_error(ret_error, -EBADMSG, "etcd txn reply: no read-back");
                        r = parse_kvs(rr, "kvs", false, &one, NULL);
                        if (r < 0)
                                return reply_error(ret_error, r, "etcd txn reply: read-back");
                        if (one.n_kvs > 1)
                                return json_error(ret_error, -EBADMSG,
                                        "etcd txn reply: unexpected read-back");
                        if (one.n_kvs == 1) {
                                current.kvs[current.n_kvs++] = one.kvs[0];
                                one.n_kvs = 0;
                        }
                }
        }
        current.revision = *ret_revision;
        *ret_succeeded = ok;
        *ret_current = current;
        current = (EtcdKvList){};
        return 0;
}

int etcd_parse_lease(const char *data, int64_t *ret_id, int64_t *ret_ttl, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        JsonObject *o;
        int r;

        assert(data);
        assert(ret_id);
        assert(ret_ttl);

        r = parse_object(data, &p, &o, ret_error);
        if (r < 0)
                return r;
        /* keepalive is a stream: its one message is wrapped in "result" */
        r = get_object(o, "result", &o);
        if (r < 0 && r != -ENOENT)
                return json_error(ret_error, r, "etcd lease reply: unexpected shape");
        if (get_int64(o, "ID", ret_id) < 0 || get_int64(o, "TTL", ret_ttl) < 0 || *ret_id == 0 ||
                *ret_ttl < 0)
                return json_error(ret_error, -EBADMSG, "etcd lease reply: unexpected shape");
        return 0;
}

int etcd_parse_watch(const char *data, EtcdWatchMessage *ret, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        _cleanup_(etcd_watch_message_done) EtcdWatchMessage m = {};
        JsonObject *o;
        JsonNode *reason;
        int r;

        assert(data);
        assert(ret);

        r = parse_object(data, &p, &o, ret_error);
        if (r < 0)
                return r;
        if (get_object(o, "result", &o) < 0)
                return json_error(ret_error, -EBADMSG, "etcd watch message: no result");
        r = get_bool(o, "created", &m.created);
        if (r >= 0)
                r = get_bool(o, "canceled", &m.canceled);
        if (r >= 0)
                r = get_revision(o, "compact_revision", &m.compact_revision);
        if (r < 0)
                return reply_error(ret_error, r, "etcd watch message");
        reason = json_object_get_member(o, "cancel_reason");
        if (reason && json_node_is_string(reason)) {
                m.cancel_reason = strdup(json_node_get_string(reason));
                if (!m.cancel_reason)
                        return -ENOMEM;
        }
        r = parse_kvs(o, "events", true, &m.events, &m.types);
        if (r < 0)
                return reply_error(ret_error, r, "etcd watch message");
        m.revision = m.events.revision;
        *ret = m;
        m = (EtcdWatchMessage){};
        return 0;
}
