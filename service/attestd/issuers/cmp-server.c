/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cluster CA's CMP responder: see cmp-server.h. Runs on the event loop of the CA server.
 * What anyone who reaches the listener can make it do before it knows who they are is bounded:
 * a DER parse, a look at the header and extraCerts, and then either one PBM check (at most
 * CMP_PBM_ITERATIONS_MAX hash iterations, the secret held in memory) or one certificate
 * chain check; the signature of a request is verified only once its certificate is known to
 * be a peer's. An accepted request costs that plus two signatures (well under a millisecond
 * for P-256, a few for RSA-2048), and peers enrol once per sync. */

#include <sys/stat.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp-request.h"
#include "cmp-server.h"
#include "fileio.h"
#include "keystore.h"
#include "log.h"
#include "ratelimit.h"
#include "time-util.h"
#include "x509-util.h"

#define SECRET_MAX        4096U
#define OPEN_MAX          32U
#define OPEN_TIMEOUT_USEC (60 * USEC_PER_SEC)
/* The responder's own certificate: renewed when less than a day of its week is left. */
#define RESPONDER_VALIDITY_DAYS 7U
#define RESPONDER_RENEW_USEC    (24 * USEC_PER_HOUR)
/* Log lines about refused requests: 10 at once, then one a second. */
#define LOG_BURST 10U
#define LOG_RATE  1U

/* PKIBody tags (RFC 4210 5.1.2): the responses after which a certConf is due, and the
 * messages that continue a transaction. */
#define BODY_IP       1
#define BODY_CP       3
#define BODY_KUP      8
#define BODY_ERROR    23
#define BODY_CERTCONF 24

/* Who sent the request being processed, as authenticate() found. */
typedef struct Auth {
        bool mac;     /* protected with the enrolment secret */
        X509 *signer; /* or signed with this certificate of the CA (a peer's) */
        char *name;   /* the signer's DNS name */
} Auth;

typedef struct Transaction {
        ASN1_OCTET_STRING *id;
        OSSL_CMP_SRV_CTX *srv;
        usec_t started;
        bool mac; /* how its request was protected: its certConf must be protected alike */
        X509 *signer;
} Transaction;

struct CmpServer {
        Issuer *ca;
        X509 *ca_cert;
        X509_STORE *store; /* the root alone */
        /* Responses are signed by a key of the responder's own (in memory only), certified by
         * the CA, so the root key only ever signs certificates. */
        EVP_PKEY *responder_key;
        X509 *responder_cert;
        STACK_OF(X509) * responder_chain;
        usec_t responder_not_after;
        char *secret_file;
        /* The enrolment secret, re-read only when stat() shows the file changed. */
        unsigned char *secret;
        size_t secret_size;
        struct stat secret_stat;
        char *domain;
        unsigned validity_days;
        cmp_server_renewal_allowed_t renewal_allowed;
        void *userdata;
        RateLimit *log_limit;
        uint64_t log_suppressed;
        const Auth *request;        /* while OpenSSL processes a request */
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

/* Anyone who reaches the listener can make the responder refuse: at most LOG_BURST lines at
 * once and LOG_RATE a second after that, with a count of the ones left out. */
static void log_refused(CmpServer *s, const char *text) {
        if (ratelimit_check(s->log_limit, "refused", now_usec(CLOCK_MONOTONIC), NULL) <= 0) {
                s->log_suppressed++;
                return;
        }
        if (s->log_suppressed > 0)
                log_info("Cluster CA: request refused: %s (and %" PRIu64 " more refusals not logged)", text,
                        s->log_suppressed);
        else
                log_info("Cluster CA: request refused: %s", text);
        s->log_suppressed = 0;
}

static OSSL_CMP_PKISI *reject(CmpServer *s, int fail_bit, const char *text) {
        log_refused(s, text);
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit, text);
}

/* What a renewal (KUR) must be besides signed (authenticate()): for the name of the
 * certificate that signs it, naming that certificate as the one it replaces, for a server the
 * cluster still has. NULL when it may go ahead. */
