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

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/httperr.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

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

typedef struct TlsInfo {
        SSL_CTX *ssl_ctx;
        const char *host;
        bool sni; /* only for names, not IP literals */
} TlsInfo;

DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_CMP_CTX *, OSSL_CMP_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free);
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

/* The certConf callback: decides whether we accept the certificate the CA sent. A non-zero
 * fail_info makes OpenSSL send a negative certConf and fail the enrolment. */
static int cert_conf_cb(OSSL_CMP_CTX *ctx, X509 *cert, int fail_info, const char **text) {
        CmpAttempt *a = OSSL_CMP_CTX_get_certConf_cb_arg(ctx);
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *sctx = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *untrusted = NULL;
        STACK_OF(X509) * more;

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
        untrusted = sk_X509_new_null();
        if (!untrusted)
                goto oom;
        more = OSSL_CMP_CTX_get1_extraCertsIn(ctx);
        if (more) {
                X509_add_certs(untrusted, more, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP);
                x509_stack_free(more);
        }
        more = OSSL_CMP_CTX_get1_caPubs(ctx);
        if (more) {
                X509_add_certs(untrusted, more, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP);
                x509_stack_free(more);
        }
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

/* For https:// servers: pushes a TLS BIO onto the connection OpenSSL's HTTP client opened. */
static BIO *http_tls_cb(BIO *bio, void *arg, int connect, int detail) {
        TlsInfo *info = arg;

        if (connect && detail) {
                BIO *sbio;
                SSL *ssl;

                sbio = BIO_new(BIO_f_ssl());
                if (!sbio)
                        return NULL;
                ssl = SSL_new(info->ssl_ctx);
                if (!ssl) {
                        BIO_free(sbio);
                        return NULL;
                }
                if (info->sni && SSL_set_tlsext_host_name(ssl, info->host) != 1) {
                        SSL_free(ssl);
                        BIO_free(sbio);
                        return NULL;
                }
                SSL_set_connect_state(ssl);
                BIO_set_ssl(sbio, ssl, BIO_CLOSE);
                return BIO_push(sbio, bio);
        }
        if (!connect) {
                BIO *cbio;

                if (BIO_find_type(bio, BIO_TYPE_SSL) != bio)
                        return bio;
                (void)ERR_set_mark();
                BIO_ssl_shutdown(bio);
                cbio = BIO_pop(bio);
                BIO_free(bio);
                (void)ERR_pop_to_mark();
                return cbio;
        }
        return bio;
}

static bool is_ip_literal(const char *host) {
        unsigned char buf[16];

        return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int tls_setup(IssuerCmp *c, TlsInfo *info, char **ret_error) {
        _cleanup_(SSL_CTX_freep) SSL_CTX *ssl_ctx = NULL;
        const char *trust = c->tls_trust ?: c->trust_anchor;
        X509_VERIFY_PARAM *vpm;

        ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!ssl_ctx)
                return openssl_error(ret_error, -ENOMEM, "CMP: cannot create a TLS context");
        if (SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION) != 1)
                return openssl_error(ret_error, -EIO, "CMP: cannot set the TLS version");
        if (SSL_CTX_load_verify_file(ssl_ctx, trust) != 1)
                return openssl_error(ret_error, -EINVAL, "CMP: cannot load the TLS trust file %s", trust);
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);

        vpm = SSL_CTX_get0_param(ssl_ctx);
        if (is_ip_literal(c->host)) {
                if (X509_VERIFY_PARAM_set1_ip_asc(vpm, c->host) != 1)
                        return openssl_error(ret_error, -EINVAL, "CMP: bad server address %s", c->host);
        } else if (X509_VERIFY_PARAM_set1_host(vpm, c->host, 0) != 1)
                return openssl_error(ret_error, -EINVAL, "CMP: bad server name %s", c->host);

        info->ssl_ctx = TAKE_PTR(ssl_ctx);
        info->host = c->host;
        info->sni = !is_ip_literal(c->host);
        return 0;
}

