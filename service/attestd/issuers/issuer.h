/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"

/* Who issues the signing certificate on Sync: the embedded local CA or a cloud CA over CMP.
 * issuer_enroll() blocks (network I/O for CMP), so the service calls it from a worker thread,
 * never from the bus loop. A TPM-backed key works unchanged: the issuer only uses EVP_PKEY. */

typedef struct IssuerRequest {
        EVP_PKEY *key;          /* the fresh key pair to certify */
        const char *subject_cn; /* e.g. "host1.metadata.azshci.local" */
        const char *san_dns;    /* subjectAltName dNSName, usually the same */
        unsigned validity_days; /* what the service asks for (the issuer decides) */
        EVP_PKEY *current_key;  /* the current credentials for renewal (CMP KUR), or NULL */
        X509 *current_cert;
} IssuerRequest;

typedef struct Issuer Issuer;

typedef struct IssuerOps {
        const char *name;
        int (*enroll)(Issuer *issuer, const IssuerRequest *req, X509 **ret_cert, STACK_OF(X509) * *ret_chain,
                char **ret_error);
        /* PEM of the root(s) a verifier should trust for certificates from this issuer. */
        int (*get_trust_anchor)(Issuer *issuer, char **ret_pem);
        void (*free)(Issuer *issuer);
} IssuerOps;

struct Issuer {
        const IssuerOps *ops;
};

/* The embedded CA, created on first use in ca_dir (0700, key 0600) with its root exported
 * world-readable as ca_dir/../ca.pem... see issuer-local.c for the layout. */
int issuer_local_new(const char *state_dir, KeyType key_type, Issuer **ret, char **ret_error);
/* The embedded CA's root certificate (a new reference), for the cluster CA's CMP responder
 * (cmp-server.c); its key never leaves the issuer. -EOPNOTSUPP for another issuer. */
int issuer_local_get_ca(Issuer *issuer, X509 **ret_cert);

/* A peer of a cluster whose CA is one server's embedded CA (issuer-cluster.c): enrols over CMP
 * with the URL and root issuer_cluster_set_ca() gives it (from the cluster store), with the
 * enrolment secret of secret_file for an IR and the current certificate for a KUR. The root is
 * kept in <state_dir>/ca.pem. Until the CA is known, enrolments fail with a clear reason.
 * fingerprint (certificate_fingerprint() form, or NULL) pins the root; without it the first
 * root taken is pinned in <state_dir>/cluster-root.sha256. */
int issuer_cluster_new(const char *state_dir, const char *ca_server, const char *fingerprint,
        const char *reference, const char *secret_file, unsigned timeout_sec, Issuer **ret);
/* Returns 1 when the URL or the root changed (the root is written to <state_dir>/ca.pem), 0 when
 * neither did. A root that is not one self-signed CA certificate, or not the pinned one, is
 * refused (-EBADMSG, -EPERM, the reason in *ret_error) and nothing changes. */
int issuer_cluster_set_ca(Issuer *issuer, const char *url, const char *root_pem, char **ret_error);

/* A cloud CA over CMP (RFC 4210): IR with reference + shared secret, KUR with the current
 * certificate when req->current_cert is set. */
int issuer_cmp_new(const CmpConfig *config, Issuer **ret, char **ret_error);

static inline int issuer_enroll(Issuer *issuer, const IssuerRequest *req, X509 **ret_cert,
        STACK_OF(X509) * *ret_chain, char **ret_error) {
        return issuer->ops->enroll(issuer, req, ret_cert, ret_chain, ret_error);
}

static inline int issuer_get_trust_anchor(Issuer *issuer, char **ret_pem) {
        return issuer->ops->get_trust_anchor(issuer, ret_pem);
}

static inline Issuer *issuer_free(Issuer *issuer) {
        if (issuer)
                issuer->ops->free(issuer);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Issuer *, issuer_free);