static OSSL_CMP_PKISI *check_renewal(CmpServer *s, const Auth *a, const char *name,
        const OSSL_CRMF_MSG *crm) {
        if (!streq(name, a->name))
                return reject(s, OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
                        "a key update must ask for the name of the certificate that signs it");
        if (!cmp_cert_id_matches(OSSL_CRMF_MSG_get0_regCtrl_oldCertID(crm), a->signer))
                return reject(s, OSSL_CMP_PKIFAILUREINFO_badCertId,
                        "the oldCertID of a key update must be the certificate that signs it");
        if (s->renewal_allowed && !s->renewal_allowed(name, s->userdata))
                return reject(s, OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "no server of the cluster has this name (any more)");
        return NULL;
}

static OSSL_CMP_PKISI *process_cert_request(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int cert_req_id,
        const OSSL_CRMF_MSG *crm, const X509_REQ *p10cr, X509 **ret_cert, STACK_OF(X509) * *ret_chain,
        STACK_OF(X509) * *ret_ca_pubs) {
        CmpServer *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
        const Auth *a = s->request;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *name = NULL, *error = NULL;
        OSSL_CRMF_CERTTEMPLATE *tmpl;
        OSSL_CMP_PKISI *refused;
        int type = OSSL_CMP_MSG_get_bodytype(req);
        int r;

        if (!crm)
                return reject(s, OSSL_CMP_PKIFAILUREINFO_badRequest, "only ir, cr and kur are supported");
        /* authenticate() let it through; checked again so that no other path issues anything. */
        if (!a || (type == OSSL_CMP_KUR ? !a->signer : !a->mac))
                return reject(s, OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "ir and cr need the enrolment secret, kur the certificate it renews");
        tmpl = OSSL_CRMF_MSG_get0_tmpl(crm);
        if (cmp_template_name(tmpl, s->domain, &name) < 0)
                return reject(s, OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
                        "the template must name one host under the metadata domain, as subject CN and DNS "
                        "subjectAltName");
        if (type == OSSL_CMP_KUR) {
                refused = check_renewal(s, a, name, crm);
                if (refused)
                        return refused;
        }
        pub = crmf_template_public_key(tmpl);
        if (!pub)
                return reject(s, OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "no public key in the template");

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
                return reject(s, OSSL_CMP_PKIFAILUREINFO_systemFailure, "cannot issue the certificate");
        }
        if (type == OSSL_CMP_IR) {
                *ret_ca_pubs = X509_chain_up_ref(chain);
                if (!*ret_ca_pubs)
                        return reject(s, OSSL_CMP_PKIFAILUREINFO_systemFailure, "out of memory");
        }
        log_info("Cluster CA: issued a certificate for %s (%s).", name,
                type == OSSL_CMP_KUR ? "key update" : "initial registration");
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
                        .subject_cn = CMP_SERVER_RESPONDER_CN,
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

/* A server context that holds neither the secret nor a trust store: OpenSSL's own check of a
 * request's protection succeeds only for what srv_prepare() lets through. */
static int srv_new(CmpServer *s, OSSL_CMP_SRV_CTX **ret) {
        _cleanup_(OSSL_CMP_SRV_CTX_freep) OSSL_CMP_SRV_CTX *srv = NULL;
        OSSL_CMP_CTX *ctx;

        srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
        if (!srv || OSSL_CMP_SRV_CTX_init(srv, s, process_cert_request, NULL, NULL, process_error,
                            process_cert_conf, NULL) != 1)
                return -ENOMEM;
        ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
        (void)OSSL_CMP_CTX_set_log_cb(ctx, cmp_log_cb);
        /* Responses are signed by the responder, never MAC-protected. */
        if (OSSL_CMP_CTX_set1_cert(ctx, s->responder_cert) != 1 ||
                OSSL_CMP_CTX_set1_pkey(ctx, s->responder_key) != 1 ||
                OSSL_CMP_CTX_set1_extraCertsOut(ctx, s->responder_chain) != 1 ||
                OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, 0) != 1)
                return -ENOMEM;
        *ret = TAKE_PTR(srv);
        return 0;
}

/* What OpenSSL then checks of the request's protection: a MAC authenticate() verified is let
 * through (the context has no secret to verify it again); a signature is verified against the
 * one certificate authenticate() found (pinned, so OpenSSL looks for no other). Anything not
 * authenticated (a == NULL) fails that check and gets a signed CMP error. */
