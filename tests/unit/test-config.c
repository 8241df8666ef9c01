/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The configuration loader (config.h): defaults, the shipped file, every key's type and range
 * checks, and the exact messages of the errors. */

#define TEST_PREFIX "/config"

#include <glib.h>
#include <sys/stat.h>

#include "build-config.h"
#include "config.h"
#include "strv.h"
#include "test-util.h"

static void config_donep(Config *c) {
        config_done(c);
}

static void expect_ok(Config *c, const char *data) {
        _cleanup_free_ char *error = NULL;
        int r = config_load_data(c, "c.json", data, &error);

        if (r < 0)
                g_error("unexpected error %d: %s", r, error);
        g_assert_null(error);
}

/* Loads text as /etc/azshci/attestation.json named c.json (test_add_refusal_cases()). */
static int load_config(const char *text, char **ret_error) {
        _cleanup_(config_donep) Config c = {};

        config_init(&c);
        return config_load_data(&c, "c.json", text, ret_error);
}
TEST(defaults) {
        _cleanup_(config_donep) Config c = {};

        config_init(&c);
        g_assert_true(c.enabled);
        g_assert_null(c.server_name);
        g_assert_cmpstr(c.subscription_id, ==, "");
        g_assert_cmpstr(c.state_directory, ==, STATEDIR);
        g_assert_cmpstr(c.benefits_file, ==, PKGDATADIR "/benefits.json");
        g_assert_cmpstr(c.metadata_domain, ==, "metadata.azshci.local");
        g_assert_cmpint(c.key_type, ==, KEY_TYPE_RSA_2048);
        g_assert_cmpuint(c.certificate_max_validity_days, ==, 30);
        g_assert_cmpuint(c.document_validity_minutes, ==, 360);
        g_assert_cmpuint(c.sync_interval_hours, ==, 12);
        g_assert_false(c.embed_chain);
        g_assert_cmpuint(c.signing_threads, ==, 0);
        g_assert_cmpint(c.issuer_type, ==, ISSUER_LOCAL);
        g_assert_cmpuint(c.cmp.timeout_sec, ==, 30);

        /* An empty object leaves every default in place. */
        expect_ok(&c, "{}");
        g_assert_cmpstr(c.benefits_file, ==, PKGDATADIR "/benefits.json");
        g_assert_cmpuint(c.document_validity_minutes, ==, 360);
}

TEST(enums) {
        g_assert_cmpstr(key_type_to_string(KEY_TYPE_RSA_2048), ==, "rsa-2048");
        g_assert_cmpstr(key_type_to_string(KEY_TYPE_ECDSA_P256), ==, "ecdsa-p256");
        g_assert_null(key_type_to_string(_KEY_TYPE_MAX));
        g_assert_cmpint(key_type_from_string("ecdsa-p256"), ==, KEY_TYPE_ECDSA_P256);
        g_assert_cmpint(key_type_from_string("ed25519"), ==, _KEY_TYPE_INVALID);
        g_assert_cmpint(key_type_from_string(NULL), ==, _KEY_TYPE_INVALID);

        g_assert_cmpstr(issuer_type_to_string(ISSUER_LOCAL), ==, "local");
        g_assert_cmpstr(issuer_type_to_string(ISSUER_CMP), ==, "cmp");
        g_assert_cmpint(issuer_type_from_string("cmp"), ==, ISSUER_CMP);
        g_assert_cmpint(issuer_type_from_string("CMP"), ==, _ISSUER_TYPE_INVALID);
}

TEST(shipped_file) {
        _cleanup_(config_donep) Config c = {};
        _cleanup_free_ char *error = NULL;
        g_autofree char *path = NULL;
        const char *src = g_getenv("AZSHCI_SOURCE_DIR");

        g_assert_nonnull(src);
        path = g_build_filename(src, "data", "attestation.json", NULL);
        config_init(&c);
        g_assert_cmpint(config_load(&c, path, false, &error), ==, 0);
        g_assert_null(error);
        g_assert_true(c.enabled);
        g_assert_cmpint(c.issuer_type, ==, ISSUER_LOCAL);
        g_assert_cmpint(c.key_type, ==, KEY_TYPE_RSA_2048);
}

