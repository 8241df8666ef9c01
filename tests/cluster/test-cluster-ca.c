/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cluster CA without sockets (docs/trust-model.md, "Cluster"): its configuration keys,
 * the CA record in etcd, and the CMP responder (service/attestd/issuers/cmp-server.c) in front
 * of a real embedded CA, driven by OpenSSL's own CMP client through a transfer callback that
 * hands the DER of each message to cmp_server_handle() (what cmp-http.c does over HTTP). */

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cluster-records.h"
#include "cmp-server.h"
#include "config.h"
#include "fileio.h"
#include "issuer.h"
#include "keystore.h"
#include "validate.h"
#include "x509-util.h"

#define DOMAIN "metadata.azshci.local"
#define SECRET "cluster-secret"

static void test_listen(void) {
        struct sockaddr_storage ss;
        socklen_t len;

        g_assert_cmpint(cluster_ca_listen_parse("10.0.0.1:8291", &ss, &len), ==, 0);
        g_assert_cmpint(ss.ss_family, ==, AF_INET);
        g_assert_cmpint(ntohs(((struct sockaddr_in *)&ss)->sin_port), ==, 8291);
        g_assert_cmpint(cluster_ca_listen_parse("[fd00::1]:443", &ss, &len), ==, 0);
        g_assert_cmpint(ss.ss_family, ==, AF_INET6);
        g_assert_cmpint(len, ==, sizeof(struct sockaddr_in6));
        /* Addresses guests could be given, or that reach everything: refused. */
        g_assert_cmpint(cluster_ca_listen_parse("0.0.0.0:8291", &ss, &len), ==, -EADDRNOTAVAIL);
        g_assert_cmpint(cluster_ca_listen_parse("169.254.169.253:80", &ss, &len), ==, -EADDRNOTAVAIL);
        g_assert_cmpint(cluster_ca_listen_parse("127.0.0.1:8291", &ss, &len), ==, -EADDRNOTAVAIL);
        g_assert_cmpint(cluster_ca_listen_parse("[::]:8291", &ss, &len), ==, -EADDRNOTAVAIL);
        g_assert_cmpint(cluster_ca_listen_parse("[fe80::1]:8291", &ss, &len), ==, -EADDRNOTAVAIL);
        g_assert_cmpint(cluster_ca_listen_parse("224.0.0.1:8291", &ss, &len), ==, -EADDRNOTAVAIL);
        /* Not ADDR:PORT. */
        g_assert_cmpint(cluster_ca_listen_parse("10.0.0.1", &ss, &len), ==, -EINVAL);
        g_assert_cmpint(cluster_ca_listen_parse("10.0.0.1:0", &ss, &len), ==, -EINVAL);
        g_assert_cmpint(cluster_ca_listen_parse("10.0.0.1:65536", &ss, &len), ==, -EINVAL);
        g_assert_cmpint(cluster_ca_listen_parse("host:8291", &ss, &len), ==, -EINVAL);
        g_assert_cmpint(cluster_ca_listen_parse("fd00::1:8291", &ss, &len), ==, -EINVAL);
        g_assert_cmpint(cluster_ca_listen_parse("10.0.0.1:80x", &ss, &len), ==, -EINVAL);
}

static int load(const char *json, char **ret_error) {
        Config c;
        int r;

        config_init(&c);
        r = config_load_data(&c, "t.json", json, ret_error);
        config_done(&c);
        return r;
}

#define CLUSTER(extra) \
        "{\"serverName\":\"node1\",\"cluster\":{\"endpoints\":[\"http://10.0.0.1:2379\"]" extra "}}"

