/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The transport limit of `make bench` (docs/hardening.md): an HTTP server that answers every
 * request with the same pre-built document, so that bench-http against it measures everything
 * but the attestation itself: the guest's TCP over veth + macvlan, the load client, and an HTTP
 * server. It is libmicrohttpd like azshci-imdsd, in the same mode (one thread, epoll, keep-alive,
 * the same headers), so that the ratio e2e / this is what our pipeline costs on top of the HTTP
 * library the frontend must keep; a hand-written server would measure a design nobody can ship.
 * The response object is built once and queued for every request (no copy, no allocation).
 *
 *   bench-static --listen IP:PORT [--size BYTES]
 *
 * Prints "listening" on stdout once it accepts connections, then serves until SIGTERM. */

#include <arpa/inet.h>
#include <getopt.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct MHD_Response *document;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
        const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
        void **con_cls) {
        /* Like the frontend: answer once the request is complete (the first call only says the
         * headers arrived). */
        if (!*con_cls) {
                *con_cls = connection;
                return MHD_YES;
        }
        *upload_data_size = 0;
        return MHD_queue_response(connection, MHD_HTTP_OK, document);
}

/* A body of the shape and size of a signed document: {"encoding":"pkcs7","signature":"..."}. */
static char *make_body(size_t size) {
        static const char head[] = "{\"encoding\":\"pkcs7\",\"signature\":\"", tail[] = "\"}";
        size_t fixed = strlen(head) + strlen(tail);
        char *b;

        if (size < fixed + 4)
                size = fixed + 4;
        b = malloc(size + 1);
        if (!b)
                return NULL;
        memcpy(b, head, strlen(head));
        for (size_t i = strlen(head); i < size - strlen(tail); i++)
                b[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
        memcpy(b + size - strlen(tail), tail, strlen(tail) + 1);
        return b;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {{"listen", required_argument, NULL, 'l'},
                {"size", required_argument, NULL, 's'}, {}};
        struct sockaddr_in sa = {.sin_family = AF_INET};
        struct MHD_Daemon *d;
        size_t size = 1800;
        sigset_t mask;
        char *body;
        int c, sig;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'l': {
                        char *colon = strrchr(optarg, ':');
                        if (!colon)
                                return 2;
                        *colon = 0;
                        sa.sin_port = htons((uint16_t)atoi(colon + 1));
                        if (inet_pton(AF_INET, optarg, &sa.sin_addr) != 1)
                                return 2;
                        break;
                }
                case 's':
                        size = strtoul(optarg, NULL, 10);
                        break;
                default:
                        fprintf(stderr, "Usage: %s --listen IP:PORT [--size BYTES]\n", argv[0]);
                        return 2;
                }
        if (!sa.sin_port) {
                fprintf(stderr, "Usage: %s --listen IP:PORT [--size BYTES]\n", argv[0]);
                return 2;
        }

        body = make_body(size);
        if (!body)
                return 1;
        document = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_PERSISTENT);
        if (!document ||
                MHD_add_response_header(document, MHD_HTTP_HEADER_CONTENT_TYPE,
                        "application/json; charset=utf-8") != MHD_YES ||
                MHD_add_response_header(document, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
                return 1;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        pthread_sigmask(SIG_BLOCK, &mask, NULL); /* inherited by MHD's thread */
        d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, on_request, NULL,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 10000U,
                MHD_OPTION_CONNECTION_TIMEOUT, 60U, MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "cannot listen on port %u\n", ntohs(sa.sin_port));
                return 1;
        }
        printf("listening\n");
        fflush(stdout);
        (void)sigwait(&mask, &sig);
        MHD_stop_daemon(d);
        MHD_destroy_response(document);
        free(body);
        return 0;
}
