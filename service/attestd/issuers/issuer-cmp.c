/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cloud CA issuer: enrolment over CMP (RFC 4210) with OpenSSL's OSSL_CMP_* client.
 *
 * - No current certificate (or an expired one): IR, protected by the registration reference
 *   and shared secret (password-based MAC, PBM).
 * - A valid current certificate: KUR, signed with the current key and certificate. When the
 *   server rejects the KUR (a CMP-level rejection, not a transport error) and a shared secret is
 *   configured, one IR follows: the secret is the stronger credential anyway (it can enrol any
 *   key), and this recovers a host whose certificate the CA no longer accepts (CA re-keyed,
 *   certificate revoked by mistake, CA switched).
 *
 * Responses must be protected either by the shared secret (PBM) or by a signature that
 * verifies against trust_anchor. The new certificate itself is checked in the certConf
 * callback before we confirm it (so a bad certificate is rejected towards the CA too): it must
 * carry our new public key, be valid now, and chain to trust_anchor (a verifier trusts exactly
 * that root, see get_trust_anchor()). The maximum validity is the caller's check.
 *
 * Every enrolment builds its own OSSL_CMP_CTX, trust store and TLS context: no shared mutable
 * state, so enrolments may run on any worker thread. */

#include <stdarg.h>
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp-failure.h"
#include "cmp-transport.h"
#include "fileio.h"
#include "issuer.h"
#include "log.h"
#include "x509-util.h"

#define CMP_DEFAULT_TIMEOUT_SEC 60U
#define CMP_SECRET_MAX          4096U

typedef struct IssuerCmp {
        Issuer issuer;

        char *url; /* as configured, for messages */
        char *host;
        char *port;
        char *path;
        bool tls;

        char *trust_anchor;
        char *reference;
        char *secret;
        char *secret_file;
        char *tls_trust;
        char *subject;
        unsigned timeout_sec;
} IssuerCmp;

/* One enrolment attempt: what the certConf callback needs and what it found. */
typedef struct CmpAttempt {
        IssuerCmp *cmp;
        X509_STORE *trust; /* owned by the OSSL_CMP_CTX */
        EVP_PKEY *new_key;
        char cert_problem[256];
} CmpAttempt;

DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_CMP_CTX *, OSSL_CMP_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(GENERAL_NAME *, GENERAL_NAME_free);

static void erase_and_free(char *s) {
        if (s) {
                OPENSSL_cleanse(s, strlen(s));
                free(s);
        }
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char *, erase_and_free);

static int cmp_log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level,
        const char *msg) {
        /* OpenSSL's CMP chatter ("sending IR", ...) is debug output for us: the outcome is
         * reported by the caller with a one-line reason. */
        log_debug("CMP: %s", msg);
        return 1;
}

static char *strdup_trimmed(const char *s, size_t n) {
        while (n > 0 && strchr("\r\n", s[n - 1]))
                n--;
        return strndup(s, n);
}