TEST(every_key) {
        _cleanup_(config_donep) Config c = {};

        config_init(&c);
        expect_ok(&c, "{\n"
                      "  \"enabled\": false,\n"
                      "  \"serverName\": \"hci-node-02\",\n"
                      "  \"subscriptionId\": \"0b6a1c5e-55f4-4b4c-9a3d-7d1f2e3c4b5a\",\n"
                      "  \"stateDirectory\": \"/srv/azshci\",\n"
                      "  \"benefitsFile\": \"/etc/azshci/benefits.json\",\n"
                      "  \"metadataDomain\": \"imds.example-corp.internal\",\n"
                      "  \"keyType\": \"ecdsa-p256\",\n"
                      "  \"certificateValidityDays\": 7,\n"
                      "  \"certificateMaxValidityDays\": 14,\n"
                      "  \"rotateKeyOnSync\": false,\n"
                      "  \"documentValidityMinutes\": 60,\n"
                      "  \"syncIntervalHours\": 6,\n"
                      "  \"embedChain\": true,\n"
                      "  \"signingThreads\": 4,\n"
                      "  \"issuer\": {\n"
                      "    \"type\": \"cmp\",\n"
                      "    \"server\": \"https://ca.example:8443/pkix/\",\n"
                      "    \"trustAnchor\": \"/etc/azshci/ca.pem\",\n"
                      "    \"reference\": \"node-02\",\n"
                      "    \"secretFile\": \"/etc/azshci/cmp-secret\",\n"
                      "    \"tlsTrust\": \"/etc/azshci/tls.pem\",\n"
                      "    \"subject\": \"/CN=hci-node-02\",\n"
                      "    \"timeoutSeconds\": 120\n"
                      "  }\n"
                      "}\n");
        g_assert_false(c.enabled);
        g_assert_cmpstr(c.server_name, ==, "hci-node-02");
        g_assert_cmpstr(c.subscription_id, ==, "0b6a1c5e-55f4-4b4c-9a3d-7d1f2e3c4b5a");
        g_assert_cmpstr(c.state_directory, ==, "/srv/azshci");
        g_assert_cmpstr(c.benefits_file, ==, "/etc/azshci/benefits.json");
        g_assert_cmpstr(c.metadata_domain, ==, "imds.example-corp.internal");
        g_assert_cmpint(c.key_type, ==, KEY_TYPE_ECDSA_P256);
        g_assert_cmpuint(c.certificate_validity_days, ==, 7);
        g_assert_cmpuint(c.certificate_max_validity_days, ==, 14);
        g_assert_false(c.rotate_key_on_sync);
        g_assert_cmpuint(c.document_validity_minutes, ==, 60);
        g_assert_cmpuint(c.sync_interval_hours, ==, 6);
        g_assert_true(c.embed_chain);
        g_assert_cmpuint(c.signing_threads, ==, 4);
        g_assert_cmpint(c.issuer_type, ==, ISSUER_CMP);
        g_assert_cmpstr(c.cmp.server, ==, "https://ca.example:8443/pkix/");
        g_assert_cmpstr(c.cmp.trust_anchor, ==, "/etc/azshci/ca.pem");
        g_assert_cmpstr(c.cmp.reference, ==, "node-02");
        g_assert_null(c.cmp.secret);
        g_assert_cmpstr(c.cmp.secret_file, ==, "/etc/azshci/cmp-secret");
        g_assert_cmpstr(c.cmp.tls_trust, ==, "/etc/azshci/tls.pem");
        g_assert_cmpstr(c.cmp.subject, ==, "/CN=hci-node-02");
        g_assert_cmpuint(c.cmp.timeout_sec, ==, 120);
}

