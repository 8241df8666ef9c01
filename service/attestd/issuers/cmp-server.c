/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cluster CA's CMP responder: see cmp-server.h. Runs on the event loop of the CA server:
 * one request costs a MAC or signature check and two signatures (well under a millisecond
 * for P-256, a few for RSA-2048), and peers enrol once per sync. */

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp-server.h"
#include "fileio.h"
#include "keystore.h"
#include "log.h"
#include "time-util.h"
#include "x509-util.h"

#define SECRET_MAX        4096U
#define OPEN_MAX          32U
#define OPEN_TIMEOUT_USEC (60 * USEC_PER_SEC)
/* The responder's own certificate: renewed when less than a day of its week is left. */
#define RESPONDER_VALIDITY_DAYS 7U
#define RESPONDER_RENEW_USEC    (24 * USEC_PER_HOUR)

/* PKIBody tags of the responses after which a certConf is due (RFC 4210 5.1.2). */
#define BODY_IP  1
#define BODY_CP  3
#define BODY_KUP 8

typedef struct Transaction {
        ASN1_OCTET_STRING *id;
        OSSL_CMP_SRV_CTX *srv;
        usec_t started;
} Transaction;

struct CmpServer {
        Issuer *ca;
        X509 *ca_cert;
        /* Responses are signed by a key of the responder's own (in memory only), certified by
         * the CA, so the root key only ever signs certificates. */
        EVP_PKEY *responder_key;
        X509 *responder_cert;
        STACK_OF(X509) * responder_chain;
        usec_t responder_not_after;
        char *secret_file;
        char *domain;
        unsigned validity_days;
        Transaction open[OPEN_MAX]; /* waiting for their certConf */
        size_t n_open;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_CMP_CTX *, OSSL_CMP_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_CMP_MSG *, OSSL_CMP_MSG_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_CMP_SRV_CTX *, OSSL_CMP_SRV_CTX_free);

static int cmp_log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level,
        const char *msg) {
        log_debug("CMP server: %s", msg);
        return 1;
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

static OSSL_CMP_PKISI *reject(int fail_bit, const char *text) {
        log_info("Cluster CA: request refused: %s", text);
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit, text);
}

/* The one DNS name the template asks for: subject CN and SAN dNSName, equal, and of the form
 * <label>.<domain>. */
static int template_name(CmpServer *s, OSSL_CRMF_CERTTEMPLATE *tmpl, char **ret) {
        const X509_NAME *subject = OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl);
        const X509_EXTENSIONS *exts = OSSL_CRMF_CERTTEMPLATE_get0_extensions(tmpl);
        _cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *sans = NULL;
        _cleanup_free_ char *cn = NULL;
        const char *dns, *dot;
        size_t n;
        int i;

        if (!subject || X509_NAME_entry_count(subject) != 1)
                return -EINVAL;
        i = X509_NAME_get_index_by_NID((X509_NAME *)subject, NID_commonName, -1);
        if (i < 0)
                return -EINVAL;
        {
                ASN1_STRING *s_cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
                unsigned char *utf8 = NULL;
                int len = ASN1_STRING_to_UTF8(&utf8, s_cn);

                if (len <= 0)
                        return -EINVAL;
                cn = strndup((char *)utf8, (size_t)len);
                OPENSSL_free(utf8);
                if (!cn)
                        return -ENOMEM;
        }
        for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
                X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
                if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name)
                        sans = X509V3_EXT_d2i(e);
        }
        if (!sans || sk_GENERAL_NAME_num(sans) != 1 || sk_GENERAL_NAME_value(sans, 0)->type != GEN_DNS)
                return -EINVAL;
        dns = (const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(sans, 0)->d.dNSName);
        if (!streq(dns, cn))
                return -EINVAL;

        dot = strchr(cn, '.');
        n = dot ? (size_t)(dot - cn) : 0;
        if (n == 0 || n > 63 || strspn(cn, "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
                !streq(dot + 1, s->domain))
                return -EINVAL;
        *ret = TAKE_PTR(cn);
        return 0;
}