static int cmp_get_secret(IssuerCmp *c, char **ret, char **ret_error) {
        _cleanup_(erase_and_freep) char *data = NULL;
        size_t size;
        char *s;
        int r;

        if (c->secret) {
                s = strdup(c->secret);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        if (!c->secret_file)
                return x509_error(ret_error, -ENOKEY,
                        "CMP: no shared secret configured (cmp.secret or cmp.secret_file)");

        r = read_full_file(c->secret_file, CMP_SECRET_MAX, &data, &size);
        if (r < 0)
                return x509_error(ret_error, r, "CMP: cannot read the shared secret file %s: %s",
                        c->secret_file, strerror(-r));
        s = strdup_trimmed(data, size);
        if (!s)
                return -ENOMEM;
        if (isempty(s)) {
                free(s);
                return x509_error(ret_error, -ENOKEY, "CMP: the shared secret file %s is empty",
                        c->secret_file);
        }
        *ret = s;
        return 0;
}

/* "/CN=a/O=b" (OpenSSL style) or "CN=a,O=b"; no escaping. */
static int parse_subject(const char *s, X509_NAME **ret) {
        _cleanup_(X509_NAME_freep) X509_NAME *name = NULL;
        _cleanup_free_ char *copy = NULL;
        const char *sep = ",";
        char *p, *save = NULL;

        assert(s);
        assert(ret);

        if (*s == '/') {
                sep = "/";
                s++;
        }
        copy = strdup(s);
        name = X509_NAME_new();
        if (!copy || !name)
                return -ENOMEM;

        for (p = strtok_r(copy, sep, &save); p; p = strtok_r(NULL, sep, &save)) {
                char *eq;

                p += strspn(p, " ");
                eq = strchr(p, '=');
                if (!eq || eq == p || isempty(eq + 1))
                        return -EINVAL;
                *eq = 0;
                if (X509_NAME_add_entry_by_txt(name, p, MBSTRING_UTF8, (const unsigned char *)eq + 1, -1, -1,
                            0) != 1) {
                        ERR_clear_error();
                        return -EINVAL;
                }
        }
        if (X509_NAME_entry_count(name) == 0)
                return -EINVAL;

        *ret = TAKE_PTR(name);
        return 0;
}

static int build_subject(IssuerCmp *c, const IssuerRequest *req, X509_NAME **ret) {
        _cleanup_(X509_NAME_freep) X509_NAME *name = NULL;

        if (c->subject)
                return parse_subject(c->subject, ret);

        name = X509_NAME_new();
        if (!name)
                return -ENOMEM;
        if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)req->subject_cn, -1,
                    -1, 0) != 1) {
                ERR_clear_error();
                return -EINVAL;
        }
        *ret = TAKE_PTR(name);
        return 0;
}

static int load_trust(IssuerCmp *c, X509_STORE **ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = trust_store_new(c->trust_anchor, ret, &error);
        if (r < 0)
                return x509_error(ret_error, r, "CMP trust anchor %s: %s", c->trust_anchor, strna(error));
        return 0;
}

/* The certificates the CA sent besides the new one (extraCerts, then caPubs), each once, in a
 * new stack: what the new certificate may chain through. NULL when out of memory. */
static STACK_OF(X509) * received_certs(OSSL_CMP_CTX *ctx) {
        STACK_OF(X509) * (*const sent[])(const OSSL_CMP_CTX *ctx) = {
                OSSL_CMP_CTX_get1_extraCertsIn,
                OSSL_CMP_CTX_get1_caPubs,
        };
        STACK_OF(X509) *certs = sk_X509_new_null();

        for (size_t i = 0; certs && i < ELEMENTSOF(sent); i++) {
                STACK_OF(X509) *more = sent[i](ctx);

                if (more) {
                        X509_add_certs(certs, more, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP);
                        x509_stack_free(more);
                }
        }
        return certs;
}

/* The certConf callback: decides whether we accept the certificate the CA sent. A non-zero
 * fail_info makes OpenSSL send a negative certConf and fail the enrolment. */
static int cert_conf_cb(OSSL_CMP_CTX *ctx, X509 *cert, int fail_info, const char **text) {
        CmpAttempt *a = OSSL_CMP_CTX_get_certConf_cb_arg(ctx);
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *sctx = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *untrusted = NULL;

        assert(a);

        /* OpenSSL may already have found a problem (fail_info != 0, e.g. the key check): our
         * own checks still run so that the reason is ours, in plain words. */
        if (!certificate_matches_key(cert, a->new_key)) {
                snprintf(a->cert_problem, sizeof a->cert_problem,
                        "it is for a different public key than the one requested");
                goto reject;
        }
        if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
                snprintf(a->cert_problem, sizeof a->cert_problem, "it has already expired");
                goto reject;
        }

        /* Chain to the trust anchor, with whatever intermediates the CA sent. */
        untrusted = received_certs(ctx);
        if (!untrusted)
                goto oom;
        sctx = X509_STORE_CTX_new();
        if (!sctx || X509_STORE_CTX_init(sctx, a->trust, cert, untrusted) != 1)
                goto oom;
        if (X509_verify_cert(sctx) != 1) {
                int e = X509_STORE_CTX_get_error(sctx);

                if (e == X509_V_ERR_CERT_HAS_EXPIRED)
                        snprintf(a->cert_problem, sizeof a->cert_problem, "it has already expired");
                else
                        snprintf(a->cert_problem, sizeof a->cert_problem,
                                "it does not chain to the trust anchor %s: %s", a->cmp->trust_anchor,
                                X509_verify_cert_error_string(e));
                goto reject;
        }
        return fail_info;