/* What the loader refuses, with its result and exact message. */
static const TestRefusalCase config_error_cases[] = {
        {"[]", -EINVAL, "c.json: the configuration must be a JSON object"},
        {"{ \"colour\": \"blue\" }", -EINVAL, "c.json: unknown key \"colour\""},
        {"{ \"Enabled\": true }", -EINVAL, "c.json: unknown key \"Enabled\""},
        {"{ \"enabled\": \"yes\" }", -EINVAL, "c.json: key \"enabled\" must be true or false"},
        {"{ \"subscriptionId\": 5 }", -EINVAL, "c.json: key \"subscriptionId\" must be a string"},
        {"{ \"stateDirectory\": \"var/lib/azshci\" }", -EINVAL,
                "c.json: key \"stateDirectory\" must be an absolute path, not \"var/lib/azshci\""},
        {"{ \"benefitsFile\": \"\" }", -EINVAL,
                "c.json: key \"benefitsFile\" must be an absolute path, not \"\""},
        {"{ \"documentValidityMinutes\": \"60\" }", -EINVAL,
                "c.json: key \"documentValidityMinutes\" must be an integer"},
        {"{ \"documentValidityMinutes\": 1.5 }", -EINVAL,
                "c.json: key \"documentValidityMinutes\" must be an integer"},
        {"{ \"documentValidityMinutes\": 0 }", -ERANGE,
                "c.json: key \"documentValidityMinutes\" must be between 1 and 10080, not 0"},
        {"{ \"syncIntervalHours\": 721 }", -ERANGE,
                "c.json: key \"syncIntervalHours\" must be between 1 and 720, not 721"},
        {"{ \"signingThreads\": -1 }", -ERANGE,
                "c.json: key \"signingThreads\" must be between 0 and 256, not -1"},
        {"{ \"certificateMaxValidityDays\": 4294967297 }", -ERANGE,
                "c.json: key \"certificateMaxValidityDays\" must be between 1 and 3650, not 4294967297"},
        {"{ \"keyType\": \"ed25519\" }", -EINVAL,
                "c.json: key \"keyType\" must be \"rsa-2048\" or \"ecdsa-p256\""},
        {"{ \"keyType\": 2048 }", -EINVAL, "c.json: key \"keyType\" must be \"rsa-2048\" or \"ecdsa-p256\""},
        {"{ \"serverName\": \"*\" }", -EINVAL, "c.json: key \"serverName\" is not a valid name"},
        {"{ \"metadataDomain\": \"Metadata.Local\" }", -EINVAL,
                "c.json: key \"metadataDomain\" must be a lowercase DNS name such as metadata.azshci.local"},
        {"{ \"metadataDomain\": \"\" }", -EINVAL,
                "c.json: key \"metadataDomain\" must be a lowercase DNS name such as metadata.azshci.local"},
};

static const TestRefusalCase issuer_error_cases[] = {
        {"{ \"issuer\": \"local\" }", -EINVAL, "c.json: key \"issuer\" must be an object"},
        {"{ \"issuer\": {} }", -EINVAL, "c.json: key \"issuer.type\" must be \"local\" or \"cmp\""},
        {"{ \"issuer\": { \"type\": \"acme\" } }", -EINVAL,
                "c.json: key \"issuer.type\" must be \"local\" or \"cmp\""},
        {"{ \"issuer\": { \"type\": \"local\", \"server\": \"http://x\" } }", -EINVAL,
                "c.json: the \"local\" issuer takes no settings besides \"type\""},
        {"{ \"issuer\": { \"type\": \"cmp\", \"colour\": 1 } }", -EINVAL,
                "c.json: unknown key \"issuer.colour\""},
        {"{ \"issuer\": { \"type\": \"cmp\" } }", -EINVAL,
                "c.json: the \"cmp\" issuer needs \"issuer.server\""},
        {"{ \"issuer\": { \"type\": \"cmp\", \"server\": \"ftp://ca\" } }", -EINVAL,
                "c.json: key \"issuer.server\" must be an http:// or https:// URL"},
        {"{ \"issuer\": { \"type\": \"cmp\", \"server\": \"http://ca:829/pkix/\" } }", -EINVAL,
                "c.json: the \"cmp\" issuer needs \"issuer.trustAnchor\""},
        {"{ \"issuer\": { \"type\": \"cmp\", \"server\": \"http://ca/\", \"trustAnchor\": \"ca.pem\" } }",
                -EINVAL, "c.json: key \"trustAnchor\" must be an absolute path, not \"ca.pem\""},
        {"{ \"issuer\": { \"type\": \"cmp\", \"server\": \"http://ca/\", \"trustAnchor\": \"/ca.pem\","
         " \"reference\": \"r\" } }",
                -EINVAL,
                "c.json: the \"cmp\" issuer needs \"issuer.reference\" and exactly one of \"issuer.secret\" and "
                "\"issuer.secretFile\""},
        {"{ \"issuer\": { \"type\": \"cmp\", \"server\": \"http://ca/\", \"trustAnchor\": \"/ca.pem\","
         " \"reference\": \"r\", \"secret\": \"s\", \"secretFile\": \"/s\" } }",
                -EINVAL,
                "c.json: the \"cmp\" issuer needs \"issuer.reference\" and exactly one of \"issuer.secret\" and "
                "\"issuer.secretFile\""},
        {"{ \"issuer\": { \"type\": \"cmp\", \"server\": \"http://ca/\", \"trustAnchor\": \"/ca.pem\","
         " \"reference\": \"r\", \"secret\": \"s\", \"timeoutSeconds\": 601 } }",
                -ERANGE, "c.json: key \"timeoutSeconds\" must be between 1 and 600, not 601"},
};

