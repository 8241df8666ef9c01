/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "cmp-transport.h"
#include "x509-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free);

BIO *cmp_tls_http_cb(BIO *bio, void *arg, int connect, int detail) {
        TlsInfo *info = arg;

        if (connect && detail) {
                BIO *sbio;
                SSL *ssl;

                sbio = BIO_new(BIO_f_ssl());
                if (!sbio)
                        return NULL;
                ssl = SSL_new(info->ssl_ctx);
                if (!ssl) {
                        BIO_free(sbio);
                        return NULL;
                }
                if (info->sni && SSL_set_tlsext_host_name(ssl, info->host) != 1) {
                        SSL_free(ssl);
                        BIO_free(sbio);
                        return NULL;
                }
                SSL_set_connect_state(ssl);
                BIO_set_ssl(sbio, ssl, BIO_CLOSE);
                return BIO_push(sbio, bio);
        }
        if (!connect) {
                BIO *cbio;

                if (BIO_find_type(bio, BIO_TYPE_SSL) != bio)
                        return bio;
                (void)ERR_set_mark();
                BIO_ssl_shutdown(bio);
                cbio = BIO_pop(bio);
                BIO_free(bio);
                (void)ERR_pop_to_mark();
                return cbio;
        }
        return bio;
}

static bool is_ip_literal(const char *host) {
        unsigned char buf[16];

        return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int cmp_tls_setup(const char *host, const char *trust, TlsInfo *info, char **ret_error) {
        _cleanup_(SSL_CTX_freep) SSL_CTX *ssl_ctx = NULL;
        X509_VERIFY_PARAM *vpm;

        ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!ssl_ctx)
                return openssl_error(ret_error, -ENOMEM, "CMP: cannot create a TLS context");
        if (SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION) != 1)
                return openssl_error(ret_error, -EIO, "CMP: cannot set the TLS version");
        if (SSL_CTX_load_verify_file(ssl_ctx, trust) != 1)
                return openssl_error(ret_error, -EINVAL, "CMP: cannot load the TLS trust file %s", trust);
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);

        vpm = SSL_CTX_get0_param(ssl_ctx);
        if (is_ip_literal(host)) {
                if (X509_VERIFY_PARAM_set1_ip_asc(vpm, host) != 1)
                        return openssl_error(ret_error, -EINVAL, "CMP: bad server address %s", host);
        } else if (X509_VERIFY_PARAM_set1_host(vpm, host, 0) != 1)
                return openssl_error(ret_error, -EINVAL, "CMP: bad server name %s", host);

        info->ssl_ctx = TAKE_PTR(ssl_ctx);
        info->host = host;
        info->sni = !is_ip_literal(host);
        return 0;
}

int cmp_probe_connect(const char *url, const char *host, const char *port, unsigned timeout_sec,
        char **ret_error) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
        struct addrinfo *ai = NULL;
        int r, last = -EHOSTUNREACH;

        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0)
                return x509_error(ret_error, -EHOSTUNREACH,
                        "CMP server %s unreachable: cannot resolve %s: %s", url, host,
                        r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));

        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                _cleanup_close_ int fd = -EBADF;
                struct pollfd pfd;
                socklen_t len = sizeof r;

                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
                if (fd < 0) {
                        last = negative_errno();
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        goto ok;
                if (errno != EINPROGRESS) {
                        last = negative_errno();
                        continue;
                }
                pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
                r = poll(&pfd, 1, (int)MIN(timeout_sec, 3600U) * 1000);
                if (r < 0) {
                        last = negative_errno();
                        continue;
                }
                if (r == 0) {
                        freeaddrinfo(ai);
                        return x509_error(ret_error, -ETIMEDOUT,
                                "CMP server %s did not answer within %u s (timed out)", url, timeout_sec);
                }
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
                        last = negative_errno();
                else if (r == 0)
                        goto ok;
                else
                        last = -r;
        }
        freeaddrinfo(ai);
        return x509_error(ret_error, last, "CMP server %s unreachable: %s", url, strerror(-last));

ok:
        freeaddrinfo(ai);
        return 0;
}
