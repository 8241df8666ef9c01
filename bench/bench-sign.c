/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Raw in-process signing rate: what the service's signing workers can do at most. A fresh
 * key enrolled with a throw-away local CA (as Sync does), then THREADS threads each build a
 * document payload with a fresh nonce and sign it (document_build_payload + document_sign,
 * exactly the work of one Attest) until SECONDS have passed.
 *
 *   bench-sign --key rsa-2048|ecdsa-p256 [--threads N (0 = one per CPU)] [--seconds S] [--embed-chain]
 *
 * Prints "key=K threads=N docs=D seconds=S rate=R". */

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "document.h"
#include "issuer.h"
#include "keystore.h"
#include "x509-util.h"

typedef struct Worker {
        pthread_t thread;
        SigningIdentity *id;
        bool embed_chain;
        usec_t deadline;
        unsigned index;
        unsigned long docs;
        int error;
} Worker;

static void *worker(void *userdata) {
        Worker *w = userdata;

        for (unsigned long i = 0;; i++) {
                _cleanup_free_ char *payload = NULL, *body = NULL;
                char nonce[DOCUMENT_NONCE_MAX];
                usec_t now = now_usec(CLOCK_REALTIME);

                if ((i & 7) == 0 && now_usec(CLOCK_MONOTONIC) >= w->deadline)
                        break;
                snprintf(nonce, sizeof nonce, "t%u-%lu", w->index, i);
                DocumentFields f = {
                        .vm_id = "6a1b2c3d-4e5f-4000-8000-000000000001",
                        .nonce = nonce,
                        .subscription_id = "8c1d64d1-4b8f-4a5f-9d6e-2b7c1f0e3a11",
                        .created = now,
                        .expires = now + 6 * USEC_PER_HOUR,
                };
                w->error = document_build_payload(&f, &payload);
                if (w->error >= 0)
                        w->error = document_sign(w->id, payload, w->embed_chain, &body);
                if (w->error < 0)
                        return NULL;
                w->docs++;
        }
        return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {{"key", required_argument, NULL, 'k'},
                {"threads", required_argument, NULL, 't'}, {"seconds", required_argument, NULL, 's'},
                {"embed-chain", no_argument, NULL, 'c'}, {}};
        _cleanup_(issuer_freep) Issuer *issuer = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        _cleanup_free_ char *error = NULL;
        KeyType type = KEY_TYPE_RSA_2048;
        unsigned threads = 1;
        double seconds = 5;
        bool embed_chain = false;
        char dir[] = "/tmp/azshci-bench-sign-XXXXXX";
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
                default:
                        fprintf(stderr,
                                "Usage: %s --key rsa-2048|ecdsa-p256 [--threads N] [--seconds S] [--embed-chain]\n",
                                argv[0]);
                        return 2;
                }
        if (threads == 0)
                threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
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
                r = signing_identity_new(key, cert, chain, &id);
        (void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (r < 0) {
                fprintf(stderr, "setting up a signing key: %s\n", error ?: strerror(-r));
                return 1;
        }

        Worker *w = calloc(threads, sizeof(Worker));
        if (!w)
                return 1;
        usec_t start = now_usec(CLOCK_MONOTONIC), deadline = start + (usec_t)(seconds * USEC_PER_SEC);
        for (unsigned i = 0; i < threads; i++) {
                w[i] = (Worker){.id = id, .embed_chain = embed_chain, .deadline = deadline, .index = i};
                if (pthread_create(&w[i].thread, NULL, worker, &w[i]) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        }
        unsigned long docs = 0;
        r = 0;
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(w[i].thread, NULL);
                docs += w[i].docs;
                if (w[i].error < 0)
                        r = w[i].error;
        }
        double elapsed = (double)(now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC;
        free(w);
        if (r < 0) {
                fprintf(stderr, "signing failed: %s\n", strerror(-r));
                return 1;
        }
        printf("key=%s threads=%u docs=%lu seconds=%.3f rate=%.1f\n", key_type_to_string(type), threads,
                docs, elapsed, docs / elapsed);
        return 0;
}
