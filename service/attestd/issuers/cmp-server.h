/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/crmf.h>

#include "issuer.h"
#include "macro.h"

/* The cluster CA's CMP responder (docs/trust-model.md, "Cluster"): OpenSSL's OSSL_CMP_SRV_CTX
 * in front of the embedded CA of the CA server. Pure: one DER request in, one DER response out,
 * no sockets (cmp-http.c serves it over HTTP).
 *
 * - IR/CR: protected with the cluster's enrolment secret (password-based MAC; the secret file
 *   is read for every request, so rotating it needs no restart).
 * - KUR (and IR/CR) signed with a certificate of this CA that is valid now.
 * - Anything else (unprotected, another secret, another CA's certificate, p10cr, rr, genm) is
 *   refused with a CMP error message signed by the CA.
 * - The certificate is the embedded CA's own profile (issuer_enroll() of the local issuer) for
 *   the public key of the request, with its proof of possession checked: only the name
 *   "<label>.<metadataDomain>" (subject CN and the one DNS SAN, equal) is taken from the
 *   template, the validity is the CA server's own.
 * - Each transaction (a request and its certConf) keeps its own server context, so peers may
 *   enrol at the same time; an unconfirmed transaction is dropped after a minute. */

typedef struct CmpServer CmpServer;

typedef struct CmpServerOptions {
        Issuer *ca;                  /* the embedded CA (borrowed: it outlives the responder) */
        const char *secret_file;     /* the enrolment secret */
        const char *metadata_domain; /* names are "<label>.<metadataDomain>" */
        unsigned validity_days;
} CmpServerOptions;

int cmp_server_new(const CmpServerOptions *o, CmpServer **ret, char **ret_error);
CmpServer *cmp_server_free(CmpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CmpServer *, cmp_server_free);

/* Answers one request. -EBADMSG: req is no CMP message (no CMP answer is possible: HTTP 400). */
int cmp_server_handle(CmpServer *s, const void *req, size_t size, void **ret, size_t *ret_size);

/* OpenSSL 3.0 has no getter for a CRMF template's public key: it is decoded from the
 * template's DER ([6] IMPLICIT SubjectPublicKeyInfo). NULL when there is none. */
EVP_PKEY *crmf_template_public_key(OSSL_CRMF_CERTTEMPLATE *tmpl);