static const TestRefusalCase inventory_error_cases[] = {
        {"{ \"inventory\": \"libvirt\" }", -EINVAL, "c.json: key \"inventory\" must be an object"},
        {"{ \"inventory\": { \"uri\": \"qemu:///system\" } }", -EINVAL,
                "c.json: key \"inventory.provider\" must be \"manual\" or \"libvirt\""},
        {"{ \"inventory\": { \"provider\": \"hyperv\" } }", -EINVAL,
                "c.json: key \"inventory.provider\" must be \"manual\" or \"libvirt\""},
        {"{ \"inventory\": { \"provider\": \"libvirt\", \"url\": \"x\" } }", -EINVAL,
                "c.json: unknown key \"inventory.url\""},
        {"{ \"inventory\": { \"provider\": \"libvirt\", \"uri\": \"system\" } }", -EINVAL,
                "c.json: key \"inventory.uri\" must be a libvirt URI such as qemu:///system"},
};

TEST(inventory) {
        _cleanup_(config_donep) Config c = {};

        config_init(&c);
        g_assert_cmpint(c.inventory_provider, ==, INVENTORY_MANUAL);
        g_assert_null(c.inventory_uri);
        expect_ok(&c, "{ \"inventory\": { \"provider\": \"libvirt\" } }");
        g_assert_cmpint(c.inventory_provider, ==, INVENTORY_LIBVIRT);
        g_assert_null(c.inventory_uri);
        expect_ok(&c,
                "{ \"inventory\": { \"provider\": \"libvirt\", \"uri\": \"qemu+unix:///system?socket=/s\" } }");
        g_assert_cmpstr(c.inventory_uri, ==, "qemu+unix:///system?socket=/s");
}

TEST(files) {
        _cleanup_(config_donep) Config c = {};
        _cleanup_free_ char *error = NULL;

        config_init(&c);
        g_assert_cmpint(config_load(&c, "/nonexistent/attestation.json", true, &error), ==, 0);
        g_assert_null(error);
        g_assert_cmpint(config_load(&c, "/nonexistent/attestation.json", false, &error), ==, -ENOENT);
        g_assert_cmpstr(error, ==, "/nonexistent/attestation.json: No such file or directory");

        error = mfree(error);
        g_assert_cmpint(config_load_data(&c, "c.json", "{\n  \"enabled\": true,\n}\n", &error), ==,
                -EBADMSG);
        /* json-glib's wording (Debian 12, json-glib 1.6); the name and position are ours. */
        g_assert_cmpstr(error, ==,
                "c.json:2:18: Parse error: unexpected character `,', expected character `]'");
}

#define CMP_ISSUER(credential)                                                                         \
        "{ \"issuer\": { \"type\": \"cmp\", \"server\": \"http://ca/\", \"trustAnchor\": \"/ca.pem\"," \
        " \"reference\": \"r\", " credential " } }\n"

/* Writes data to dir/name with the mode and loads it with config_load. */
static int load_file_with_mode(const char *dir, const char *name, const char *data, mode_t mode,
        char **ret_path, char **ret_error) {
        _cleanup_(config_donep) Config c = {};
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(path, data, -1, NULL));
        g_assert_cmpint(chmod(path, mode), ==, 0);
        config_init(&c);
        *ret_path = g_steal_pointer(&path);
        return config_load(&c, *ret_path, false, ret_error);
}

