/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cluster CA without sockets (docs/trust-model.md, "Cluster"): its configuration keys,
 * the CA record in etcd, and the CMP responder (service/attestd/issuers/cmp-server.c) in front
 * of a real embedded CA, driven by OpenSSL's own CMP client through a transfer callback that
 * hands the DER of each message to cmp_server_handle() (what cmp-http.c does over HTTP). */

#define TEST_PREFIX "/cluster-ca"

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cluster-records.h"
#include "cluster-view.h"
#include "cmp-request.h"
#include "cmp-server.h"
#include "config.h"
#include "fileio.h"
#include "issuer.h"
#include "keystore.h"
#include "test-util.h"
#include "validate.h"
#include "x509-util.h"

#define DOMAIN "metadata.azshci.local"
#define SECRET "cluster-secret"

/* A caListen value and what cluster_ca_listen_parse() makes of it: its result and, where
 * not 0, the address family, port and length. */
typedef struct ListenCase {
        const char *in;
        int r;
        int family;
        uint16_t port;
        socklen_t len;
} ListenCase;

static const ListenCase listen_cases[] = {
        {"10.0.0.1:8291", 0, AF_INET, .port = 8291},
        {"[fd00::1]:443", 0, AF_INET6, .len = sizeof(struct sockaddr_in6)},
        /* Addresses guests could be given, or that reach everything: refused. */
        {"0.0.0.0:8291", -EADDRNOTAVAIL},
        {"169.254.169.253:80", -EADDRNOTAVAIL},
        {"127.0.0.1:8291", -EADDRNOTAVAIL},
        {"[::]:8291", -EADDRNOTAVAIL},
        {"[fe80::1]:8291", -EADDRNOTAVAIL},
        {"224.0.0.1:8291", -EADDRNOTAVAIL},
        /* Not ADDR:PORT. */
        {"10.0.0.1", -EINVAL},
        {"10.0.0.1:0", -EINVAL},
        {"10.0.0.1:65536", -EINVAL},
        {"host:8291", -EINVAL},
        {"fd00::1:8291", -EINVAL},
        {"10.0.0.1:80x", -EINVAL},
};

