/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The documents' PKCS#7 assembled from a template (signed-data.h) against PKCS7_sign(), the
 * reference: byte for byte with RSA (its signatures are deterministic), everything but the
 * signature value with ECDSA, over contents whose sizes cross every DER length boundary of the
 * nested parts; every length checked again by OpenSSL's parser over a dense sweep of sizes; and
 * the assembled documents verify with the root. */

#define TEST_PREFIX "/signed-data"

#include <glib.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>

#include "document.h"
#include "issuer.h"
#include "keystore.h"
#include "signed-data.h"
#include "test-util.h"
#include "x509-util.h"

/* UTF-8, line ends of both kinds and JSON quotes: PKCS7_BINARY signs the bytes as they are. */
#define UNICODE_CONTENT "{\"nonce\":\"\u00e9\u6f22\u5b57 \U0001f510\",\r\n\"plan\":\"\u00fcber\"}\n"

typedef struct Identity {
        char *dir;
        Issuer *issuer;
        SigningIdentity *id;
        X509_STORE *trust;
} Identity;

static void identity_setup(Identity *x, KeyType type) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *error = NULL;
        g_autofree char *root = NULL;

        x->dir = test_make_tmpdir("azshci-test-signed-data-XXXXXX");
        g_assert_cmpint(issuer_local_new(x->dir, type, &x->issuer, &error), ==, 0);
        g_assert_cmpint(generate_key_pair(type, &key), ==, 0);
        IssuerRequest req = {.key = key,
                .subject_cn = "host1.metadata.azshci.local",
                .san_dns = "host1.metadata.azshci.local",
                .validity_days = 30};
        g_assert_cmpint(issuer_enroll(x->issuer, &req, &cert, &chain, &error), ==, 0);
        g_assert_cmpint(sk_X509_num(chain), ==, 1); /* the root: embed_chain has something to add */
        g_assert_cmpint(signing_identity_new(key, cert, chain, &x->id), ==, 0);
        root = g_strdup_printf("%s/ca.pem", x->dir);
        g_assert_cmpint(trust_store_new(root, &x->trust, &error), ==, 0);
}

static void identity_teardown(Identity *x) {
        signing_identity_unref(x->id);
        issuer_free(x->issuer);
        X509_STORE_free(x->trust);
        test_rm_rf(x->dir);
        g_free(x->dir);
}

/* n bytes of content (no NUL: document_sign() takes a string), the unicode text repeated. */
static char *make_content(size_t n) {
        static const char pattern[] = UNICODE_CONTENT;
        char *s = g_malloc(n + 1);

        for (size_t i = 0; i < n; i++)
                s[i] = pattern[i % (sizeof pattern - 1)];
        s[n] = 0;
        return s;
}

/* The fast path end to end: document_sign()'s body, base64-decoded. */
static GBytes *sign_fast(Identity *x, const char *content, bool embed_chain) {
        _cleanup_free_ char *body = NULL;
        unsigned char *der = NULL;
        const char *b64;
        size_t size;

        g_assert_cmpint(document_sign(x->id, content, embed_chain, &body), ==, 0);
        g_assert_true(g_str_has_prefix(body, "{\"encoding\":\"pkcs7\",\"signature\":\""));
        g_assert_true(g_str_has_suffix(body, "\"}"));
        b64 = body + strlen("{\"encoding\":\"pkcs7\",\"signature\":\"");
        g_assert_cmpint(base64_decode(b64, strlen(b64) - 2, &der, &size), ==, 0);
        return g_bytes_new_take(der, size);
}

static GBytes *sign_reference(Identity *x, const char *content, bool embed_chain) {
        uint8_t *der = NULL;
        size_t size = 0;
        GBytes *b;

        g_assert_cmpint(signed_data_sign_pkcs7(x->id->key, x->id->cert, x->id->chain, content,
                                strlen(content), embed_chain, &der, &size),
                ==, 0);
        b = g_bytes_new(der, size);
        OPENSSL_free(der);
        return b;
}

static PKCS7 *parse(GBytes *der) {
        const unsigned char *p = g_bytes_get_data(der, NULL);
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)g_bytes_get_size(der));

        g_assert_nonnull(p7);
        g_assert_true(p == (const unsigned char *)g_bytes_get_data(der, NULL) + g_bytes_get_size(der));
        return p7;
}

static ASN1_OCTET_STRING *signature_of(PKCS7 *p7) {
        STACK_OF(PKCS7_SIGNER_INFO) *signers = PKCS7_get_signer_info(p7);

        g_assert_cmpint(sk_PKCS7_SIGNER_INFO_num(signers), ==, 1);
        return sk_PKCS7_SIGNER_INFO_value(signers, 0)->enc_digest;
}

