/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The CMP issuer against peers: the in-tree test CA (tests/cmp/test-cmp-ca.c, OpenSSL's
 * OSSL_CMP_SRV_CTX) and the `openssl cmp` command-line mock server; and `openssl cmp` as a client
 * against the test CA, to show that the test CA speaks standard CMP.
 *
 * Environment: CMP_TEST_CA = path of test-cmp-ca; OPENSSL = the openssl binary (default
 * "openssl" from PATH). Readiness is polled with a deadline, never slept for. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <glib.h>

#include "issuer.h"
#include "test-util.h"
#include "x509-util.h"

#define READY_TIMEOUT_USEC (10 * G_USEC_PER_SEC)
#define REFERENCE          "host1"
#define SECRET             "s3cret"
#define HOST               "host1.metadata.azshci.local"

typedef struct Peer {
        GPid pid;
        unsigned port;
        char *ca_pem; /* the test CA's certificate, when it is the test CA */
} Peer;

/* A test's directory and its one enrolment: the key to certify, the test CA (start_ca()), the
 * client's configuration for it and what the enrolment returned, all released by
 * fixture_teardown(). */
typedef struct Fixture {
        char *dir;
        EVP_PKEY *key;
        Peer ca;
        CmpConfig config;
        X509 *cert;
        STACK_OF(X509) * chain;
        char *error;
} Fixture;

static char *path_in(Fixture *f, const char *name) {
        return g_build_filename(f->dir, name, NULL);
}

static const char *openssl_bin(void) {
        return g_getenv("OPENSSL") ?: "openssl";
}

static void peer_stop(Peer *p) {
        int status;

        if (p->pid > 0) {
                g_assert_cmpint(kill(p->pid, SIGTERM), ==, 0);
                g_assert_cmpint(waitpid(p->pid, &status, 0), ==, p->pid);
                p->pid = 0;
        }
        g_clear_pointer(&p->ca_pem, g_free);
}

/* A peer must not outlive a test that aborts half-way. */
static void die_with_parent(gpointer data) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static GPid spawn(char **argv) {
        g_autoptr(GError) error = NULL;
        GPid pid;

        g_spawn_async(NULL, argv, NULL,
                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                die_with_parent, NULL, &pid, &error);
        g_assert_no_error(error);
        return pid;
}

static void assert_alive(GPid pid) {
        int status;
        g_assert_cmpint(waitpid(pid, &status, WNOHANG), ==, 0);
}

/* Starts the test CA with extra arguments (NULL-terminated) and waits for its port file. */
static void start_test_ca_va(Fixture *f, const char *name, Peer *ret, va_list ap) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *port_file = NULL, *port_name = g_strdup_printf("%s-port", name),
                        *ca_name = g_strdup_printf("%s-ca.pem", name);
        const char *ca = g_getenv("CMP_TEST_CA");
        gint64 deadline;

        g_assert_nonnull(ca);
        port_file = path_in(f, port_name);
        *ret = (Peer){.ca_pem = path_in(f, ca_name)};

        g_ptr_array_add(argv, g_strdup(ca));
        g_ptr_array_add(argv, g_strdup("--port-file"));
        g_ptr_array_add(argv, g_strdup(port_file));
        g_ptr_array_add(argv, g_strdup("--ca-cert-out"));
        g_ptr_array_add(argv, g_strdup(ret->ca_pem));
        g_ptr_array_add(argv, g_strdup("--ref"));
        g_ptr_array_add(argv, g_strdup(REFERENCE));
        g_ptr_array_add(argv, g_strdup("--secret"));
        g_ptr_array_add(argv, g_strdup(SECRET));
        for (const char *a; (a = va_arg(ap, const char *));)
                g_ptr_array_add(argv, g_strdup(a));
        g_ptr_array_add(argv, NULL);

        ret->pid = spawn((char **)argv->pdata);

        deadline = g_get_monotonic_time() + READY_TIMEOUT_USEC;
        for (;;) {
                g_autofree char *data = NULL;

                if (g_file_get_contents(port_file, &data, NULL, NULL)) {
                        ret->port = (unsigned)atoi(data);
                        break;
                }
                assert_alive(ret->pid);
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_usleep(10 * 1000);
        }
        g_assert_cmpuint(ret->port, >, 0);
}

static void start_test_ca(Fixture *f, const char *name, Peer *ret, ...) {
        va_list ap;

        va_start(ap, ret);
        start_test_ca_va(f, name, ret, ap);
        va_end(ap);
}

