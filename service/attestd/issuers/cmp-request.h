/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/cmp.h>
#include <openssl/crmf.h>

#include "macro.h"

/* What the cluster CA's CMP responder (cmp-server.c) reads from a request before it trusts
 * it: pure functions on OpenSSL's CMP and CRMF types, no state. OpenSSL 3.0 has no getters for
 * a message's protection algorithm, sender or extraCerts, so they are read from its DER. */

/* OpenSSL's own CMP client (OSSL_CMP_CTX, so issuer-cmp.c and `openssl cmp`) protects with
 * PBM and this iteration count unless told otherwise (cmp_ctx.c: ctx->pbm_itercnt = 500):
 * the responder refuses more, which would only cost it time. */
#define CMP_PBM_ITERATIONS_MAX 500

typedef struct CmpMsgInfo {
        int protection_nid;     /* NID_undef: unprotected */
        int64_t pbm_iterations; /* PBMParameter.iterationCount; -1 when not PBM or unreadable */
        X509_NAME *sender;      /* the header's sender when a directoryName, or NULL */
        STACK_OF(X509) * extra; /* extraCerts (NULL when none) */
} CmpMsgInfo;

void cmp_msg_info_done(CmpMsgInfo *i);
/* -EBADMSG when the message cannot be re-encoded or walked. */
int cmp_msg_inspect(const OSSL_CMP_MSG *msg, CmpMsgInfo *ret);

/* OpenSSL 3.0 has no getter for a CRMF template's public key: it is decoded from the
 * template's DER ([6] IMPLICIT SubjectPublicKeyInfo). NULL when there is none. */
EVP_PKEY *crmf_template_public_key(OSSL_CRMF_CERTTEMPLATE *tmpl);

/* Whether name is "<label>.<domain>" with one lowercase DNS label. */
bool cmp_host_name_is_valid(const char *name, const char *domain);

/* The one DNS name a template asks for: subject CN and SAN dNSName, equal, one SAN extension
 * with one name, and of the form <label>.<domain>. -EINVAL otherwise. */
int cmp_template_name(OSSL_CRMF_CERTTEMPLATE *tmpl, const char *domain, char **ret);

/* The one DNS name of a certificate: exactly one subjectAltName dNSName (and nothing else in
 * it), of the form <label>.<domain>. -EINVAL otherwise. */
int cmp_cert_name(X509 *cert, const char *domain, char **ret);

/* Whether a CertId (a KUR's oldCertID) names cert: its issuer and serial number. */
bool cmp_cert_id_matches(const OSSL_CRMF_CERTID *id, X509 *cert);