static void test_config(void) {
        _cleanup_free_ char *e = NULL;

        g_assert_cmpint(load(CLUSTER(""), NULL), ==, 0);
        g_assert_cmpint(load(CLUSTER(",\"caServer\":\"node1\",\"caListen\":\"10.0.0.1:8291\","
                                     "\"caSecretFile\":\"/etc/s\""),
                                NULL),
                ==, 0);
        /* A peer needs no caListen. */
        g_assert_cmpint(load(CLUSTER(",\"caServer\":\"node2\",\"caSecretFile\":\"/etc/s\""), NULL), ==, 0);

        g_assert_cmpint(load(CLUSTER(",\"caServer\":\"node1\",\"caSecretFile\":\"/etc/s\""), &e), ==,
                -EINVAL);
        g_assert_nonnull(strstr(e, "\"cluster.caListen\" (ADDR:PORT) is required"));
        e = mfree(e);
        g_assert_cmpint(load(CLUSTER(",\"caServer\":\"node2\""), &e), ==, -EINVAL);
        g_assert_nonnull(strstr(e, "needs \"cluster.caSecretFile\""));
        e = mfree(e);
        g_assert_cmpint(load(CLUSTER(",\"caListen\":\"10.0.0.1:8291\""), &e), ==, -EINVAL);
        g_assert_nonnull(strstr(e, "need \"cluster.caServer\""));
        e = mfree(e);
        g_assert_cmpint(load(CLUSTER(",\"caServer\":\"node1\",\"caListen\":\"0.0.0.0:8291\","
                                     "\"caSecretFile\":\"/etc/s\""),
                                &e),
                ==, -EINVAL);
        g_assert_nonnull(strstr(e, "not a wildcard"));
        e = mfree(e);
        g_assert_cmpint(load(CLUSTER(",\"caServer\":\"node2\",\"caSecretFile\":\"etc/s\""), &e), ==,
                -EINVAL);
        e = mfree(e);
        g_assert_cmpint(
                load("{\"serverName\":\"node1\",\"issuer\":{\"type\":\"cmp\",\"server\":\"http://ca/\","
                     "\"trustAnchor\":\"/t\",\"reference\":\"r\",\"secretFile\":\"/s\"},"
                     "\"cluster\":{\"endpoints\":[\"http://10.0.0.1:2379\"],\"caServer\":\"node2\","
                     "\"caSecretFile\":\"/etc/s\"}}",
                        &e),
                ==, -EINVAL);
        g_assert_nonnull(strstr(e, "\"local\" issuer only"));
}

static const char *ROOT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

static void test_record(void) {
        _cleanup_(cluster_ca_record_done) ClusterCaRecord r = {};
        _cleanup_free_ char *json = NULL, *e = NULL, *k = NULL, *name = NULL;
        ClusterKeyKind kind;

        g_assert_cmpint(cluster_key_ca("/c", &k), ==, 0);
        g_assert_cmpstr(k, ==, "/c/ca");
        g_assert_cmpint(cluster_key_parse("/c", k, &kind, &name), ==, 0);
        g_assert_cmpint(kind, ==, CLUSTER_KEY_CA);
        g_assert_null(name);

        g_assert_cmpint(cluster_ca_record_to_json(&(ClusterCaRecord){.server = (char *)"node1",
                                                          .url = (char *)"http://10.0.0.1:8291/cmp",
                                                          .root = (char *)ROOT},
                                &json),
                ==, 0);
        g_assert_cmpint(cluster_ca_record_from_json(json, &r, NULL), ==, 0);
        g_assert_cmpstr(r.server, ==, "node1");
        g_assert_cmpstr(r.url, ==, "http://10.0.0.1:8291/cmp");
        g_assert_cmpstr(r.root, ==, ROOT);

        /* Never anything private, never more than the root, never another scheme. */
        g_assert_cmpint(
                cluster_ca_record_from_json("{\"server\":\"node1\",\"url\":\"http://a/cmp\",\"root\":"
                                            "\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END "
                                            "CERTIFICATE-----\\n-----BEGIN PRIVATE KEY-----\\nMII\\n\"}",
                        &r, &e),
                ==, -EBADMSG);
        g_assert_nonnull(strstr(e, "one PEM certificate"));
        e = mfree(e);
        g_assert_cmpint(cluster_ca_record_from_json(
                                "{\"server\":\"node1\",\"url\":\"file:///x\",\"root\":\"x\"}", &r, &e),
                ==, -EBADMSG);
        e = mfree(e);
        g_assert_cmpint(cluster_ca_record_from_json(
                                "{\"server\":\"a/b\",\"url\":\"http://a/\",\"root\":\"x\"}", &r, &e),
                ==, -EBADMSG);
        e = mfree(e);
        g_assert_cmpint(cluster_ca_record_from_json("{\"server\":\"node1\"}", &r, &e), ==, -EBADMSG);
}

/* --- the CMP responder --- */

typedef struct World {
        char *dir, *secret_file;
        Issuer *ca;
        X509 *root;
        CmpServer *server;
        unsigned nested; /* run one whole enrolment between a request and its certConf */
} World;

static OSSL_CMP_MSG *transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req);

