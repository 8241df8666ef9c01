/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <limits.h>
#include <stdarg.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "fileio.h"
#include "x509-util.h"

#define PEM_FILE_MAX (1024U * 1024U)

STACK_OF(X509) * x509_stack_free(STACK_OF(X509) * s) {
        if (s)
                sk_X509_pop_free(s, X509_free);
        return NULL;
}

static int error_va(char **ret_error, int error, bool with_openssl, const char *format, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        unsigned long e;
        char ebuf[256];

        assert(error < 0);

        e = with_openssl ? ERR_peek_last_error() : 0;
        if (ret_error) {
                if (vasprintf(&msg, format, ap) < 0)
                        msg = NULL;
                free(*ret_error);
                *ret_error = NULL;
                if (msg && e != 0) {
                        ERR_error_string_n(e, ebuf, sizeof ebuf);
                        if (asprintf(ret_error, "%s: %s", msg, ebuf) < 0)
                                *ret_error = NULL;
                } else
                        *ret_error = TAKE_PTR(msg);
        }
        if (with_openssl)
                ERR_clear_error();
        return error;
}

int openssl_error(char **ret_error, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = error_va(ret_error, error, true, format, ap);
        va_end(ap);
        return r;
}

int x509_error(char **ret_error, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = error_va(ret_error, error, false, format, ap);
        va_end(ap);
        return r;
}

/* ASN1_TIME ↔ µs since the epoch. */
static int asn1_time_to_usec(const ASN1_TIME *t, usec_t *ret) {
        struct tm tm = {};
        time_t sec;

        assert(ret);

        if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
                ERR_clear_error();
                return -EBADMSG;
        }
        sec = timegm(&tm);
        if (sec < 0)
                return -ERANGE;
        *ret = (usec_t)sec * USEC_PER_SEC;
        return 0;
}

int certificate_not_before_usec(X509 *cert, usec_t *ret) {
        assert(cert);
        return asn1_time_to_usec(X509_get0_notBefore(cert), ret);
}

int certificate_not_after_usec(X509 *cert, usec_t *ret) {
        assert(cert);
        return asn1_time_to_usec(X509_get0_notAfter(cert), ret);
}

int certificate_fingerprint(X509 *cert, char ret[static SHA256_FINGERPRINT_SIZE]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        assert(cert);

        if (X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32)
                return openssl_error(NULL, -EIO, "SHA-256 of a certificate");
        for (unsigned i = 0; i < len; i++)
                sprintf(ret + 2 * i, "%02x", md[i]);
        return 0;
}

bool certificate_matches_key(X509 *cert, EVP_PKEY *key) {
        EVP_PKEY *pub;
        int r;

        assert(cert);
        assert(key);

        pub = X509_get0_pubkey(cert);
        if (!pub) {
                ERR_clear_error();
                return false;
        }
        r = EVP_PKEY_eq(pub, key);
        ERR_clear_error();
        return r == 1;
}

int certificate_check_acceptable(X509 *cert, EVP_PKEY *key, unsigned max_validity_days, time_t now,
        char **ret_error) {
        char a[32], b[32];
        usec_t nb, na, n;
        int r;

        assert(cert);
        assert(key);
        assert(now >= 0);

        if (!certificate_matches_key(cert, key))
                return x509_error(ret_error, -EKEYREJECTED,
                        "certificate does not match the key it was requested for");

        r = certificate_not_before_usec(cert, &nb);
        if (r >= 0)
                r = certificate_not_after_usec(cert, &na);
        if (r < 0)
                return x509_error(ret_error, r, "certificate has an unreadable validity period");

        n = (usec_t)now * USEC_PER_SEC;
        if (na <= n)
                return x509_error(ret_error, -EKEYEXPIRED, "certificate already expired (notAfter %s)",
                        format_timestamp_utc(a, sizeof a, na));
        if (nb > n + CERTIFICATE_CLOCK_SKEW_USEC)
                return x509_error(ret_error, -EKEYEXPIRED, "certificate is not valid yet (notBefore %s)",
                        format_timestamp_utc(a, sizeof a, nb));
        if (na < nb)
                return x509_error(ret_error, -EKEYEXPIRED, "certificate's notAfter precedes its notBefore");
        if (max_validity_days > 0 && na - nb > (usec_t)max_validity_days * USEC_PER_DAY)
                return x509_error(ret_error, -ERANGE,
                        "certificate is valid longer than the allowed %u days (%s to %s)", max_validity_days,
                        format_timestamp_utc(a, sizeof a, nb), format_timestamp_utc(b, sizeof b, na));
        return 0;
}

static int bio_to_string(BIO *bio, char **ret) {
        char *data, *s;
        long n;

        n = BIO_get_mem_data(bio, &data);
        if (n < 0)
                return -EIO;
        s = strndup(data, (size_t)n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int pem_encode_certificates(X509 *cert, STACK_OF(X509) * chain, char **ret_pem) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;

        assert(cert);
        assert(ret_pem);

        bio = BIO_new(BIO_s_mem());
        if (!bio)
                return -ENOMEM;
        if (PEM_write_bio_X509(bio, cert) != 1)
                goto fail;
        for (int i = 0; i < sk_X509_num(chain); i++)
                if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1)
                        goto fail;
        return bio_to_string(bio, ret_pem);
fail:
        ERR_clear_error();
        return -EIO;
}