oom:
        snprintf(a->cert_problem, sizeof a->cert_problem, "out of memory while checking it");
reject:
        ERR_clear_error();
        *text = a->cert_problem;
        return fail_info | (1 << OSSL_CMP_PKIFAILUREINFO_incorrectData);
}

/* Builds the chain: issuers of the new certificate found among extraCerts and caPubs, leaf's
 * issuer first, up to (and including) a self-signed root if the CA sent one. */
static int build_chain(OSSL_CMP_CTX *ctx, X509 *cert, STACK_OF(X509) * *ret) {
        _cleanup_(x509_stack_freep) STACK_OF(X509) *pool = NULL, *chain = NULL;
        X509 *cur = cert;

        pool = received_certs(ctx);
        chain = sk_X509_new_null();
        if (!pool || !chain)
                return -ENOMEM;

        for (int depth = 0; depth < 10; depth++) {
                X509 *issuer = NULL;

                if (X509_check_issued(cur, cur) == X509_V_OK && cur != cert)
                        break; /* self-signed root reached */
                for (int i = 0; i < sk_X509_num(pool); i++) {
                        X509 *x = sk_X509_value(pool, i);
                        if (X509_cmp(x, cur) != 0 && X509_check_issued(x, cur) == X509_V_OK) {
                                issuer = x;
                                break;
                        }
                }
                if (!issuer)
                        break;
                if (!X509_up_ref(issuer))
                        return -ENOMEM;
                if (sk_X509_push(chain, issuer) <= 0) {
                        X509_free(issuer);
                        return -ENOMEM;
                }
                cur = issuer;
        }
        ERR_clear_error();
        *ret = TAKE_PTR(chain);
        return 0;
}

/* A CMP context for c's server, trusting c's roots (*ret_trust, owned by the context), over TLS
 * when c asks for it: tls then holds the TLS context, which must outlive the CMP context's
 * connection. */
static int cmp_context_new(IssuerCmp *c, TlsInfo *tls, OSSL_CMP_CTX **ret, X509_STORE **ret_trust,
        char **ret_error) {
        _cleanup_(OSSL_CMP_CTX_freep) OSSL_CMP_CTX *ctx = NULL;
        X509_STORE *trust = NULL;
        int r;

        ctx = OSSL_CMP_CTX_new(NULL, NULL);
        if (!ctx)
                return openssl_error(ret_error, -ENOMEM, "CMP: cannot create a context");
        (void)OSSL_CMP_CTX_set_log_cb(ctx, cmp_log_cb);
        (void)OSSL_CMP_CTX_set_log_verbosity(ctx,
                log_get_max_level() >= LOG_DEBUG ? OSSL_CMP_LOG_DEBUG : OSSL_CMP_LOG_ERR);

        r = load_trust(c, &trust, ret_error);
        if (r < 0)
                return r;
        if (OSSL_CMP_CTX_set0_trustedStore(ctx, trust) != 1) {
                X509_STORE_free(trust);
                return openssl_error(ret_error, -ENOMEM, "CMP: cannot set the trust store");
        }

        if (OSSL_CMP_CTX_set1_server(ctx, c->host) != 1 ||
                OSSL_CMP_CTX_set_serverPort(ctx, atoi(c->port)) != 1 ||
                OSSL_CMP_CTX_set1_serverPath(ctx, c->path) != 1 ||
                OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT, (int)c->timeout_sec) != 1 ||
                OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_TOTAL_TIMEOUT, (int)c->timeout_sec) != 1 ||
                OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_KEEP_ALIVE, 0) != 1)
                return openssl_error(ret_error, -EINVAL, "CMP: cannot configure the server %s", c->url);

        if (c->tls) {
                r = cmp_tls_setup(c->host, c->tls_trust ?: c->trust_anchor, tls, ret_error);
                if (r < 0)
                        return r;
                if (OSSL_CMP_CTX_set_http_cb(ctx, cmp_tls_http_cb) != 1 ||
                        OSSL_CMP_CTX_set_http_cb_arg(ctx, tls) != 1) {
                        SSL_CTX_free(tls->ssl_ctx);
                        return openssl_error(ret_error, -EIO, "CMP: cannot set up TLS");
                }
        }

        *ret_trust = trust;
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* Who asks: the current certificate and key for a KUR, the reference and secret for an IR. */
static int cmp_context_set_sender(OSSL_CMP_CTX *ctx, IssuerCmp *c, const IssuerRequest *req, bool kur,
        const char *secret, char **ret_error) {
        if (kur) {
                if (OSSL_CMP_CTX_set1_cert(ctx, req->current_cert) != 1 ||
                        OSSL_CMP_CTX_set1_pkey(ctx, req->current_key) != 1 ||
                        OSSL_CMP_CTX_set1_oldCert(ctx, req->current_cert) != 1)
                        return openssl_error(ret_error, -EINVAL,
                                "CMP: the current certificate/key cannot be used");
        } else if (OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)strempty(c->reference),
                           (int)strlen(strempty(c->reference))) != 1 ||
                   OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)secret, (int)strlen(secret)) !=
                           1)
                return openssl_error(ret_error, -ENOMEM, "CMP: cannot set the shared secret");
        return 0;
}