static void test_listen_case(const void *data) {
        const ListenCase *c = data;
        struct sockaddr_storage ss;
        socklen_t len;

        g_assert_cmpint(cluster_ca_listen_parse(c->in, &ss, &len), ==, c->r);
        if (c->family)
                g_assert_cmpint(ss.ss_family, ==, c->family);
        if (c->port)
                g_assert_cmpint(ntohs(((struct sockaddr_in *)&ss)->sin_port), ==, c->port);
        if (c->len)
                g_assert_cmpint(len, ==, c->len);
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

/* A configuration with a cluster and what loading it gives: 0, or -EINVAL with a message that
 * holds error (NULL: not compared). */
typedef struct ConfigCase {
        const char *name;
        const char *json;
        int r;
        const char *error;
} ConfigCase;

static const ConfigCase config_cases[] = {
        {"no-ca", CLUSTER(""), 0},
        {"ca-server",
                CLUSTER(",\"caServer\":\"node1\",\"caListen\":\"10.0.0.1:8291\",\"caSecretFile\":\"/etc/s\""),
                0},
        /* A peer needs no caListen. */
        {"ca-peer", CLUSTER(",\"caServer\":\"node2\",\"caSecretFile\":\"/etc/s\""), 0},
        {"ca-server-without-caListen", CLUSTER(",\"caServer\":\"node1\",\"caSecretFile\":\"/etc/s\""),
                -EINVAL, "\"cluster.caListen\" (ADDR:PORT) is required"},
        {"ca-peer-without-caSecretFile", CLUSTER(",\"caServer\":\"node2\""), -EINVAL,
                "needs \"cluster.caSecretFile\""},
        {"caListen-without-caServer", CLUSTER(",\"caListen\":\"10.0.0.1:8291\""), -EINVAL,
                "need \"cluster.caServer\""},
        {"caListen-wildcard",
                CLUSTER(",\"caServer\":\"node1\",\"caListen\":\"0.0.0.0:8291\",\"caSecretFile\":\"/etc/s\""),
                -EINVAL, "not a wildcard"},
        {"caSecretFile-relative", CLUSTER(",\"caServer\":\"node2\",\"caSecretFile\":\"etc/s\""), -EINVAL},
        /* The root's fingerprint, as openssl x509 -fingerprint -sha256 prints it or plain. */
        {"caFingerprint-colons",
                CLUSTER(",\"caServer\":\"node2\",\"caSecretFile\":\"/etc/s\","
                        "\"caFingerprint\":\"6F:95:DD:CD:8A:6F:76:95:27:F2:42:7E:CF:28:09:E2:03:EE:2C:"
                        "F2:0B:35:7A:CA:C6:B6:28:A6:3C:56:3F:0D\""),
                0},
        {"caFingerprint-plain",
                CLUSTER(",\"caServer\":\"node2\",\"caSecretFile\":\"/etc/s\",\"caFingerprint\":"
                        "\"6f95ddcd8a6f769527f2427ecf2809e203ee2cf20b357acac6b628a63c563f0d\""),
                0},
        {"caFingerprint-short",
                CLUSTER(",\"caServer\":\"node2\",\"caSecretFile\":\"/etc/s\",\"caFingerprint\":"
                        "\"6f95ddcd8a6f769527f2427ecf2809e203ee2cf20b357acac6b628a63c563f0\""),
                -EINVAL, "SHA-256 fingerprint"},
        {"cmp-issuer",
                "{\"serverName\":\"node1\",\"issuer\":{\"type\":\"cmp\",\"server\":\"http://ca/\","
                "\"trustAnchor\":\"/t\",\"reference\":\"r\",\"secretFile\":\"/s\"},"
                "\"cluster\":{\"endpoints\":[\"http://10.0.0.1:2379\"],\"caServer\":\"node2\","
                "\"caSecretFile\":\"/etc/s\"}}",
                -EINVAL, "\"local\" issuer only"},
};

static void test_config_case(const void *data) {
        const ConfigCase *c = data;
        _cleanup_free_ char *e = NULL;

        g_assert_cmpint(load(c->json, c->r < 0 ? &e : NULL), ==, c->r);
        if (c->error)
                g_assert_nonnull(strstr(e, c->error));
}

static const char *ROOT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

TEST(record) {
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

/* The CA record in the view (cluster-view.c): its revision is what the CA server's
 * compare-and-swap compares, kept also for a record of the wrong shape, so that the CA server
 * can put its own record back over whatever was written there. */
TEST(view_ca) {
        ClusterView v = {.prefix = "/c", .server_name = "node1"};
        _cleanup_free_ char *json = NULL;

        g_assert_cmpint(cluster_ca_record_to_json(&(ClusterCaRecord){.server = (char *)"node1",
                                                          .url = (char *)"http://10.0.0.1:8291/cmp",
                                                          .root = (char *)ROOT},
                                &json),
                ==, 0);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/ca"), ==, 0);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/ca", json, 7), ==, CLUSTER_CHANGED_CA);
        g_assert_true(v.has_ca);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/ca"), ==, 7);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/ca", json, 7), ==, 0); /* not newer */
        g_assert_cmpuint(cluster_view_apply(&v, "/c/ca", "{\"server\":\"node1\"}", 9), ==,
                CLUSTER_CHANGED_CA);
        g_assert_false(v.has_ca);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/ca"), ==, 9);
        g_assert_cmpuint(cluster_view_apply(&v, "/c/ca", NULL, 10), ==, CLUSTER_CHANGED_CA);
        g_assert_cmpint(cluster_view_revision_of(&v, "/c/ca"), ==, 0);
        cluster_view_clear(&v);
}

/* --- the CMP responder --- */

