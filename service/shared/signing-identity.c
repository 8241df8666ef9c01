/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <openssl/err.h>

#include "signing-identity.h"
#include "x509-util.h"

struct SigningContext {
        EVP_MD_CTX *digest;
        EVP_PKEY_CTX *sign;
        SigningContext *next;
};

static SigningContext *signing_context_free(SigningContext *c) {
        if (!c)
                return NULL;
        EVP_MD_CTX_free(c->digest);
        EVP_PKEY_CTX_free(c->sign);
        return mfree(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SigningContext *, signing_context_free);

static int signing_context_new(SigningIdentity *id, SigningContext **ret) {
        _cleanup_(signing_context_freep) SigningContext *c = NULL;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->digest = EVP_MD_CTX_new();
        c->sign = EVP_PKEY_CTX_new_from_pkey(NULL, id->key, NULL);
        if (!c->digest || !c->sign)
                return -ENOMEM;
        if (EVP_PKEY_sign_init(c->sign) != 1 || EVP_PKEY_CTX_set_signature_md(c->sign, id->sha256) <= 0) {
                ERR_clear_error();
                return -EIO;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

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
        pthread_mutex_init(&id->lock, NULL);

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

        r = signed_data_template_new(key, cert, id->chain, &id->signed_data);
        if (r < 0)
                return r;
        id->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (!id->sha256) {
                ERR_clear_error();
                return -EIO;
        }

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

        while (id->idle) {
                SigningContext *c = id->idle;
                id->idle = c->next;
                signing_context_free(c);
        }
        pthread_mutex_destroy(&id->lock);
        EVP_MD_free(id->sha256);
        signed_data_template_free(id->signed_data);
        EVP_PKEY_free(id->key);
        X509_free(id->cert);
        x509_stack_free(id->chain);
        return mfree(id);
}

int signing_identity_sign(SigningIdentity *id, const void *data, size_t size, uint8_t *signature,
        size_t *ret_size) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned digest_size = 0;
        size_t len = SIGNED_DATA_SIGNATURE_MAX;
        SigningContext *c;
        int r;

        assert(id);
        assert(data || size == 0);
        assert(signature);
        assert(ret_size);

        pthread_mutex_lock(&id->lock);
        c = id->idle;
        if (c)
                id->idle = c->next;
        pthread_mutex_unlock(&id->lock);
        if (!c) {
                r = signing_context_new(id, &c);
                if (r < 0)
                        return r;
        }

        if (EVP_DigestInit_ex2(c->digest, id->sha256, NULL) != 1 ||
                EVP_DigestUpdate(c->digest, data, size) != 1 ||
                EVP_DigestFinal_ex(c->digest, digest, &digest_size) != 1 ||
                EVP_PKEY_sign(c->sign, signature, &len, digest, digest_size) != 1) {
                /* A context that failed is not trusted with the next signature. */
                ERR_clear_error();
                signing_context_free(c);
                return -EIO;
        }

        pthread_mutex_lock(&id->lock);
        c->next = id->idle;
        id->idle = c;
        pthread_mutex_unlock(&id->lock);

        *ret_size = len;
        return 0;
}