static void wait_for_port(GPid pid, unsigned port) {
        gint64 deadline = g_get_monotonic_time() + READY_TIMEOUT_USEC;

        for (;;) {
                struct sockaddr_in sa = {.sin_family = AF_INET,
                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                        .sin_port = htons((uint16_t)port)};
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

                g_assert_cmpint(fd, >=, 0);
                r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
                close(fd);
                if (r == 0)
                        return;
                assert_alive(pid);
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_usleep(10 * 1000);
        }
}

static void run_ok(const char *const *argv) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL, *err = NULL;
        int status;

        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_printerr("%s failed:\n%s%s", argv[0], out, err);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
}

static EVP_PKEY *new_key(void) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        g_assert_nonnull(k);
        return k;
}

/* The first certificate of a PEM file (x509-util's reader). */
static X509 *read_cert(const char *path) {
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;

        g_assert_cmpint(pem_read_certificates_file(path, &certs, NULL), ==, 0);
        g_assert_cmpint(sk_X509_num(certs), >, 0);
        return sk_X509_shift(certs);
}

static EVP_PKEY *read_key(const char *path) {
        g_autofree char *pem = NULL;
        EVP_PKEY *k = NULL;
        gsize size;

        g_assert_true(g_file_get_contents(path, &pem, &size, NULL));
        g_assert_cmpint(pem_decode_private_key(pem, size, &k), ==, 0);
        return k;
}

static CmpConfig config_for(unsigned port, const char *ca_pem) {
        return (CmpConfig){
                .server = g_strdup_printf("http://127.0.0.1:%u/pkix/", port),
                .trust_anchor = g_strdup(ca_pem),
                .reference = g_strdup(REFERENCE),
                .secret = g_strdup(SECRET),
                .timeout_sec = 10,
        };
}

static void config_clear(CmpConfig *c) {
        g_free(c->server);
        g_free(c->trust_anchor);
        g_free(c->reference);
        g_free(c->secret);
        g_free(c->secret_file);
        g_free(c->tls_trust);
        g_free(c->subject);
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        f->dir = test_make_tmpdir("test-cmp-XXXXXX");
        f->key = new_key();
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        config_clear(&f->config);
        peer_stop(&f->ca);
        EVP_PKEY_free(f->key);
        X509_free(f->cert);
        x509_stack_free(f->chain);
        free(f->error);
        test_rm_rf(f->dir);
        g_free(f->dir);
}

/* issuer_cmp_new() + issuer_enroll(); returns the enrol result, the certificate in *ret_cert. */
static int enroll(const CmpConfig *config, EVP_PKEY *key, EVP_PKEY *current_key, X509 *current_cert,
        X509 **ret_cert, STACK_OF(X509) * *ret_chain, char **ret_error) {
        _cleanup_(issuer_freep) Issuer *issuer = NULL;
        _cleanup_free_ char *error = NULL;
        IssuerRequest req = {
                .key = key,
                .subject_cn = HOST,
                .san_dns = HOST,
                .validity_days = 30,
                .current_key = current_key,
                .current_cert = current_cert,
        };
        int r;

        if (ret_error)
                *ret_error = mfree(*ret_error);
        r = issuer_cmp_new(config, &issuer, &error);
        if (r < 0)
                g_printerr("issuer_cmp_new: %s\n", error);
        g_assert_cmpint(r, ==, 0);

        *ret_cert = NULL;
        r = issuer_enroll(issuer, &req, ret_cert, ret_chain, ret_error);
        if (r < 0)
                g_test_message("enrol failed (%d): %s", r, ret_error ? strna(*ret_error) : "");
        else
                g_assert_nonnull(*ret_cert);
        return r;
}

static char *cert_san_dns(X509 *cert) {
        _cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *names =
                X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
                GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);
                if (n->type == GEN_DNS)
                        return g_strndup((const char *)ASN1_STRING_get0_data(n->d.dNSName),
                                ASN1_STRING_length(n->d.dNSName));
        }
        return NULL;
}