/* An inline CMP secret is refused in a file others can read; a secretFile or a file closed to
 * others is accepted, and so is any mode without an inline secret. */
TEST(secret_mode) {
        g_autofree char *dir = g_dir_make_tmp("azshci-config-XXXXXX", NULL);
        g_autofree char *file = g_build_filename(dir, "attestation.json", NULL);
        static const struct {
                const char *data;
                mode_t mode;
                bool refused;
        } cases[] = {
                {CMP_ISSUER("\"secret\": \"s\""), 0644, true},
                {CMP_ISSUER("\"secret\": \"s\""), 0604, true},
                {CMP_ISSUER("\"secret\": \"s\""), 0444, true},
                {CMP_ISSUER("\"secret\": \"s\""), 0640, false},
                {CMP_ISSUER("\"secret\": \"s\""), 0600, false},
                {CMP_ISSUER("\"secretFile\": \"/etc/azshci/cmp-secret\""), 0644, false},
                {"{ \"issuer\": { \"type\": \"local\" } }\n", 0644, false},
        };

        g_assert_nonnull(dir);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *error = NULL, *path = NULL, *expected = NULL;
                int r = load_file_with_mode(dir, "attestation.json", cases[i].data, cases[i].mode, &path,
                        &error);

                if (!cases[i].refused) {
                        g_assert_cmpint(r, ==, 0);
                        g_assert_null(error);
                        continue;
                }
                g_assert_cmpint(r, ==, -EPERM);
                g_assert_cmpint(asprintf(&expected,
                                        "%s: key \"issuer.secret\" in a file that every user can read "
                                        "(mode %04o): put the secret in a file of its own named by "
                                        "\"issuer.secretFile\", or make %s unreadable to others (chmod o-r)",
                                        path, (unsigned)cases[i].mode, path),
                        >, 0);
                g_assert_cmpstr(error, ==, expected);
        }
        g_assert_cmpint(unlink(file), ==, 0);
        g_assert_cmpint(rmdir(dir), ==, 0);
}

/* The "cluster" section (docs/cluster.md): absent = standalone, the keys, and what is refused. */
#define EP "\"endpoints\": [\"http://10.0.0.1:2379\"]"
static const TestRefusalCase cluster_error_cases[] = {
        {"{ \"cluster\": [] }", -EINVAL, "c.json: key \"cluster\" must be an object"},
        {"{ \"serverName\": \"n1\", \"cluster\": {} }", -EINVAL,
                "c.json: key \"cluster.endpoints\" must be a list of etcd client URLs"},
        {"{ \"serverName\": \"n1\", \"cluster\": { \"endpoints\": [] } }", -EINVAL,
                "c.json: key \"cluster.endpoints\" must be a list of etcd client URLs"},
        {"{ \"serverName\": \"n1\", \"cluster\": { \"endpoints\": [\"10.0.0.1:2379\"] } }", -EINVAL,
                "c.json: key \"cluster.endpoints\" must hold http:// or https:// URLs"},
        {"{ \"cluster\": { " EP " } }", -EINVAL,
                "c.json: in a cluster, key \"serverName\" is required: 1 to 63 letters, digits, '.', '_' or '-'"},
        {"{ \"serverName\": \"node 1\", \"cluster\": { " EP " } }", -EINVAL,
                "c.json: in a cluster, key \"serverName\" is required: 1 to 63 letters, digits, '.', '_' or '-'"},
        {"{ \"serverName\": \"n1\", \"cluster\": { " EP ", \"prefix\": \"azshci/\" } }", -EINVAL,
                "c.json: key \"cluster.prefix\" must be an etcd key prefix such as /azshci"},
        {"{ \"serverName\": \"n1\", \"cluster\": { " EP ", \"certFile\": \"/c.pem\" } }", -EINVAL,
                "c.json: keys \"cluster.certFile\" and \"cluster.keyFile\" go together"},
        {"{ \"serverName\": \"n1\", \"cluster\": { " EP ", \"caFile\": \"/ca.pem\" } }", -EINVAL,
                "c.json: key \"cluster.endpoints\": \"http://10.0.0.1:2379\" is not an https:// URL, but "
                "\"cluster.caFile\", \"cluster.certFile\" or \"cluster.keyFile\" is set (with TLS every "
                "endpoint must use https://)"},
        {"{ \"serverName\": \"n1\", \"cluster\": { \"endpoints\": [\"https://10.0.0.1:2379\", "
         "\"http://10.0.0.2:2379\"], \"certFile\": \"/c.pem\", \"keyFile\": \"/c.key\" } }",
                -EINVAL,
                "c.json: key \"cluster.endpoints\": \"http://10.0.0.2:2379\" is not an https:// URL, but "
                "\"cluster.caFile\", \"cluster.certFile\" or \"cluster.keyFile\" is set (with TLS every "
                "endpoint must use https://)"},
        {"{ \"serverName\": \"n1\", \"cluster\": { " EP ", \"leaseTtlSeconds\": 1 } }", -ERANGE,
                "c.json: key \"leaseTtlSeconds\" must be between 2 and 3600, not 1"},
        {"{ \"serverName\": \"n1\", \"cluster\": { " EP ", \"members\": 3 } }", -EINVAL,
                "c.json: unknown key \"cluster.members\""},
};
#undef EP

