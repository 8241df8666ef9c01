/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "macro.h"
#include "signed-data.h"
#include "time-util.h"

typedef struct SigningContext SigningContext;

/* A key with its certificate, shared by the worker threads that sign and replaced as a whole
 * on renewal. Reference counted with atomic operations, so a thread may keep signing with an
 * identity that a Sync has just replaced. Immutable once created, but for the idle signing
 * contexts it keeps under its lock. */
typedef struct SigningIdentity {
        unsigned n_ref;
        EVP_PKEY *key;
        X509 *cert;
        STACK_OF(X509) * chain; /* issuers up to (possibly including) the root; may be empty */
        usec_t not_before, not_after;
        SignedDataTemplate *signed_data; /* the documents' PKCS#7 around content and signature */

        /* Setting up a digest and a signing context costs about a tenth of an ECDSA P-256
         * signature: the ones not in use wait here for the next signature (at most one per
         * thread that signed at once). */
        EVP_MD *sha256;
        pthread_mutex_t lock;
        SigningContext *idle;
} SigningIdentity;

/* Takes references on key, cert and the certificates in chain (chain may be NULL); the caller
 * keeps its own. Fails with -EKEYREJECTED when the certificate does not match the key. */
int signing_identity_new(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, SigningIdentity **ret);
SigningIdentity *signing_identity_ref(SigningIdentity *id);
SigningIdentity *signing_identity_unref(SigningIdentity *id);
DEFINE_TRIVIAL_CLEANUP_FUNC(SigningIdentity *, signing_identity_unref);

/* Signs the SHA-256 of data with the key as PKCS7_sign() does (PKCS #1 v1.5 for RSA, a DER
 * ECDSA-Sig-Value for EC). signature holds SIGNED_DATA_SIGNATURE_MAX bytes. Safe to call from
 * several threads at once. */
int signing_identity_sign(SigningIdentity *id, const void *data, size_t size, uint8_t *signature,
        size_t *ret_size);