static void assert_issued(X509 *cert, STACK_OF(X509) * chain, EVP_PKEY *key, const char *ca_pem) {
        _cleanup_(X509_freep) X509 *ca = read_cert(ca_pem);
        _cleanup_free_ char *error = NULL;
        g_autofree char *cn = NULL, *san = NULL;
        char buf[256];

        g_assert_true(certificate_matches_key(cert, key));
        g_assert_cmpint(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
                                sizeof buf),
                >, 0);
        g_assert_cmpstr(buf, ==, HOST);
        san = cert_san_dns(cert);
        g_assert_cmpstr(san, ==, HOST);
        g_assert_cmpint(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca)), ==, 0);
        g_assert_cmpint(X509_verify(cert, X509_get0_pubkey(ca)), ==, 1);
        /* The chain the CA sent (extraCerts/caPubs): exactly the CA certificate. */
        g_assert_cmpint(sk_X509_num(chain), ==, 1);
        g_assert_cmpint(X509_cmp(sk_X509_value(chain, 0), ca), ==, 0);
        /* And the service's acceptance check is happy with it (30 days, max 30). */
        g_assert_cmpint(certificate_check_acceptable(cert, key, 30, time(NULL), &error), ==, 0);
}

/* Starts the test CA as f->ca with extra arguments (NULL-terminated) and configures the client
 * for it (f->config). */
static void start_ca(Fixture *f, ...) {
        va_list ap;

        va_start(ap, f);
        start_test_ca_va(f, "ca", &f->ca, ap);
        va_end(ap);
        f->config = config_for(f->ca.port, f->ca.ca_pem);
}

/* An initial request for f->key with f->config, no chain wanted. */
static int enroll_ir(Fixture *f) {
        return enroll(&f->config, f->key, NULL, NULL, &f->cert, NULL, &f->error);
}

/* An initial request that must succeed, with a certificate of the test CA for f->key. */
static void assert_enrols(Fixture *f) {
        g_assert_cmpint(enroll(&f->config, f->key, NULL, NULL, &f->cert, &f->chain, &f->error), ==, 0);
        assert_issued(f->cert, f->chain, f->key, f->ca.ca_pem);
}

static void set_string(char **p, const char *s) {
        g_free(*p);
        *p = g_strdup(s);
}

/* f->error is exactly the formatted text (prefix: starts with it). */
G_GNUC_PRINTF(3, 4) static void assert_error(Fixture *f, bool prefix, const char *format, ...) {
        g_autofree char *expected = NULL;
        va_list ap;

        va_start(ap, format);
        expected = g_strdup_vprintf(format, ap);
        va_end(ap);
        if (prefix)
                g_assert_true(g_str_has_prefix(f->error, expected));
        else
                g_assert_cmpstr(f->error, ==, expected);
}

/* --- against the in-tree test CA --- */

static void test_ir(Fixture *f, gconstpointer data) {
        start_ca(f, NULL);
        assert_enrols(f);
}

static void test_ir_secret_file(Fixture *f, gconstpointer data) {
        g_autofree char *secret_file = path_in(f, "secret");

        g_assert_true(g_file_set_contents(secret_file, SECRET "\n", -1, NULL));
        start_ca(f, NULL);
        g_clear_pointer(&f->config.secret, g_free);
        f->config.secret_file = g_strdup(secret_file);
        assert_enrols(f);
}

static void test_kur(Fixture *f, gconstpointer data) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key1 = new_key();
        _cleanup_(X509_freep) X509 *cert1 = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain1 = NULL;

        start_ca(f, NULL);
        g_assert_cmpint(enroll(&f->config, key1, NULL, NULL, &cert1, &chain1, &f->error), ==, 0);

        /* A wrong secret for the renewal: it must succeed by KUR alone, signed with cert1. */
        set_string(&f->config.secret, "not-the-secret");
        g_assert_cmpint(enroll(&f->config, f->key, key1, cert1, &f->cert, &f->chain, &f->error), ==, 0);
        assert_issued(f->cert, f->chain, f->key, f->ca.ca_pem);
        g_assert_cmpint(ASN1_INTEGER_cmp(X509_get0_serialNumber(cert1), X509_get0_serialNumber(f->cert)), !=,
                0);
        g_assert_false(certificate_matches_key(f->cert, key1));
}

