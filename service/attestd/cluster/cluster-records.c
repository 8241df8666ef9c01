/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-glib/json-glib.h>

#include "cluster-records.h"
#include "json-util.h"
#include "validate.h"

#define SERVER_STATES "Active", "Expired", "Inactive", "Error"

int cluster_key_settings(const char *prefix, char **ret) {
        assert(cluster_prefix_is_valid(prefix));
        return asprintf(ret, "%s/settings", prefix) < 0 ? -ENOMEM : 0;
}

/* The records named by a VM id or a server name: their folder below the prefix and the check
 * of their name. */
static const struct {
        const char *folder;
        bool (*name_is_valid)(const char *name);
} named_keys[_CLUSTER_KEY_KIND_MAX] = {
        [CLUSTER_KEY_GRANT] = {"grants/", uuid_is_shaped},
        [CLUSTER_KEY_SERVER] = {"servers/", cluster_server_name_is_valid},
        [CLUSTER_KEY_REAPPLY] = {"reapply/", cluster_server_name_is_valid},
        [CLUSTER_KEY_MEMBER] = {"members/", cluster_server_name_is_valid},
};

static int named_key(const char *prefix, ClusterKeyKind kind, const char *name, char **ret) {
        assert(cluster_prefix_is_valid(prefix));
        assert(named_keys[kind].folder);
        if (!named_keys[kind].name_is_valid(name))
                return -EINVAL;
        return asprintf(ret, "%s/%s%s", prefix, named_keys[kind].folder, name) < 0 ? -ENOMEM : 0;
}

int cluster_key_grant(const char *prefix, const char *vm_id, char **ret) {
        return named_key(prefix, CLUSTER_KEY_GRANT, vm_id, ret);
}

int cluster_key_server(const char *prefix, const char *server, char **ret) {
        return named_key(prefix, CLUSTER_KEY_SERVER, server, ret);
}

int cluster_key_member(const char *prefix, const char *server, char **ret) {
        return named_key(prefix, CLUSTER_KEY_MEMBER, server, ret);
}

int cluster_key_reapply(const char *prefix, const char *server, char **ret) {
        return named_key(prefix, CLUSTER_KEY_REAPPLY, server, ret);
}

int cluster_key_ca(const char *prefix, char **ret) {
        assert(cluster_prefix_is_valid(prefix));
        return asprintf(ret, "%s/ca", prefix) < 0 ? -ENOMEM : 0;
}

int cluster_key_all(const char *prefix, char **ret) {
        assert(cluster_prefix_is_valid(prefix));
        return asprintf(ret, "%s/", prefix) < 0 ? -ENOMEM : 0;
}

int cluster_key_parse(const char *prefix, const char *key, ClusterKeyKind *ret_kind, char **ret_name) {
        size_t n = strlen(prefix);
        const char *rest, *name;
        ClusterKeyKind kind;
        char *copy = NULL;

        assert(key);
        assert(ret_kind);
        assert(ret_name);

        if (strncmp(key, prefix, n) != 0 || key[n] != '/')
                return -EBADMSG;
        rest = key + n + 1;
        if (streq(rest, "settings") || streq(rest, "ca")) {
                *ret_kind = streq(rest, "ca") ? CLUSTER_KEY_CA : CLUSTER_KEY_SETTINGS;
                *ret_name = NULL;
                return 0;
        }
        for (kind = 0; kind < _CLUSTER_KEY_KIND_MAX; kind++)
                if (named_keys[kind].folder &&
                        strncmp(rest, named_keys[kind].folder, strlen(named_keys[kind].folder)) == 0)
                        break;
        if (kind == _CLUSTER_KEY_KIND_MAX)
                return -EBADMSG;
        name = rest + strlen(named_keys[kind].folder);
        if (!named_keys[kind].name_is_valid(name))
                return -EBADMSG;

        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        *ret_kind = kind;
        *ret_name = copy;
        return 0;
}

/* --- values --- */

