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
        l->signer_info = t->signer_size + der_size(signature_size);
        l->signer_infos = der_size(l->signer_info);
        l->signed_data = sizeof version_1 + der_size(t->digest_algorithm_size) + der_size(l->content_info) +
                         t->certificates[embed_chain].size + der_size(l->signer_infos);
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

/* Where the document goes: DER bytes into memory, or their base64. Base64 encodes whole 3-byte
 * groups; the 0-2 bytes of an unfinished one wait in carry for the next piece. */
typedef struct Sink {
        bool base64;
        uint8_t *der;
        char *out;
        uint8_t carry[3];
        size_t n_carry;
} Sink;

static void sink_put(Sink *s, const void *data, size_t size) {
        const uint8_t *p = data;
        size_t whole;

        if (size == 0)
                return;
        if (!s->base64) {
                s->der = mempcpy(s->der, p, size);
                return;
        }
        if (s->n_carry > 0) {
                size_t k = MIN(3 - s->n_carry, size);

                memcpy(s->carry + s->n_carry, p, k);
                s->n_carry += k;
                p += k;
                size -= k;
                if (s->n_carry < 3)
                        return;
                s->out += EVP_EncodeBlock((unsigned char *)s->out, s->carry, 3);
                s->n_carry = 0;
        }
        whole = size / 3 * 3;
        if (whole > 0)
                s->out += EVP_EncodeBlock((unsigned char *)s->out, p, (int)whole);
        memcpy(s->carry, p + whole, size - whole);
        s->n_carry = size - whole;
}

/* A part with its base64 ready: the bytes that finish the group under way go through sink_put(),
 * then the precomputed whole groups that follow, then the rest. */
static void sink_put_part(Sink *s, const SignedDataPart *part) {
        size_t k, done;

        if (!s->base64 || part->size < 3) {
                sink_put(s, part->der, part->size);
                return;
        }
        k = (3 - s->n_carry) % 3;
        sink_put(s, part->der, k);
        assert(s->n_carry == 0);
        s->out = mempcpy(s->out, part->base64[k], part->base64_size[k]);
        done = k + part->base64_size[k] / 4 * 3;
        sink_put(s, part->der + done, part->size - done);
}

/* The pad of the last group, and the NUL. */
static void sink_finish(Sink *s) {
        if (s->base64)
                s->out += EVP_EncodeBlock((unsigned char *)s->out, s->carry, (int)s->n_carry);
}

/* Every header in front of the content, and in front of the signature, fits in 64 bytes. */
static void write_document(const SignedDataTemplate *t, const Layout *l, const void *content,
        size_t content_size, bool embed_chain, const uint8_t *signature, size_t signature_size, Sink *s) {
        uint8_t head[64], *p;

        p = der_put_header(head, DER_SEQUENCE, l->total);
        p = mempcpy(p, oid_signed_data, sizeof oid_signed_data);
        p = der_put_header(p, DER_CONTEXT_0, l->signed_explicit);
        p = der_put_header(p, DER_SEQUENCE, l->signed_data);
        p = mempcpy(p, version_1, sizeof version_1);
        p = der_put_header(p, DER_SET, t->digest_algorithm_size);
        sink_put(s, head, (size_t)(p - head));
        sink_put(s, t->digest_algorithm, t->digest_algorithm_size);

        p = der_put_header(head, DER_SEQUENCE, l->content_info);
        p = mempcpy(p, oid_data, sizeof oid_data);
        p = der_put_header(p, DER_CONTEXT_0, l->content_explicit);
        p = der_put_header(p, DER_OCTET_STRING, content_size);
        sink_put(s, head, (size_t)(p - head));
        sink_put(s, content, content_size);

        sink_put_part(s, &t->certificates[embed_chain]);

        p = der_put_header(head, DER_SET, l->signer_infos);
        p = der_put_header(p, DER_SEQUENCE, l->signer_info);
        sink_put(s, head, (size_t)(p - head));
        sink_put(s, t->signer, t->signer_size);
        p = der_put_header(head, DER_OCTET_STRING, signature_size);
        sink_put(s, head, (size_t)(p - head));
        sink_put(s, signature, signature_size);
        sink_finish(s);
}