static OSSL_CMP_PKISI *process_cert_request(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int cert_req_id,
        const OSSL_CRMF_MSG *crm, const X509_REQ *p10cr, X509 **ret_cert, STACK_OF(X509) * *ret_chain,
        STACK_OF(X509) * *ret_ca_pubs) {
        CmpServer *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *name = NULL, *error = NULL;
        OSSL_CRMF_CERTTEMPLATE *tmpl;
        int r;

        if (!crm)
                return reject(OSSL_CMP_PKIFAILUREINFO_badRequest, "only ir, cr and kur are supported");
        tmpl = OSSL_CRMF_MSG_get0_tmpl(crm);
        if (template_name(s, tmpl, &name) < 0)
                return reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
                        "the template must name one host under the metadata domain, as subject CN and DNS "
                        "subjectAltName");
        pub = crmf_template_public_key(tmpl);
        if (!pub)
                return reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "no public key in the template");

        r = issuer_enroll(s->ca,
                &(IssuerRequest){
                        .key = pub,
                        .subject_cn = name,
                        .san_dns = name,
                        .validity_days = s->validity_days,
                },
                &cert, &chain, &error);
        if (r < 0) {
                log_error("Cluster CA: cannot issue a certificate for %s: %s", name, strna(error));
                return reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "cannot issue the certificate");
        }
        if (OSSL_CMP_MSG_get_bodytype(req) == OSSL_CMP_IR) {
                *ret_ca_pubs = X509_chain_up_ref(chain);
                if (!*ret_ca_pubs)
                        return reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "out of memory");
        }
        log_info("Cluster CA: issued a certificate for %s (%s).", name,
                OSSL_CMP_MSG_get_bodytype(req) == OSSL_CMP_KUR ? "key update" : "initial registration");
        *ret_cert = TAKE_PTR(cert);
        *ret_chain = TAKE_PTR(chain);
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

static int process_cert_conf(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int cert_req_id,
        const ASN1_OCTET_STRING *cert_hash, const OSSL_CMP_PKISI *si) {
        /* Nothing is kept per certificate (no database, no revocation): a peer that rejects
         * what it got simply has no certificate from it. */
        return 1;
}

static void process_error(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, const OSSL_CMP_PKISI *si,
        const ASN1_INTEGER *code, const OSSL_CMP_PKIFREETEXT *details) {
}

static int trust_store_of(X509 *root, X509_STORE **ret) {
        X509_STORE *store = X509_STORE_new();

        if (!store || X509_STORE_add_cert(store, root) != 1) {
                X509_STORE_free(store);
                return -ENOMEM;
        }
        *ret = store;
        return 0;
}

/* A fresh responder key and certificate when there is none or it runs out within a day. */
static int responder_refresh(CmpServer *s, char **ret_error) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        int r;

        if (s->responder_cert && s->responder_not_after > now + RESPONDER_RENEW_USEC)
                return 0;
        r = generate_key_pair(KEY_TYPE_ECDSA_P256, &key);
        if (r < 0)
                return x509_error(ret_error, r, "cannot generate the CMP responder key");
        r = issuer_enroll(s->ca,
                &(IssuerRequest){
                        .key = key,
                        .subject_cn = "azshci cluster CA CMP responder",
                        .validity_days = RESPONDER_VALIDITY_DAYS,
                },
                &cert, &chain, ret_error);
        if (r < 0)
                return r;
        EVP_PKEY_free(s->responder_key);
        X509_free(s->responder_cert);
        x509_stack_free(s->responder_chain);
        s->responder_key = TAKE_PTR(key);
        s->responder_cert = TAKE_PTR(cert);
        s->responder_chain = TAKE_PTR(chain);
        s->responder_not_after = now + RESPONDER_VALIDITY_DAYS * USEC_PER_DAY;
        return 0;
}

