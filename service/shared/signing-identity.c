/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "signing-identity.h"
#include "x509-util.h"

int signing_identity_new(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, SigningIdentity **ret) {
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        int r;

        assert(key);
        assert(cert);
        assert(ret);

        if (!certificate_matches_key(cert, key))
                return -EKEYREJECTED;

        id = calloc(1, sizeof *id);
        if (!id)
                return -ENOMEM;
        id->n_ref = 1;

        if (EVP_PKEY_up_ref(key) != 1)
                return -EIO;
        id->key = key;
        if (X509_up_ref(cert) != 1)
                return -EIO;
        id->cert = cert;

        id->chain = sk_X509_new_null();
        if (!id->chain)
                return -ENOMEM;
        for (int i = 0; i < sk_X509_num(chain); i++) {
                X509 *c = sk_X509_value(chain, i);
                if (X509_up_ref(c) != 1)
                        return -EIO;
                if (sk_X509_push(id->chain, c) <= 0) {
                        X509_free(c);
                        return -ENOMEM;
                }
        }

        r = certificate_not_before_usec(cert, &id->not_before);
        if (r < 0)
                return r;
        r = certificate_not_after_usec(cert, &id->not_after);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(id);
        return 0;
}

SigningIdentity *signing_identity_ref(SigningIdentity *id) {
        if (!id)
                return NULL;
        assert(id->n_ref > 0);
        __atomic_add_fetch(&id->n_ref, 1, __ATOMIC_RELAXED);
        return id;
}

SigningIdentity *signing_identity_unref(SigningIdentity *id) {
        if (!id)
                return NULL;
        assert(id->n_ref > 0);
        if (__atomic_sub_fetch(&id->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;

        EVP_PKEY_free(id->key);
        X509_free(id->cert);
        x509_stack_free(id->chain);
        return mfree(id);
}
