/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

/* How the CMP issuer reaches its server: a plain TCP probe first, and TLS for https://. */

typedef struct TlsInfo {
        SSL_CTX *ssl_ctx;
        const char *host;
        bool sni; /* only for names, not IP literals */
} TlsInfo;

/* A TLS client context for host (a name, checked with SNI, or an IP literal) trusting the
 * certificates of the PEM file trust; TLS 1.2 at least. */
int cmp_tls_setup(const char *host, const char *trust, TlsInfo *info, char **ret_error);

/* For https:// servers: pushes a TLS BIO onto the connection OpenSSL's HTTP client opened
 * (OSSL_CMP_CTX_set_http_cb(), with the TlsInfo as its argument). */
BIO *cmp_tls_http_cb(BIO *bio, void *arg, int connect, int detail);

/* OpenSSL's HTTP client retries a refused connection until the timeout runs out and then only
 * says "connect timeout". A server that is down should fail at once with the real reason (the
 * service has its own retry with backoff), so one plain TCP connect goes first. */
int cmp_probe_connect(const char *url, const char *host, const char *port, unsigned timeout_sec,
        char **ret_error);