static int srv_new(CmpServer *s, OSSL_CMP_SRV_CTX **ret) {
        _cleanup_(OSSL_CMP_SRV_CTX_freep) OSSL_CMP_SRV_CTX *srv = NULL;
        X509_STORE *store = NULL;
        OSSL_CMP_CTX *ctx;

        srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
        if (!srv || OSSL_CMP_SRV_CTX_init(srv, s, process_cert_request, NULL, NULL, process_error,
                            process_cert_conf, NULL) != 1)
                return -ENOMEM;
        ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
        (void)OSSL_CMP_CTX_set_log_cb(ctx, cmp_log_cb);
        if (trust_store_of(s->ca_cert, &store) < 0)
                return -ENOMEM;
        if (OSSL_CMP_CTX_set0_trustedStore(ctx, store) != 1) {
                X509_STORE_free(store);
                return -ENOMEM;
        }
        /* Responses are signed by the responder, never MAC-protected: the context holds no
         * secret (requests with a MAC are checked by request_authentic()). */
        if (OSSL_CMP_CTX_set1_cert(ctx, s->responder_cert) != 1 ||
                OSSL_CMP_CTX_set1_pkey(ctx, s->responder_key) != 1 ||
                OSSL_CMP_CTX_set1_extraCertsOut(ctx, s->responder_chain) != 1 ||
                OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, 0) != 1)
                return -ENOMEM;
        *ret = TAKE_PTR(srv);
        return 0;
}

/* Whether msg is protected by the enrolment secret (MAC) or by a valid certificate of this CA. */
static bool request_authentic(CmpServer *s, const OSSL_CMP_MSG *msg) {
        _cleanup_(OSSL_CMP_CTX_freep) OSSL_CMP_CTX *check = NULL;
        _cleanup_free_ char *data = NULL;
        X509_STORE *store = NULL;
        size_t size = 0, n;
        bool ok;
        int r;

        check = OSSL_CMP_CTX_new(NULL, NULL);
        if (!check)
                return false;
        (void)OSSL_CMP_CTX_set_log_cb(check, cmp_log_cb);
        if (trust_store_of(s->ca_cert, &store) < 0)
                return false;
        if (OSSL_CMP_CTX_set0_trustedStore(check, store) != 1) {
                X509_STORE_free(store);
                return false;
        }
        r = read_full_file(s->secret_file, SECRET_MAX, &data, &size);
        if (r < 0)
                log_error_errno(r, "Cluster CA: cannot read the enrolment secret %s: %m", s->secret_file);
        else {
                for (n = size; n > 0 && strchr("\r\n", data[n - 1]); n--)
                        ;
                if (n > 0)
                        (void)OSSL_CMP_CTX_set1_secretValue(check, (unsigned char *)data, (int)n);
                OPENSSL_cleanse(data, size);
        }
        ok = OSSL_CMP_validate_msg(check, msg) == 1;
        ERR_clear_error();
        return ok;
}

static void transaction_free(Transaction *t) {
        ASN1_OCTET_STRING_free(t->id);
        OSSL_CMP_SRV_CTX_free(t->srv);
        *t = (Transaction){};
}

/* Takes the open transaction with this id out of the table, or NULL. Drops expired ones. */
static OSSL_CMP_SRV_CTX *transaction_take(CmpServer *s, const ASN1_OCTET_STRING *id) {
        OSSL_CMP_SRV_CTX *found = NULL;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < s->n_open;) {
                Transaction *t = &s->open[i];

                if (id && !found && ASN1_OCTET_STRING_cmp(t->id, id) == 0) {
                        found = TAKE_PTR(t->srv);
                        transaction_free(t);
                } else if (now - t->started > OPEN_TIMEOUT_USEC)
                        transaction_free(t);
                else {
                        i++;
                        continue;
                }
                *t = s->open[--s->n_open];
        }
        return found;
}