static void assert_same_bytes(GBytes *a, GBytes *b, size_t n, bool embed_chain) {
        if (g_bytes_equal(a, b))
                return;
        g_test_message("content %zu bytes, embed_chain %d: %zu bytes against the reference's %zu", n,
                embed_chain, g_bytes_get_size(a), g_bytes_get_size(b));
        g_assert_not_reached();
}

/* The assembled document verifies with the root alone, and its content is the bytes signed. */
static void assert_verifies(Identity *x, GBytes *der, const char *content) {
        _cleanup_(PKCS7_freep) PKCS7 *p7 = parse(der);
        _cleanup_(BIO_free_allp) BIO *out = BIO_new(BIO_s_mem());
        char *data;
        long n;

        g_assert_cmpint(PKCS7_verify(p7, NULL, x->trust, NULL, out, PKCS7_BINARY), ==, 1);
        n = BIO_get_mem_data(out, &data);
        g_assert_cmpint(n, ==, (long)strlen(content));
        if (n > 0) /* an empty memory BIO may hand out NULL, which memcmp() must not get */
                g_assert_true(memcmp(data, content, (size_t)n) == 0);
}

/* Content sizes where the DER size grows by more than one byte: a length of some nested part
 * needs one more byte there. With the sizes just below, and the classic ones. */
static GArray *boundary_sizes(Identity *x) {
        static const size_t classic[] = {0, 1, 2, 127, 128, 255, 256, 65535, 65536};
        GArray *sizes = g_array_new(false, false, sizeof(size_t));
        size_t sig = x->id->signed_data->signature_max;

        g_array_append_vals(sizes, classic, ELEMENTSOF(classic));
        for (size_t n = 0; n < 70000; n++)
                if (signed_data_size(x->id->signed_data, n + 1, false, sig) !=
                        signed_data_size(x->id->signed_data, n, false, sig) + 1) {
                        size_t both[] = {n, n + 1};
                        g_array_append_vals(sizes, both, 2);
                }
        /* the content's OCTET STRING, its [0], the ContentInfo around it, SignedData, its [0]
         * and the outer ContentInfo: each crosses at least the 65,535 boundary */
        g_assert_cmpuint(sizes->len, >=, ELEMENTSOF(classic) + 2 * 6);
        return sizes;
}

TEST(rsa_identical) {
        Identity x = {};
        GArray *sizes;

        identity_setup(&x, KEY_TYPE_RSA_2048);
        sizes = boundary_sizes(&x);
        for (guint i = 0; i < sizes->len; i++)
                for (int embed = 0; embed <= 1; embed++) {
                        size_t n = g_array_index(sizes, size_t, i);
                        g_autofree char *content = make_content(n);
                        g_autoptr(GBytes) fast = sign_fast(&x, content, embed);
                        g_autoptr(GBytes) ref = sign_reference(&x, content, embed);

                        assert_same_bytes(fast, ref, n, embed);
                }

        /* the unicode text itself, and a typical document */
        for (int embed = 0; embed <= 1; embed++) {
                g_autoptr(GBytes) fast = sign_fast(&x, UNICODE_CONTENT, embed);
                g_autoptr(GBytes) ref = sign_reference(&x, UNICODE_CONTENT, embed);
                assert_same_bytes(fast, ref, strlen(UNICODE_CONTENT), embed);
                assert_verifies(&x, fast, UNICODE_CONTENT);
        }
        g_array_unref(sizes);
        identity_teardown(&x);
}

/* ECDSA signatures are randomised: both documents are parsed, the reference's signature put
 * into the assembled one, and then the two must be the same bytes. The assembled one verifies. */