int pem_encode_private(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, BIO **ret_bio,
        const char **ret_data, size_t *ret_size) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        char *data;
        long n;

        assert(key);
        assert(cert);
        assert(ret_bio);
        assert(ret_data);
        assert(ret_size);

        bio = BIO_new(BIO_s_secmem());
        if (!bio)
                return -ENOMEM;
        if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
                PEM_write_bio_X509(bio, cert) != 1)
                goto fail;
        for (int i = 0; i < sk_X509_num(chain); i++)
                if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1)
                        goto fail;
        n = BIO_get_mem_data(bio, &data);
        if (n <= 0)
                goto fail;
        *ret_data = data;
        *ret_size = (size_t)n;
        *ret_bio = TAKE_PTR(bio);
        return 0;
fail:
        ERR_clear_error();
        return -EIO;
}

int pem_decode_certificates(const void *pem, size_t size, STACK_OF(X509) * *ret) {
        _cleanup_(x509_stack_freep) STACK_OF(X509) *s = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;

        assert(pem || size == 0);
        assert(ret);

        if (size > INT_MAX)
                return -EFBIG;
        bio = BIO_new_mem_buf(pem, (int)size);
        s = sk_X509_new_null();
        if (!bio || !s)
                return -ENOMEM;

        for (;;) {
                X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!c)
                        break;
                if (sk_X509_push(s, c) <= 0) {
                        X509_free(c);
                        return -ENOMEM;
                }
        }
        /* The loop ends with "no start line" at the end of the input: expected. Anything else
         * (a truncated or corrupt block) is an error. */
        unsigned long e = ERR_peek_last_error();
        ERR_clear_error();
        if (e != 0 && ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
                return -EBADMSG;
        if (sk_X509_num(s) == 0)
                return -ENOENT;
        *ret = TAKE_PTR(s);
        return 0;
}

int pem_read_certificates_file(const char *path, STACK_OF(X509) * *ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        assert(path);
        assert(ret);

        r = read_full_file(path, PEM_FILE_MAX, &data, &size);
        if (r < 0)
                return x509_error(ret_error, r, "%s: %s", path, strerror(-r));
        r = pem_decode_certificates(data, size, ret);
        if (r == -ENOENT)
                return x509_error(ret_error, r, "%s: no PEM certificate found", path);
        if (r < 0)
                return x509_error(ret_error, r, "%s: invalid PEM certificate", path);
        return 0;
}

int pem_decode_private_key(const void *pem, size_t size, EVP_PKEY **ret) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        EVP_PKEY *k;

        assert(pem || size == 0);
        assert(ret);

        if (size > INT_MAX)
                return -EFBIG;
        bio = BIO_new_mem_buf(pem, (int)size);
        if (!bio)
                return -ENOMEM;
        /* An empty passphrase callback result: encrypted keys fail instead of prompting. */
        k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
        ERR_clear_error();
        if (!k)
                return -EBADMSG;
        *ret = k;
        return 0;
}

int base64_encode(const void *data, size_t size, char **ret) {
        _cleanup_free_ char *s = NULL;

        assert(data || size == 0);
        assert(ret);

        if (size > INT_MAX / 4 * 3 - 3)
                return -EFBIG;
        s = malloc((size + 2) / 3 * 4 + 1);
        if (!s)
                return -ENOMEM;
        (void)EVP_EncodeBlock((unsigned char *)s, data, (int)size);
        *ret = TAKE_PTR(s);
        return 0;
}

int base64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_size) {
        _cleanup_(EVP_ENCODE_CTX_freep) EVP_ENCODE_CTX *ctx = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        int n = 0, m = 0;

        assert(s || len == 0);
        assert(ret);
        assert(ret_size);

        if (len > INT_MAX / 2)
                return -EFBIG;
        buf = malloc(len / 4 * 3 + 4);
        ctx = EVP_ENCODE_CTX_new();
        if (!buf || !ctx)
                return -ENOMEM;

        EVP_DecodeInit(ctx);
        if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)s, (int)len) < 0 ||
                EVP_DecodeFinal(ctx, buf + n, &m) != 1) {
                ERR_clear_error();
                return -EBADMSG;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = (size_t)n + (size_t)m;
        return 0;
}

int trust_store_new(const char *path, X509_STORE **ret, char **ret_error) {
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        int r;

        assert(ret);

        store = X509_STORE_new();
        if (!store)
                return -ENOMEM;

        if (!path) {
                if (X509_STORE_set_default_paths(store) != 1)
                        return openssl_error(ret_error, -EIO, "cannot load the system trust store");
        } else {
                r = pem_read_certificates_file(path, &certs, ret_error);
                if (r < 0)
                        return r;
                for (int i = 0; i < sk_X509_num(certs); i++)
                        if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1)
                                return openssl_error(ret_error, -EIO, "%s: cannot add certificate", path);
        }
        *ret = TAKE_PTR(store);
        return 0;
}

char *x509_name_oneline(const X509_NAME *name) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        char *s = NULL;

        if (!name)
                return strdup("");
        bio = BIO_new(BIO_s_mem());
        if (!bio)
                return NULL;
        if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ & ~ASN1_STRFLGS_ESC_MSB) <
                0) {
                ERR_clear_error();
                return NULL;
        }
        if (bio_to_string(bio, &s) < 0)
                return NULL;
        return s;
}
