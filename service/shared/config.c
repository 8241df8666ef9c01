/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/stat.h>

#include "config.h"
#include "fileio.h"
#include "json-util.h"
#include "string-util.h"
#include "strv.h"
#include "validate.h"

#include "build-config.h"

static const char *const key_type_table[_KEY_TYPE_MAX] = {
        [KEY_TYPE_RSA_2048] = "rsa-2048",
        [KEY_TYPE_ECDSA_P256] = "ecdsa-p256",
};

DEFINE_STRING_TABLE_LOOKUP(key_type, KeyType);

static const char *const issuer_type_table[_ISSUER_TYPE_MAX] = {
        [ISSUER_LOCAL] = "local",
        [ISSUER_CMP] = "cmp",
};

DEFINE_STRING_TABLE_LOOKUP(issuer_type, IssuerType);

void config_init(Config *c) {
        assert(c);

        *c = (Config){
                .enabled = true,
                .state_directory = strdup(STATEDIR),
                .benefits_file = strdup(PKGDATADIR "/benefits.json"),
                .metadata_domain = strdup("metadata.azshci.local"),
                .subscription_id = strdup(""),
                .key_type = KEY_TYPE_RSA_2048,
                .certificate_validity_days = 30,
                .certificate_max_validity_days = 30,
                .rotate_key_on_sync = true,
                .document_validity_minutes = 360,
                .sync_interval_hours = 12,
                .automatic_sync = true,
                .legacy_network = true,
                .legacy_bridge = strdup("azshci-imds0"),
                .frontend_socket = strdup(FRONTEND_SOCKET),
                .issuer_type = ISSUER_LOCAL,
                .cmp.timeout_sec = 30,
                .cluster.prefix = strdup("/azshci"),
                .cluster.lease_ttl_sec = 10,
                .cluster.timeout_sec = 3,
        };
}

static void cmp_config_done(CmpConfig *c) {
        free(c->server);
        free(c->trust_anchor);
        free(c->reference);
        if (c->secret)
                explicit_bzero(c->secret, strlen(c->secret));
        free(c->secret);
        free(c->secret_file);
        free(c->tls_trust);
        free(c->subject);
}

void config_done(Config *c) {
        assert(c);

        free(c->server_name);
        free(c->subscription_id);
        free(c->state_directory);
        free(c->benefits_file);
        free(c->metadata_domain);
        free(c->legacy_bridge);
        free(c->inventory_uri);
        free(c->frontend_socket);
        cmp_config_done(&c->cmp);
        strv_free(c->cluster.endpoints);
        free(c->cluster.prefix);
        free(c->cluster.ca_file);
        free(c->cluster.cert_file);
        free(c->cluster.key_file);
        free(c->cluster.ca_server);
        free(c->cluster.ca_listen);
        free(c->cluster.ca_secret_file);
        free(c->cluster.ca_fingerprint);
        *c = (Config){};
}

/* How one key is read: into a string, a bool or an unsigned with bounds. */
typedef enum ConfigValueKind {
        VALUE_STRING,
        VALUE_PATH, /* absolute path */
        VALUE_BOOL,
        VALUE_UNSIGNED,
} ConfigValueKind;

typedef struct ConfigKey {
        const char *name;
        ConfigValueKind kind;
        size_t offset;
        unsigned min, max;
} ConfigKey;

#define KEY_STRING(n, field) \
        { n, VALUE_STRING, offsetof(Config, field), 0, 0 }
#define KEY_PATH(n, field) \
        { n, VALUE_PATH, offsetof(Config, field), 0, 0 }
#define KEY_BOOL(n, field) \
        { n, VALUE_BOOL, offsetof(Config, field), 0, 0 }
#define KEY_UINT(n, field, a, b) \
        { n, VALUE_UNSIGNED, offsetof(Config, field), a, b }

static const ConfigKey top_keys[] = {
        KEY_BOOL("enabled", enabled),
        KEY_STRING("serverName", server_name),
        KEY_STRING("subscriptionId", subscription_id),
        KEY_PATH("stateDirectory", state_directory),
        KEY_PATH("benefitsFile", benefits_file),
        KEY_STRING("metadataDomain", metadata_domain),
        KEY_UINT("certificateValidityDays", certificate_validity_days, 1, 3650),
        KEY_UINT("certificateMaxValidityDays", certificate_max_validity_days, 1, 3650),
        KEY_BOOL("rotateKeyOnSync", rotate_key_on_sync),
        KEY_UINT("documentValidityMinutes", document_validity_minutes, 1, 7 * 24 * 60),
        KEY_UINT("syncIntervalHours", sync_interval_hours, 1, 24 * 30),
        KEY_BOOL("automaticSync", automatic_sync),
        KEY_BOOL("embedChain", embed_chain),
        KEY_UINT("signingThreads", signing_threads, 0, 256),
        KEY_BOOL("legacyNetwork", legacy_network),
        KEY_STRING("legacyBridge", legacy_bridge),
        KEY_PATH("frontendSocket", frontend_socket),
};

