/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Test helper for test-verify.sh: signs a payload the way the service does, so that
 * independent verifiers (the openssl CLI) can check the result.
 *
 *   azshci-test-sign STATE_DIR rsa|ecdsa PAYLOAD_FILE CN [embed-chain]
 *
 * Creates (or reuses) the embedded CA in STATE_DIR (root at STATE_DIR/ca.pem), enrols a fresh
 * key for CN (SAN dNSName CN, 30 days), signs the payload and writes the response body to
 * standard output. */

#include "document.h"
#include "fileio.h"
#include "issuer.h"
#include "keystore.h"
#include "x509-util.h"

int main(int argc, char *argv[]) {
        _cleanup_(issuer_freep) Issuer *issuer = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        _cleanup_free_ char *error = NULL, *payload = NULL, *body = NULL;
        KeyType type;
        int r;

        if (argc < 5 || argc > 6 || (argc == 6 && !streq(argv[5], "embed-chain"))) {
                fprintf(stderr, "Usage: %s STATE_DIR rsa|ecdsa PAYLOAD_FILE CN [embed-chain]\n", argv[0]);
                return 1;
        }
        type = streq(argv[2], "rsa") ? KEY_TYPE_RSA_2048 : KEY_TYPE_ECDSA_P256;

        r = issuer_local_new(argv[1], type, &issuer, &error);
        if (r < 0) {
                fprintf(stderr, "issuer: %s\n", error ?: strerror(-r));
                return 1;
        }
        r = generate_key_pair(type, &key);
        if (r < 0) {
                fprintf(stderr, "keygen: %s\n", strerror(-r));
                return 1;
        }
        IssuerRequest req = {.key = key, .subject_cn = argv[4], .san_dns = argv[4], .validity_days = 30};
        r = issuer_enroll(issuer, &req, &cert, &chain, &error);
        if (r >= 0)
                r = certificate_check_acceptable(cert, key, 30, time(NULL), &error);
        if (r < 0) {
                fprintf(stderr, "enroll: %s\n", error ?: strerror(-r));
                return 1;
        }
        r = signing_identity_new(key, cert, chain, &id);
        if (r >= 0)
                r = read_full_file(argv[3], 1024 * 1024, &payload, NULL);
        if (r >= 0)
                r = document_sign(id, payload, argc == 6, &body);
        if (r < 0) {
                fprintf(stderr, "sign: %s\n", strerror(-r));
                return 1;
        }
        fputs(body, stdout);
        return 0;
}