static int srv_prepare(OSSL_CMP_SRV_CTX *srv, const Auth *a) {
        OSSL_CMP_CTX *ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);

        if (OSSL_CMP_SRV_CTX_set_accept_unprotected(srv, a && a->mac) != 1 ||
                OSSL_CMP_CTX_set1_srvCert(ctx, a ? a->signer : NULL) != 1)
                return -ENOMEM;
        return 0;
}

static void secret_drop(CmpServer *s) {
        if (s->secret)
                OPENSSL_cleanse(s->secret, s->secret_size);
        s->secret = mfree(s->secret);
        s->secret_size = 0;
        s->secret_stat = (struct stat){};
}

static bool same_file_state(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The enrolment secret (without trailing newlines): read again only when the file changed, so
 * rotating it needs no restart and a request costs no read. */
static int secret_get(CmpServer *s) {
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t size = 0, n;
        int r;

        if (stat(s->secret_file, &st) < 0) {
                secret_drop(s);
                return negative_errno();
        }
        if (s->secret && same_file_state(&st, &s->secret_stat))
                return 0;
        secret_drop(s);
        r = read_full_file(s->secret_file, SECRET_MAX, &data, &size);
        if (r < 0)
                return r;
        for (n = size; n > 0 && strchr("\r\n", data[n - 1]); n--)
                ;
        if (n > 0) {
                s->secret = malloc(n);
                if (!s->secret)
                        r = -ENOMEM;
                else
                        memcpy(s->secret, data, n);
        } else
                r = -ENOKEY;
        OPENSSL_cleanse(data, size);
        if (r < 0)
                return r;
        s->secret_size = n;
        s->secret_stat = st;
        return 0;
}

static bool mac_valid(CmpServer *s, const OSSL_CMP_MSG *msg) {
        _cleanup_(OSSL_CMP_CTX_freep) OSSL_CMP_CTX *check = OSSL_CMP_CTX_new(NULL, NULL);
        bool ok;

        if (!check)
                return false;
        (void)OSSL_CMP_CTX_set_log_cb(check, cmp_log_cb);
        if (OSSL_CMP_CTX_set1_secretValue(check, s->secret, (int)s->secret_size) != 1)
                return false;
        ok = OSSL_CMP_validate_msg(check, msg) == 1;
        ERR_clear_error();
        return ok;
}

/* Whether cert is a certificate of this CA that is valid now. */
static bool issued_here(CmpServer *s, X509 *cert) {
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        bool ok;

        if (!ctx || X509_STORE_CTX_init(ctx, s->store, cert, NULL) != 1)
                return false;
        ok = X509_verify_cert(ctx) == 1;
        ERR_clear_error();
        return ok;
}

/* The certificate of extraCerts whose subject is the header's sender (exactly one), or NULL. */
static X509 *sender_cert(const CmpMsgInfo *info) {
        X509 *found = NULL;

        for (int i = 0; info->sender && i < sk_X509_num(info->extra); i++) {
                X509 *c = sk_X509_value(info->extra, i);

                if (X509_NAME_cmp(X509_get_subject_name(c), info->sender) != 0)
                        continue;
                if (found)
                        return NULL;
                found = c;
        }
        return found;
}

static void auth_done(Auth *a) {
        X509_free(a->signer);
        free(a->name);
        *a = (Auth){};
}

/* The signer of a KUR: a certificate of this CA, valid now, with a host name of the domain, not
 * the responder's own. */
static int authenticate_signer(CmpServer *s, const CmpMsgInfo *info, Auth *a, const char **ret_why) {
        X509 *signer = sender_cert(info);

        if (!signer)
                return *ret_why = "a signed request must carry the certificate of its sender in extraCerts",
                       -EBADMSG;
        if (X509_NAME_cmp(X509_get_subject_name(signer), X509_get_subject_name(s->responder_cert)) == 0)
                return *ret_why = "signed with the responder's own certificate", -EPERM;
        if (cmp_cert_name(signer, s->domain, &a->name) < 0)
                return *ret_why = "the signing certificate names no host under the metadata domain", -EPERM;
        if (!issued_here(s, signer))
                return *ret_why = "the signing certificate is not one of this CA valid now", -EPERM;
        X509_up_ref(signer);
        a->signer = signer;
        return 0;
}

/* Who sent msg, if the responder takes it from them (docs/trust-model.md, "Cluster"):
 * - with the enrolment secret (PBM): ir and cr, and the certConf or error of such a
 *   transaction; the PBM iteration count is checked before the MAC is computed;
 * - signed by a peer's certificate of this CA: kur, and the certConf or error of that
 *   transaction signed by the same certificate.
 * Anything else is refused (-errno, why in *ret_why): unprotected, p10cr, rr, genm, an ir or cr
 * signed with a certificate, a kur with the secret, a certConf of no open transaction or not
 * protected as its request. The signature itself is verified by OpenSSL (srv_prepare()). */
static int authenticate(CmpServer *s, const OSSL_CMP_MSG *msg, const Transaction *t, Auth *ret,
        const char **ret_why) {
        _cleanup_(cmp_msg_info_done) CmpMsgInfo info = {.pbm_iterations = -1};
        int type = OSSL_CMP_MSG_get_bodytype(msg);
        bool cont = type == BODY_CERTCONF || type == BODY_ERROR;
        int r;

        r = cmp_msg_inspect(msg, &info);
        if (r < 0)
                return *ret_why = "cannot read the header or extraCerts", r;
        if (info.protection_nid == NID_undef)
                return *ret_why = "unprotected", -EPERM;
        if (cont && !t)
                return *ret_why = "a certConf or error of no open transaction", -ENOENT;

        if (info.protection_nid == NID_id_PasswordBasedMAC) {
                if (cont ? !t->mac : type != OSSL_CMP_IR && type != OSSL_CMP_CR)
                        return *ret_why = "the enrolment secret protects only ir and cr", -EPERM;
                if (info.pbm_iterations < 0 || info.pbm_iterations > CMP_PBM_ITERATIONS_MAX)
                        return *ret_why = "the PBM iteration count is missing or above what peers send",
                               -EPERM;
                r = secret_get(s);
                if (r < 0) {
                        /* Every request with a MAC would log it: as rate-limited as the refusals. */
                        if (ratelimit_check(s->log_limit, "secret", now_usec(CLOCK_MONOTONIC), NULL) > 0)
                                log_error_errno(r, "Cluster CA: cannot read the enrolment secret %s: %m",
                                        s->secret_file);
                        return *ret_why = "the enrolment secret cannot be read", r;
                }
                if (!mac_valid(s, msg))
                        return *ret_why = "wrong enrolment secret", -EPERM;
                ret->mac = true;
                return 0;
        }

        if (cont ? !t->signer : type != OSSL_CMP_KUR)
                return *ret_why = "a certificate signs only kur", -EPERM;
        if (!cont)
                return authenticate_signer(s, &info, ret, ret_why);
        if (!info.sender || X509_NAME_cmp(X509_get_subject_name(t->signer), info.sender) != 0)
                return *ret_why = "not from the sender of the transaction's kur", -EPERM;
        X509_up_ref(t->signer);
        ret->signer = t->signer;
        return 0;
}

static void transaction_free(Transaction *t) {
        ASN1_OCTET_STRING_free(t->id);
        OSSL_CMP_SRV_CTX_free(t->srv);
        X509_free(t->signer);
        *t = (Transaction){};
}

static void transaction_remove(CmpServer *s, Transaction *t) {
        transaction_free(t);
        *t = s->open[--s->n_open];
        s->open[s->n_open] = (Transaction){};
}

/* Drops the transactions whose certConf did not come within OPEN_TIMEOUT_USEC. */
static void transactions_expire(CmpServer *s) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < s->n_open;)
                if (now - s->open[i].started > OPEN_TIMEOUT_USEC)
                        transaction_remove(s, &s->open[i]);
                else
                        i++;
}

