/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The file keystore (modes, atomic replace with the previous pair kept, import of a
 * pre-provisioned key), the embedded CA and the certificate acceptance check. */

#define TEST_PREFIX "/keystore"

#include <glib.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "issuer.h"
#include "keystore.h"
#include "test-util.h"
#include "x509-util.h"

static char *make_tmpdir(void) {
        return test_make_tmpdir("azshci-test-keystore-XXXXXX");
}

static mode_t file_mode(const char *path) {
        struct stat st;
        g_assert_cmpint(stat(path, &st), ==, 0);
        return st.st_mode & 07777;
}

static Issuer *new_issuer(const char *dir, KeyType type) {
        _cleanup_free_ char *error = NULL;
        Issuer *issuer = NULL;

        g_assert_cmpint(issuer_local_new(dir, type, &issuer, &error), ==, 0);
        g_assert_null(error);
        return issuer;
}

static void enroll(Issuer *issuer, EVP_PKEY *key, const char *cn, unsigned days, X509 **ret_cert,
        STACK_OF(X509) * *ret_chain) {
        _cleanup_free_ char *error = NULL;
        IssuerRequest req = {.key = key, .subject_cn = cn, .san_dns = cn, .validity_days = days};

        g_assert_cmpint(issuer_enroll(issuer, &req, ret_cert, ret_chain, &error), ==, 0);
        g_assert_null(error);
}

static SigningIdentity *new_identity(Issuer *issuer, KeyType type, const char *cn) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        SigningIdentity *id = NULL;

        g_assert_cmpint(generate_key_pair(type, &key), ==, 0);
        enroll(issuer, key, cn, 30, &cert, &chain);
        g_assert_cmpint(signing_identity_new(key, cert, chain, &id), ==, 0);
        return id;
}

static void assert_same_identity(const SigningIdentity *a, const SigningIdentity *b) {
        g_assert_cmpint(EVP_PKEY_eq(a->key, b->key), ==, 1);
        g_assert_cmpint(X509_cmp(a->cert, b->cert), ==, 0);
        g_assert_cmpint(sk_X509_num(a->chain), ==, sk_X509_num(b->chain));
        g_assert_cmpuint(a->not_after, ==, b->not_after);
}

