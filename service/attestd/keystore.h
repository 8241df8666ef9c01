/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"
#include "macro.h"
#include "signing-identity.h"

/* The "enclave": where the signing key lives. The key is generated inside the keystore and
 * handed out only as an EVP_PKEY (an opaque handle: a TPM-backed store would return a
 * provider key whose private part never enters this process); no function here returns the
 * private key as bytes or writes it outside the keystore directory. */

/* A fresh key pair: RSA-2048 or ECDSA P-256. */
int generate_key_pair(KeyType type, EVP_PKEY **ret);

typedef struct Keystore Keystore;

typedef struct KeystoreOps {
        const char *name;
        int (*generate_key)(Keystore *ks, KeyType type, EVP_PKEY **ret);
        int (*load)(Keystore *ks, SigningIdentity **ret);
        int (*store)(Keystore *ks, const SigningIdentity *id);
        int (*import)(Keystore *ks, const char *key_pem_path, const char *cert_pem_path, char **ret_error);
        void (*free)(Keystore *ks);
} KeystoreOps;

struct Keystore {
        const KeystoreOps *ops;
};

/* The file keystore: dir is created 0700 (an existing one is chmodded to 0700 and must be
 * owned by the effective uid, else -EPERM). It holds one file, "identity.pem" (0600): the
 * private key, the certificate and its chain, replaced atomically; "identity.pem.old" keeps
 * the previous pair, and is used (with a warning in the log) when the current file cannot be
 * read. A store keeps the current pair as the previous one only when it loads, so a broken
 * current file never replaces a good previous pair. Opening removes the temporary files an
 * interrupted store leaves ("identity.pem.tmp-XXXXXX", "identity.pem.old.new"). */
int keystore_file_open(const char *dir, Keystore **ret);

#define KEYSTORE_IDENTITY_FILE     "identity.pem"
#define KEYSTORE_IDENTITY_OLD_FILE "identity.pem.old"

/* A fresh key pair of the type, not yet stored (it is stored with its certificate). */
static inline int keystore_generate_key(Keystore *ks, KeyType type, EVP_PKEY **ret) {
        return ks->ops->generate_key(ks, type, ret);
}

/* The stored identity; -ENOENT when there is none. */
static inline int keystore_load(Keystore *ks, SigningIdentity **ret) {
        return ks->ops->load(ks, ret);
}

/* Replaces the stored identity atomically: a crash leaves the old or the new pair. */
static inline int keystore_store(Keystore *ks, const SigningIdentity *id) {
        return ks->ops->store(ks, id);
}

/* The import path for a pre-provisioned key: a PEM private key file and a PEM file with the
 * certificate (optionally followed by its chain). Fails with -EKEYREJECTED when they do not
 * match. Validity is not checked here: the caller applies certificate_check_acceptable(). */
static inline int keystore_import(Keystore *ks, const char *key_pem_path, const char *cert_pem_path,
        char **ret_error) {
        return ks->ops->import(ks, key_pem_path, cert_pem_path, ret_error);
}

static inline Keystore *keystore_free(Keystore *ks) {
        if (ks)
                ks->ops->free(ks);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Keystore *, keystore_free);