/* What went wrong, read from the thread's OpenSSL error queue (which this clears). */
typedef struct CmpFailure {
        int sys_errno;
        bool timeout;
        bool connect_failed;
        bool transfer_failed;
        bool wrong_mac;
        bool untrusted_response;
        bool cert_rejected;
        char tls_error[128];
        char text[512]; /* the innermost reasons, "; "-separated */
} CmpFailure;

static void collect_failure(CmpFailure *f) {
        const char *data, *func, *file;
        unsigned long e;
        int line, flags;
        size_t n = 0;

        *f = (CmpFailure){};

        while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
                int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
                const char *rs = ERR_reason_error_string(e);

                if (lib == ERR_LIB_SSL) {
                        if (!f->tls_error[0])
                                snprintf(f->tls_error, sizeof f->tls_error, "%s", strna(rs));
                } else if (lib == ERR_LIB_SYS) {
                        if (f->sys_errno == 0)
                                f->sys_errno = reason;
                } else if ((lib == ERR_LIB_HTTP && reason == HTTP_R_RETRY_TIMEOUT) ||
                           (lib == ERR_LIB_CMP && reason == CMP_R_TOTAL_TIMEOUT) ||
                           (lib == ERR_LIB_BIO &&
                                   (reason == BIO_R_CONNECT_TIMEOUT || reason == BIO_R_TRANSFER_TIMEOUT)))
                        f->timeout = true;
                else if ((lib == ERR_LIB_HTTP && reason == HTTP_R_CONNECT_FAILURE) ||
                         (lib == ERR_LIB_BIO &&
                                 (reason == BIO_R_CONNECT_ERROR || reason == BIO_R_NBIO_CONNECT_ERROR)))
                        f->connect_failed = true;
                else if (lib == ERR_LIB_CMP && reason == CMP_R_TRANSFER_ERROR)
                        f->transfer_failed = true;
                else if (lib == ERR_LIB_CMP && reason == CMP_R_WRONG_PBM_VALUE)
                        f->wrong_mac = true;
                else if (lib == ERR_LIB_CMP && (reason == CMP_R_ERROR_VALIDATING_PROTECTION ||
                                                       reason == CMP_R_ERROR_VALIDATING_SIGNATURE ||
                                                       reason == CMP_R_NO_SUITABLE_SENDER_CERT ||
                                                       reason == CMP_R_MISSING_TRUST_STORE ||
                                                       reason == CMP_R_MISSING_TRUST_ANCHOR))
                        f->untrusted_response = true;
                else if (lib == ERR_LIB_CMP && reason == CMP_R_CERTIFICATE_NOT_ACCEPTED)
                        f->cert_rejected = true;

                if (n < sizeof f->text - 1 && (rs || !isempty(data))) {
                        int k = snprintf(f->text + n, sizeof f->text - n, "%s%s%s%s", n > 0 ? "; " : "",
                                strempty(rs), rs && !isempty(data) && (flags & ERR_TXT_STRING) ? ": " : "",
                                (flags & ERR_TXT_STRING) ? strempty(data) : "");
                        if (k > 0)
                                n = MIN(n + (size_t)k, sizeof f->text - 1);
                }
        }
}