TEST(store_load) {
        g_autofree char *dir = make_tmpdir(), *ks_dir = g_strdup_printf("%s/keys", dir);
        g_autofree char *cur = g_strdup_printf("%s/identity.pem", ks_dir);
        g_autofree char *old = g_strdup_printf("%s/identity.pem.old", ks_dir);
        _cleanup_(keystore_freep) Keystore *ks = NULL;
        _cleanup_(issuer_freep) Issuer *issuer = new_issuer(dir, KEY_TYPE_ECDSA_P256);
        SigningIdentity *a, *b, *loaded = NULL;
        _cleanup_free_ char *data = NULL;

        g_assert_cmpint(keystore_file_open(ks_dir, &ks), ==, 0);
        g_assert_cmpuint(file_mode(ks_dir), ==, 0700);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, -ENOENT);

        a = new_identity(issuer, KEY_TYPE_RSA_2048, "a.metadata.azshci.local");
        b = new_identity(issuer, KEY_TYPE_ECDSA_P256, "b.metadata.azshci.local");

        g_assert_cmpint(keystore_store(ks, a), ==, 0);
        g_assert_cmpuint(file_mode(cur), ==, 0600);
        g_assert_cmpint(access(old, F_OK), <, 0);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        assert_same_identity(a, loaded);
        g_assert_cmpint(EVP_PKEY_get_base_id(loaded->key), ==, EVP_PKEY_RSA);
        loaded = signing_identity_unref(loaded);

        /* one file: key, certificate, chain (the root) */
        g_assert_cmpint(read_full_file(cur, 1 << 20, &data, NULL), ==, 0);
        g_assert_true(g_str_has_prefix(data, "-----BEGIN PRIVATE KEY-----\n"));
        g_assert_cmpint(g_strstr_len(data, -1, "BEGIN CERTIFICATE") != NULL, ==, 1);

        /* renewal: the new pair is current, the previous one kept beside it */
        g_assert_cmpint(keystore_store(ks, b), ==, 0);
        g_assert_cmpuint(file_mode(cur), ==, 0600);
        g_assert_cmpuint(file_mode(old), ==, 0600);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        assert_same_identity(b, loaded);
        loaded = signing_identity_unref(loaded);

        /* an unreadable current file (never written by us: it is replaced by rename) falls
         * back to the previous pair */
        g_assert_cmpint(write_file_atomic(cur, "garbage", 7, 0600), ==, 0);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        assert_same_identity(a, loaded);
        loaded = signing_identity_unref(loaded);

        /* a renewal after that fallback keeps the good previous pair, not the broken file */
        g_assert_cmpint(keystore_store(ks, b), ==, 0);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        assert_same_identity(b, loaded);
        loaded = signing_identity_unref(loaded);
        g_assert_cmpint(rename(old, cur), ==, 0);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        assert_same_identity(a, loaded);
        loaded = signing_identity_unref(loaded);
        g_assert_cmpint(keystore_store(ks, b), ==, 0);

        /* a leftover temporary file of an interrupted write does not matter, and the next
         * open removes it and the backup's temporary link */
        g_autofree char *stale = g_strdup_printf("%s/identity.pem.tmp-Ab12Cd", ks_dir);
        g_autofree char *stale_link = g_strdup_printf("%s/identity.pem.old.new", ks_dir);
        g_autofree char *not_ours = g_strdup_printf("%s/identity.pem.Ab12Cd3", ks_dir);
        g_assert_cmpint(write_file_atomic(stale, "-----BEGIN", 10, 0600), ==, 0);
        g_assert_cmpint(link(cur, stale_link), ==, 0);
        g_assert_cmpint(write_file_atomic(not_ours, "x", 1, 0600), ==, 0);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        assert_same_identity(b, loaded);
        loaded = signing_identity_unref(loaded);
        ks = keystore_free(ks);
        g_assert_cmpint(keystore_file_open(ks_dir, &ks), ==, 0);
        g_assert_cmpint(access(stale, F_OK), <, 0);
        g_assert_cmpint(access(stale_link, F_OK), <, 0);
        g_assert_cmpint(access(not_ours, F_OK), ==, 0);
        g_assert_cmpint(unlink(not_ours), ==, 0);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        assert_same_identity(b, loaded);
        loaded = signing_identity_unref(loaded);

        /* a file that became group/world readable is tightened on load */
        g_assert_cmpint(chmod(cur, 0644), ==, 0);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        g_assert_cmpuint(file_mode(cur), ==, 0600);
        loaded = signing_identity_unref(loaded);

        /* the reference count keeps a replaced identity alive for its users */
        g_assert_true(signing_identity_ref(a) == a);
        g_assert_null(signing_identity_unref(a));
        g_assert_cmpuint(a->n_ref, ==, 1);
        signing_identity_unref(a);
        signing_identity_unref(b);
        g_assert_null(signing_identity_unref(NULL));

        test_rm_rf(dir);
}

