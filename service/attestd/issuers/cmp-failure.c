/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/httperr.h>

#include "cmp-failure.h"
#include "x509-util.h"

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

int cmp_failure_explain(OSSL_CMP_CTX *ctx, const char *url, unsigned timeout_sec, const char *cert_problem,
        bool mac_protected, bool *ret_rejected, char **ret_error) {
        int status = OSSL_CMP_CTX_get_status(ctx);
        CmpFailure f;
        char st[256];

        collect_failure(&f);
        *ret_rejected = false;

        if (f.timeout)
                return x509_error(ret_error, -ETIMEDOUT,
                        "CMP server %s did not answer within %u s (timed out)", url, timeout_sec);
        if (f.connect_failed || (f.transfer_failed && f.sys_errno != 0 && status < 0))
                return x509_error(ret_error, f.sys_errno > 0 ? -f.sys_errno : -EHOSTUNREACH,
                        "CMP server %s unreachable: %s", url,
                        f.sys_errno > 0 ? strerror(f.sys_errno) : f.text);
        if (f.tls_error[0] && status < 0)
                return x509_error(ret_error, -EPROTO, "TLS handshake with CMP server %s failed: %s", url,
                        f.tls_error);
        if (f.cert_rejected || cert_problem[0])
                return x509_error(ret_error, -EBADMSG,
                        "CMP server %s returned an unacceptable certificate: %s", url,
                        cert_problem[0] ? cert_problem : f.text);
        if (f.wrong_mac && mac_protected) {
                *ret_rejected = true;
                return x509_error(ret_error, -EACCES,
                        "CMP server rejected the request: wrong shared secret or reference (MAC check "
                        "failed)");
        }
        if (f.wrong_mac || f.untrusted_response)
                return x509_error(ret_error, -EBADMSG,
                        "CMP response from %s could not be authenticated (check issuer.trustAnchor): %s",
                        url, f.text);
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
                        "CMP server %s unreachable: %s", url,
                        f.sys_errno > 0 ? strerror(f.sys_errno) : f.text);
        return x509_error(ret_error, -EIO, "CMP enrolment with %s failed: %s", url,
                f.text[0] ? f.text : "unknown error");
}
