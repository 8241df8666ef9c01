/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The document verifier of azshci-attest (document_verify) on arbitrary bytes: what a guest
 * gets from a host it does not trust yet. The first input byte selects the options, the rest
 * is the body:
 *
 *   bit 0  skip_chain          bit 3  check vmId 6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10
 *   bit 1  ignore_time         bit 4  check the SAN against metadata.azshci.local
 *   bit 2  check nonce "fuzz-seed-1"
 *   bit 7  the rest is raw DER PKCS#7: wrap it as {"encoding":"pkcs7","signature":"<base64>"}
 *          (so that the fuzzer mutates the ASN.1 directly, not its base64)
 *
 * The trust anchor is a fixed local CA root (below) whose leaf signed the seeds in
 * corpus/document-verify, and "now" is fixed inside that leaf's validity, so results do not
 * depend on the day the regression runs. Properties: no crash or leak; success means check
 * OK and an info; failure means a check other than OK and a one-line reason. */

#include <openssl/pem.h>

#include "document-verify.h"
#include "fuzz.h"
#include "x509-util.h"

/* tests/fuzz/corpus/document-verify/ca.pem.txt: the root of the seed documents. */
static const char root_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIDKjCCAhKgAwIBAgIUGxT6L360/3qQLAs+pM06o5ecL0IwDQYJKoZIhvcNAQEL\n"
                               "BQAwLTErMCkGA1UEAwwiYXpzaGNpIGxvY2FsIGF0dGVzdGF0aW9uIHJvb3QgKHZt\n"
                               "KTAeFw0yNjExMjkwMTU5MzhaFw0zNjExMjYwMTU5MzhaMC0xKzApBgNVBAMMImF6\n"
                               "c2hjaSBsb2NhbCBhdHRlc3RhdGlvbiByb290ICh2bSkwggEiMA0GCSqGSIb3DQEB\n"
                               "AQUAA4IBDwAwggEKAoIBAQD5nYEX1tF3ygLP68pr22wWc82xtna1GF1RwGotKDWR\n"
                               "9IBgeBbSEaJ7jhTGtNqwTfSr4Zvl4CtK8l0T4F6Js30r/ksCgpUea4gctuHUGar6\n"
                               "pgALdSIGdAmJ7ET3emgKyWkh8leIPse5uGCA+LX4AKo84yhl/7J7Pe4fvAcvrxw0\n"
                               "4eeZnkeU7IUyveTMdR+QgiGsMAqt0ptqmucbuH7AyEuzkHgimAHn6onTGmw2id6U\n"
                               "VCWs+nqp//jLTpWcK6Vu+mN6H7B7r9WN8x/iNMheSIZelZ9w8RDgZZkfhgDjj224\n"
                               "jMfjDXG4wH7M9LXam4N/k7bWLUvfh+GmkpWg4yk7zUSvAgMBAAGjQjBAMA8GA1Ud\n"
                               "EwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBRwhPazgEE/d8X3\n"
                               "goPqazF7EXTjqDANBgkqhkiG9w0BAQsFAAOCAQEA3O4hdKPrlGSa6weVAVSJA/l/\n"
                               "2zG/GJmxuoEHZaz0NzEeslVqH46+Y0HGvKfV/qrQ9EvcVl0Y6wTj3c02V+gB5qbx\n"
                               "V4qwE0lO0UV8sjYjnov280cjwrk+dUqC3fhYgw4L0VdqzvehF+joNBU7M+enN8gB\n"
                               "CBD4qmXf01hQKgAh2eHymjC+3Q/maJS0ZUVQ6N84s7fEooeRTlHumR4rhjrriKSU\n"
                               "G9XTap90CSC+/DGfVvbYLL7pXotnQ5XaKB8Ld2ny0j0BzjRqgSd6lryOc4zwCj95\n"
                               "xNtmIfwKu1zc+Y/evIgonvhztC9zQLnKDVDVt2yVQqSwMNDtdRSaHdZtZrjFbw==\n"
                               "-----END CERTIFICATE-----\n";

/* 2026-11-30 00:00:00 UTC: inside the seed documents' leaf certificate validity. */
#define FUZZ_NOW (UINT64_C(1795996800) * USEC_PER_SEC)

static X509_STORE *fuzz_trust(void) {
        static X509_STORE *store = NULL;
        BIO *bio;
        X509 *cert;

        if (store)
                return store;
        bio = BIO_new_mem_buf(root_pem, -1);
        cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        store = X509_STORE_new();
        if (!cert || !store || X509_STORE_add_cert(store, cert) != 1)
                abort();
        X509_free(cert);
        BIO_free(bio);
        return store;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(document_info_freep) DocumentInfo *info = NULL;
        _cleanup_free_ char *error = NULL, *b64 = NULL, *wrapped = NULL;
        DocumentCheck check = DOCUMENT_CHECK_OK;
        const void *body;
        size_t body_size;
        uint8_t flags;
        int r;

        if (size < 1 || size > DOCUMENT_BODY_MAX + 1)
                return 0;
        flags = data[0];
        body = data + 1;
        body_size = size - 1;

        if (flags & 0x80) {
                fuzz_check(base64_encode(body, body_size, &b64) >= 0);
                fuzz_check(asprintf(&wrapped, "{\"encoding\":\"pkcs7\",\"signature\":\"%s\"}", b64) >= 0);
                body = wrapped;
                body_size = strlen(wrapped);
        }

        DocumentVerifyOptions opts = {
                .trust = fuzz_trust(),
                .skip_chain = flags & 0x01,
                .ignore_time = flags & 0x02,
                .nonce = flags & 0x04 ? "fuzz-seed-1" : NULL,
                .vm_id = flags & 0x08 ? "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10" : NULL,
                .metadata_domain = flags & 0x10 ? "metadata.azshci.local" : NULL,
                .now = FUZZ_NOW,
        };

        r = document_verify(body, body_size, &opts, &info, &check, &error);
        if (getenv("FUZZ_VERBOSE"))
                fprintf(stderr, "flags 0x%02x: %s (%s)\n", flags, document_check_to_string(check),
                        strna(error));
        if (r >= 0) {
                fuzz_check(check == DOCUMENT_CHECK_OK);
                fuzz_check(info && info->payload);
        } else if (r != -ENOMEM) {
                fuzz_check(check != DOCUMENT_CHECK_OK);
                fuzz_check(error && !strchr(error, '\n'));
                fuzz_check(document_check_to_string(check));
        }
        return 0;
}