/* The fallback to the previous pair is logged (stderr of a subprocess). */
TEST(fallback_logged) {
        if (g_test_subprocess()) {
                g_autofree char *dir = make_tmpdir(), *ks_dir = g_strdup_printf("%s/keys", dir);
                g_autofree char *cur = g_strdup_printf("%s/identity.pem", ks_dir);
                _cleanup_(keystore_freep) Keystore *ks = NULL;
                _cleanup_(issuer_freep) Issuer *issuer = new_issuer(dir, KEY_TYPE_ECDSA_P256);
                SigningIdentity *a, *b, *loaded = NULL;

                g_assert_cmpint(keystore_file_open(ks_dir, &ks), ==, 0);
                a = new_identity(issuer, KEY_TYPE_ECDSA_P256, "a.metadata.azshci.local");
                b = new_identity(issuer, KEY_TYPE_ECDSA_P256, "b.metadata.azshci.local");
                g_assert_cmpint(keystore_store(ks, a), ==, 0);
                g_assert_cmpint(keystore_store(ks, b), ==, 0);
                g_assert_cmpint(keystore_load(ks, &loaded), ==, 0); /* no fallback: silent */
                loaded = signing_identity_unref(loaded);
                fputs("--- fallback\n", stderr);
                g_assert_cmpint(write_file_atomic(cur, "garbage", 7, 0600), ==, 0);
                g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
                assert_same_identity(a, loaded);
                signing_identity_unref(loaded);
                fputs("--- renewal\n", stderr);
                g_assert_cmpint(keystore_store(ks, b), ==, 0);
                signing_identity_unref(a);
                signing_identity_unref(b);
                test_rm_rf(dir);
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("--- fallback\n"
                                  "Cannot use */keys/identity.pem (Bad message); using the previous key and "
                                  "certificate from */keys/identity.pem.old.\n"
                                  "--- renewal\n"
                                  "Not keeping */keys/identity.pem as the previous key and certificate (Bad "
                                  "message): the previous pair stays as it is.\n");
}

TEST(dir_modes) {
        g_autofree char *dir = make_tmpdir(), *ks_dir = g_strdup_printf("%s/keys", dir);
        Keystore *ks = NULL;

        g_assert_cmpint(mkdir(ks_dir, 0755), ==, 0);
        g_assert_cmpint(keystore_file_open(ks_dir, &ks), ==, 0);
        g_assert_cmpuint(file_mode(ks_dir), ==, 0700);
        ks = keystore_free(ks);
        test_rm_rf(dir);
}

/* A key directory owned by another user is refused. Giving it to another user takes root:
 * without root this case is reported as skipped, with the reason, not as passed. */
TEST(dir_foreign_owner) {
        g_autofree char *dir = NULL, *ks_dir = NULL;
        Keystore *ks = NULL;

        if (geteuid() != 0) {
                g_test_skip("needs root to give the key directory to another user (chown)");
                return;
        }
        dir = make_tmpdir();
        ks_dir = g_strdup_printf("%s/keys", dir);
        g_assert_cmpint(mkdir(ks_dir, 0700), ==, 0);
        g_assert_cmpint(chown(ks_dir, 65534, 65534), ==, 0);
        g_assert_cmpint(keystore_file_open(ks_dir, &ks), ==, -EPERM);
        g_assert_null(ks);
        test_rm_rf(dir);
}

static void write_pem_key(const char *path, EVP_PKEY *key) {
        FILE *f = fopen(path, "we");
        g_assert_nonnull(f);
        g_assert_cmpint(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), ==, 1);
        fclose(f);
}

static void write_pem_cert(const char *path, X509 *cert, STACK_OF(X509) * chain) {
        _cleanup_free_ char *pem = NULL;
        g_assert_cmpint(pem_encode_certificates(cert, chain, &pem), ==, 0);
        g_assert_cmpint(write_file_atomic(path, pem, strlen(pem), 0644), ==, 0);
}