/* The PKIFailureInfo bits in words an operator can act on. */
static const char *fail_info_to_reason(int fail_info, bool mac_protected) {
        static const struct {
                int bit;
                const char *text;
        } table[] = {
                {OSSL_CMP_PKIFAILUREINFO_badMessageCheck, NULL},
                {OSSL_CMP_PKIFAILUREINFO_notAuthorized, "not authorized"},
                {OSSL_CMP_PKIFAILUREINFO_signerNotTrusted, "our signing certificate is not trusted"},
                {OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "the certificate template is not acceptable"},
                {OSSL_CMP_PKIFAILUREINFO_badPOP, "proof of possession failed"},
                {OSSL_CMP_PKIFAILUREINFO_badCertId, "unknown current certificate"},
                {OSSL_CMP_PKIFAILUREINFO_certRevoked, "the current certificate is revoked"},
                {OSSL_CMP_PKIFAILUREINFO_badTime, "clock skew (check the host's time)"},
                {OSSL_CMP_PKIFAILUREINFO_wrongAuthority, "wrong CA (check the server path / alias)"},
                {OSSL_CMP_PKIFAILUREINFO_badAlg, "unsupported algorithm"},
                {OSSL_CMP_PKIFAILUREINFO_unacceptedExtension, "a requested extension is not accepted"},
                {OSSL_CMP_PKIFAILUREINFO_systemUnavail, "the CA is unavailable"},
                {OSSL_CMP_PKIFAILUREINFO_systemFailure, "CA-side failure"},
                {OSSL_CMP_PKIFAILUREINFO_badRequest, "bad request"},
                {OSSL_CMP_PKIFAILUREINFO_badDataFormat, "bad data format"},
                {OSSL_CMP_PKIFAILUREINFO_incorrectData, "incorrect data"},
        };

        if (fail_info & (1 << OSSL_CMP_PKIFAILUREINFO_badMessageCheck))
                return mac_protected ? "wrong shared secret or reference (MAC check failed)"
                                     : "our signature was not accepted (message check failed)";
        for (size_t i = 1; i < ELEMENTSOF(table); i++)
                if (fail_info & (1 << table[i].bit))
                        return table[i].text;
        return NULL;
}

static void status_text(OSSL_CMP_CTX *ctx, char *buf, size_t size) {
        OSSL_CMP_PKIFREETEXT *ft = OSSL_CMP_CTX_get0_statusString(ctx);
        size_t n = 0;

        buf[0] = 0;
        for (int i = 0; i < sk_ASN1_UTF8STRING_num(ft) && n < size - 1; i++) {
                ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(ft, i);
                int k = snprintf(buf + n, size - n, "%s%.*s", n > 0 ? "; " : "", ASN1_STRING_length(s),
                        (const char *)ASN1_STRING_get0_data(s));
                if (k > 0)
                        n = MIN(n + (size_t)k, size - 1);
        }
}

/* Turns a failed OSSL_CMP_exec_certreq() into a negative errno and a one-line reason. */
static int enrol_failure(IssuerCmp *c, OSSL_CMP_CTX *ctx, CmpAttempt *a, bool mac_protected,
        bool *ret_rejected, char **ret_error) {
        int status = OSSL_CMP_CTX_get_status(ctx);
        CmpFailure f;
        char st[256];

        collect_failure(&f);
        *ret_rejected = false;

        if (f.timeout)
                return x509_error(ret_error, -ETIMEDOUT,
                        "CMP server %s did not answer within %u s (timed out)", c->url, c->timeout_sec);
        if (f.connect_failed || (f.transfer_failed && f.sys_errno != 0 && status < 0))
                return x509_error(ret_error, f.sys_errno > 0 ? -f.sys_errno : -EHOSTUNREACH,
                        "CMP server %s unreachable: %s", c->url,
                        f.sys_errno > 0 ? strerror(f.sys_errno) : f.text);
        if (f.tls_error[0] && status < 0)
                return x509_error(ret_error, -EPROTO, "TLS handshake with CMP server %s failed: %s", c->url,
                        f.tls_error);
        if (f.cert_rejected || a->cert_problem[0])
                return x509_error(ret_error, -EBADMSG,
                        "CMP server %s returned an unacceptable certificate: %s", c->url,
                        a->cert_problem[0] ? a->cert_problem : f.text);
        if (f.wrong_mac && mac_protected) {
                *ret_rejected = true;
                return x509_error(ret_error, -EACCES,
                        "CMP server rejected the request: wrong shared secret or reference (MAC check "
                        "failed)");
        }
        if (f.wrong_mac || f.untrusted_response)
                return x509_error(ret_error, -EBADMSG,
                        "CMP response from %s could not be authenticated (check cmp.trust_anchor): %s",
                        c->url, f.text);
        if (status == OSSL_CMP_PKISTATUS_rejection) {
                int fi = OSSL_CMP_CTX_get_failInfoCode(ctx);
                const char *why = fail_info_to_reason(fi < 0 ? 0 : fi, mac_protected);

                *ret_rejected = true;
                status_text(ctx, st, sizeof st);
                return x509_error(ret_error, -EACCES, "CMP server rejected the request: %s%s%s%s",
                        why ?: "rejected", st[0] ? " (server says: " : "", st, st[0] ? ")" : "");
        }
        if (status < 0 && f.transfer_failed)
                return x509_error(ret_error, f.sys_errno > 0 ? -f.sys_errno : -EIO,
                        "CMP server %s unreachable: %s", c->url,
                        f.sys_errno > 0 ? strerror(f.sys_errno) : f.text);
        return x509_error(ret_error, -EIO, "CMP enrolment with %s failed: %s", c->url,
                f.text[0] ? f.text : "unknown error");
}