static int get_bool(const char *what, JsonObject *o, const char *member, bool *ret, char **ret_error) {
        JsonNode *n = json_object_get_member(o, member);

        if (!n || !json_node_is_bool(n))
                return json_error(ret_error, -EBADMSG, "%s: \"%s\" must be true or false", what, member);
        *ret = json_node_get_boolean(n);
        return 0;
}

/* The settings, a VM's grant, a member's and a reapply's record are each one object of one
 * member; the value node passes to the builder. The settings and a grant are one boolean
 * each, which one_bool_from_json() reads (*ret is left as it was on an error). */
static int one_member_to_json(const char *member, JsonNode *value, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();

        assert(member);
        assert(value);
        assert(ret);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, member);
        json_builder_add_value(b, value);
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

static int one_bool_from_json(const char *what, const char *member, const char *data, bool *ret,
        char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        JsonObject *o;
        int r;

        assert(what);
        assert(member);
        assert(data);
        assert(ret);

        r = json_parse_object(what, data, &p, &o, ret_error);
        if (r < 0)
                return r;
        return get_bool(what, o, member, ret, ret_error);
}

int cluster_settings_to_json(const ClusterSettings *s, char **ret) {
        assert(s);
        return one_member_to_json("legacySupport",
                json_node_init_boolean(json_node_alloc(), s->legacy_support), ret);
}

int cluster_settings_from_json(const char *data, ClusterSettings *ret, char **ret_error) {
        assert(ret);
        return one_bool_from_json("cluster settings", "legacySupport", data, &ret->legacy_support,
                ret_error);
}

int cluster_grant_to_json(const ClusterGrant *g, char **ret) {
        assert(g);
        return one_member_to_json("legacyAccess",
                json_node_init_boolean(json_node_alloc(), g->legacy_access), ret);
}

int cluster_grant_from_json(const char *data, ClusterGrant *ret, char **ret_error) {
        assert(ret);
        return one_bool_from_json("VM grant", "legacyAccess", data, &ret->legacy_access, ret_error);
}

int cluster_member_to_json(usec_t joined, char **ret) {
        return one_member_to_json("joined", json_node_init_int(json_node_alloc(), (int64_t)joined), ret);
}

int cluster_reapply_to_json(usec_t requested, char **ret) {
        return one_member_to_json("requested", json_node_init_int(json_node_alloc(), (int64_t)requested),
                ret);
}

void cluster_server_record_done(ClusterServerRecord *r) {
        assert(r);
        free(r->state);
        free(r->error);
        *r = (ClusterServerRecord){};
}

int cluster_server_record_to_json(const ClusterServerRecord *r, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();

        assert(r);
        assert(r->state);
        assert(ret);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, r->state);
        json_builder_set_member_name(b, "lastSync");
        json_builder_add_int_value(b, (int64_t)r->last_sync);
        json_builder_set_member_name(b, "certificateExpiry");
        json_builder_add_int_value(b, (int64_t)r->certificate_expiry);
        json_builder_set_member_name(b, "legacyApplied");
        json_builder_add_boolean_value(b, r->legacy_applied);
        json_builder_set_member_name(b, "error");
        json_builder_add_string_value(b, strempty(r->error));
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

static int get_usec(const char *what, JsonObject *o, const char *member, usec_t *ret, char **ret_error) {
        JsonNode *n = json_object_get_member(o, member);

        if (!n || !json_node_is_integer(n) || json_node_get_int(n) < 0)
                return json_error(ret_error, -EBADMSG, "%s: \"%s\" must be a non-negative integer", what,
                        member);
        *ret = (usec_t)json_node_get_int(n);
        return 0;
}

