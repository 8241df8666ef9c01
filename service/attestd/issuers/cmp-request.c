/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What the cluster CA's CMP responder reads from a request: see cmp-request.h. */

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp-request.h"
#include "x509-util.h"

/* More extraCerts than a peer sends (its certificate and the root) by far; OpenSSL warns
 * above 10 as well. */
#define EXTRA_CERTS_MAX 10

DEFINE_TRIVIAL_CLEANUP_FUNC(GENERAL_NAME *, GENERAL_NAME_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_ALGOR *, X509_ALGOR_free);

static void asn1_sequence_any_freep(ASN1_SEQUENCE_ANY **s) {
        sk_ASN1_TYPE_pop_free(*s, ASN1_TYPE_free);
}

/* One DER element of [*p, end): where it starts, its content and the content's length; *p
 * moves past it. */
typedef struct Der {
        const unsigned char *start, *content;
        long len;
        int tag, xclass;
} Der;

static int der_next(const unsigned char **p, const unsigned char *end, Der *ret) {
        const unsigned char *q = *p;
        int r;

        if (q >= end)
                return -ENOENT;
        *ret = (Der){.start = q};
        r = ASN1_get_object(&q, &ret->len, &ret->tag, &ret->xclass, end - q);
        if ((r & 0x80) || r == 0x21 || ret->len > end - q)
                return -EBADMSG;
        ret->content = q;
        *p = q + ret->len;
        return 0;
}

void cmp_msg_info_done(CmpMsgInfo *i) {
        assert(i);
        X509_NAME_free(i->sender);
        x509_stack_free(i->extra);
        *i = (CmpMsgInfo){.pbm_iterations = -1};
}

/* PBMParameter ::= SEQUENCE { salt, owf, iterationCount INTEGER, mac } (RFC 4211 4.4). */
static int64_t pbm_iterations(const ASN1_STRING *params) {
        _cleanup_(asn1_sequence_any_freep) ASN1_SEQUENCE_ANY *seq = NULL;
        const unsigned char *p = ASN1_STRING_get0_data(params);
        const ASN1_TYPE *count;
        int64_t v;

        seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(params));
        if (!seq || sk_ASN1_TYPE_num(seq) != 4)
                return -1;
        count = sk_ASN1_TYPE_value(seq, 2);
        if (count->type != V_ASN1_INTEGER || ASN1_INTEGER_get_int64(&v, count->value.integer) != 1 || v < 0)
                return -1;
        return v;
}

/* PKIHeader ::= SEQUENCE { pvno, sender GeneralName, recipient, messageTime [0] OPTIONAL,
 * protectionAlg [1] AlgorithmIdentifier OPTIONAL, ... } (RFC 4210 5.1.1). */
static int inspect_header(const unsigned char *p, const unsigned char *end, CmpMsgInfo *info) {
        _cleanup_(GENERAL_NAME_freep) GENERAL_NAME *sender = NULL;
        const unsigned char *q;
        Der e;

        if (der_next(&p, end, &e) < 0 || e.tag != V_ASN1_INTEGER)
                return -EBADMSG;
        if (der_next(&p, end, &e) < 0)
                return -EBADMSG;
        q = e.start;
        sender = d2i_GENERAL_NAME(NULL, &q, (long)(e.content + e.len - e.start));
        if (!sender)
                return -EBADMSG;
        if (sender->type == GEN_DIRNAME) {
                info->sender = X509_NAME_dup(sender->d.directoryName);
                if (!info->sender)
                        return -ENOMEM;
        }
        if (der_next(&p, end, &e) < 0)
                return -EBADMSG;
        while (der_next(&p, end, &e) >= 0) {
                _cleanup_(X509_ALGOR_freep) X509_ALGOR *alg = NULL;
                const ASN1_OBJECT *obj;
                const void *pval;
                int ptype;

                if (e.xclass != V_ASN1_CONTEXT_SPECIFIC || e.tag != 1)
                        continue;
                q = e.content;
                alg = d2i_X509_ALGOR(NULL, &q, e.len);
                if (!alg)
                        return -EBADMSG;
                X509_ALGOR_get0(&obj, &ptype, &pval, alg);
                info->protection_nid = OBJ_obj2nid(obj);
                if (info->protection_nid == NID_id_PasswordBasedMAC && ptype == V_ASN1_SEQUENCE)
                        info->pbm_iterations = pbm_iterations(pval);
                break;
        }
        return 0;
}