/* What is asked for: the new key, the subject and its alternative name, the validity. */
static int cmp_context_set_request(OSSL_CMP_CTX *ctx, const IssuerRequest *req, X509_NAME *subject,
        CmpAttempt *a, char **ret_error) {
        _cleanup_(GENERAL_NAME_freep) GENERAL_NAME *san = NULL;

        san = GENERAL_NAME_new();
        if (!san)
                return -ENOMEM;
        if (!isempty(req->san_dns)) {
                ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
                if (!ia5 || ASN1_STRING_set(ia5, req->san_dns, -1) != 1) {
                        ASN1_IA5STRING_free(ia5);
                        return -ENOMEM;
                }
                GENERAL_NAME_set0_value(san, GEN_DNS, ia5);
                if (OSSL_CMP_CTX_push1_subjectAltName(ctx, san) != 1)
                        return openssl_error(ret_error, -ENOMEM,
                                "CMP: cannot set the subject alternative name");
        }
        EVP_PKEY_up_ref(req->key);
        if (OSSL_CMP_CTX_set0_newPkey(ctx, 1, req->key) != 1) {
                EVP_PKEY_free(req->key);
                return openssl_error(ret_error, -EINVAL, "CMP: cannot use the new key");
        }
        if (OSSL_CMP_CTX_set1_subjectName(ctx, subject) != 1 ||
                OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_SUBJECTALTNAME_NODEFAULT, 1) != 1 ||
                (req->validity_days > 0 && OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_VALIDITY_DAYS,
                                                   (int)req->validity_days) != 1) ||
                OSSL_CMP_CTX_set_certConf_cb(ctx, cert_conf_cb) != 1 ||
                OSSL_CMP_CTX_set_certConf_cb_arg(ctx, a) != 1)
                return openssl_error(ret_error, -EINVAL, "CMP: cannot build the certificate request");
        return 0;
}