typedef struct World {
        char *dir, *secret_file;
        Issuer *ca;
        X509 *root;
        CmpServer *server;
        unsigned nested;  /* run one whole enrolment between a request and its certConf */
        bool forge_conf;  /* send a copy of the next certConf with a broken protection first */
        bool no_renewals; /* renewal_allowed() says no */
} World;

static OSSL_CMP_MSG *transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req);

/* A client for name without subjectAltName. */
static OSSL_CMP_CTX *client_base(World *w, const char *name, EVP_PKEY *new_key) {
        OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
        X509_STORE *store = X509_STORE_new();
        X509_NAME *subject = X509_NAME_new();

        g_assert_true(ctx && store && subject);
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
        return ctx;
}

static GENERAL_NAME *dns_name(const char *name) {
        GENERAL_NAME *san = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

        g_assert_true(san && ia5);
        g_assert_cmpint(ASN1_STRING_set(ia5, name, -1), ==, 1);
        GENERAL_NAME_set0_value(san, GEN_DNS, ia5);
        return san;
}

static OSSL_CMP_CTX *client(World *w, const char *name, EVP_PKEY *new_key) {
        OSSL_CMP_CTX *ctx = client_base(w, name, new_key);
        GENERAL_NAME *san = dns_name(name);

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
        if (w->forge_conf && OSSL_CMP_MSG_get_bodytype(req) == 24 /* certConf */) {
                /* Anyone who saw the transactionID sends a certConf of their own (the real one
                 * with its MAC broken): refused, and the real one still completes. */
                g_autofree unsigned char *forged = g_memdup2(der, (gsize)n);
                OSSL_CMP_MSG *err;

                w->forge_conf = false;
                forged[n - 1] ^= 0x01;
                g_assert_cmpint(cmp_server_handle(w->server, forged, (size_t)n, &out, &size), ==, 0);
                p = out;
                err = d2i_OSSL_CMP_MSG(NULL, &p, (long)size);
                OPENSSL_free(out);
                g_assert_nonnull(err);
                g_assert_cmpint(OSSL_CMP_MSG_get_bodytype(err), ==, 23 /* error */);
                OSSL_CMP_MSG_free(err);
        }
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

static bool renewal_allowed(const char *dns_name, void *userdata) {
        World *w = userdata;

        return !w->no_renewals;
}

static void world_setup(World *w, const void *data) {
        _cleanup_free_ char *error = NULL;
        int r;

        *w = (World){};
        w->dir = test_make_tmpdir("cluster-ca-XXXXXX");
        w->secret_file = g_build_filename(w->dir, "secret", NULL);
        g_assert_true(g_file_set_contents(w->secret_file, SECRET "\n", -1, NULL));
        r = issuer_local_new(w->dir, KEY_TYPE_ECDSA_P256, &w->ca, &error);
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(issuer_local_get_ca(w->ca, &w->root), ==, 0);
        r = cmp_server_new(&(CmpServerOptions){.ca = w->ca,
                                   .secret_file = w->secret_file,
                                   .metadata_domain = DOMAIN,
                                   .validity_days = 30,
                                   .renewal_allowed = renewal_allowed,
                                   .userdata = w},
                &w->server, &error);
        g_assert_cmpint(r, ==, 0);
}

static void world_teardown(World *w, const void *data) {
        cmp_server_free(w->server);
        X509_free(w->root);
        issuer_free(w->ca);
        test_rm_rf(w->dir);
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

static void test_cmp(World *w, const void *data) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k1 = NULL, *k2 = NULL, *other_key = NULL;
        _cleanup_(X509_freep) X509 *c1 = NULL, *c2 = NULL, *bad = NULL;
        void *out = NULL;
        OSSL_CMP_CTX *ctx;
        size_t size;

        /* IR with the enrolment secret. */
        c1 = enrol_ir(w, "node2." DOMAIN, SECRET, &k1);
        assert_issued(w, c1, k1, "node2." DOMAIN);

        /* IR with a wrong secret, unprotected, or for a name outside the domain: refused. */
        bad = enrol_ir(w, "node2." DOMAIN, "not-the-secret", NULL);
        g_assert_null(bad);
        ctx = client(w, "node2." DOMAIN, new_key());
        g_assert_cmpint(OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1), ==, 1);
        bad = enrol(w, ctx, OSSL_CMP_IR);
        g_assert_null(bad);
        bad = enrol_ir(w, "node2.example.com", SECRET, NULL);
        g_assert_null(bad);
        bad = enrol_ir(w, "a.b." DOMAIN, SECRET, NULL);
        g_assert_null(bad);

        /* KUR signed with the certificate from the IR: a new certificate for the new key. */
        k2 = new_key();
        EVP_PKEY_up_ref(k2);
        ctx = client(w, "node2." DOMAIN, k2);
        g_assert_cmpint(OSSL_CMP_CTX_set1_cert(ctx, c1), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_pkey(ctx, k1), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_oldCert(ctx, c1), ==, 1);
        c2 = enrol(w, ctx, OSSL_CMP_KUR);
        assert_issued(w, c2, k2, "node2." DOMAIN);

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
                ctx = client(w, "node2." DOMAIN, new_key());
                g_assert_cmpint(OSSL_CMP_CTX_set1_cert(ctx, self), ==, 1);
                g_assert_cmpint(OSSL_CMP_CTX_set1_pkey(ctx, other_key), ==, 1);
                g_assert_cmpint(OSSL_CMP_CTX_set1_oldCert(ctx, self), ==, 1);
                bad = enrol(w, ctx, OSSL_CMP_KUR);
                g_assert_null(bad);
        }

        /* Two enrolments interleaved: node3's whole IR runs between node2's IR and its certConf. */
        X509_free(c1);
        EVP_PKEY_free(k1);
        k1 = NULL;
        w->nested = 1;
        c1 = enrol_ir(w, "node2." DOMAIN, SECRET, &k1);
        g_assert_cmpint(w->nested, ==, 0);
        assert_issued(w, c1, k1, "node2." DOMAIN);

        /* Not a CMP message. */
        g_assert_cmpint(cmp_server_handle(w->server, "hello", 5, &out, &size), ==, -EBADMSG);
        g_assert_null(out);
}