/* extraCerts [1] SEQUENCE SIZE (1..MAX) OF CMPCertificate */
static int inspect_extra(const unsigned char *p, const unsigned char *end, CmpMsgInfo *info) {
        Der e;

        if (der_next(&p, end, &e) < 0 || e.tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        p = e.content;
        end = e.content + e.len;
        info->extra = sk_X509_new_null();
        if (!info->extra)
                return -ENOMEM;
        while (p < end) {
                X509 *cert;

                if (sk_X509_num(info->extra) >= EXTRA_CERTS_MAX)
                        return -E2BIG;
                cert = d2i_X509(NULL, &p, end - p);
                if (!cert)
                        return -EBADMSG;
                if (!sk_X509_push(info->extra, cert)) {
                        X509_free(cert);
                        return -ENOMEM;
                }
        }
        return 0;
}

int cmp_msg_inspect(const OSSL_CMP_MSG *msg, CmpMsgInfo *ret) {
        _cleanup_(cmp_msg_info_done) CmpMsgInfo info = {.pbm_iterations = -1};
        unsigned char *der = NULL;
        const unsigned char *p, *end;
        Der e;
        int n, r;

        assert(msg);
        assert(ret);

        n = i2d_OSSL_CMP_MSG(msg, &der);
        if (n <= 0) {
                ERR_clear_error();
                return -EBADMSG;
        }
        p = der;
        end = der + n;
        r = der_next(&p, end, &e);
        if (r >= 0) {
                p = e.content;
                end = e.content + e.len;
                r = der_next(&p, end, &e); /* header */
        }
        if (r >= 0)
                r = inspect_header(e.content, e.content + e.len, &info);
        if (r >= 0)
                r = der_next(&p, end, &e); /* body */
        while (r >= 0 && der_next(&p, end, &e) >= 0)
                if (e.xclass == V_ASN1_CONTEXT_SPECIFIC && e.tag == 1)
                        r = inspect_extra(e.content, e.content + e.len, &info);
        OPENSSL_free(der);
        ERR_clear_error();
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        *ret = info;
        info = (CmpMsgInfo){.pbm_iterations = -1};
        return 0;
}

EVP_PKEY *crmf_template_public_key(OSSL_CRMF_CERTTEMPLATE *tmpl) {
        unsigned char *copy = NULL;
        const unsigned char *p, *end, *q;
        unsigned char *der = NULL;
        EVP_PKEY *key = NULL;
        int n, tag, xclass;
        long len;

        n = i2d_OSSL_CRMF_CERTTEMPLATE(tmpl, &der);
        if (n <= 0)
                return NULL;
        p = der;
        if (ASN1_get_object(&p, &len, &tag, &xclass, n) & 0x80)
                goto out;
        for (end = p + len; p < end; p += len) {
                const unsigned char *start = p;

                if (ASN1_get_object(&p, &len, &tag, &xclass, end - p) & 0x80)
                        break;
                if (xclass != V_ASN1_CONTEXT_SPECIFIC || tag != 6)
                        continue;
                /* The same bytes with the SEQUENCE tag are a SubjectPublicKeyInfo. */
                copy = OPENSSL_memdup(start, (size_t)(p - start) + (size_t)len);
                if (!copy)
                        break;
                copy[0] = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
                q = copy;
                key = d2i_PUBKEY(NULL, &q, (long)(p - start) + len);
                OPENSSL_free(copy);
                break;
        }
out:
        OPENSSL_free(der);
        ERR_clear_error();
        return key;
}

bool cmp_host_name_is_valid(const char *name, const char *domain) {
        const char *dot;
        size_t n;

        assert(domain);

        if (!name)
                return false;
        dot = strchr(name, '.');
        n = dot ? (size_t)(dot - name) : 0;
        return n > 0 && n <= 63 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
               streq(dot + 1, domain);
}

/* The one dNSName of a GeneralNames that holds nothing else, or NULL. */
static const char *only_dns_name(const GENERAL_NAMES *sans) {
        const GENERAL_NAME *gn;
        const ASN1_IA5STRING *s;

        if (!sans || sk_GENERAL_NAME_num(sans) != 1)
                return NULL;
        gn = sk_GENERAL_NAME_value(sans, 0);
        if (gn->type != GEN_DNS)
                return NULL;
        s = gn->d.dNSName;
        /* No NUL inside: the name is compared as a C string. */
        if (ASN1_STRING_length(s) <= 0 || memchr(ASN1_STRING_get0_data(s), 0, (size_t)ASN1_STRING_length(s)))
                return NULL;
        return (const char *)ASN1_STRING_get0_data(s);
}

int cmp_template_name(OSSL_CRMF_CERTTEMPLATE *tmpl, const char *domain, char **ret) {
        const X509_NAME *subject = OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl);
        const X509_EXTENSIONS *exts = OSSL_CRMF_CERTTEMPLATE_get0_extensions(tmpl);
        _cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *sans = NULL;
        _cleanup_free_ char *cn = NULL;
        unsigned char *utf8 = NULL;
        int i, len;

        assert(tmpl);
        assert(domain);
        assert(ret);

        if (!subject || X509_NAME_entry_count(subject) != 1)
                return -EINVAL;
        i = X509_NAME_get_index_by_NID((X509_NAME *)subject, NID_commonName, -1);
        if (i < 0)
                return -EINVAL;
        len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
        if (len <= 0)
                return -EINVAL;
        cn = strndup((char *)utf8, (size_t)len);
        OPENSSL_free(utf8);
        if (!cn)
                return -ENOMEM;
        for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
                X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);

                if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_subject_alt_name)
                        continue;
                if (sans) /* a second subjectAltName extension: which one would count? */
                        return -EINVAL;
                sans = X509V3_EXT_d2i(e);
                if (!sans)
                        return -EINVAL;
        }
        if (!streq_ptr(only_dns_name(sans), cn) || !cmp_host_name_is_valid(cn, domain))
                return -EINVAL;
        *ret = TAKE_PTR(cn);
        return 0;
}

int cmp_cert_name(X509 *cert, const char *domain, char **ret) {
        _cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *sans = NULL;
        const char *name;
        int crit = 0;

        assert(cert);
        assert(domain);
        assert(ret);

        /* -1 with crit -2: more than one subjectAltName extension. */
        sans = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
        ERR_clear_error();
        name = only_dns_name(sans);
        if (!name || !cmp_host_name_is_valid(name, domain))
                return -EINVAL;
        *ret = strdup(name);
        return *ret ? 0 : -ENOMEM;
}

bool cmp_cert_id_matches(const OSSL_CRMF_CERTID *id, X509 *cert) {
        const X509_NAME *issuer;
        const ASN1_INTEGER *serial;

        assert(cert);

        if (!id)
                return false;
        issuer = OSSL_CRMF_CERTID_get0_issuer(id);
        serial = OSSL_CRMF_CERTID_get0_serialNumber(id);
        return issuer && serial && X509_NAME_cmp(issuer, X509_get_issuer_name(cert)) == 0 &&
               ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert)) == 0;
}