TEST(ecdsa_identical_but_signature) {
        Identity x = {};
        GArray *sizes;

        identity_setup(&x, KEY_TYPE_ECDSA_P256);
        sizes = boundary_sizes(&x);
        for (guint i = 0; i <= sizes->len; i++)
                for (int embed = 0; embed <= 1; embed++) {
                        size_t n = i < sizes->len ? g_array_index(sizes, size_t, i) : 0;
                        g_autofree char *content =
                                i < sizes->len ? make_content(n) : g_strdup(UNICODE_CONTENT);
                        g_autoptr(GBytes) fast = sign_fast(&x, content, embed);
                        g_autoptr(GBytes) ref = sign_reference(&x, content, embed);
                        _cleanup_(PKCS7_freep) PKCS7 *p7 = parse(fast);
                        _cleanup_(PKCS7_freep) PKCS7 *p7_ref = parse(ref);
                        ASN1_OCTET_STRING *sig = signature_of(p7), *sig_ref = signature_of(p7_ref);
                        unsigned char *der = NULL;
                        int size;

                        if (n % 7 == 0 || i == sizes->len)
                                assert_verifies(&x, fast, content);
                        g_assert_true(ASN1_STRING_set(sig, ASN1_STRING_get0_data(sig_ref),
                                ASN1_STRING_length(sig_ref)));
                        size = i2d_PKCS7(p7, &der);
                        g_assert_cmpint(size, >, 0);
                        g_autoptr(GBytes) swapped = g_bytes_new(der, (size_t)size);
                        OPENSSL_free(der);
                        assert_same_bytes(swapped, ref, strlen(content), embed);
                }
        g_array_unref(sizes);
        identity_teardown(&x);
}

/* Every content size from 0 to 600 and around 65,536 (where the outer lengths cross), with
 * signatures of every size the key gives: OpenSSL parses the document to its end and writes
 * it back the same, the size is the one announced, and the base64 written directly is
 * EVP_EncodeBlock()'s of the DER. No signing: the signature bytes are a placeholder, so the
 * sweep can be dense. */
static void sweep(KeyType type) {
        uint8_t sig[SIGNED_DATA_SIGNATURE_MAX];
        g_autofree char *content = make_content(66200);
        g_autofree uint8_t *buf = NULL;
        g_autofree char *b64 = NULL, *b64_reference = NULL;
        Identity x = {};
        SignedDataTemplate *t;
        size_t max;

        identity_setup(&x, type);
        t = x.id->signed_data;
        max = signed_data_size(t, 66200, true, t->signature_max);
        buf = g_malloc(max);
        b64 = g_malloc(SIGNED_DATA_BASE64_MAX(max));
        b64_reference = g_malloc(SIGNED_DATA_BASE64_MAX(max));
        memset(sig, 0x5a, sizeof sig);

        for (size_t n = 0; n < 66200; n = n == 600 ? 64400 : n + 1) {
                size_t s = t->signature_max - n % 3; /* ECDSA: 72, 71 and 70 bytes */
                bool embed = n % 2;
                size_t size = signed_data_size(t, n, embed, s);
                const unsigned char *p = buf;
                unsigned char *again = NULL;
                PKCS7 *p7;
                int m;

                g_assert_cmpuint(size, >, n);
                g_assert_cmpuint(signed_data_write(t, content, n, embed, sig, s, buf), ==, size);
                p7 = d2i_PKCS7(NULL, &p, (long)size);
                if (!p7 || p != buf + size)
                        g_test_message("content %zu bytes, signature %zu: not parsed to its end", n, s);
                g_assert_nonnull(p7);
                g_assert_true(p == buf + size);
                m = i2d_PKCS7(p7, &again);
                g_assert_cmpint(m, ==, (int)size);
                g_assert_true(memcmp(again, buf, size) == 0);
                OPENSSL_free(again);
                PKCS7_free(p7);

                /* the base64 written directly: the content's size moves the certificates
                 * through all three positions in base64's groups */
                g_assert_cmpuint(signed_data_write_base64(t, content, n, embed, sig, s, b64), ==,
                        (size + 2) / 3 * 4);
                g_assert_cmpint(EVP_EncodeBlock((unsigned char *)b64_reference, buf, (int)size), ==,
                        (int)((size + 2) / 3 * 4));
                g_assert_cmpstr(b64, ==, b64_reference);
        }
        identity_teardown(&x);
}

TEST(sweep_rsa) {
        sweep(KEY_TYPE_RSA_2048);
}

TEST(sweep_ecdsa) {
        sweep(KEY_TYPE_ECDSA_P256);
}

/* What does not fit is refused, not truncated. */
TEST(limits) {
        Identity x = {};
        SignedDataTemplate *t;

        identity_setup(&x, KEY_TYPE_ECDSA_P256);
        t = x.id->signed_data;
        g_assert_cmpuint(signed_data_size(t, 10, false, t->signature_max + 1), ==, 0);
        g_assert_cmpuint(signed_data_size(t, (size_t)INT_MAX + 1, false, t->signature_max), ==, 0);
        g_assert_cmpuint(signed_data_size(t, 10, true, t->signature_max), ==,
                signed_data_size(t, 10, false, t->signature_max) + t->certificates[1].size -
                        t->certificates[0].size);
        identity_teardown(&x);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        return g_test_run();
}