TEST(cluster) {
        _cleanup_(config_donep) Config c = {};
        _cleanup_free_ char *error = NULL;

        config_init(&c);
        g_assert_null(c.cluster.endpoints); /* standalone by default */
        g_assert_cmpstr(c.cluster.prefix, ==, "/azshci");
        g_assert_cmpuint(c.cluster.lease_ttl_sec, ==, 10);
        g_assert_cmpuint(c.cluster.timeout_sec, ==, 3);

        g_assert_cmpint(
                config_load_data(&c, "c.json",
                        "{ \"serverName\": \"node-1\", \"cluster\": { \"endpoints\": "
                        "[\"https://10.0.0.1:2379\", \"https://10.0.0.2:2379\"], \"prefix\": \"/hci/c1\", "
                        "\"caFile\": \"/etc/azshci/etcd-ca.pem\", \"certFile\": \"/etc/azshci/c.pem\", "
                        "\"keyFile\": \"/etc/azshci/c.key\", \"leaseTtlSeconds\": 2, "
                        "\"timeoutSeconds\": 5 } }",
                        &error),
                ==, 0);
        g_assert_null(error);
        g_assert_cmpuint(strv_length(c.cluster.endpoints), ==, 2);
        g_assert_cmpstr(c.cluster.endpoints[0], ==, "https://10.0.0.1:2379");
        g_assert_cmpstr(c.cluster.endpoints[1], ==, "https://10.0.0.2:2379");
        g_assert_cmpstr(c.cluster.prefix, ==, "/hci/c1");
        g_assert_cmpstr(c.cluster.ca_file, ==, "/etc/azshci/etcd-ca.pem");
        g_assert_cmpstr(c.cluster.cert_file, ==, "/etc/azshci/c.pem");
        g_assert_cmpstr(c.cluster.key_file, ==, "/etc/azshci/c.key");
        g_assert_cmpuint(c.cluster.lease_ttl_sec, ==, 2);
        g_assert_cmpuint(c.cluster.timeout_sec, ==, 5);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        test_add_registered();
        test_add_refusal_cases("/config/errors", load_config, config_error_cases,
                G_N_ELEMENTS(config_error_cases), TEST_REFUSAL_NAME_TEXT);
        test_add_refusal_cases("/config/issuer-errors", load_config, issuer_error_cases,
                G_N_ELEMENTS(issuer_error_cases), TEST_REFUSAL_NAME_TEXT);
        test_add_refusal_cases("/config/inventory", load_config, inventory_error_cases,
                G_N_ELEMENTS(inventory_error_cases), TEST_REFUSAL_NAME_TEXT);
        test_add_refusal_cases("/config/cluster", load_config, cluster_error_cases,
                G_N_ELEMENTS(cluster_error_cases), TEST_REFUSAL_NAME_TEXT);

        return g_test_run();
}