static void transaction_keep(CmpServer *s, const ASN1_OCTET_STRING *id, OSSL_CMP_SRV_CTX *srv) {
        ASN1_OCTET_STRING *copy = id ? ASN1_OCTET_STRING_dup(id) : NULL;

        if (!copy || s->n_open >= OPEN_MAX) {
                log_warning("Cluster CA: too many unconfirmed enrolments, dropping one.");
                ASN1_OCTET_STRING_free(copy);
                OSSL_CMP_SRV_CTX_free(srv);
                return;
        }
        s->open[s->n_open++] = (Transaction){.id = copy, .srv = srv, .started = now_usec(CLOCK_MONOTONIC)};
}

int cmp_server_handle(CmpServer *s, const void *req, size_t size, void **ret, size_t *ret_size) {
        _cleanup_(OSSL_CMP_MSG_freep) OSSL_CMP_MSG *msg = NULL, *rsp = NULL;
        _cleanup_(OSSL_CMP_SRV_CTX_freep) OSSL_CMP_SRV_CTX *srv = NULL;
        const unsigned char *p = req;
        const ASN1_OCTET_STRING *id;
        unsigned char *der = NULL;
        int type, n, r;

        assert(s);
        assert(req || size == 0);
        assert(ret);
        assert(ret_size);

        if (size == 0 || size > INT32_MAX)
                return -EBADMSG;
        msg = d2i_OSSL_CMP_MSG(NULL, &p, (long)size);
        if (!msg || p != (const unsigned char *)req + size) {
                ERR_clear_error();
                return -EBADMSG;
        }
        id = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(msg));
        type = OSSL_CMP_MSG_get_bodytype(msg);

        r = responder_refresh(s, NULL);
        if (r < 0)
                return r;

        /* A certConf (or error) continues its transaction; anything else starts a new one. */
        srv = transaction_take(s, id);
        if (!srv || type == OSSL_CMP_IR || type == OSSL_CMP_CR || type == OSSL_CMP_KUR ||
                type == OSSL_CMP_P10CR) {
                OSSL_CMP_SRV_CTX_free(TAKE_PTR(srv));
                r = srv_new(s, &srv);
                if (r < 0)
                        return r;
        }
        /* Checked here (the context cannot hold the secret, see srv_new()); a message that
         * passes is let through, one that does not meets OpenSSL's own check and is refused. */
        (void)OSSL_CMP_SRV_CTX_set_accept_unprotected(srv, request_authentic(s, msg));
        rsp = OSSL_CMP_SRV_process_request(srv, msg);
        ERR_clear_error();
        if (!rsp)
                return -EIO;

        type = OSSL_CMP_MSG_get_bodytype(rsp);
        if (type == BODY_IP || type == BODY_CP || type == BODY_KUP)
                transaction_keep(s, id, TAKE_PTR(srv));

        n = i2d_OSSL_CMP_MSG(rsp, &der);
        if (n <= 0)
                return -EIO;
        *ret = der;
        *ret_size = (size_t)n;
        return 0;
}

int cmp_server_new(const CmpServerOptions *o, CmpServer **ret, char **ret_error) {
        _cleanup_(cmp_server_freep) CmpServer *s = NULL;
        int r;

        assert(o);
        assert(o->ca);
        assert(o->secret_file);
        assert(o->metadata_domain);
        assert(ret);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ca = o->ca;
        s->validity_days = o->validity_days;
        r = issuer_local_get_ca(o->ca, &s->ca_cert);
        if (r < 0)
                return x509_error(ret_error, r, "the cluster CA needs the embedded (\"local\") issuer");
        r = responder_refresh(s, ret_error);
        if (r < 0)
                return r;
        s->secret_file = strdup(o->secret_file);
        s->domain = strdup(o->metadata_domain);
        if (!s->secret_file || !s->domain)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

CmpServer *cmp_server_free(CmpServer *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_open; i++)
                transaction_free(&s->open[i]);
        X509_free(s->ca_cert);
        EVP_PKEY_free(s->responder_key);
        X509_free(s->responder_cert);
        x509_stack_free(s->responder_chain);
        free(s->secret_file);
        free(s->domain);
        return mfree(s);
}