static void test_kur_fallback_to_ir(Fixture *f, gconstpointer data) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key1 = new_key();
        _cleanup_(X509_freep) X509 *foreign = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain1 = NULL;
        Peer other;

        /* The current certificate comes from another CA: the KUR is refused, the IR with the
         * shared secret recovers. */
        start_test_ca(f, "other", &other, NULL);
        start_ca(f, NULL);
        CmpConfig oc = config_for(other.port, other.ca_pem);
        g_assert_cmpint(enroll(&oc, key1, NULL, NULL, &foreign, &chain1, &f->error), ==, 0);

        g_assert_cmpint(enroll(&f->config, f->key, key1, foreign, &f->cert, &f->chain, &f->error), ==, 0);
        assert_issued(f->cert, f->chain, f->key, f->ca.ca_pem);

        /* Without the right secret both fail, and the error says so. */
        X509_free(TAKE_PTR(f->cert));
        set_string(&f->config.secret, "not-the-secret");
        g_assert_cmpint(enroll(&f->config, f->key, key1, foreign, &f->cert, NULL, &f->error), ==, -EACCES);
        g_assert_null(f->cert);
        assert_error(f, true, "%s",
                "CMP server rejected the request: wrong shared secret or reference (MAC check failed) "
                "(server says: MAC-based protection check failed: wrong shared secret or reference) "
                "(after the key update was refused: CMP server rejected the request: ");

        config_clear(&oc);
        peer_stop(&other);
}

static void test_wrong_secret(Fixture *f, gconstpointer data) {
        start_ca(f, NULL);
        set_string(&f->config.secret, "wrong");

        g_assert_cmpint(enroll_ir(f), ==, -EACCES);
        g_assert_null(f->cert);
        assert_error(f, false, "%s",
                "CMP server rejected the request: wrong shared secret or reference (MAC check failed) "
                "(server says: MAC-based protection check failed: wrong shared secret or reference)");
}

static void test_wrong_reference(Fixture *f, gconstpointer data) {
        start_ca(f, NULL);
        set_string(&f->config.reference, "host2");

        g_assert_cmpint(enroll_ir(f), ==, -EACCES);
        assert_error(f, true, "CMP server rejected the request: wrong shared secret or reference");
}

static void test_server_down(Fixture *f, gconstpointer data) {
        g_autofree char *anchor = NULL;
        unsigned port = test_free_port();
        Peer ca;

        /* Any readable trust anchor will do: nothing answers. */
        start_test_ca(f, "ca", &ca, NULL);
        anchor = g_strdup(ca.ca_pem);
        peer_stop(&ca);

        f->config = config_for(port, anchor);
        g_assert_cmpint(enroll_ir(f), ==, -ECONNREFUSED);
        assert_error(f, false, "CMP server http://127.0.0.1:%u/pkix/ unreachable: Connection refused", port);
}

static void test_wrong_key(Fixture *f, gconstpointer data) {
        start_ca(f, "--wrong-key", NULL);

        /* The client itself refuses it (negative certConf to the CA), before the service's
         * certificate_check_acceptable() would. */
        g_assert_cmpint(enroll_ir(f), ==, -EBADMSG);
        g_assert_null(f->cert);
        assert_error(f, false,
                "CMP server %s returned an unacceptable certificate: it is for a different public key "
                "than the one requested",
                f->config.server);
}

static void test_expired(Fixture *f, gconstpointer data) {
        start_ca(f, "--expired", NULL);

        g_assert_cmpint(enroll_ir(f), ==, -EBADMSG);
        g_assert_null(f->cert);
        assert_error(f, false, "CMP server %s returned an unacceptable certificate: it has already expired",
                f->config.server);
}

static void test_over_long(Fixture *f, gconstpointer data) {
        _cleanup_free_ char *check_error = NULL;

        /* CMP itself has no limit: the issuer returns it, the service's check refuses it. */
        start_ca(f, "--days", "400", NULL);

        g_assert_cmpint(enroll(&f->config, f->key, NULL, NULL, &f->cert, &f->chain, &f->error), ==, 0);
        g_assert_true(certificate_matches_key(f->cert, f->key));
        g_assert_cmpint(certificate_check_acceptable(f->cert, f->key, 30, time(NULL), &check_error), ==,
                -ERANGE);
        g_assert_true(g_str_has_prefix(check_error, "certificate is valid longer than the allowed 30 days"));
        g_assert_cmpint(certificate_check_acceptable(f->cert, f->key, 400, time(NULL), NULL), ==, 0);
}

static void test_timeout(Fixture *f, gconstpointer data) {
        gint64 start, elapsed;

        start_ca(f, "--delay", "30", NULL);
        f->config.timeout_sec = 2;

        start = g_get_monotonic_time();
        g_assert_cmpint(enroll_ir(f), ==, -ETIMEDOUT);
        elapsed = g_get_monotonic_time() - start;
        g_assert_cmpint(elapsed, >=, 1 * G_USEC_PER_SEC);
        g_assert_cmpint(elapsed, <, 4 * G_USEC_PER_SEC);
        assert_error(f, false, "CMP server %s did not answer within 2 s (timed out)", f->config.server);
}