static const ConfigKey inventory_keys[] = {
        KEY_STRING("uri", inventory_uri),
};

static const char *const inventory_provider_table[_INVENTORY_PROVIDER_MAX] = {
        [INVENTORY_MANUAL] = "manual",
        [INVENTORY_LIBVIRT] = "libvirt",
};

DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(inventory_provider, InventoryProvider);

static const ConfigKey cmp_keys[] = {
        KEY_STRING("server", cmp.server),
        KEY_PATH("trustAnchor", cmp.trust_anchor),
        KEY_STRING("reference", cmp.reference),
        KEY_STRING("secret", cmp.secret),
        KEY_PATH("secretFile", cmp.secret_file),
        KEY_PATH("tlsTrust", cmp.tls_trust),
        KEY_STRING("subject", cmp.subject),
        KEY_UINT("timeoutSeconds", cmp.timeout_sec, 1, 600),
};

static const ConfigKey cluster_keys[] = {
        KEY_STRING("prefix", cluster.prefix),
        KEY_PATH("caFile", cluster.ca_file),
        KEY_PATH("certFile", cluster.cert_file),
        KEY_PATH("keyFile", cluster.key_file),
        KEY_UINT("leaseTtlSeconds", cluster.lease_ttl_sec, 2, 3600),
        KEY_UINT("timeoutSeconds", cluster.timeout_sec, 1, 60),
        KEY_STRING("caServer", cluster.ca_server),
        KEY_STRING("caListen", cluster.ca_listen),
        KEY_PATH("caSecretFile", cluster.ca_secret_file),
        KEY_STRING("caFingerprint", cluster.ca_fingerprint),
};

static int config_set_key(Config *c, const char *name, const ConfigKey *k, JsonNode *node,
        char **ret_error) {
        void *p = (uint8_t *)c + k->offset;
        const char *s;
        int64_t v;

        switch (k->kind) {
        case VALUE_STRING:
        case VALUE_PATH:
                if (!json_node_is_string(node))
                        return json_error(ret_error, -EINVAL, "%s: key \"%s\" must be a string", name,
                                k->name);
                s = json_node_get_string(node);
                if (k->kind == VALUE_PATH && s[0] != '/')
                        return json_error(ret_error, -EINVAL,
                                "%s: key \"%s\" must be an absolute path, not \"%s\"", name, k->name, s);
                if (free_and_strdup(p, s) < 0)
                        return -ENOMEM;
                return 0;

        case VALUE_BOOL:
                if (!json_node_is_bool(node))
                        return json_error(ret_error, -EINVAL, "%s: key \"%s\" must be true or false", name,
                                k->name);
                *(bool *)p = json_node_get_boolean(node);
                return 0;

        case VALUE_UNSIGNED:
                if (!json_node_is_integer(node))
                        return json_error(ret_error, -EINVAL, "%s: key \"%s\" must be an integer", name,
                                k->name);
                v = json_node_get_int(node);
                if (v < k->min || v > k->max)
                        return json_error(ret_error, -ERANGE,
                                "%s: key \"%s\" must be between %u and %u, not %" PRIi64, name, k->name,
                                k->min, k->max, v);
                *(unsigned *)p = (unsigned)v;
                return 0;
        }
        assert(false);
        return -EINVAL;
}

