/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "macro.h"
#include "time-util.h"
#include "validate.h"

/* Small OpenSSL helpers: cleanup functions, PEM/base64 coding, certificate times and the
 * acceptance check the service applies to every certificate an issuer hands back. */

DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free_all);
DEFINE_TRIVIAL_CLEANUP_FUNC(PKCS7 *, PKCS7_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE *, X509_STORE_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE_CTX *, X509_STORE_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_NAME *, X509_NAME_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_EXTENSION *, X509_EXTENSION_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_TIME *, ASN1_TIME_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(GENERAL_NAMES *, GENERAL_NAMES_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_ENCODE_CTX *, EVP_ENCODE_CTX_free);

/* Frees the stack and the certificates in it (NULL allowed). */
STACK_OF(X509) * x509_stack_free(STACK_OF(X509) * s);
DEFINE_TRIVIAL_CLEANUP_FUNC(STACK_OF(X509) *, x509_stack_free);

/* Formats "message: <OpenSSL's last error>" into *ret_error (if not NULL), clears the
 * thread's OpenSSL error queue and returns error. */
int openssl_error(char **ret_error, int error, const char *format, ...) _printf_(3, 4);

/* Formats a plain message into *ret_error (if not NULL) and returns error. */
int x509_error(char **ret_error, int error, const char *format, ...) _printf_(3, 4);

int certificate_not_before_usec(X509 *cert, usec_t *ret);
int certificate_not_after_usec(X509 *cert, usec_t *ret);

/* Whether the certificate's public key is the one of key (a private key or a public one). */
bool certificate_matches_key(X509 *cert, EVP_PKEY *key);

/* The service's acceptance check for a freshly issued certificate: refuses one that does
 * not match key, is already expired at now, is not yet valid at now (more than 5 minutes of
 * clock skew) or whose notAfter - notBefore exceeds max_validity_days (exactly; 0 = no
 * limit). -EKEYREJECTED for a mismatching key, -EKEYEXPIRED for the time checks, -ERANGE for
 * an over-long validity; the reason in *ret_error. */
#define CERTIFICATE_CLOCK_SKEW_USEC (5 * USEC_PER_MINUTE)
int certificate_check_acceptable(X509 *cert, EVP_PKEY *key, unsigned max_validity_days, time_t now,
        char **ret_error);

/* The SHA-256 fingerprint of a certificate's DER: 64 lowercase hex digits. */
int certificate_fingerprint(X509 *cert, char ret[static SHA256_FINGERPRINT_SIZE]);

/* PEM of one certificate followed by the ones in chain (chain may be NULL). */
int pem_encode_certificates(X509 *cert, STACK_OF(X509) * chain, char **ret_pem);
/* PEM of key followed by cert and the ones in chain (chain may be NULL), what a key file holds,
 * in a memory BIO of OpenSSL's secure heap so that the key never stands in ordinary memory:
 * *ret_data and *ret_size point into *ret_bio, valid until it is freed. -EIO when OpenSSL
 * cannot encode them. */
int pem_encode_private(EVP_PKEY *key, X509 *cert, STACK_OF(X509) * chain, BIO **ret_bio,
        const char **ret_data, size_t *ret_size);
/* Every certificate in a PEM buffer, in order; -ENOENT when there is none. */
int pem_decode_certificates(const void *pem, size_t size, STACK_OF(X509) * *ret);
/* Reads every certificate from a PEM file (at most 1 MiB). */
int pem_read_certificates_file(const char *path, STACK_OF(X509) * *ret, char **ret_error);
/* Reads a PEM private key (unencrypted) from a buffer. */
int pem_decode_private_key(const void *pem, size_t size, EVP_PKEY **ret);

/* Standard base64 without line breaks. */
int base64_encode(const void *data, size_t size, char **ret);
/* Standard base64 (line breaks and blanks ignored, padding checked). -EBADMSG if invalid. */
int base64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_size);

/* A trust store holding the certificates of a PEM file, or the system's default trust
 * (the default OpenSSL paths) when path is NULL. */
int trust_store_new(const char *path, X509_STORE **ret, char **ret_error);

/* The subject as a one-line "CN=..., O=..." string. */
char *x509_name_oneline(const X509_NAME *name);