static int enrol_once(IssuerCmp *c, const IssuerRequest *req, bool kur, X509 **ret_cert,
        STACK_OF(X509) * *ret_chain, bool *ret_rejected, char **ret_error) {
        _cleanup_(OSSL_CMP_CTX_freep) OSSL_CMP_CTX *ctx = NULL;
        _cleanup_(X509_NAME_freep) X509_NAME *subject = NULL;
        _cleanup_(erase_and_freep) char *secret = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        TlsInfo tls = {};
        CmpAttempt a = {
                .cmp = c,
                .new_key = req->key,
        };
        X509 *issued;
        int r;

        *ret_rejected = false;
        ERR_clear_error();

        if (!kur) {
                r = cmp_get_secret(c, &secret, ret_error);
                if (r < 0)
                        return r;
        }

        r = build_subject(c, req, &subject);
        if (r < 0)
                return x509_error(ret_error, r, "CMP: invalid certificate subject \"%s\"",
                        c->subject ?: req->subject_cn);

        r = cmp_context_new(c, &tls, &ctx, &a.trust, ret_error);
        if (r < 0)
                return r;
        r = cmp_context_set_sender(ctx, c, req, kur, secret, ret_error);
        if (r < 0)
                goto finish;
        r = cmp_context_set_request(ctx, req, subject, &a, ret_error);
        if (r < 0)
                goto finish;

        r = cmp_probe_connect(c->url, c->host, c->port, c->timeout_sec, ret_error);
        if (r < 0)
                goto finish;

        log_debug("CMP: sending %s to %s", kur ? "KUR" : "IR", c->url);
        issued = OSSL_CMP_exec_certreq(ctx, kur ? OSSL_CMP_KUR : OSSL_CMP_IR, NULL);
        if (!issued) {
                r = cmp_failure_explain(ctx, c->url, c->timeout_sec, a.cert_problem, !kur, ret_rejected,
                        ret_error);
                goto finish;
        }
        cert = X509_dup(issued);
        if (!cert) {
                r = -ENOMEM;
                goto finish;
        }
        r = build_chain(ctx, cert, &chain);
        if (r < 0)
                goto finish;

        *ret_cert = TAKE_PTR(cert);
        if (ret_chain)
                *ret_chain = TAKE_PTR(chain);
        r = 0;

finish:
        /* The TLS context must outlive the CMP context's connection. */
        OSSL_CMP_CTX_free(TAKE_PTR(ctx));
        SSL_CTX_free(tls.ssl_ctx);
        ERR_clear_error();
        return r;
}

static int cmp_enroll(Issuer *issuer, const IssuerRequest *req, X509 **ret_cert, STACK_OF(X509) * *ret_chain,
        char **ret_error) {
        IssuerCmp *c = (IssuerCmp *)issuer;
        _cleanup_free_ char *kur_error = NULL, *ir_error = NULL;
        bool rejected = false, kur = false;
        int r;

        assert(c);
        assert(req);
        assert(req->key);
        assert(req->subject_cn);
        assert(ret_cert);

        /* KUR only with a current certificate that is still valid: an expired one can't sign. */
        if (req->current_cert && req->current_key &&
                X509_cmp_current_time(X509_get0_notAfter(req->current_cert)) > 0)
                kur = true;

        if (kur) {
                r = enrol_once(c, req, true, ret_cert, ret_chain, &rejected, &kur_error);
                if (r >= 0)
                        return 0;
                if (!rejected || (!c->secret && !c->secret_file)) {
                        if (ret_error)
                                *ret_error = TAKE_PTR(kur_error);
                        return r;
                }
                log_warning("CMP key update rejected (%s), falling back to initial registration with the "
                            "shared secret.",
                        strna(kur_error));
        }

        r = enrol_once(c, req, false, ret_cert, ret_chain, &rejected, &ir_error);
        if (r >= 0)
                return 0;
        if (ret_error) {
                if (kur_error) {
                        char *s = NULL;
                        if (asprintf(&s, "%s (after the key update was refused: %s)", strna(ir_error),
                                    kur_error) < 0)
                                return -ENOMEM;
                        *ret_error = s;
                } else
                        *ret_error = TAKE_PTR(ir_error);
        }
        return r;
}

static int cmp_get_trust_anchor(Issuer *issuer, char **ret_pem) {
        IssuerCmp *c = (IssuerCmp *)issuer;

        assert(c);
        assert(ret_pem);

        return read_full_file(c->trust_anchor, 1024 * 1024, ret_pem, NULL);
}

static void cmp_free(Issuer *issuer) {
        IssuerCmp *c = (IssuerCmp *)issuer;

        if (!c)
                return;
        free(c->url);
        OPENSSL_free(c->host);
        OPENSSL_free(c->port);
        OPENSSL_free(c->path);
        free(c->trust_anchor);
        free(c->reference);
        erase_and_free(c->secret);
        free(c->secret_file);
        free(c->tls_trust);
        free(c->subject);
        free(c);
}