static OSSL_CMP_CTX *kur_client(World *w, const char *name, X509 *cert, EVP_PKEY *key, X509 *old) {
        OSSL_CMP_CTX *ctx = client(w, name, new_key());

        g_assert_cmpint(OSSL_CMP_CTX_set1_cert(ctx, cert), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_pkey(ctx, key), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_oldCert(ctx, old), ==, 1);
        return ctx;
}

/* A renewal is tied to the certificate that signs it; the secret protects only IR and CR. */
static void test_cmp_renewal(World *w, const void *data) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k2 = NULL, *k2b = NULL, *k3 = NULL;
        _cleanup_(X509_freep) X509 *c2 = NULL, *c2b = NULL, *c3 = NULL;
        OSSL_CMP_CTX *ctx;
        X509 *c;

        c2 = enrol_ir(w, "node2." DOMAIN, SECRET, &k2);
        c2b = enrol_ir(w, "node2." DOMAIN, SECRET, &k2b);
        c3 = enrol_ir(w, "node3." DOMAIN, SECRET, &k3);
        assert_issued(w, c3, k3, "node3." DOMAIN);

        /* node2's certificate asks for node3's name. */
        g_assert_null(enrol(w, kur_client(w, "node3." DOMAIN, c2, k2, c2), OSSL_CMP_KUR));
        /* oldCertID names another certificate than the signer (node2's other one). */
        g_assert_null(enrol(w, kur_client(w, "node2." DOMAIN, c2, k2, c2b), OSSL_CMP_KUR));
        /* ... or another server's. */
        g_assert_null(enrol(w, kur_client(w, "node2." DOMAIN, c2, k2, c3), OSSL_CMP_KUR));
        /* An IR or a CR signed with a certificate instead of the secret. */
        ctx = client(w, "node2." DOMAIN, new_key());
        g_assert_cmpint(OSSL_CMP_CTX_set1_cert(ctx, c2), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_pkey(ctx, k2), ==, 1);
        g_assert_null(enrol(w, ctx, OSSL_CMP_IR));
        ctx = client(w, "node2." DOMAIN, new_key());
        g_assert_cmpint(OSSL_CMP_CTX_set1_cert(ctx, c2), ==, 1);
        g_assert_cmpint(OSSL_CMP_CTX_set1_pkey(ctx, k2), ==, 1);
        g_assert_null(enrol(w, ctx, OSSL_CMP_CR));
        /* A KUR protected with the secret. */
        ctx = client(w, "node2." DOMAIN, new_key());
        with_secret(ctx, "node2", SECRET);
        g_assert_cmpint(OSSL_CMP_CTX_set1_oldCert(ctx, c2), ==, 1);
        g_assert_null(enrol(w, ctx, OSSL_CMP_KUR));
        /* A server the cluster no longer has. */
        w->no_renewals = true;
        g_assert_null(enrol(w, kur_client(w, "node2." DOMAIN, c2, k2, c2), OSSL_CMP_KUR));
        w->no_renewals = false;

        /* The same renewal as it should be: granted (so the refusals above are the checks'). */
        c = enrol(w, kur_client(w, "node2." DOMAIN, c2, k2, c2), OSSL_CMP_KUR);
        assert_issued(w, c, NULL, "node2." DOMAIN);
        X509_free(c);

        /* Someone who saw the transactionID sends a certConf of their own first: refused, and the
         * enrolment still completes. */
        w->forge_conf = true;
        c = enrol_ir(w, "node2." DOMAIN, SECRET, NULL);
        g_assert_false(w->forge_conf);
        assert_issued(w, c, NULL, "node2." DOMAIN);
        X509_free(c);

        /* The secret rotated: the file is read again. */
        g_assert_true(g_file_set_contents(w->secret_file, "rotated\n", -1, NULL));
        g_assert_null(enrol_ir(w, "node2." DOMAIN, SECRET, NULL));
        c = enrol_ir(w, "node2." DOMAIN, "rotated", NULL);
        assert_issued(w, c, NULL, "node2." DOMAIN);
        X509_free(c);
}

