/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "issuer.h"
#include "macro.h"

/* The cluster CA's CMP responder (docs/trust-model.md, "Cluster"): OpenSSL's OSSL_CMP_SRV_CTX
 * in front of the embedded CA of the CA server. Pure: one DER request in, one DER response out,
 * no sockets (cmp-http.c serves it over HTTP).
 *
 * - IR/CR: protected with the cluster's enrolment secret (password-based MAC, at most
 *   CMP_PBM_ITERATIONS_MAX iterations; the secret file is read again when stat() shows it
 *   changed, so rotating it needs no restart). Any name of the metadata domain.
 * - KUR: signed with a certificate of this CA that is valid now (taken from extraCerts, the one
 *   whose subject is the header's sender; never the responder's own), asking for that
 *   certificate's own name, its oldCertID naming that certificate, and for a name that
 *   renewal_allowed() accepts (a server the cluster still has).
 * - Anything else (unprotected, another secret, IR/CR signed, KUR with the secret, another CA's
 *   certificate, p10cr, rr, genm) is refused with a CMP error message signed by the responder.
 * - The certificate is the embedded CA's own profile (issuer_enroll() of the local issuer) for
 *   the public key of the request, with its proof of possession checked: only the name
 *   "<label>.<metadataDomain>" (subject CN and the one DNS SAN, equal) is taken from the
 *   template, the validity is the CA server's own.
 * - Each transaction (a request and its certConf) keeps its own server context, so peers may
 *   enrol at the same time; only a certConf or error protected as the transaction's request
 *   (the same secret, or the same certificate) continues or ends it; an unconfirmed transaction
 *   is dropped after a minute. */

#define CMP_SERVER_RESPONDER_CN "azshci cluster CA CMP responder"

typedef struct CmpServer CmpServer;

/* Whether a server of the cluster has this DNS name ("<label>.<metadataDomain>"). */
typedef bool (*cmp_server_renewal_allowed_t)(const char *dns_name, void *userdata);

typedef struct CmpServerOptions {
        Issuer *ca;                  /* the embedded CA (borrowed: it outlives the responder) */
        const char *secret_file;     /* the enrolment secret */
        const char *metadata_domain; /* names are "<label>.<metadataDomain>" */
        unsigned validity_days;
        cmp_server_renewal_allowed_t renewal_allowed; /* NULL: every name may renew */
        void *userdata;
} CmpServerOptions;

int cmp_server_new(const CmpServerOptions *o, CmpServer **ret, char **ret_error);
CmpServer *cmp_server_free(CmpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CmpServer *, cmp_server_free);

/* Answers one request: *ret is the DER of the response, allocated with OPENSSL_malloc(): free
 * it with OPENSSL_free(), not free(). -EBADMSG: req is no CMP message (no CMP answer is
 * possible: HTTP 400). */
int cmp_server_handle(CmpServer *s, const void *req, size_t size, void **ret, size_t *ret_size);