int cluster_server_record_from_json(const char *data, ClusterServerRecord *ret, char **ret_error) {
        static const char *const states[] = {SERVER_STATES};
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        _cleanup_(cluster_server_record_done) ClusterServerRecord rec = {};
        const char *what = "server record", *state = NULL, *error;
        JsonObject *o;
        JsonNode *n;
        int r;

        assert(data);
        assert(ret);

        r = json_parse_object(what, data, &p, &o, ret_error);
        if (r < 0)
                return r;
        n = json_object_get_member(o, "state");
        if (n && json_node_is_string(n))
                for (size_t i = 0; i < ELEMENTSOF(states); i++)
                        if (streq(json_node_get_string(n), states[i]))
                                state = states[i];
        if (!state)
                return json_error(ret_error, -EBADMSG,
                        "%s: \"state\" must be \"Active\", \"Expired\", \"Inactive\" or \"Error\"", what);
        n = json_object_get_member(o, "error");
        if (!n || !json_node_is_string(n))
                return json_error(ret_error, -EBADMSG, "%s: \"error\" must be a string", what);
        error = json_node_get_string(n);

        r = get_usec(what, o, "lastSync", &rec.last_sync, ret_error);
        if (r < 0)
                return r;
        r = get_usec(what, o, "certificateExpiry", &rec.certificate_expiry, ret_error);
        if (r < 0)
                return r;
        r = get_bool(what, o, "legacyApplied", &rec.legacy_applied, ret_error);
        if (r < 0)
                return r;
        rec.state = strdup(state);
        rec.error = strdup(error);
        if (!rec.state || !rec.error)
                return -ENOMEM;
        *ret = rec;
        rec = (ClusterServerRecord){};
        return 0;
}

void cluster_ca_record_done(ClusterCaRecord *r) {
        assert(r);
        free(r->server);
        free(r->url);
        free(r->root);
        *r = (ClusterCaRecord){};
}

int cluster_ca_record_to_json(const ClusterCaRecord *r, char **ret) {
        _cleanup_(g_object_unrefp) JsonBuilder *b = json_builder_new();

        assert(r);
        assert(r->server && r->url && r->root);
        assert(ret);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "server");
        json_builder_add_string_value(b, r->server);
        json_builder_set_member_name(b, "url");
        json_builder_add_string_value(b, r->url);
        json_builder_set_member_name(b, "root");
        json_builder_add_string_value(b, r->root);
        json_builder_end_object(b);
        return json_builder_to_malloc_string(b, ret);
}

static int get_string(const char *what, JsonObject *o, const char *member, char **ret, char **ret_error) {
        JsonNode *n = json_object_get_member(o, member);
        char *s;

        if (!n || !json_node_is_string(n) || isempty(json_node_get_string(n)))
                return json_error(ret_error, -EBADMSG, "%s: \"%s\" must be a non-empty string", what,
                        member);
        s = strdup(json_node_get_string(n));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int cluster_ca_record_from_json(const char *data, ClusterCaRecord *ret, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *p = NULL;
        _cleanup_(cluster_ca_record_done) ClusterCaRecord rec = {};
        const char *what = "cluster CA record", *begin;
        JsonObject *o;
        int r;

        assert(data);
        assert(ret);

        r = json_parse_object(what, data, &p, &o, ret_error);
        if (r < 0)
                return r;
        r = get_string(what, o, "server", &rec.server, ret_error);
        if (r >= 0)
                r = get_string(what, o, "url", &rec.url, ret_error);
        if (r >= 0)
                r = get_string(what, o, "root", &rec.root, ret_error);
        if (r < 0)
                return r;
        if (!cluster_server_name_is_valid(rec.server))
                return json_error(ret_error, -EBADMSG, "%s: \"server\" is not a server name", what);
        if (strncmp(rec.url, "http://", 7) != 0 || strpbrk(rec.url, " \t\r\n"))
                return json_error(ret_error, -EBADMSG, "%s: \"url\" must be an http:// URL", what);
        begin = strstr(rec.root, "-----BEGIN CERTIFICATE-----");
        if (begin != rec.root || strstr(begin + 1, "-----BEGIN ") ||
                !strstr(rec.root, "-----END CERTIFICATE-----"))
                return json_error(ret_error, -EBADMSG, "%s: \"root\" must be one PEM certificate", what);
        *ret = rec;
        rec = (ClusterCaRecord){};
        return 0;
}