size_t signed_data_write(const SignedDataTemplate *t, const void *content, size_t content_size,
        bool embed_chain, const uint8_t *signature, size_t signature_size, uint8_t *buf) {
        Sink s = {.der = buf};
        Layout l;

        assert(t);
        assert(content || content_size == 0);
        assert(signature);
        assert(buf);

        if (!layout(t, content_size, embed_chain, signature_size, &l))
                return 0;
        write_document(t, &l, content, content_size, embed_chain, signature, signature_size, &s);
        assert((size_t)(s.der - buf) == der_size(l.total));
        return (size_t)(s.der - buf);
}

size_t signed_data_write_base64(const SignedDataTemplate *t, const void *content, size_t content_size,
        bool embed_chain, const uint8_t *signature, size_t signature_size, char *out) {
        Sink s = {.base64 = true, .out = out};
        Layout l;

        assert(t);
        assert(content || content_size == 0);
        assert(signature);
        assert(out);

        if (!layout(t, content_size, embed_chain, signature_size, &l))
                return 0;
        write_document(t, &l, content, content_size, embed_chain, signature, signature_size, &s);
        assert((size_t)(s.out - out) + 1 == SIGNED_DATA_BASE64_MAX(der_size(l.total)));
        return (size_t)(s.out - out);
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

/* der[0..size) as a part: copied, and its base64 precomputed from each of its first three bytes. */
static int part_init(SignedDataPart *part, const uint8_t *der, size_t size) {
        part->der = malloc(size);
        if (!part->der)
                return -ENOMEM;
        memcpy(part->der, der, size);
        part->size = size;

        for (size_t k = 0; k < 3 && k <= size; k++) {
                size_t whole = (size - k) / 3 * 3;

                part->base64[k] = malloc(whole / 3 * 4 + 1);
                if (!part->base64[k])
                        return -ENOMEM;
                part->base64_size[k] =
                        (size_t)EVP_EncodeBlock((unsigned char *)part->base64[k], der + k, (int)whole);
        }
        return 0;
}

static void part_done(SignedDataPart *part) {
        free(part->der);
        for (size_t k = 0; k < 3; k++)
                free(part->base64[k]);
}

/* The certificates field: [0] IMPLICIT SET OF Certificate, the signer's certificate first, then
 * (with_chain) the chain's in their order. */
static int encode_certificates(X509 *cert, STACK_OF(X509) * chain, bool with_chain, SignedDataPart *part) {
        _cleanup_free_ uint8_t *der = NULL;
        int n = sk_X509_num(chain), total;
        uint8_t *p;

        total = i2d_X509(cert, NULL);
        for (int i = 0; with_chain && i < n && total > 0; i++) {
                int m = i2d_X509(sk_X509_value(chain, i), NULL);
                total = m > 0 && m <= INT_MAX / 2 - total ? total + m : -1;
        }
        if (total <= 0 || (size_t)total > CONTENT_MAX)
                return -EIO;

        der = malloc(der_size((size_t)total));
        if (!der)
                return -ENOMEM;
        p = der_put_header(der, DER_CONTEXT_0, (size_t)total);
        if (i2d_X509(cert, &p) <= 0)
                return -EIO;
        for (int i = 0; with_chain && i < n; i++)
                if (i2d_X509(sk_X509_value(chain, i), &p) <= 0)
                        return -EIO;
        assert((size_t)(p - der) == der_size((size_t)total));

        return part_init(part, der, (size_t)(p - der));
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

        for (int with_chain = 0; with_chain <= 1; with_chain++) {
                r = encode_certificates(cert, chain, with_chain, &t->certificates[with_chain]);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(t);
        return 0;
}

SignedDataTemplate *signed_data_template_free(SignedDataTemplate *t) {
        if (!t)
                return NULL;
        free(t->digest_algorithm);
        free(t->signer);
        part_done(&t->certificates[0]);
        part_done(&t->certificates[1]);
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