static void test_untrusted_response(Fixture *f, gconstpointer data) {
        Peer other;

        /* The trust anchor is another CA: the signed response must not be accepted. */
        start_ca(f, NULL);
        start_test_ca(f, "other", &other, NULL);
        set_string(&f->config.trust_anchor, other.ca_pem);

        g_assert_cmpint(enroll_ir(f), ==, -EBADMSG);
        g_assert_null(f->cert);
        assert_error(f, true, "CMP response from %s could not be authenticated (check issuer.trustAnchor): ",
                f->config.server);

        peer_stop(&other);
}

static void make_tls_cert(Fixture *f, const char *cert, const char *key, const char *san) {
        g_autofree char *ext = g_strdup_printf("subjectAltName=%s", san);
        const char *argv[] = {openssl_bin(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=cmp-tls",
                "-days", "2", "-addext", ext, NULL};
        run_ok(argv);
}

static void test_https(Fixture *f, gconstpointer data) {
        g_autofree char *tls_cert = path_in(f, "tls.pem"), *tls_key = path_in(f, "tls.key"),
                        *bad_cert = path_in(f, "bad.pem"), *bad_key = path_in(f, "bad.key");

        make_tls_cert(f, tls_cert, tls_key, "IP:127.0.0.1");
        make_tls_cert(f, bad_cert, bad_key, "DNS:elsewhere.example");
        start_ca(f, "--tls-cert", tls_cert, "--tls-key", tls_key, NULL);
        g_free(f->config.server);
        f->config.server = g_strdup_printf("https://127.0.0.1:%u/pkix/", f->ca.port);
        f->config.tls_trust = g_strdup(tls_cert);
        assert_enrols(f);

        /* TLS verification really happens: an unknown server certificate is refused. */
        X509_free(TAKE_PTR(f->cert));
        set_string(&f->config.tls_trust, bad_cert);
        g_assert_cmpint(enroll_ir(f), ==, -EPROTO);
        g_assert_null(f->cert);
        assert_error(f, false, "TLS handshake with CMP server %s failed: certificate verify failed",
                f->config.server);
}

/* --- `openssl cmp` as a client of the test CA --- */

static void test_openssl_client(Fixture *f, gconstpointer data) {
        g_autofree char *key = path_in(f, "key.pem"), *out = path_in(f, "out.pem"), *server = NULL,
                        *kur_out = path_in(f, "kur.pem");
        _cleanup_(X509_freep) X509 *cert = NULL, *ca_cert = NULL, *renewed = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        Peer ca;

        start_test_ca(f, "ca", &ca, NULL);
        server = g_strdup_printf("127.0.0.1:%u", ca.port);

        const char *genkey[] = {openssl_bin(), "genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", key, NULL};
        run_ok(genkey);

        const char *ir[] = {openssl_bin(), "cmp", "-cmd", "ir", "-server", server, "-path", "pkix/", "-ref",
                REFERENCE, "-secret", "pass:" SECRET, "-newkey", key, "-subject", "/CN=" HOST, "-trusted",
                ca.ca_pem, "-certout", out, NULL};
        run_ok(ir);

        cert = read_cert(out);
        ca_cert = read_cert(ca.ca_pem);
        pkey = read_key(key);
        g_assert_true(certificate_matches_key(cert, pkey));
        g_assert_cmpint(X509_verify(cert, X509_get0_pubkey(ca_cert)), ==, 1);

        /* KUR from openssl cmp too, signed with the certificate just obtained. */
        const char *kur[] = {openssl_bin(), "cmp", "-cmd", "kur", "-server", server, "-path", "pkix/",
                "-cert", out, "-key", key, "-newkey", key, "-trusted", ca.ca_pem, "-certout", kur_out, NULL};
        run_ok(kur);
        renewed = read_cert(kur_out);
        g_assert_cmpint(ASN1_INTEGER_cmp(X509_get0_serialNumber(cert), X509_get0_serialNumber(renewed)), !=,
                0);
        g_assert_cmpint(X509_verify(renewed, X509_get0_pubkey(ca_cert)), ==, 1);

        /* And a wrong secret fails for openssl cmp as well. */
        {
                g_autoptr(GError) error = NULL;
                g_autofree char *sout = NULL, *serr = NULL;
                int status;
                const char *bad[] = {openssl_bin(), "cmp", "-cmd", "ir", "-server", server, "-path", "pkix/",
                        "-ref", REFERENCE, "-secret", "pass:wrong", "-newkey", key, "-subject", "/CN=" HOST,
                        "-trusted", ca.ca_pem, "-certout", out, NULL};

                g_spawn_sync(NULL, (char **)bad, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &sout, &serr,
                        &status, &error);
                g_assert_no_error(error);
                g_assert_false(g_spawn_check_wait_status(status, NULL));
                g_assert_true(strstr(serr, "badMessageCheck") || strstr(sout, "badMessageCheck"));
        }

        peer_stop(&ca);
}

/* --- our client against the `openssl cmp` mock server --- */

static void test_openssl_mock_server(Fixture *f, gconstpointer data) {
        g_autofree char *ca_key = path_in(f, "mock-ca.key"), *ca_pem = path_in(f, "mock-ca.pem"),
                        *key_pem = path_in(f, "host.key"), *csr = path_in(f, "host.csr"),
                        *cert_pem = path_in(f, "host.pem"), *port = NULL;
        _cleanup_(X509_freep) X509 *fixed = NULL, *ca_cert = NULL;
        Peer mock = {};

        /* Pre-provision the key and the fixed certificate the mock server hands out. */
        const char *mkca[] = {openssl_bin(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca_pem, "-subj",
                "/CN=Mock CMP CA", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", NULL};
        run_ok(mkca);
        const char *mkkey[] = {openssl_bin(), "genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", key_pem, NULL};
        run_ok(mkkey);
        const char *mkcsr[] = {openssl_bin(), "req", "-new", "-key", key_pem, "-subj", "/CN=" HOST, "-out",
                csr, NULL};
        run_ok(mkcsr);
        const char *sign[] = {openssl_bin(), "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                "-set_serial", "4242", "-days", "30", "-out", cert_pem, NULL};
        run_ok(sign);

        mock.port = test_free_port();
        port = g_strdup_printf("%u", mock.port);
        const char *srv[] = {openssl_bin(), "cmp", "-port", port, "-srv_ref", "mock-ref", "-srv_secret",
                "pass:mock-secret", "-rsp_cert", cert_pem, "-rsp_capubs", ca_pem, NULL};
        mock.pid = spawn((char **)srv);
        wait_for_port(mock.pid, mock.port);

        EVP_PKEY_free(f->key);
        f->key = read_key(key_pem);
        fixed = read_cert(cert_pem);
        ca_cert = read_cert(ca_pem);
        f->config = config_for(mock.port, ca_pem);
        set_string(&f->config.reference, "mock-ref");
        set_string(&f->config.secret, "mock-secret");

        g_assert_cmpint(enroll(&f->config, f->key, NULL, NULL, &f->cert, &f->chain, &f->error), ==, 0);
        g_assert_cmpint(X509_cmp(f->cert, fixed), ==, 0);
        g_assert_cmpint(sk_X509_num(f->chain), ==, 1);
        g_assert_cmpint(X509_cmp(sk_X509_value(f->chain, 0), ca_cert), ==, 0);

        /* A wrong secret: the mock's MAC-protected error does not verify with ours. */
        X509_free(TAKE_PTR(f->cert));
        set_string(&f->config.secret, "wrong");
        g_assert_cmpint(enroll_ir(f), ==, -EACCES);
        g_assert_cmpstr(f->error, ==,
                "CMP server rejected the request: wrong shared secret or reference (MAC check failed)");

        peer_stop(&mock);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/cmp/ir", test_ir);
        ADD("/cmp/ir-secret-file", test_ir_secret_file);
        ADD("/cmp/kur", test_kur);
        ADD("/cmp/kur-fallback-to-ir", test_kur_fallback_to_ir);
        ADD("/cmp/wrong-secret", test_wrong_secret);
        ADD("/cmp/wrong-reference", test_wrong_reference);
        ADD("/cmp/server-down", test_server_down);
        ADD("/cmp/wrong-key", test_wrong_key);
        ADD("/cmp/expired", test_expired);
        ADD("/cmp/over-long", test_over_long);
        ADD("/cmp/timeout", test_timeout);
        ADD("/cmp/untrusted-response", test_untrusted_response);
        ADD("/cmp/https", test_https);
        ADD("/cmp/openssl-client", test_openssl_client);
        ADD("/cmp/openssl-mock-server", test_openssl_mock_server);
        return g_test_run();
}