static OSSL_CMP_CTX *client(World *w, const char *name, EVP_PKEY *new_key) {
        OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
        X509_STORE *store = X509_STORE_new();
        X509_NAME *subject = X509_NAME_new();
        GENERAL_NAME *san = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

        g_assert_true(ctx && store && subject && san && ia5);
        g_assert_cmpint(X509_STORE_add_cert(store, w->root), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set0_trustedStore(ctx, store), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set_transfer_cb(ctx, transfer), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set_transfer_cb_arg(ctx, w), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set0_newPkey(ctx, 1, new_key), ==, 1);
        g_assert_cmpint(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)name,
                                -1, -1, 0),
                ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_subjectName(ctx, subject), ==, 1);
        X509_NAME_free(subject);
        g_assert_cmpint(ASN1_STRING_set(ia5, name, -1), ==, 1);
        GENERAL_NAME_set0_value(san, GEN_DNS, ia5);
        g_assert_cmpint(OSSL_CMP_CTX_push1_subjectAltName(ctx, san), ==, 1);
        GENERAL_NAME_free(san);
        return ctx;
}

static void with_secret(OSSL_CMP_CTX *ctx, const char *ref, const char *secret) {
        g_assert_cmpint(OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)ref, (int)strlen(ref)),
                ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)secret,
                                (int)strlen(secret)),
                ==, 1);
}

/* One enrolment; the issued certificate (a new reference) or NULL when refused. */
static X509 *enrol(World *w, OSSL_CMP_CTX *ctx, int type) {
        X509 *cert = OSSL_CMP_exec_certreq(ctx, type, NULL);

        if (cert)
                X509_up_ref(cert);
        ERR_clear_error();
        OSSL_CMP_CTX_free(ctx);
        return cert;
}

static EVP_PKEY *new_key(void) {
        EVP_PKEY *k = NULL;

        g_assert_cmpint(generate_key_pair(KEY_TYPE_ECDSA_P256, &k), ==, 0);
        return k;
}

static X509 *enrol_ir(World *w, const char *name, const char *secret, EVP_PKEY **ret_key) {
        EVP_PKEY *k = new_key();
        OSSL_CMP_CTX *ctx;

        EVP_PKEY_up_ref(k);
        ctx = client(w, name, k);
        with_secret(ctx, "node2", secret);
        if (ret_key)
                *ret_key = k;
        else
                EVP_PKEY_free(k);
        return enrol(w, ctx, OSSL_CMP_IR);
}

static OSSL_CMP_MSG *transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req) {
        World *w = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
        _cleanup_free_ unsigned char *der = NULL;
        const unsigned char *p;
        void *out = NULL;
        size_t size = 0;
        OSSL_CMP_MSG *rsp;
        int n;

        if (w->nested > 0 && OSSL_CMP_MSG_get_bodytype(req) == 24 /* certConf */) {
                X509 *other;

                w->nested--;
                other = enrol_ir(w, "node3." DOMAIN, SECRET, NULL);
                g_assert_nonnull(other);
                X509_free(other);
        }
        n = i2d_OSSL_CMP_MSG(req, &der);
        g_assert_cmpint(n, >, 0);
        if (cmp_server_handle(w->server, der, (size_t)n, &out, &size) < 0)
                return NULL;
        p = out;
        rsp = d2i_OSSL_CMP_MSG(NULL, &p, (long)size);
        OPENSSL_free(out);
        return rsp;
}

static char *cn_of(X509 *cert) {
        char buf[256] = "";

        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
        return g_strdup(buf);
}

static void world_init(World *w) {
        _cleanup_free_ char *error = NULL;
        int r;

        *w = (World){};
        w->dir = g_dir_make_tmp("cluster-ca-XXXXXX", NULL);
        w->secret_file = g_build_filename(w->dir, "secret", NULL);
        g_assert_true(g_file_set_contents(w->secret_file, SECRET "\n", -1, NULL));
        r = issuer_local_new(w->dir, KEY_TYPE_ECDSA_P256, &w->ca, &error);
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(issuer_local_get_ca(w->ca, &w->root), ==, 0);
        r = cmp_server_new(&(CmpServerOptions){.ca = w->ca,
                                   .secret_file = w->secret_file,
                                   .metadata_domain = DOMAIN,
                                   .validity_days = 30},
                &w->server, &error);
        g_assert_cmpint(r, ==, 0);
}

static void world_done(World *w) {
        _cleanup_free_ char *cmd = g_strdup_printf("rm -rf '%s'", w->dir);

        cmp_server_free(w->server);
        X509_free(w->root);
        issuer_free(w->ca);
        g_assert_cmpint(system(cmd), ==, 0);
        g_free(w->dir);
        g_free(w->secret_file);
}

