/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cluster CA's CMP responder over HTTP (service/attestd/issuers/cmp-http.c): the real
 * libmicrohttpd on a real sd-event loop, on a loopback port (cluster.caListen refuses loopback;
 * cmp_http_new() takes any address), with the responder in front of a real embedded CA. A
 * client thread speaks raw HTTP, so that it can send headers and hold the body back: requests
 * refused from their headers must be answered at once, without waiting for the body. */

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmp-http.h"
#include "cmp-server.h"
#include "issuer.h"
#include "test-util.h"

#define CLIENT_TIMEOUT_SEC 3
#define CLOSED             (-2) /* the server closed the connection without an answer */
#define NO_ANSWER          (-1) /* nothing within CLIENT_TIMEOUT_SEC */

typedef struct Exchange {
        uint16_t port;
        const char *head; /* request line and headers, up to the empty line */
        size_t body_size; /* bytes of body sent after the head ('x'), 0 = none */
        bool chunked;     /* body_size bytes sent as 1 KiB chunks, never terminated */
        int status;       /* the answer's status, NO_ANSWER or CLOSED */
        gint done;
} Exchange;

static void send_all(int fd, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t n = send(fd, p, size, MSG_NOSIGNAL);

                if (n <= 0)
                        return; /* the server may close while the body is on its way */
                p += n;
                size -= (size_t)n;
        }
}

static gpointer client(gpointer userdata) {
        Exchange *x = userdata;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(x->port)};
        struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_SEC};
        char buf[512] = "";
        size_t got = 0;
        int fd;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
        g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
        send_all(fd, x->head, strlen(x->head));
        if (x->chunked) {
                char chunk[1024 + 16];

                for (size_t sent = 0; sent < x->body_size; sent += 1024) {
                        int n = snprintf(chunk, sizeof chunk, "400\r\n");

                        memset(chunk + n, 'x', 1024);
                        memcpy(chunk + n + 1024, "\r\n", 2);
                        send_all(fd, chunk, (size_t)n + 1024 + 2);
                }
        } else if (x->body_size > 0) {
                g_autofree char *body = g_malloc(x->body_size);

                memset(body, 'x', x->body_size);
                send_all(fd, body, x->body_size);
        }
        x->status = NO_ANSWER;
        while (got < sizeof buf - 1) {
                ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);

                if (n == 0 && got == 0)
                        x->status = CLOSED;
                if (n <= 0)
                        break;
                got += (size_t)n;
                if (strstr(buf, "\r\n"))
                        break;
        }
        if (g_str_has_prefix(buf, "HTTP/1.1 "))
                x->status = atoi(buf + 9);
        close(fd);
        g_atomic_int_set(&x->done, 1);
        return NULL;
}

/* Runs one exchange against the listener while the event loop turns; its status. */
static int exchange(sd_event *e, uint16_t port, const char *head, size_t body_size, bool chunked) {
        Exchange x = {.port = port, .head = head, .body_size = body_size, .chunked = chunked};
        GThread *t = g_thread_new("client", client, &x);

        while (!g_atomic_int_get(&x.done))
                g_assert_cmpint(sd_event_run(e, 20 * USEC_PER_MSEC), >=, 0);
        g_thread_join(t);
        return x.status;
}

#define POST_CMP(length)                                                                                 \
        "POST /cmp HTTP/1.1\r\nHost: ca\r\nContent-Type: application/pkixcmp\r\nContent-Length: " length \
        "\r\n\r\n"

/* A request to the CMP responder over HTTP, how much body the client then sends (chunked or
 * not), and the status it gets, or CLOSED. */
typedef struct HttpCase {
        const char *name;
        const char *request;
        size_t body_size;
        bool chunked;
        int status;
} HttpCase;

static const HttpCase http_cases[] = {
        /* Refused from the headers: answered while the announced body is still to come. */
        {"other-path",
                "POST /elsewhere HTTP/1.1\r\nHost: ca\r\nContent-Type: "
                "application/pkixcmp\r\nContent-Length: 1000000\r\n\r\n",
                0, false, 404},
        {"PUT", "PUT /cmp HTTP/1.1\r\nHost: ca\r\nContent-Length: 1000\r\n\r\n", 0, false, 405},
        {"GET", "GET /cmp HTTP/1.1\r\nHost: ca\r\n\r\n", 0, false, 405},
        {"text-plain",
                "POST /cmp HTTP/1.1\r\nHost: ca\r\nContent-Type: text/plain\r\n"
                "Content-Length: 1000\r\n\r\n",
                0, false, 415},
        {"too-long", POST_CMP("65537"), 0, false, 413},
        /* ... also while the client goes on sending it. */
        {"too-long-sent", POST_CMP("200000"), 200000, false, 413},
        /* A chunked body above the limit: the connection is closed, nothing more is read. */
        {"chunked-too-long",
                "POST /cmp HTTP/1.1\r\nHost: ca\r\nContent-Type: application/pkixcmp\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
                70 * 1024, true, CLOSED},
        /* A whole body that is no CMP message: 400 (the way to the responder works). */
        {"not-cmp", POST_CMP("5"), 5, false, 400},
};

static void test_http(void) {
        g_autofree char *dir = test_make_tmpdir("cmp-http-XXXXXX");
        g_autofree char *secret = g_build_filename(dir, "secret", NULL);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        Issuer *ca = NULL;
        CmpServer *server = NULL;
        CmpHttp *http = NULL;
        sd_event *e = NULL;
        uint16_t port = test_free_port();

        g_assert_true(g_file_set_contents(secret, "s\n", -1, NULL));
        g_assert_cmpint(issuer_local_new(dir, KEY_TYPE_ECDSA_P256, &ca, NULL), ==, 0);
        g_assert_cmpint(cmp_server_new(&(CmpServerOptions){.ca = ca,
                                               .secret_file = secret,
                                               .metadata_domain = "metadata.azshci.local",
                                               .validity_days = 30},
                                &server, NULL),
                ==, 0);
        g_assert_cmpint(sd_event_new(&e), ==, 0);
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g_assert_cmpint(cmp_http_new(e, (struct sockaddr *)&sa, sizeof sa, server, &http, NULL), ==, 0);

        for (size_t i = 0; i < ELEMENTSOF(http_cases); i++) {
                const HttpCase *c = &http_cases[i];

                g_test_message("case %s", c->name);
                g_assert_cmpint(exchange(e, port, c->request, c->body_size, c->chunked), ==, c->status);
        }

        cmp_http_free(http);
        cmp_server_free(server);
        issuer_free(ca);
        sd_event_unref(e);
        test_rm_rf(dir);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cmp-http/early-answers", test_http);
        return g_test_run();
}
