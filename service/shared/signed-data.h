/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "macro.h"

/* The PKCS#7 SignedData (RFC 2315) of a document, written without OpenSSL's generic ASN.1
 * machinery. With content attached, one signer by issuer and serial, SHA-256 and no signed
 * attributes, everything but the content, the signature and the lengths around them is the same
 * for every document of one key and certificate: a template holds those parts, encoded once by
 * OpenSSL, and signed_data_write() splices content and signature in. The result is byte for byte
 * what PKCS7_sign(PKCS7_BINARY | PKCS7_NOATTR | PKCS7_NOSMIMECAP) and i2d_PKCS7() produce
 * (signed_data_sign_pkcs7(), the reference the tests compare against). */

/* The largest signature a template accepts (RSA-8192). */
#define SIGNED_DATA_SIGNATURE_MAX 1024

/* A part of the SignedData that is the same in every document, with its base64 precomputed for
 * each of the three positions it can take relative to base64's 3-byte groups. */
typedef struct SignedDataPart {
        uint8_t *der;
        size_t size;
        char *base64[3]; /* the base64 of der[k...], whole groups only, for k = 0, 1, 2 */
        size_t base64_size[3];
} SignedDataPart;

typedef struct SignedDataTemplate {
        uint8_t *digest_algorithm; /* AlgorithmIdentifier of SHA-256, as in digestAlgorithms */
        size_t digest_algorithm_size;
        uint8_t *signer; /* SignerInfo's fields before the signature: version, issuerAndSerialNumber,
                          * digestAlgorithm, digestEncryptionAlgorithm */
        size_t signer_size;
        /* The certificates field ([0] and its SET's content): the signer's certificate alone, and
         * followed by the chain's (embed_chain). */
        SignedDataPart certificates[2];
        size_t signature_max; /* EVP_PKEY_get_size() of the key */
} SignedDataTemplate;

/* The template for key (the private key, or its public half) and its certificate cert; chain
 * (may be NULL) holds the certificates embedded on request after cert. */
int signed_data_template_new(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, SignedDataTemplate **ret);
SignedDataTemplate *signed_data_template_free(SignedDataTemplate *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(SignedDataTemplate *, signed_data_template_free);

/* The DER size of the SignedData for content_size bytes of content and a signature of
 * signature_size bytes; 0 when that does not fit in a DER length of 4 bytes. */
size_t signed_data_size(const SignedDataTemplate *t, size_t content_size, bool embed_chain,
        size_t signature_size);

/* Writes the SignedData into buf, which holds signed_data_size() bytes (that size is returned).
 * signature is the signature of the content's SHA-256 by the template's key. */
size_t signed_data_write(const SignedDataTemplate *t, const void *content, size_t content_size,
        bool embed_chain, const uint8_t *signature, size_t signature_size, uint8_t *buf);

/* The most signed_data_write_base64() writes for a SignedData of size bytes, the NUL included. */
#define SIGNED_DATA_BASE64_MAX(size) (((size) + 2) / 3 * 4 + 1)
/* The same as standard base64 without line breaks, NUL-terminated: out holds
 * SIGNED_DATA_BASE64_MAX(signed_data_size()) bytes. Returns the number of characters. The
 * certificates, most of a document, are copied in already encoded. */
size_t signed_data_write_base64(const SignedDataTemplate *t, const void *content, size_t content_size,
        bool embed_chain, const uint8_t *signature, size_t signature_size, char *out);

/* The reference: the same document through PKCS7_sign() and i2d_PKCS7(). Free *ret_der with
 * OPENSSL_free(). */
int signed_data_sign_pkcs7(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, const void *content,
        size_t content_size, bool embed_chain, uint8_t **ret_der, size_t *ret_size);