/* The open transaction with this id (left in the table), or NULL. */
static Transaction *transaction_find(CmpServer *s, const ASN1_OCTET_STRING *id) {
        for (size_t i = 0; id && i < s->n_open; i++)
                if (ASN1_OCTET_STRING_cmp(s->open[i].id, id) == 0)
                        return &s->open[i];
        return NULL;
}

/* Keeps srv until the certConf of the authenticated request a (replacing an open transaction
 * with the same id: only its sender could know it). */
static void transaction_keep(CmpServer *s, const ASN1_OCTET_STRING *id, OSSL_CMP_SRV_CTX *srv,
        const Auth *a) {
        Transaction *old = transaction_find(s, id);
        ASN1_OCTET_STRING *copy = id ? ASN1_OCTET_STRING_dup(id) : NULL;

        if (old)
                transaction_remove(s, old);
        if (!copy || s->n_open >= OPEN_MAX) {
                log_warning("Cluster CA: too many unconfirmed enrolments, dropping one.");
                ASN1_OCTET_STRING_free(copy);
                OSSL_CMP_SRV_CTX_free(srv);
                return;
        }
        if (a->signer)
                X509_up_ref(a->signer);
        s->open[s->n_open++] = (Transaction){
                .id = copy,
                .srv = srv,
                .started = now_usec(CLOCK_MONOTONIC),
                .mac = a->mac,
                .signer = a->signer,
        };
}