/* Reads every member of o through the key table; members named in skip are handled by the caller. */
static int config_load_object(Config *c, const char *name, JsonObject *o, const ConfigKey *keys,
        size_t n_keys, const char *section, char *const *skip, char **ret_error) {
        _cleanup_(g_list_freep) GList *members = json_object_get_members(o);
        int r;

        for (GList *i = members; i; i = i->next) {
                const char *key = i->data;
                JsonNode *node = json_object_get_member(o, key);
                const ConfigKey *k = NULL;

                if (strv_contains(skip, key))
                        continue;

                for (size_t j = 0; j < n_keys; j++)
                        if (streq(keys[j].name, key))
                                k = &keys[j];
                if (!k)
                        return json_error(ret_error, -EINVAL, "%s: unknown key \"%s%s%s\"", name,
                                strempty(section), section ? "." : "", key);
                r = config_set_key(c, name, k, node, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int config_load_cluster(Config *c, const char *name, JsonNode *node, char **ret_error) {
        _cleanup_strv_free_ char **endpoints = NULL;
        JsonObject *o;
        JsonNode *e;
        JsonArray *a;
        int r;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return json_error(ret_error, -EINVAL, "%s: key \"cluster\" must be an object", name);
        o = json_node_get_object(node);
        e = json_object_get_member(o, "endpoints");
        if (!e || !JSON_NODE_HOLDS_ARRAY(e) || json_array_get_length(a = json_node_get_array(e)) == 0)
                return json_error(ret_error, -EINVAL,
                        "%s: key \"cluster.endpoints\" must be a list of etcd client URLs", name);
        for (unsigned i = 0; i < json_array_get_length(a); i++) {
                JsonNode *u = json_array_get_element(a, i);
                const char *url = json_node_is_string(u) ? json_node_get_string(u) : NULL;

                if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
                        strlen(url) > 1024 || strpbrk(url, " \t\r\n"))
                        return json_error(ret_error, -EINVAL,
                                "%s: key \"cluster.endpoints\" must hold http:// or https:// URLs", name);
                if (strv_extend(&endpoints, url) < 0)
                        return -ENOMEM;
        }
        r = config_load_object(c, name, o, cluster_keys, ELEMENTSOF(cluster_keys), "cluster",
                STRV_MAKE("endpoints"), ret_error);
        if (r < 0)
                return r;
        strv_free(c->cluster.endpoints);
        c->cluster.endpoints = TAKE_PTR(endpoints);
        return 0;
}

/* The cluster CA keys (docs/cluster.md, "Trust: one root for the cluster"): all or nothing, with the
 * embedded issuer. */
static int config_check_cluster_ca(Config *c, const char *name, char **ret_error) {
        ClusterConfig *k = &c->cluster;
        char fp[SHA256_FINGERPRINT_SIZE];

        if (!k->ca_server) {
                if (k->ca_listen || k->ca_secret_file || k->ca_fingerprint)
                        return json_error(ret_error, -EINVAL,
                                "%s: keys \"cluster.caListen\", \"cluster.caSecretFile\" and \"cluster.caFingerprint\" "
                                "need \"cluster.caServer\"",
                                name);
                return 0;
        }
        if (k->ca_fingerprint) {
                if (sha256_fingerprint_normalize(k->ca_fingerprint, fp) < 0)
                        return json_error(ret_error, -EINVAL,
                                "%s: key \"cluster.caFingerprint\" must be the root's SHA-256 fingerprint (64 hex "
                                "digits, optionally in pairs separated by ':'), not \"%s\"",
                                name, k->ca_fingerprint);
                if (free_and_strdup(&k->ca_fingerprint, fp) < 0)
                        return -ENOMEM;
        }
        if (!cluster_server_name_is_valid(k->ca_server))
                return json_error(ret_error, -EINVAL,
                        "%s: key \"cluster.caServer\" must be the serverName of a server of the cluster",
                        name);
        if (c->issuer_type != ISSUER_LOCAL)
                return json_error(ret_error, -EINVAL,
                        "%s: key \"cluster.caServer\" goes with the \"local\" issuer only (with \"cmp\" every "
                        "server enrols with that CA)",
                        name);
        if (!k->ca_secret_file)
                return json_error(ret_error, -EINVAL,
                        "%s: key \"cluster.caServer\" needs \"cluster.caSecretFile\" (the enrolment secret)",
                        name);
        if (streq(k->ca_server, c->server_name) && !k->ca_listen)
                return json_error(ret_error, -EINVAL,
                        "%s: this server is the cluster's CA server: key \"cluster.caListen\" (ADDR:PORT) is "
                        "required",
                        name);
        if (k->ca_listen && !cluster_ca_listen_is_valid(k->ca_listen))
                return json_error(ret_error, -EINVAL,
                        "%s: key \"cluster.caListen\" must be ADDR:PORT with a unicast IPv4 address or "
                        "[IPv6] address of the cluster network (not a wildcard, loopback, multicast or "
                        "link-local address), not \"%s\"",
                        name, k->ca_listen);
        return 0;
}

static int config_load_key_type(Config *c, const char *name, JsonNode *node, char **ret_error) {
        KeyType t = json_node_is_string(node) ? key_type_from_string(json_node_get_string(node)) : -EINVAL;

        if (t < 0)
                return json_error(ret_error, -EINVAL,
                        "%s: key \"keyType\" must be \"rsa-2048\" or \"ecdsa-p256\"", name);
        c->key_type = t;
        return 0;
}

static int config_load_issuer(Config *c, const char *name, JsonNode *node, char **ret_error) {
        JsonObject *issuer;
        JsonNode *type;
        IssuerType t;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return json_error(ret_error, -EINVAL, "%s: key \"issuer\" must be an object", name);
        issuer = json_node_get_object(node);
        type = json_object_get_member(issuer, "type");
        t = json_node_is_string(type) ? issuer_type_from_string(json_node_get_string(type)) : -EINVAL;
        if (t < 0)
                return json_error(ret_error, -EINVAL, "%s: key \"issuer.type\" must be \"local\" or \"cmp\"",
                        name);
        c->issuer_type = t;
        if (t == ISSUER_LOCAL && json_object_get_size(issuer) > 1)
                return json_error(ret_error, -EINVAL,
                        "%s: the \"local\" issuer takes no settings besides \"type\"", name);
        return config_load_object(c, name, issuer, cmp_keys, ELEMENTSOF(cmp_keys), "issuer",
                STRV_MAKE("type"), ret_error);
}

static int config_load_inventory(Config *c, const char *name, JsonNode *node, char **ret_error) {
        JsonObject *inventory;
        JsonNode *provider;
        InventoryProvider p;
        int r;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return json_error(ret_error, -EINVAL, "%s: key \"inventory\" must be an object", name);
        inventory = json_node_get_object(node);
        provider = json_object_get_member(inventory, "provider");
        p = json_node_is_string(provider) ? inventory_provider_from_string(json_node_get_string(provider))
                                          : -EINVAL;
        if (p < 0)
                return json_error(ret_error, -EINVAL,
                        "%s: key \"inventory.provider\" must be \"manual\" or \"libvirt\"", name);
        c->inventory_provider = p;
        r = config_load_object(c, name, inventory, inventory_keys, ELEMENTSOF(inventory_keys), "inventory",
                STRV_MAKE("provider"), ret_error);
        if (r < 0)
                return r;
        if (c->inventory_uri && (isempty(c->inventory_uri) || !strstr(c->inventory_uri, ":")))
                return json_error(ret_error, -EINVAL,
                        "%s: key \"inventory.uri\" must be a libvirt URI such as qemu:///system", name);
        return 0;
}

static int config_check_cluster(Config *c, const char *name, char **ret_error) {
        if (!cluster_server_name_is_valid(c->server_name))
                return json_error(ret_error, -EINVAL,
                        "%s: in a cluster, key \"serverName\" is required: 1 to 63 letters, digits, "
                        "'.', '_' or '-'",
                        name);
        if (!cluster_prefix_is_valid(c->cluster.prefix))
                return json_error(ret_error, -EINVAL,
                        "%s: key \"cluster.prefix\" must be an etcd key prefix such as /azshci", name);
        if (!c->cluster.cert_file != !c->cluster.key_file)
                return json_error(ret_error, -EINVAL,
                        "%s: keys \"cluster.certFile\" and \"cluster.keyFile\" go together", name);
        /* With TLS keys every member must be reached over TLS: one plain http:// member would let
         * whoever sits on the path rewrite the settings, the grants and <prefix>/ca. */
        if (c->cluster.ca_file || c->cluster.cert_file || c->cluster.key_file)
                STRV_FOREACH (e, c->cluster.endpoints)
                        if (strncmp(*e, "https://", 8) != 0)
                                return json_error(ret_error, -EINVAL,
                                        "%s: key \"cluster.endpoints\": \"%s\" is not an https:// URL, but "
                                        "\"cluster.caFile\", \"cluster.certFile\" or \"cluster.keyFile\" is set "
                                        "(with TLS every endpoint must use https://)",
                                        name, *e);
        return config_check_cluster_ca(c, name, ret_error);
}

static int config_check_cmp(const Config *c, const char *name, char **ret_error) {
        if (isempty(c->cmp.server))
                return json_error(ret_error, -EINVAL, "%s: the \"cmp\" issuer needs \"issuer.server\"",
                        name);
        if (strncmp(c->cmp.server, "http://", 7) != 0 && strncmp(c->cmp.server, "https://", 8) != 0)
                return json_error(ret_error, -EINVAL,
                        "%s: key \"issuer.server\" must be an http:// or https:// URL", name);
        if (isempty(c->cmp.trust_anchor))
                return json_error(ret_error, -EINVAL, "%s: the \"cmp\" issuer needs \"issuer.trustAnchor\"",
                        name);
        if (isempty(c->cmp.reference) || (isempty(c->cmp.secret) == isempty(c->cmp.secret_file)))
                return json_error(ret_error, -EINVAL,
                        "%s: the \"cmp\" issuer needs \"issuer.reference\" and exactly one of "
                        "\"issuer.secret\" and \"issuer.secretFile\"",
                        name);
        return 0;
}

/* What holds across keys, once all are read. */
static int config_check(Config *c, const char *name, char **ret_error) {
        int r;

        if (c->server_name && !vm_name_is_valid(c->server_name))
                return json_error(ret_error, -EINVAL, "%s: key \"serverName\" is not a valid name", name);
        if (c->cluster.endpoints) {
                r = config_check_cluster(c, name, ret_error);
                if (r < 0)
                        return r;
        }
        if (isempty(c->metadata_domain) ||
                strspn(c->metadata_domain, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
                        strlen(c->metadata_domain))
                return json_error(ret_error, -EINVAL,
                        "%s: key \"metadataDomain\" must be a lowercase DNS name such as metadata.azshci.local",
                        name);
        if (!ifname_is_valid(c->legacy_bridge))
                return json_error(ret_error, -EINVAL,
                        "%s: key \"legacyBridge\" must be a network interface name of at most 15 characters",
                        name);
        if (c->issuer_type == ISSUER_CMP)
                return config_check_cmp(c, name, ret_error);
        return 0;
}

static int config_load_root(Config *c, const char *name, JsonNode *root, char **ret_error) {
        /* Structured keys first, then the flat ones (which reject anything unknown). */
        static const struct {
                const char *key;
                int (*load)(Config *c, const char *name, JsonNode *node, char **ret_error);
        } structured[] = {
                {"keyType", config_load_key_type},
                {"issuer", config_load_issuer},
                {"inventory", config_load_inventory},
                {"cluster", config_load_cluster},
        };
        JsonObject *o;
        int r;

        if (!JSON_NODE_HOLDS_OBJECT(root))
                return json_error(ret_error, -EINVAL, "%s: the configuration must be a JSON object", name);
        o = json_node_get_object(root);

        for (size_t i = 0; i < ELEMENTSOF(structured); i++) {
                JsonNode *node = json_object_get_member(o, structured[i].key);

                if (!node)
                        continue;
                r = structured[i].load(c, name, node, ret_error);
                if (r < 0)
                        return r;
        }
        r = config_load_object(c, name, o, top_keys, ELEMENTSOF(top_keys), NULL,
                STRV_MAKE("keyType", "issuer", "inventory", "cluster"), ret_error);
        if (r < 0)
                return r;
        return config_check(c, name, ret_error);
}

int config_load_data(Config *c, const char *name, const char *data, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        int r;

        assert(c);
        assert(name);
        assert(data);

        r = json_parse_data(name, data, &parser, ret_error);
        if (r < 0)
                return r;
        return config_load_root(c, name, json_parser_get_root(parser), ret_error);
}

/* An inline CMP secret may only sit in a file that other users cannot read: whoever reads it
 * can enrol certificates in this host's name (docs/cmp.md). */
static int config_check_secret_mode(const Config *c, const char *path, mode_t mode, char **ret_error) {
        if (isempty(c->cmp.secret) || !(mode & S_IROTH))
                return 0;
        return json_error(ret_error, -EPERM,
                "%s: key \"issuer.secret\" in a file that every user can read (mode %04o): put the "
                "secret in a file of its own named by \"issuer.secretFile\", or make %s unreadable "
                "to others (chmod o-r)",
                path, (unsigned)(mode & 07777), path);
}

int config_load(Config *c, const char *path, bool missing_ok, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        assert(c);
        assert(path);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT && missing_ok)
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                r = negative_errno();
        else if (!S_ISREG(st.st_mode))
                r = -EBADFD;
        else
                r = read_full_fd(fd, 1024 * 1024, &data, NULL);
        if (r < 0)
                return json_error(ret_error, r, "%s: %s", path, strerror(-r));

        r = config_load_data(c, path, data, ret_error);
        if (r < 0)
                return r;
        return config_check_secret_mode(c, path, st.st_mode, ret_error);
}
