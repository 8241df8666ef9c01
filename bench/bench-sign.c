/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Raw in-process signing rate: what the service's signing workers can do at most. A fresh
 * key enrolled with a throw-away local CA (as Sync does), then THREADS threads each build a
 * document payload with a fresh nonce and sign it (document_build_payload + document_sign,
 * exactly the work of one Attest) until SECONDS have passed.
 *
 *   bench-sign --key rsa-2048|ecdsa-p256 [--threads N (0 = one per CPU)] [--seconds S] [--embed-chain]
 *
 * Prints "key=K threads=N docs=D seconds=S rate=R".
 *
 *   bench-sign --compare [--key K (default: both)] [--threads N] [--seconds S] [--embed-chain]
 *
 * The document path against the private-key operation alone, per thread, in one run: each
 * thread takes turns of about 20 ms of CPU at
 *   raw       EVP_PKEY_sign() of a precomputed SHA-256 (a typical payload's), one context per
 *             thread: what `openssl speed` measures;
 *   pkcs7     document_build_payload + the document through PKCS7_sign() (the code before
 *             issue 17, kept as signed_data_sign_pkcs7()) + base64 + the body;
 *   document  document_build_payload + document_sign (what the service does).
 * Rates are operations per CPU-second of the signing thread (CLOCK_THREAD_CPUTIME_ID), so that
 * other load on the machine changes them less than it changes wall-clock rates. Prints per key
 * "key=K threads=N seconds=S raw=R pkcs7=P document=D pkcs7_ratio=P/R document_ratio=D/R". */

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/err.h>

#include "document.h"
#include "issuer.h"
#include "keystore.h"
#include "signed-data.h"
#include "x509-util.h"

typedef enum Variant {
        VARIANT_RAW,
        VARIANT_PKCS7,
        VARIANT_DOCUMENT,
        _VARIANT_MAX,
} Variant;

static const char *const variant_name[_VARIANT_MAX] = {"raw", "pkcs7", "document"};

typedef struct Worker {
        pthread_t thread;
        SigningIdentity *id;
        bool embed_chain;
        usec_t deadline;
        unsigned index;
        unsigned long docs;
        int error;
        /* --compare */
        const uint8_t *digest; /* SHA-256 of a typical payload, for the raw signatures */
        unsigned long ops[_VARIANT_MAX];
        usec_t cpu[_VARIANT_MAX];
} Worker;

static int build_payload(Worker *w, unsigned long i, char **ret) {
        char nonce[DOCUMENT_NONCE_MAX];
        usec_t now = now_usec(CLOCK_REALTIME);

        snprintf(nonce, sizeof nonce, "t%u-%lu", w->index, i);
        DocumentFields f = {
                .vm_id = "6a1b2c3d-4e5f-4000-8000-000000000001",
                .nonce = nonce,
                .subscription_id = "8c1d64d1-4b8f-4a5f-9d6e-2b7c1f0e3a11",
                .created = now,
                .expires = now + 6 * USEC_PER_HOUR,
        };
        return document_build_payload(&f, ret);
}

static void *worker(void *userdata) {
        Worker *w = userdata;

        for (unsigned long i = 0;; i++) {
                _cleanup_free_ char *payload = NULL, *body = NULL;

                if ((i & 7) == 0 && now_usec(CLOCK_MONOTONIC) >= w->deadline)
                        break;
                w->error = build_payload(w, i, &payload);
                if (w->error >= 0)
                        w->error = document_sign(w->id, payload, w->embed_chain, &body);
                if (w->error < 0)
                        return NULL;
                w->docs++;
        }
        return NULL;
}

/* The document as document_sign() made it before issue 17. */
static int sign_pkcs7(SigningIdentity *id, const char *payload, bool embed_chain, char **ret_body) {
        _cleanup_free_ char *b64 = NULL;
        uint8_t *der = NULL;
        size_t size = 0;
        int r;

        r = signed_data_sign_pkcs7(id->key, id->cert, id->chain, payload, strlen(payload), embed_chain, &der,
                &size);
        if (r < 0)
                return r;
        r = base64_encode(der, size, &b64);
        OPENSSL_free(der);
        if (r < 0)
                return r;
        return asprintf(ret_body, "{\"encoding\":\"pkcs7\",\"signature\":\"%s\"}", b64) < 0 ? -ENOMEM : 0;
}

static int one(Worker *w, Variant v, EVP_PKEY_CTX *raw, unsigned long i) {
        _cleanup_free_ char *payload = NULL, *body = NULL;
        uint8_t sig[SIGNED_DATA_SIGNATURE_MAX];
        size_t sig_size = sizeof sig;
        int r;

        if (v == VARIANT_RAW) {
                if (EVP_PKEY_sign(raw, sig, &sig_size, w->digest, 32) != 1)
                        return -EIO;
                return 0;
        }
        r = build_payload(w, i, &payload);
        if (r < 0)
                return r;
        if (v == VARIANT_PKCS7)
                return sign_pkcs7(w->id, payload, w->embed_chain, &body);
        return document_sign(w->id, payload, w->embed_chain, &body);
}

static usec_t thread_cpu_usec(void) {
        return now_usec(CLOCK_THREAD_CPUTIME_ID);
}

/* Turns of about 20 ms of CPU at each variant, starting with a different one each round, until
 * the deadline. The number of operations per turn is fitted after each turn, so that the thread's
 * CPU clock is read only at the turn's ends. */
static void *compare_worker(void *userdata) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *raw = NULL;
        unsigned long batch[_VARIANT_MAX], i = 0;
        const usec_t turn = 20 * USEC_PER_MSEC;
        Worker *w = userdata;

        raw = EVP_PKEY_CTX_new_from_pkey(NULL, w->id->key, NULL);
        if (!raw || EVP_PKEY_sign_init(raw) != 1 || EVP_PKEY_CTX_set_signature_md(raw, EVP_sha256()) <= 0) {
                w->error = -EIO;
                return NULL;
        }
        for (Variant v = 0; v < _VARIANT_MAX; v++)
                batch[v] = 4;

        for (unsigned round = 0; now_usec(CLOCK_MONOTONIC) < w->deadline; round++)
                for (unsigned k = 0; k < _VARIANT_MAX; k++) {
                        Variant v = (round + k) % _VARIANT_MAX;
                        usec_t start = thread_cpu_usec(), spent;

                        for (unsigned long n = 0; n < batch[v]; n++, i++) {
                                w->error = one(w, v, raw, i);
                                if (w->error < 0)
                                        return NULL;
                        }
                        spent = thread_cpu_usec() - start;
                        w->ops[v] += batch[v];
                        w->cpu[v] += spent;
                        batch[v] = MAX(1UL, (unsigned long)(turn * w->ops[v] / MAX(w->cpu[v], (usec_t)1)));
                }
        return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

/* A fresh key enrolled with a throw-away local CA, as Sync does. */
static int make_identity(KeyType type, SigningIdentity **ret) {
        _cleanup_(issuer_freep) Issuer *issuer = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *error = NULL;
        char dir[] = "/tmp/azshci-bench-sign-XXXXXX";
        int r;

        if (!mkdtemp(dir))
                return -errno;
        r = issuer_local_new(dir, type, &issuer, &error);
        if (r >= 0)
                r = generate_key_pair(type, &key);
        if (r >= 0) {
                IssuerRequest req = {.key = key,
                        .subject_cn = "bench.metadata.azshci.local",
                        .san_dns = "bench.metadata.azshci.local",
                        .validity_days = 30};
                r = issuer_enroll(issuer, &req, &cert, &chain, &error);
        }
        if (r >= 0)
                r = signing_identity_new(key, cert, chain, ret);
        (void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (r < 0)
                fprintf(stderr, "setting up a signing key: %s\n", error ?: strerror(-r));
        return r;
}

/* Starts threads workers at fn and waits for them; the first error of any. */
static int run_workers(Worker *w, unsigned threads, void *(*fn)(void *)) {
        int r = 0;

        for (unsigned i = 0; i < threads; i++)
                if (pthread_create(&w[i].thread, NULL, fn, &w[i]) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        exit(EXIT_FAILURE);
                }
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(w[i].thread, NULL);
                if (w[i].error < 0)
                        r = w[i].error;
        }
        if (r < 0)
                fprintf(stderr, "signing failed: %s\n", strerror(-r));
        return r;
}

static int compare(KeyType type, unsigned threads, double seconds, bool embed_chain) {
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        _cleanup_free_ char *payload = NULL;
        _cleanup_free_ Worker *w = NULL;
        double rate[_VARIANT_MAX];
        uint8_t digest[32];
        Worker probe = {};
        int r;

        r = make_identity(type, &id);
        if (r < 0)
                return r;
        r = build_payload(&probe, 0, &payload);
        if (r < 0)
                return r;
        if (EVP_Digest(payload, strlen(payload), digest, NULL, EVP_sha256(), NULL) != 1)
                return -EIO;

        w = calloc(threads, sizeof(Worker));
        if (!w)
                return -ENOMEM;
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + (usec_t)(seconds * USEC_PER_SEC);
        for (unsigned i = 0; i < threads; i++)
                w[i] = (Worker){.id = id,
                        .embed_chain = embed_chain,
                        .deadline = deadline,
                        .index = i,
                        .digest = digest};
        r = run_workers(w, threads, compare_worker);
        if (r < 0)
                return r;

        printf("key=%s threads=%u seconds=%.1f", key_type_to_string(type), threads, seconds);
        for (Variant v = 0; v < _VARIANT_MAX; v++) {
                unsigned long ops = 0;
                usec_t cpu = 0;
                for (unsigned i = 0; i < threads; i++) {
                        ops += w[i].ops[v];
                        cpu += w[i].cpu[v];
                }
                rate[v] = cpu > 0 ? ops * (double)USEC_PER_SEC / cpu : 0;
                printf(" %s=%.1f", variant_name[v], rate[v]);
        }
        printf(" pkcs7_ratio=%.3f document_ratio=%.3f\n", rate[VARIANT_PKCS7] / rate[VARIANT_RAW],
                rate[VARIANT_DOCUMENT] / rate[VARIANT_RAW]);
        fflush(stdout);
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {{"key", required_argument, NULL, 'k'},
                {"threads", required_argument, NULL, 't'}, {"seconds", required_argument, NULL, 's'},
                {"embed-chain", no_argument, NULL, 'c'}, {"compare", no_argument, NULL, 'C'}, {}};
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        _cleanup_free_ Worker *w = NULL;
        KeyType type = _KEY_TYPE_INVALID;
        unsigned threads = 1;
        double seconds = 5;
        bool embed_chain = false, comparing = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        type = key_type_from_string(optarg);
                        if (type < 0) {
                                fprintf(stderr, "unknown key type %s\n", optarg);
                                return 2;
                        }
                        break;
                case 't':
                        threads = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        seconds = strtod(optarg, NULL);
                        break;
                case 'c':
                        embed_chain = true;
                        break;
                case 'C':
                        comparing = true;
                        break;
                default:
                        fprintf(stderr,
                                "Usage: %s [--compare] [--key rsa-2048|ecdsa-p256] [--threads N] [--seconds S] "
                                "[--embed-chain]\n",
                                argv[0]);
                        return 2;
                }
        if (threads == 0)
                threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);

        if (comparing) {
                static const KeyType both[] = {KEY_TYPE_RSA_2048, KEY_TYPE_ECDSA_P256};
                for (size_t i = 0; i < ELEMENTSOF(both); i++)
                        if (type < 0 || type == both[i])
                                if (compare(both[i], threads, seconds, embed_chain) < 0)
                                        return 1;
                return 0;
        }

        if (type < 0)
                type = KEY_TYPE_RSA_2048;
        if (make_identity(type, &id) < 0)
                return 1;

        w = calloc(threads, sizeof(Worker));
        if (!w)
                return 1;
        usec_t start = now_usec(CLOCK_MONOTONIC), deadline = start + (usec_t)(seconds * USEC_PER_SEC);
        for (unsigned i = 0; i < threads; i++)
                w[i] = (Worker){.id = id, .embed_chain = embed_chain, .deadline = deadline, .index = i};
        r = run_workers(w, threads, worker);
        if (r < 0)
                return 1;
        unsigned long docs = 0;
        for (unsigned i = 0; i < threads; i++)
                docs += w[i].docs;
        double elapsed = (double)(now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC;
        printf("key=%s threads=%u docs=%lu seconds=%.3f rate=%.1f\n", key_type_to_string(type), threads,
                docs, elapsed, docs / elapsed);
        return 0;
}