TEST(import) {
        g_autofree char *dir = make_tmpdir(), *ks_dir = g_strdup_printf("%s/keys", dir);
        g_autofree char *key_path = g_strdup_printf("%s/key.pem", dir),
                        *cert_path = g_strdup_printf("%s/cert.pem", dir);
        g_autofree char *other_path = g_strdup_printf("%s/other.pem", dir);
        _cleanup_(keystore_freep) Keystore *ks = NULL;
        _cleanup_(issuer_freep) Issuer *issuer = new_issuer(dir, KEY_TYPE_RSA_2048);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *other = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *error = NULL;
        SigningIdentity *loaded = NULL;

        g_assert_cmpint(keystore_file_open(ks_dir, &ks), ==, 0);
        g_assert_cmpint(keystore_generate_key(ks, KEY_TYPE_RSA_2048, &key), ==, 0);
        g_assert_cmpint(keystore_generate_key(ks, KEY_TYPE_ECDSA_P256, &other), ==, 0);
        g_assert_cmpint(EVP_PKEY_get_base_id(other), ==, EVP_PKEY_EC);
        enroll(issuer, key, "imported.metadata.azshci.local", 30, &cert, &chain);
        write_pem_key(key_path, key);
        write_pem_key(other_path, other);
        write_pem_cert(cert_path, cert, chain);

        /* a certificate for another key is refused, and nothing is stored */
        g_assert_cmpint(keystore_import(ks, other_path, cert_path, &error), ==, -EKEYREJECTED);
        g_assert_nonnull(error);
        g_test_message("%s", error);
        error = mfree(error);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, -ENOENT);

        g_assert_cmpint(keystore_import(ks, key_path, "/nonexistent/cert.pem", &error), ==, -ENOENT);
        error = mfree(error);
        g_assert_cmpint(keystore_import(ks, cert_path, cert_path, &error), ==, -EBADMSG);
        error = mfree(error);

        g_assert_cmpint(keystore_import(ks, key_path, cert_path, &error), ==, 0);
        g_assert_null(error);
        g_assert_cmpint(keystore_load(ks, &loaded), ==, 0);
        g_assert_cmpint(EVP_PKEY_eq(loaded->key, key), ==, 1);
        g_assert_cmpint(X509_cmp(loaded->cert, cert), ==, 0);
        g_assert_cmpint(sk_X509_num(loaded->chain), ==, 1);
        signing_identity_unref(loaded);

        test_rm_rf(dir);
}

