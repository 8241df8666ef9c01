/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <limits.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>

#include "signed-data.h"
#include "x509-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(PKCS7_SIGNER_INFO *, PKCS7_SIGNER_INFO_free);

/* The content is limited as PKCS7_sign()'s memory BIO limits it; every length then fits in a
 * DER length of at most 4 bytes. */
#define CONTENT_MAX ((size_t)INT_MAX)

/* contentType signedData (1.2.840.113549.1.7.2) and data (1.2.840.113549.1.7.1). */
static const uint8_t oid_signed_data[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
static const uint8_t oid_data[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
/* SignedData's version: INTEGER 1. */
static const uint8_t version_1[] = {0x02, 0x01, 0x01};

enum {
        DER_OCTET_STRING = 0x04,
        DER_SEQUENCE = 0x30,
        DER_SET = 0x31,
        DER_CONTEXT_0 = 0xa0, /* [0], constructed */
};

static size_t der_length_size(size_t len) {
        size_t n = 1;

        if (len < 0x80)
                return 1;
        while (len > 0) {
                n++;
                len >>= 8;
        }
        return n;
}

/* Tag, length and content. */
static size_t der_size(size_t len) {
        return 1 + der_length_size(len) + len;
}

static uint8_t *der_put_header(uint8_t *p, uint8_t tag, size_t len) {
        size_t n = der_length_size(len) - 1;

        *p++ = tag;
        if (n == 0) {
                *p++ = (uint8_t)len;
                return p;
        }
        *p++ = (uint8_t)(0x80 | n);
        for (; n > 0; n--)
                *p++ = (uint8_t)(len >> (8 * (n - 1)));
        return p;
}

/* The content lengths of the nested parts, outermost last. */
typedef struct Layout {
        size_t content_explicit; /* [0] EXPLICIT around the content's OCTET STRING */
        size_t content_info;     /* ContentInfo of the data */
        size_t certificates;     /* [0] IMPLICIT SET OF Certificate */
        size_t signer_info;      /* the one SignerInfo */
        size_t signer_infos;     /* SET OF SignerInfo */
        size_t signed_data;      /* SignedData */
        size_t signed_explicit;  /* [0] EXPLICIT around SignedData */
        size_t total;            /* the outer ContentInfo */
} Layout;

static bool layout(const SignedDataTemplate *t, size_t content_size, bool embed_chain, size_t signature_size,
        Layout *l) {
        if (content_size > CONTENT_MAX || signature_size > t->signature_max)
                return false;

        l->content_explicit = der_size(content_size);
        l->content_info = sizeof oid_data + der_size(l->content_explicit);
        l->certificates = embed_chain ? t->certificates_size : t->leaf_size;
        l->signer_info = t->signer_size + der_size(signature_size);
        l->signer_infos = der_size(l->signer_info);
        l->signed_data = sizeof version_1 + der_size(t->digest_algorithm_size) + der_size(l->content_info) +
                         der_size(l->certificates) + der_size(l->signer_infos);
        l->signed_explicit = der_size(l->signed_data);
        l->total = sizeof oid_signed_data + der_size(l->signed_explicit);
        return true;
}

size_t signed_data_size(const SignedDataTemplate *t, size_t content_size, bool embed_chain,
        size_t signature_size) {
        Layout l;

        assert(t);

        if (!layout(t, content_size, embed_chain, signature_size, &l))
                return 0;
        return der_size(l.total);
}

size_t signed_data_write(const SignedDataTemplate *t, const void *content, size_t content_size,
        bool embed_chain, const uint8_t *signature, size_t signature_size, uint8_t *buf) {
        uint8_t *p = buf;
        Layout l;

        assert(t);
        assert(content || content_size == 0);
        assert(signature);
        assert(buf);

        if (!layout(t, content_size, embed_chain, signature_size, &l))
                return 0;

        p = der_put_header(p, DER_SEQUENCE, l.total);
        p = mempcpy(p, oid_signed_data, sizeof oid_signed_data);
        p = der_put_header(p, DER_CONTEXT_0, l.signed_explicit);
        p = der_put_header(p, DER_SEQUENCE, l.signed_data);
        p = mempcpy(p, version_1, sizeof version_1);

        p = der_put_header(p, DER_SET, t->digest_algorithm_size);
        p = mempcpy(p, t->digest_algorithm, t->digest_algorithm_size);

        p = der_put_header(p, DER_SEQUENCE, l.content_info);
        p = mempcpy(p, oid_data, sizeof oid_data);
        p = der_put_header(p, DER_CONTEXT_0, l.content_explicit);
        p = der_put_header(p, DER_OCTET_STRING, content_size);
        if (content_size > 0)
                p = mempcpy(p, content, content_size);

        p = der_put_header(p, DER_CONTEXT_0, l.certificates);
        p = mempcpy(p, t->certificates, l.certificates);

        p = der_put_header(p, DER_SET, l.signer_infos);
        p = der_put_header(p, DER_SEQUENCE, l.signer_info);
        p = mempcpy(p, t->signer, t->signer_size);
        p = der_put_header(p, DER_OCTET_STRING, signature_size);
        p = mempcpy(p, signature, signature_size);

        assert((size_t)(p - buf) == der_size(l.total));
        return (size_t)(p - buf);
}

/* The fields of a SignerInfo with an empty signature, as OpenSSL encodes them, without the
 * SEQUENCE around them and without the empty signature (04 00) at their end. */
static int encode_signer(PKCS7_SIGNER_INFO *si, SignedDataTemplate *t) {
        _cleanup_free_ uint8_t *der = NULL;
        const unsigned char *p;
        uint8_t *q;
        int n, tag, class;
        long len;

        n = i2d_PKCS7_SIGNER_INFO(si, NULL);
        if (n <= 0)
                return -EIO;
        der = malloc((size_t)n);
        if (!der)
                return -ENOMEM;
        q = der;
        if (i2d_PKCS7_SIGNER_INFO(si, &q) != n)
                return -EIO;

        p = der;
        if (ASN1_get_object(&p, &len, &tag, &class, n) != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
                class != V_ASN1_UNIVERSAL || p + len != der + n || len < 2 ||
                p[len - 2] != DER_OCTET_STRING || p[len - 1] != 0)
                return -EBADMSG;

        t->signer_size = (size_t)len - 2;
        t->signer = malloc(t->signer_size);
        if (!t->signer)
                return -ENOMEM;
        memcpy(t->signer, p, t->signer_size);
        return 0;
}

static int encode_certificates(X509 *cert, STACK_OF(X509) * chain, SignedDataTemplate *t) {
        size_t size;
        uint8_t *p;
        int n;

        n = i2d_X509(cert, NULL);
        if (n <= 0)
                return -EIO;
        t->leaf_size = size = (size_t)n;
        for (int i = 0; i < sk_X509_num(chain); i++) {
                n = i2d_X509(sk_X509_value(chain, i), NULL);
                if (n <= 0)
                        return -EIO;
                size += (size_t)n;
        }

        t->certificates = p = malloc(size);
        if (!p)
                return -ENOMEM;
        t->certificates_size = size;
        if (i2d_X509(cert, &p) <= 0)
                return -EIO;
        for (int i = 0; i < sk_X509_num(chain); i++)
                if (i2d_X509(sk_X509_value(chain, i), &p) <= 0)
                        return -EIO;
        assert(p == t->certificates + size);
        return 0;
}

int signed_data_template_new(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, SignedDataTemplate **ret) {
        _cleanup_(signed_data_template_freep) SignedDataTemplate *t = NULL;
        _cleanup_(PKCS7_SIGNER_INFO_freep) PKCS7_SIGNER_INFO *si = NULL;
        X509_ALGOR *digest = NULL;
        uint8_t *q;
        int n, r;

        assert(key);
        assert(cert);
        assert(ret);

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;

        n = EVP_PKEY_get_size(key);
        if (n <= 0 || n > SIGNED_DATA_SIGNATURE_MAX)
                return -EINVAL;
        t->signature_max = (size_t)n;

        /* What PKCS7_sign_add_signer() sets: version 1, issuer and serial of cert, SHA-256 and
         * the signature algorithm OpenSSL picks for this key type. */
        si = PKCS7_SIGNER_INFO_new();
        if (!si)
                return -ENOMEM;
        if (PKCS7_SIGNER_INFO_set(si, cert, key, EVP_sha256()) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        r = encode_signer(si, t);
        if (r < 0)
                return r;

        /* The same AlgorithmIdentifier goes into SignedData's digestAlgorithms. */
        PKCS7_SIGNER_INFO_get0_algs(si, NULL, &digest, NULL);
        n = i2d_X509_ALGOR(digest, NULL);
        if (n <= 0)
                return -EIO;
        t->digest_algorithm = q = malloc((size_t)n);
        if (!q)
                return -ENOMEM;
        t->digest_algorithm_size = (size_t)n;
        if (i2d_X509_ALGOR(digest, &q) != n)
                return -EIO;

        r = encode_certificates(cert, chain, t);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(t);
        return 0;
}

SignedDataTemplate *signed_data_template_free(SignedDataTemplate *t) {
        if (!t)
                return NULL;
        free(t->digest_algorithm);
        free(t->signer);
        free(t->certificates);
        return mfree(t);
}

int signed_data_sign_pkcs7(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, const void *content,
        size_t content_size, bool embed_chain, uint8_t **ret_der, size_t *ret_size) {
        const int flags = PKCS7_BINARY | PKCS7_NOATTR | PKCS7_NOSMIMECAP | PKCS7_PARTIAL;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        _cleanup_(BIO_free_allp) BIO *in = NULL;
        unsigned char *der = NULL;
        int n;

        assert(key);
        assert(cert);
        assert(content || content_size == 0);
        assert(ret_der);
        assert(ret_size);

        if (content_size > CONTENT_MAX)
                return -EFBIG;

        p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags);
        if (!p7)
                goto fail;
        if (!PKCS7_sign_add_signer(p7, cert, key, EVP_sha256(), flags))
                goto fail;
        if (embed_chain)
                for (int i = 0; i < sk_X509_num(chain); i++)
                        if (PKCS7_add_certificate(p7, sk_X509_value(chain, i)) != 1)
                                goto fail;

        in = BIO_new_mem_buf(content_size > 0 ? content : "", (int)content_size);
        if (!in)
                return -ENOMEM;
        if (PKCS7_final(p7, in, flags) != 1)
                goto fail;

        n = i2d_PKCS7(p7, &der);
        if (n <= 0)
                goto fail;

        *ret_der = der;
        *ret_size = (size_t)n;
        return 0;
fail:
        ERR_clear_error();
        return -EIO;
}