static const IssuerOps issuer_cmp_ops = {
        .name = "cmp",
        .enroll = cmp_enroll,
        .get_trust_anchor = cmp_get_trust_anchor,
        .free = cmp_free,
};

static IssuerCmp *issuer_cmp_freep_helper(IssuerCmp *c) {
        cmp_free((Issuer *)c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(IssuerCmp *, issuer_cmp_freep_helper);

int issuer_cmp_new(const CmpConfig *config, Issuer **ret, char **ret_error) {
        _cleanup_(issuer_cmp_freep_helperp) IssuerCmp *c = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *trust = NULL;
        char *user = NULL, *query = NULL, *frag = NULL;
        int ssl = 0, r;

        assert(config);
        assert(ret);

        if (isempty(config->server))
                return x509_error(ret_error, -EINVAL, "CMP: no server URL configured (cmp.server)");
        if (strncmp(config->server, "http://", 7) != 0 && strncmp(config->server, "https://", 8) != 0)
                return x509_error(ret_error, -EINVAL,
                        "CMP: server URL \"%s\" must start with http:// or https://", config->server);
        if (isempty(config->trust_anchor))
                return x509_error(ret_error, -EINVAL, "CMP: no trust anchor configured (cmp.trust_anchor)");
        if (isempty(config->secret) && isempty(config->secret_file))
                return x509_error(ret_error, -EINVAL,
                        "CMP: no shared secret configured for the initial registration (cmp.secret or "
                        "cmp.secret_file)");

        c = calloc(1, sizeof(IssuerCmp));
        if (!c)
                return -ENOMEM;
        c->issuer.ops = &issuer_cmp_ops;

        if (OSSL_HTTP_parse_url(config->server, &ssl, &user, &c->host, &c->port, NULL, &c->path, &query,
                    &frag) != 1) {
                OPENSSL_free(user);
                OPENSSL_free(query);
                OPENSSL_free(frag);
                return openssl_error(ret_error, -EINVAL, "CMP: cannot parse the server URL \"%s\"",
                        config->server);
        }
        OPENSSL_free(user);
        OPENSSL_free(query);
        OPENSSL_free(frag);
        c->tls = ssl != 0;

        c->url = strdup(config->server);
        c->trust_anchor = strdup(config->trust_anchor);
        c->reference = strdup(strempty(config->reference));
        if (!c->url || !c->trust_anchor || !c->reference)
                return -ENOMEM;
        if (free_and_strdup(&c->secret, isempty(config->secret) ? NULL : config->secret) < 0 ||
                free_and_strdup(&c->secret_file, isempty(config->secret_file) ? NULL : config->secret_file) <
                        0 ||
                free_and_strdup(&c->tls_trust, isempty(config->tls_trust) ? NULL : config->tls_trust) < 0 ||
                free_and_strdup(&c->subject, isempty(config->subject) ? NULL : config->subject) < 0)
                return -ENOMEM;
        c->timeout_sec = config->timeout_sec > 0 ? config->timeout_sec : CMP_DEFAULT_TIMEOUT_SEC;

        if (c->subject) {
                _cleanup_(X509_NAME_freep) X509_NAME *name = NULL;

                r = parse_subject(c->subject, &name);
                if (r < 0)
                        return x509_error(ret_error, r,
                                "CMP: invalid subject \"%s\" (use /CN=a/O=b or CN=a,O=b)", c->subject);
        }

        /* Fail early on an unreadable trust anchor rather than at the first Sync. */
        r = load_trust(c, &trust, ret_error);
        if (r < 0)
                return r;
        if (c->tls_trust) {
                _cleanup_(X509_STORE_freep) X509_STORE *t = NULL;
                _cleanup_free_ char *error = NULL;

                r = trust_store_new(c->tls_trust, &t, &error);
                if (r < 0)
                        return x509_error(ret_error, r, "CMP TLS trust %s: %s", c->tls_trust, strna(error));
        }

        *ret = &TAKE_PTR(c)->issuer;
        return 0;
}