/* Builds the chain: issuers of the new certificate found among extraCerts and caPubs, leaf's
 * issuer first, up to (and including) a self-signed root if the CA sent one. */
static int build_chain(OSSL_CMP_CTX *ctx, X509 *cert, STACK_OF(X509) * *ret) {
        _cleanup_(x509_stack_freep) STACK_OF(X509) *pool = NULL, *chain = NULL;
        STACK_OF(X509) * more;
        X509 *cur = cert;

        pool = sk_X509_new_null();
        chain = sk_X509_new_null();
        if (!pool || !chain)
                return -ENOMEM;
        more = OSSL_CMP_CTX_get1_extraCertsIn(ctx);
        if (more) {
                X509_add_certs(pool, more, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP);
                x509_stack_free(more);
        }
        more = OSSL_CMP_CTX_get1_caPubs(ctx);
        if (more) {
                X509_add_certs(pool, more, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP);
                x509_stack_free(more);
        }

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

/* OpenSSL's HTTP client retries a refused connection until the timeout runs out and then only
 * says "connect timeout". A server that is down should fail at once with the real reason (the
 * service has its own retry with backoff), so one plain TCP connect goes first. */
static int probe_connect(IssuerCmp *c, char **ret_error) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
        struct addrinfo *ai = NULL;
        int r, last = -EHOSTUNREACH;

        r = getaddrinfo(c->host, c->port, &hints, &ai);
        if (r != 0)
                return x509_error(ret_error, -EHOSTUNREACH,
                        "CMP server %s unreachable: cannot resolve %s: %s", c->url, c->host,
                        r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));

        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                _cleanup_close_ int fd = -EBADF;
                struct pollfd pfd;
                socklen_t len = sizeof r;

                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
                if (fd < 0) {
                        last = negative_errno();
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        goto ok;
                if (errno != EINPROGRESS) {
                        last = negative_errno();
                        continue;
                }
                pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
                r = poll(&pfd, 1, (int)MIN(c->timeout_sec, 3600U) * 1000);
                if (r < 0) {
                        last = negative_errno();
                        continue;
                }
                if (r == 0) {
                        freeaddrinfo(ai);
                        return x509_error(ret_error, -ETIMEDOUT,
                                "CMP server %s did not answer within %u s (timed out)", c->url,
                                c->timeout_sec);
                }
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
                        last = negative_errno();
                else if (r == 0)
                        goto ok;
                else
                        last = -r;
        }
        freeaddrinfo(ai);
        return x509_error(ret_error, last, "CMP server %s unreachable: %s", c->url, strerror(-last));

ok:
        freeaddrinfo(ai);
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
                r = tls_setup(c, tls, ret_error);
                if (r < 0)
                        return r;
                if (OSSL_CMP_CTX_set_http_cb(ctx, http_tls_cb) != 1 ||
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

        r = probe_connect(c, ret_error);
        if (r < 0)
                goto finish;

        log_debug("CMP: sending %s to %s", kur ? "KUR" : "IR", c->url);
        issued = OSSL_CMP_exec_certreq(ctx, kur ? OSSL_CMP_KUR : OSSL_CMP_IR, NULL);
        if (!issued) {
                r = enrol_failure(c, ctx, &a, !kur, ret_rejected, ret_error);
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