static int encode(const OSSL_CMP_MSG *rsp, void **ret, size_t *ret_size) {
        unsigned char *der = NULL;
        int n = i2d_OSSL_CMP_MSG(rsp, &der);

        if (n <= 0)
                return -EIO;
        *ret = der;
        *ret_size = (size_t)n;
        return 0;
}

int cmp_server_handle(CmpServer *s, const void *req, size_t size, void **ret, size_t *ret_size) {
        _cleanup_(OSSL_CMP_MSG_freep) OSSL_CMP_MSG *msg = NULL, *rsp = NULL;
        _cleanup_(OSSL_CMP_SRV_CTX_freep) OSSL_CMP_SRV_CTX *fresh = NULL;
        _cleanup_(auth_done) Auth auth = {};
        const unsigned char *p = req;
        const ASN1_OCTET_STRING *id;
        const char *why = NULL;
        OSSL_CMP_SRV_CTX *srv;
        Transaction *t;
        bool ok, cont;
        int type, r;

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
        cont = type == BODY_CERTCONF || type == BODY_ERROR;

        r = responder_refresh(s, NULL);
        if (r < 0)
                return r;
        transactions_expire(s);
        t = transaction_find(s, id);

        ok = authenticate(s, msg, t, &auth, &why) >= 0;
        if (!ok)
                log_refused(s, why);
        /* A certConf or error continues its transaction only when it comes from the transaction's
         * sender: anything else is answered from a context of its own, so it can neither change
         * the transaction's state (nonces) nor end it. */
        if (ok && cont)
                srv = t->srv;
        else {
                r = srv_new(s, &fresh);
                if (r < 0)
                        return r;
                srv = fresh;
        }
        r = srv_prepare(srv, ok ? &auth : NULL);
        if (r < 0)
                return r;
        s->request = ok ? &auth : NULL;
        rsp = OSSL_CMP_SRV_process_request(srv, msg);
        s->request = NULL;
        ERR_clear_error();
        /* The transaction is over, whatever OpenSSL made of its certConf. */
        if (ok && cont)
                transaction_remove(s, t);
        if (!rsp)
                return -EIO;

        type = OSSL_CMP_MSG_get_bodytype(rsp);
        if (ok && !cont && (type == BODY_IP || type == BODY_CP || type == BODY_KUP))
                transaction_keep(s, id, TAKE_PTR(fresh), &auth);
        return encode(rsp, ret, ret_size);
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
        s->renewal_allowed = o->renewal_allowed;
        s->userdata = o->userdata;
        r = issuer_local_get_ca(o->ca, &s->ca_cert);
        if (r < 0)
                return x509_error(ret_error, r, "the cluster CA needs the embedded (\"local\") issuer");
        s->store = X509_STORE_new();
        if (!s->store || X509_STORE_add_cert(s->store, s->ca_cert) != 1)
                return -ENOMEM;
        r = ratelimit_new(LOG_RATE, LOG_BURST, 4, &s->log_limit);
        if (r < 0)
                return r;
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
        X509_STORE_free(s->store);
        EVP_PKEY_free(s->responder_key);
        X509_free(s->responder_cert);
        x509_stack_free(s->responder_chain);
        secret_drop(s);
        ratelimit_free(s->log_limit);
        free(s->secret_file);
        free(s->domain);
        return mfree(s);
}