/* The name a template asks for (cmp-request.c): OpenSSL's client merges extensions, so these
 * templates are built by hand. */
TEST(template_name) {
        _cleanup_free_ char *name = NULL;

        for (int n_sans = 1; n_sans <= 2; n_sans++) {
                OSSL_CRMF_MSG *crm = OSSL_CRMF_MSG_new();
                X509_EXTENSIONS *exts = sk_X509_EXTENSION_new_null();
                GENERAL_NAMES *sans = GENERAL_NAMES_new();
                X509_NAME *subject = X509_NAME_new();

                g_assert_true(crm && exts && sans && subject);
                g_assert_cmpint(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)"node2." DOMAIN, -1, -1, 0),
                        ==, 1);
                g_assert_cmpint(OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(crm), NULL, subject,
                                        NULL, NULL),
                        ==, 1);
                g_assert_cmpint(sk_GENERAL_NAME_push(sans, dns_name("node2." DOMAIN)), ==, 1);
                for (int i = 0; i < n_sans; i++) {
                        X509_EXTENSION *e = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans);

                        g_assert_nonnull(e);
                        g_assert_cmpint(sk_X509_EXTENSION_push(exts, e), >, 0);
                }
                g_assert_cmpint(OSSL_CRMF_MSG_set0_extensions(crm, exts), ==, 1);
                /* One extension: the name; a second one (even the same): refused. */
                g_assert_cmpint(cmp_template_name(OSSL_CRMF_MSG_get0_tmpl(crm), DOMAIN, &name), ==,
                        n_sans == 1 ? 0 : -EINVAL);
                if (n_sans == 1)
                        g_assert_cmpstr(name, ==, "node2." DOMAIN);
                name = mfree(name);
                GENERAL_NAMES_free(sans);
                X509_NAME_free(subject);
                OSSL_CRMF_MSG_free(crm);
        }
}