static void check_local_ca(KeyType type, int expected_key_id) {
        g_autofree char *dir = make_tmpdir();
        g_autofree char *ca_dir = g_strdup_printf("%s/ca", dir),
                        *root_path = g_strdup_printf("%s/ca/root.pem", dir);
        g_autofree char *export_path = g_strdup_printf("%s/ca.pem", dir);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL, *exported = NULL;
        _cleanup_free_ char *anchor = NULL, *anchor2 = NULL, *exported_pem = NULL, *cn = NULL;
        Issuer *issuer = new_issuer(dir, type);
        X509 *root;
        usec_t nb, na;

        g_assert_cmpuint(file_mode(ca_dir), ==, 0700);
        g_assert_cmpuint(file_mode(root_path), ==, 0600);
        g_assert_cmpuint(file_mode(export_path), ==, 0644);
        g_assert_cmpint(issuer_get_trust_anchor(issuer, &anchor), ==, 0);
        g_assert_cmpint(read_full_file(export_path, 1 << 20, &exported_pem, NULL), ==, 0);
        g_assert_cmpstr(anchor, ==, exported_pem);
        g_assert_null(strstr(exported_pem, "PRIVATE KEY"));

        /* the root: self-signed CA, key type as configured, ~10 years */
        g_assert_cmpint(pem_decode_certificates(anchor, strlen(anchor), &exported), ==, 0);
        root = sk_X509_value(exported, 0);
        g_assert_cmpint(EVP_PKEY_get_base_id(X509_get0_pubkey(root)), ==, expected_key_id);
        g_assert_cmpint(X509_check_ca(root), ==, 1);
        g_assert_cmpint(X509_check_issued(root, root), ==, X509_V_OK);
        g_assert_true(X509_get_key_usage(root) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
        g_assert_cmpint(X509_EXTENSION_get_critical(
                                X509_get_ext(root, X509_get_ext_by_NID(root, NID_basic_constraints, -1))),
                ==, 1);
        g_assert_cmpint(X509_EXTENSION_get_critical(
                                X509_get_ext(root, X509_get_ext_by_NID(root, NID_key_usage, -1))),
                ==, 1);
        cn = x509_name_oneline(X509_get_subject_name(root));
        g_assert_true(g_str_has_prefix(cn, "CN=azshci local attestation root ("));
        g_assert_cmpint(certificate_not_before_usec(root, &nb), ==, 0);
        g_assert_cmpint(certificate_not_after_usec(root, &na), ==, 0);
        g_assert_cmpuint(na - nb, ==, 3650 * USEC_PER_DAY);

        /* a leaf */
        g_assert_cmpint(generate_key_pair(type, &key), ==, 0);
        enroll(issuer, key, "host1.metadata.azshci.local", 30, &cert, &chain);
        g_assert_cmpint(X509_check_issued(root, cert), ==, X509_V_OK);
        g_assert_cmpint(X509_verify(cert, X509_get0_pubkey(root)), ==, 1);
        g_assert_cmpint(X509_check_ca(cert), ==, 0);
        g_assert_true(X509_get_key_usage(cert) == KU_DIGITAL_SIGNATURE);
        g_assert_cmpint(X509_EXTENSION_get_critical(
                                X509_get_ext(cert, X509_get_ext_by_NID(cert, NID_key_usage, -1))),
                ==, 1);
        g_assert_true((X509_get_extended_key_usage(cert) & (XKU_SSL_SERVER | XKU_SSL_CLIENT | XKU_SMIME)) ==
                      (XKU_SSL_SERVER | XKU_SSL_CLIENT | XKU_SMIME));
        g_assert_cmpint(X509_check_host(cert, "host1.metadata.azshci.local", 0, 0, NULL), ==, 1);
        g_assert_cmpint(X509_get_signature_nid(cert), ==,
                type == KEY_TYPE_RSA_2048 ? NID_sha256WithRSAEncryption : NID_ecdsa_with_SHA256);
        g_assert_cmpint(certificate_not_before_usec(cert, &nb), ==, 0);
        g_assert_cmpint(certificate_not_after_usec(cert, &na), ==, 0);
        g_assert_cmpuint(na - nb, ==, 30 * USEC_PER_DAY);
        g_assert_cmpint(sk_X509_num(chain), ==, 1);
        g_assert_cmpint(X509_cmp(sk_X509_value(chain, 0), root), ==, 0);
        {
                const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
                g_assert_cmpint(ASN1_STRING_length(serial), <=, 20);
                g_assert_cmpint(ASN1_STRING_type(serial), ==, V_ASN1_INTEGER); /* positive */
        }
        g_assert_cmpint(certificate_check_acceptable(cert, key, 30, time(NULL), NULL), ==, 0);

        /* a second start reuses the CA */
        issuer = issuer_free(issuer);
        issuer = new_issuer(dir, type == KEY_TYPE_RSA_2048 ? KEY_TYPE_ECDSA_P256 : KEY_TYPE_RSA_2048);
        g_assert_cmpint(issuer_get_trust_anchor(issuer, &anchor2), ==, 0);
        g_assert_cmpstr(anchor, ==, anchor2);
        issuer_free(issuer);

        test_rm_rf(dir);
}

static void test_local_ca_rsa(void) {
        check_local_ca(KEY_TYPE_RSA_2048, EVP_PKEY_RSA);
}

static void test_local_ca_ecdsa(void) {
        check_local_ca(KEY_TYPE_ECDSA_P256, EVP_PKEY_EC);
}

static void test_acceptable(void) {
        g_autofree char *dir = make_tmpdir();
        _cleanup_(issuer_freep) Issuer *issuer = new_issuer(dir, KEY_TYPE_ECDSA_P256);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *other = NULL;
        _cleanup_(X509_freep) X509 *cert30 = NULL, *cert31 = NULL;
        _cleanup_free_ char *error = NULL;
        time_t now = time(NULL);

        g_assert_cmpint(generate_key_pair(KEY_TYPE_ECDSA_P256, &key), ==, 0);
        g_assert_cmpint(generate_key_pair(KEY_TYPE_ECDSA_P256, &other), ==, 0);
        enroll(issuer, key, "host1.metadata.azshci.local", 30, &cert30, NULL);
        enroll(issuer, key, "host1.metadata.azshci.local", 31, &cert31, NULL);

        g_assert_cmpint(certificate_check_acceptable(cert30, key, 30, now, &error), ==, 0);
        g_assert_null(error);
        g_assert_cmpint(certificate_check_acceptable(cert30, key, 0, now, &error), ==, 0);

        /* over-long: exactly the maximum passes, one day more does not */
        g_assert_cmpint(certificate_check_acceptable(cert31, key, 30, now, &error), ==, -ERANGE);
        g_test_message("%s", error);
        error = mfree(error);
        g_assert_cmpint(certificate_check_acceptable(cert31, key, 31, now, &error), ==, 0);

        /* wrong key */
        g_assert_cmpint(certificate_check_acceptable(cert30, other, 30, now, &error), ==, -EKEYREJECTED);
        g_test_message("%s", error);
        error = mfree(error);

        /* expired: at and after notAfter */
        g_assert_cmpint(certificate_check_acceptable(cert30, key, 30, now + 31 * 86400, &error), ==,
                -EKEYEXPIRED);
        g_test_message("%s", error);
        error = mfree(error);

        /* not yet valid beyond 5 minutes of skew; within the skew it passes */
        g_assert_cmpint(certificate_check_acceptable(cert30, key, 30, now - 3600, &error), ==, -EKEYEXPIRED);
        g_test_message("%s", error);
        error = mfree(error);
        g_assert_cmpint(certificate_check_acceptable(cert30, key, 30, now - 60 - 240, &error), ==, 0);

        /* the issuer refuses nonsense requests */
        IssuerRequest req = {.key = key, .subject_cn = "x", .san_dns = "a,DNS:b", .validity_days = 30};
        g_assert_cmpint(issuer_enroll(issuer, &req, &cert30, NULL, &error), ==, -EINVAL);
        error = mfree(error);
        req = (IssuerRequest){.key = key, .subject_cn = "x", .validity_days = 0};
        g_assert_cmpint(issuer_enroll(issuer, &req, &cert30, NULL, &error), ==, -EINVAL);

        test_rm_rf(dir);
}

static void test_pem_base64(void) {
        unsigned char *out = NULL;
        char *s = NULL;
        size_t n;

        g_assert_cmpint(base64_encode("hello!?", 7, &s), ==, 0);
        g_assert_cmpstr(s, ==, "aGVsbG8hPw==");
        g_assert_cmpint(base64_decode(s, strlen(s), &out, &n), ==, 0);
        g_assert_cmpuint(n, ==, 7);
        g_assert_cmpmem(out, n, "hello!?", 7);
        free(out);
        free(s);
        g_assert_cmpint(base64_decode("aGVs\nbG8h\r\nPw==", 15, &out, &n), ==, 0);
        g_assert_cmpuint(n, ==, 7);
        free(out);
        g_assert_cmpint(base64_decode("a*Vs", 4, &out, &n), ==, -EBADMSG);

        STACK_OF(X509) *certs = NULL;
        g_assert_cmpint(pem_decode_certificates("", 0, &certs), ==, -ENOENT);
        g_assert_cmpint(pem_decode_certificates("-----BEGIN CERTIFICATE-----\nAAAA\n", 32, &certs), <, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        g_test_add_func("/issuer-local/rsa", test_local_ca_rsa);
        g_test_add_func("/issuer-local/ecdsa", test_local_ca_ecdsa);
        g_test_add_func("/x509/acceptable", test_acceptable);
        g_test_add_func("/x509/pem-base64", test_pem_base64);
        return g_test_run();
}
