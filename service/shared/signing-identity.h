/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "macro.h"
#include "time-util.h"

/* A key with its certificate, shared by the worker threads that sign and replaced as a whole
 * on renewal. Immutable once created; reference counted with atomic operations, so a thread
 * may keep signing with an identity that a Sync has just replaced. */
typedef struct SigningIdentity {
        unsigned n_ref;
        EVP_PKEY *key;
        X509 *cert;
        STACK_OF(X509) * chain; /* issuers up to (possibly including) the root; may be empty */
        usec_t not_before, not_after;
} SigningIdentity;

/* Takes references on key, cert and the certificates in chain (chain may be NULL); the caller
 * keeps its own. Fails with -EKEYREJECTED when the certificate does not match the key. */
int signing_identity_new(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, SigningIdentity **ret);
SigningIdentity *signing_identity_ref(SigningIdentity *id);
SigningIdentity *signing_identity_unref(SigningIdentity *id);
DEFINE_TRIVIAL_CLEANUP_FUNC(SigningIdentity *, signing_identity_unref);