/* --- the PBM iteration count a sender picks --- */

static OSSL_CMP_MSG *captured;

static OSSL_CMP_MSG *capture(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req) {
        captured = OSSL_CMP_MSG_dup(req);
        return NULL; /* no answer: the client gives up */
}

/* The content of the DER element at *p and its end; *p moves past it. */
static const unsigned char *der_enter(const unsigned char **p, long max, const unsigned char **ret_end,
        int *ret_tag, int *ret_class) {
        const unsigned char *q = *p;
        long len;

        g_assert_cmpint(ASN1_get_object(&q, &len, ret_tag, ret_class, max) & 0x80, ==, 0);
        *ret_end = q + len;
        *p = q + len;
        return q;
}

/* An IR whose PBM uses `iterations` (same salt and algorithms), protected correctly with
 * secret: what a sender that picks its own iteration count sends. OpenSSL 3.0's client has no
 * option for it, so the DER of one of its IRs (500 iterations) is edited and its MAC redone. */
static unsigned char *ir_with_iterations(World *w, unsigned iterations, const char *secret, int *ret_n) {
        static const unsigned char count500[] = {0x02, 0x02, 0x01, 0xf4};
        unsigned char *der = NULL, *hit, *mac = NULL, *prot = NULL;
        const unsigned char *p, *end, *hdr, *hdr_end, *body_end, *e, *e_end, *oid_end, *q;
        OSSL_CRMF_PBMPARAMETER *pbmp = NULL;
        OSSL_CMP_CTX *ctx;
        size_t mac_len = 0;
        int n, tag, xclass, plen;

        ctx = client(w, "node2." DOMAIN, new_key());
        with_secret(ctx, "node2", secret);
        g_assert_cmpint(OSSL_CMP_CTX_set_transfer_cb(ctx, capture), ==, 1);
        g_assert_null(OSSL_CMP_exec_certreq(ctx, OSSL_CMP_IR, NULL));
        ERR_clear_error();
        OSSL_CMP_CTX_free(ctx);
        g_assert_nonnull(captured);
        n = i2d_OSSL_CMP_MSG(captured, &der);
        OSSL_CMP_MSG_free(captured);
        captured = NULL;

        /* iterationCount 500 -> iterations (two content octets either way). */
        g_assert_cmpuint(iterations, >, 0x100);
        g_assert_cmpuint(iterations, <, 0x8000);
        hit = memmem(der, (size_t)n, count500, sizeof count500);
        g_assert_nonnull(hit);
        hit[2] = (unsigned char)(iterations >> 8);
        hit[3] = (unsigned char)iterations;

        /* PKIMessage { header, body, [0] protection BIT STRING, ... } */
        p = der;
        p = der_enter(&p, n, &end, &tag, &xclass);
        hdr = p;
        q = der_enter(&p, end - p, &hdr_end, &tag, &xclass);
        /* the header's protectionAlg [1] { OID, PBMParameter } */
        for (;;) {
                e = der_enter(&q, hdr_end - q, &e_end, &tag, &xclass);
                if (xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 1)
                        break;
        }
        e = der_enter(&e, e_end - e, &e_end, &tag, &xclass);     /* AlgorithmIdentifier */
        (void)der_enter(&e, e_end - e, &oid_end, &tag, &xclass); /* OID */
        pbmp = d2i_OSSL_CRMF_PBMPARAMETER(NULL, &e, e_end - e);
        g_assert_nonnull(pbmp);
        (void)der_enter(&p, end - p, &body_end, &tag, &xclass);

        /* ProtectedPart ::= SEQUENCE { header, body } */
        plen = ASN1_object_size(1, body_end - hdr, V_ASN1_SEQUENCE);
        prot = g_malloc(plen);
        q = prot;
        {
                unsigned char *o = prot;

                ASN1_put_object(&o, 1, body_end - hdr, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
                memcpy(o, hdr, body_end - hdr);
        }
        g_assert_cmpint(OSSL_CRMF_pbm_new(NULL, NULL, pbmp, prot, plen, (const unsigned char *)secret,
                                strlen(secret), &mac, &mac_len),
                ==, 1);
        e = der_enter(&p, end - p, &e_end, &tag, &xclass); /* [0] */
        g_assert_cmpint(tag, ==, 0);
        e = der_enter(&e, e_end - e, &e_end, &tag, &xclass); /* BIT STRING: unused bits, MAC */
        g_assert_cmpint(e_end - e, ==, (long)mac_len + 1);
        memcpy(der + (e + 1 - der), mac, mac_len);

        OPENSSL_free(mac);
        g_free(prot);
        OSSL_CRMF_PBMPARAMETER_free(pbmp);
        *ret_n = n;
        return der;
}

/* The body type of the response to der (1 = ip, 23 = error). */
static int answer_type(World *w, const unsigned char *der, int n) {
        const unsigned char *p;
        OSSL_CMP_MSG *rsp;
        void *out = NULL;
        size_t size = 0;
        int type;

        g_assert_cmpint(cmp_server_handle(w->server, der, (size_t)n, &out, &size), ==, 0);
        p = out;
        rsp = d2i_OSSL_CMP_MSG(NULL, &p, (long)size);
        OPENSSL_free(out);
        g_assert_nonnull(rsp);
        type = OSSL_CMP_MSG_get_bodytype(rsp);
        OSSL_CMP_MSG_free(rsp);
        return type;
}

static void test_cmp_pbm(World *w, const void *data) {
        unsigned char *der;
        int n;

        /* Edited the same way at a count the responder takes: answered with an ip (so the
         * editing is right)... */
        der = ir_with_iterations(w, 400, SECRET, &n);
        g_assert_cmpint(answer_type(w, der, n), ==, 1);
        OPENSSL_free(der);
        /* ...and above what peers send: refused before the MAC is computed. */
        der = ir_with_iterations(w, CMP_PBM_ITERATIONS_MAX + 1, SECRET, &n);
        g_assert_cmpint(answer_type(w, der, n), ==, 23);
        OPENSSL_free(der);
}

/* --- a peer's root: one self-signed CA certificate, pinned --- */

static char *read_text(const char *dir, const char *name) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return NULL;
        return text;
}