static void assert_issued(World *w, X509 *cert, EVP_PKEY *key, const char *name) {
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *sctx = X509_STORE_CTX_new();
        _cleanup_(X509_STORE_freep) X509_STORE *store = X509_STORE_new();
        g_autofree char *cn = NULL;

        g_assert_nonnull(cert);
        cn = cn_of(cert);
        g_assert_cmpstr(cn, ==, name);
        if (key)
                g_assert_true(certificate_matches_key(cert, key));
        g_assert_cmpint(X509_STORE_add_cert(store, w->root), ==, 1);
        g_assert_cmpint(X509_STORE_CTX_init(sctx, store, cert, NULL), ==, 1);
        g_assert_cmpint(X509_verify_cert(sctx), ==, 1);
        /* The embedded CA's own profile: 30 days, digital signature only. */
        g_assert_cmpint(X509_get_key_usage(cert), ==, KU_DIGITAL_SIGNATURE);
}

static void test_cmp(void) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k1 = NULL, *k2 = NULL, *other_key = NULL;
        _cleanup_(X509_freep) X509 *c1 = NULL, *c2 = NULL, *bad = NULL;
        _cleanup_free_ void *out = NULL;
        OSSL_CMP_CTX *ctx;
        size_t size;
        World w;

        world_init(&w);

        /* IR with the enrolment secret. */
        c1 = enrol_ir(&w, "node2." DOMAIN, SECRET, &k1);
        assert_issued(&w, c1, k1, "node2." DOMAIN);

        /* IR with a wrong secret, unprotected, or for a name outside the domain: refused. */
        bad = enrol_ir(&w, "node2." DOMAIN, "not-the-secret", NULL);
        g_assert_null(bad);
        ctx = client(&w, "node2." DOMAIN, new_key());
        g_assert_cmpint(OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1), ==, 1);
        bad = enrol(&w, ctx, OSSL_CMP_IR);
        g_assert_null(bad);
        bad = enrol_ir(&w, "node2.example.com", SECRET, NULL);
        g_assert_null(bad);
        bad = enrol_ir(&w, "a.b." DOMAIN, SECRET, NULL);
        g_assert_null(bad);

        /* KUR signed with the certificate from the IR: a new certificate for the new key. */
        k2 = new_key();
        EVP_PKEY_up_ref(k2);
        ctx = client(&w, "node2." DOMAIN, k2);
        g_assert_cmpint(OSSL_CMP_CTX_set1_cert(ctx, c1), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_pkey(ctx, k1), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_oldCert(ctx, c1), ==, 1);
        c2 = enrol(&w, ctx, OSSL_CMP_KUR);
        assert_issued(&w, c2, k2, "node2." DOMAIN);

        /* KUR signed with a certificate of another CA (self-signed): refused. */
        {
                _cleanup_(X509_freep) X509 *self = X509_new();

                other_key = new_key();
                X509_set_version(self, X509_VERSION_3);
                X509_NAME_add_entry_by_txt(X509_get_subject_name(self), "CN", MBSTRING_UTF8,
                        (const unsigned char *)"node2." DOMAIN, -1, -1, 0);
                X509_set_issuer_name(self, X509_get_subject_name(self));
                X509_gmtime_adj(X509_getm_notBefore(self), -60);
                X509_gmtime_adj(X509_getm_notAfter(self), 3600);
                X509_set_pubkey(self, other_key);
                g_assert_cmpint(X509_sign(self, other_key, EVP_sha256()), >, 0);
                ctx = client(&w, "node2." DOMAIN, new_key());
                g_assert_cmpint(OSSL_CMP_CTX_set1_cert(ctx, self), ==, 1);
                g_assert_cmpint(OSSL_CMP_CTX_set1_pkey(ctx, other_key), ==, 1);
                g_assert_cmpint(OSSL_CMP_CTX_set1_oldCert(ctx, self), ==, 1);
                bad = enrol(&w, ctx, OSSL_CMP_KUR);
                g_assert_null(bad);
        }

        /* Two enrolments interleaved: node3's whole IR runs between node2's IR and its certConf. */
        X509_free(c1);
        EVP_PKEY_free(k1);
        k1 = NULL;
        w.nested = 1;
        c1 = enrol_ir(&w, "node2." DOMAIN, SECRET, &k1);
        g_assert_cmpint(w.nested, ==, 0);
        assert_issued(&w, c1, k1, "node2." DOMAIN);

        /* Not a CMP message. */
        g_assert_cmpint(cmp_server_handle(w.server, "hello", 5, &out, &size), ==, -EBADMSG);

        world_done(&w);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cluster-ca/listen", test_listen);
        g_test_add_func("/cluster-ca/config", test_config);
        g_test_add_func("/cluster-ca/record", test_record);
        g_test_add_func("/cluster-ca/cmp", test_cmp);
        return g_test_run();
}