static void test_peer_root(World *w, const void *data) {
        _cleanup_free_ char *root_a = NULL, *root_b = NULL, *leaf = NULL, *e = NULL, *pem = NULL;
        _cleanup_(X509_freep) X509 *b_cert = NULL, *c2 = NULL;
        g_autofree char *both = NULL, *dir_b = NULL, *peer_dir = NULL, *pinned_dir = NULL, *text = NULL;
        char fp_b[SHA256_FINGERPRINT_SIZE];
        Issuer *ca_b = NULL, *peer = NULL, *pinned = NULL;

        g_assert_cmpint(issuer_get_trust_anchor(w->ca, &root_a), ==, 0);
        dir_b = g_build_filename(w->dir, "b", NULL);
        g_assert_cmpint(mkdir(dir_b, 0700), ==, 0);
        g_assert_cmpint(issuer_local_new(dir_b, KEY_TYPE_ECDSA_P256, &ca_b, NULL), ==, 0);
        g_assert_cmpint(issuer_get_trust_anchor(ca_b, &root_b), ==, 0);
        g_assert_cmpint(issuer_local_get_ca(ca_b, &b_cert), ==, 0);
        g_assert_cmpint(certificate_fingerprint(b_cert, fp_b), ==, 0);
        c2 = enrol_ir(w, "node2." DOMAIN, SECRET, NULL);
        g_assert_cmpint(pem_encode_certificates(c2, NULL, &leaf), ==, 0);
        both = g_strconcat(root_a, root_b, NULL);

        peer_dir = g_build_filename(w->dir, "peer", NULL);
        g_assert_cmpint(mkdir(peer_dir, 0700), ==, 0);
        g_assert_cmpint(issuer_cluster_new(peer_dir, "node1", NULL, "node2", w->secret_file, 5, &peer), ==,
                0);

        /* Not one self-signed CA certificate: refused, nothing written. */
        g_assert_cmpint(issuer_cluster_set_ca(peer, "http://10.0.0.1:8291/cmp", leaf, &e), ==, -EBADMSG);
        g_assert_nonnull(strstr(e, "not a CA certificate"));
        e = mfree(e);
        g_assert_cmpint(issuer_cluster_set_ca(peer, "http://10.0.0.1:8291/cmp", both, &e), ==, -EBADMSG);
        g_assert_nonnull(strstr(e, "2 certificates"));
        e = mfree(e);
        g_assert_null(read_text(peer_dir, "ca.pem"));

        /* The first root is taken and pinned... */
        g_assert_cmpint(issuer_cluster_set_ca(peer, "http://10.0.0.1:8291/cmp", root_a, NULL), ==, 1);
        g_assert_cmpint(issuer_cluster_set_ca(peer, "http://10.0.0.1:8291/cmp", root_a, NULL), ==, 0);
        text = read_text(peer_dir, "cluster-root.sha256");
        g_assert_nonnull(text);
        g_assert_cmpuint(strlen(text), ==, SHA256_FINGERPRINT_SIZE - 1);
        /* ...and another one, as whoever can write etcd would put there, refused: the root
         * verifiers get (ca.pem, `azshcictl ca export`) stays. */
        g_assert_cmpint(issuer_cluster_set_ca(peer, "http://10.6.6.6:8291/cmp", root_b, &e), ==, -EPERM);
        g_assert_nonnull(strstr(e, "is not the root this server trusts"));
        g_assert_nonnull(strstr(e, fp_b));
        e = mfree(e);
        g_free(text);
        text = read_text(peer_dir, "ca.pem");
        g_assert_cmpstr(text, ==, root_a);
        g_assert_cmpint(issuer_get_trust_anchor(peer, &pem), ==, 0);
        g_assert_cmpstr(pem, ==, root_a);

        /* cluster.caFingerprint pins the root from the start. */
        pinned_dir = g_build_filename(w->dir, "pinned", NULL);
        g_assert_cmpint(mkdir(pinned_dir, 0700), ==, 0);
        g_assert_cmpint(issuer_cluster_new(pinned_dir, "node1", fp_b, "node2", w->secret_file, 5, &pinned),
                ==, 0);
        g_assert_cmpint(issuer_cluster_set_ca(pinned, "http://10.0.0.1:8291/cmp", root_a, &e), ==, -EPERM);
        g_assert_nonnull(strstr(e, "cluster.caFingerprint"));
        g_assert_cmpint(issuer_cluster_set_ca(pinned, "http://10.0.0.1:8291/cmp", root_b, NULL), ==, 1);

        issuer_free(pinned);
        issuer_free(peer);
        issuer_free(ca_b);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        test_add_cases("/cluster-ca/listen", listen_cases, in, test_listen_case);
        test_add_cases("/cluster-ca/config", config_cases, name, test_config_case);
        test_add_registered();
        g_test_add("/cluster-ca/cmp", World, NULL, world_setup, test_cmp, world_teardown);
        g_test_add("/cluster-ca/cmp-renewal", World, NULL, world_setup, test_cmp_renewal, world_teardown);
        g_test_add("/cluster-ca/cmp-pbm", World, NULL, world_setup, test_cmp_pbm, world_teardown);
        g_test_add("/cluster-ca/peer-root", World, NULL, world_setup, test_peer_root, world_teardown);
        return g_test_run();
}
