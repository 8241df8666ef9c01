/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The vsock frontend's request handling end to end over a socketpair: the real HTTP server
 * (libmicrohttpd in sd-event) with the vsock identity function, the peer CID injected through
 * imds_http_add_connection() — the internal API, exactly what accept() would report on a
 * host with vsock. The backend (AttestForVersion) is a fake that records its arguments and
 * answers from the event loop when the test says so. */

#include <glib.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/socket.h>

#include "imds-http.h"
#include "macro.h"
#include "vsock-peer.h"
#include "vsock-socketpair.h"

typedef struct FakeCall {
        ImdsAttestDone done;
        void *userdata;
        char transport[16], peer[32], nonce[64], api_version[16];
} FakeCall;

typedef struct Fake {
        sd_event *event;
        FakeCall *pending[8];
        unsigned n_pending;
        unsigned n_calls, n_cancelled;
        FakeCall last;
} Fake;

static int fake_attest(void *data, const char *transport, const char *peer, const char *nonce,
        const char *api_version, ImdsAttestDone done, void *userdata, void **ret_handle) {
        Fake *f = data;
        FakeCall *c = g_new0(FakeCall, 1);

        c->done = done;
        c->userdata = userdata;
        g_strlcpy(c->transport, transport, sizeof c->transport);
        g_strlcpy(c->peer, peer, sizeof c->peer);
        g_strlcpy(c->nonce, nonce, sizeof c->nonce);
        g_strlcpy(c->api_version, api_version, sizeof c->api_version);
        f->last = *c;
        f->n_calls++;
        g_assert_cmpuint(f->n_pending, <, ELEMENTSOF(f->pending));
        f->pending[f->n_pending++] = c;
        *ret_handle = c;
        return 0;
}

static void fake_remove(Fake *f, FakeCall *c) {
        for (unsigned i = 0; i < f->n_pending; i++)
                if (f->pending[i] == c) {
                        memmove(f->pending + i, f->pending + i + 1,
                                (f->n_pending - i - 1) * sizeof(FakeCall *));
                        f->n_pending--;
                        return;
                }
        g_assert_not_reached();
}

static void fake_cancel(void *data, void *handle) {
        Fake *f = data;

        fake_remove(f, handle);
        f->n_cancelled++;
        g_free(handle);
}

/* Answers the oldest pending call. */
static void fake_answer(Fake *f, int error, const char *error_name, const char *document) {
        FakeCall *c;

        g_assert_cmpuint(f->n_pending, >, 0);
        c = f->pending[0];
        fake_remove(f, c);
        c->done(c->userdata, error, error_name, document);
        g_free(c);
}

typedef struct Fixture {
        sd_event *event;
        ImdsHttp *server;
        Fake fake;
} Fixture;

static void fixture_setup(Fixture *fx, gconstpointer unused) {
        ImdsHttpOptions o = {
                .transport = "vsock",
                .identify = test_vsock_identify,
                .backend = {.attest = fake_attest, .cancel = fake_cancel, .data = &fx->fake},
                .rate = 5,
                .burst = 5,
                .connection_timeout_sec = 10,
        };

        g_assert_cmpint(sd_event_new(&fx->event), >=, 0);
        fx->fake.event = fx->event;
        g_assert_cmpint(imds_http_new(fx->event, -1, &o, &fx->server), ==, 0);
}

static void fixture_teardown(Fixture *fx, gconstpointer unused) {
        fx->server = imds_http_free(fx->server);
        g_assert_cmpuint(fx->fake.n_pending, ==, 0);
        fx->event = sd_event_unref(fx->event);
}

/* A client connection: our end of a socketpair whose other end the server serves as if the
 * kernel had reported peer CID cid. */
static int connect_as(Fixture *fx, uint32_t cid) {
        int fd = test_vsock_connect(fx->server, cid, 0);

        g_assert_cmpint(fd, >=, 0);
        return fd;
}

static void send_request(int fd, const char *target, const char *extra_headers) {
        g_autofree char *req = g_strdup_printf("GET %s HTTP/1.1\r\nHost: 169.254.169.253\r\n%s\r\n", target,
                extra_headers ?: "Metadata: true\r\n");
        g_assert_cmpint(write(fd, req, strlen(req)), ==, (ssize_t)strlen(req));
}

typedef struct Response {
        unsigned status;
        char *headers;
        char *body;
} Response;

static void response_clear(Response *r) {
        g_free(r->headers);
        g_free(r->body);
        *r = (Response){};
}

/* Runs the event loop until one whole response arrived on fd (or fails after 5 s). */
static bool try_parse(GString *buf, Response *ret) {
        const char *end = strstr(buf->str, "\r\n\r\n"), *cl;
        size_t hlen, blen;

        if (!end)
                return false;
        hlen = (size_t)(end - buf->str) + 4;
        cl = g_strstr_len(buf->str, (gssize)hlen, "Content-Length: ");
        g_assert_nonnull(cl);
        blen = strtoul(cl + 16, NULL, 10);
        if (buf->len < hlen + blen)
                return false;
        g_assert_cmpint(sscanf(buf->str, "HTTP/1.1 %u ", &ret->status), ==, 1);
        ret->headers = g_strndup(buf->str, hlen);
        ret->body = g_strndup(buf->str + hlen, blen);
        g_string_erase(buf, 0, (gssize)(hlen + blen));
        return true;
}

static void read_response(Fixture *fx, int fd, GString *buf, Response *ret) {
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                char chunk[4096];

                if (try_parse(buf, ret))
                        return;
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_assert_cmpint(sd_event_run(fx->event, 10 * USEC_PER_MSEC), >=, 0);
                if (poll(&p, 1, 0) == 1) {
                        ssize_t n = read(fd, chunk, sizeof chunk);
                        g_assert_cmpint(n, >, 0);
                        g_string_append_len(buf, chunk, n);
                }
        }
}

/* Runs the loop a little and asserts nothing arrived on fd. */
static void assert_no_response(Fixture *fx, int fd) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        for (int i = 0; i < 10; i++)
                g_assert_cmpint(sd_event_run(fx->event, 1 * USEC_PER_MSEC), >=, 0);
        g_assert_cmpint(poll(&p, 1, 0), ==, 0);
}

static void run_until_pending(Fixture *fx, unsigned n) {
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        while (fx->fake.n_pending < n) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_assert_cmpint(sd_event_run(fx->event, 10 * USEC_PER_MSEC), >=, 0);
        }
}

#define DOCUMENT \
        "{\"encoding\":\"pkcs7\",\"signature\":\"MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEF\"}"

static void test_document(Fixture *fx, gconstpointer unused) {
        g_autoptr(GString) buf = g_string_new(NULL);
        Response r = {};
        int fd = connect_as(fx, 42);

        send_request(fd, "/metadata/attested/document?api-version=2019-08-15&nonce=abc", NULL);
        run_until_pending(fx, 1);
        /* The CID comes from the connection, the rest from the query. */
        g_assert_cmpstr(fx->fake.last.transport, ==, "vsock");
        g_assert_cmpstr(fx->fake.last.peer, ==, "42");
        g_assert_cmpstr(fx->fake.last.nonce, ==, "abc");
        g_assert_cmpstr(fx->fake.last.api_version, ==, "2019-08-15");
        assert_no_response(fx, fd); /* suspended while the service signs */
        fake_answer(&fx->fake, 0, NULL, DOCUMENT);
        read_response(fx, fd, buf, &r);
        g_assert_cmpuint(r.status, ==, 200);
        g_assert_cmpstr(r.body, ==, DOCUMENT);
        g_assert_nonnull(strstr(r.headers, "Content-Type: application/json; charset=utf-8\r\n"));
        response_clear(&r);

        /* Same connection (keep-alive), a header that tries to claim another identity: ignored. */
        send_request(fd, "/metadata/attested/document?api-version=2018-10-01",
                "Metadata: True\r\nX-Vsock-Cid: 7\r\nX-Azshci-Peer: 7\r\n");
        run_until_pending(fx, 1);
        g_assert_cmpstr(fx->fake.last.peer, ==, "42");
        g_assert_cmpstr(fx->fake.last.nonce, ==, "");
        fake_answer(&fx->fake, 0, NULL, DOCUMENT);
        read_response(fx, fd, buf, &r);
        g_assert_cmpuint(r.status, ==, 200);
        response_clear(&r);
        g_assert_cmpuint(fx->fake.n_calls, ==, 2);
        close(fd);
}

static void check_error(Fixture *fx, int error, const char *error_name, unsigned status, const char *body,
        bool retry_after) {
        g_autoptr(GString) buf = g_string_new(NULL);
        static uint32_t cid = 1000;
        Response r = {};
        int fd = connect_as(fx, cid++); /* a VM per case: the rate limit does not interfere */

        send_request(fd, "/metadata/attested/document?api-version=2018-10-01&nonce=n1", NULL);
        run_until_pending(fx, 1);
        fake_answer(&fx->fake, error, error_name, NULL);
        read_response(fx, fd, buf, &r);
        g_assert_cmpuint(r.status, ==, status);
        g_assert_cmpstr(r.body, ==, body);
        g_assert_true(!!strstr(r.headers, "Retry-After: 5\r\n") == retry_after);
        response_clear(&r);
        close(fd);
}

static void test_bus_errors(Fixture *fx, gconstpointer unused) {
        check_error(fx, 0, "org.azshci.Attestation1.Error.UnknownVM", 403,
                "{\"error\":\"Forbidden: this VM is not registered for attestation\"}", false);
        check_error(fx, 0, "org.azshci.Attestation1.Error.AccessDenied", 403,
                "{\"error\":\"Forbidden: this VM may not use attestation over this path\"}", false);
        check_error(fx, 0, "org.azshci.Attestation1.Error.NotConfigured", 503,
                "{\"error\":\"Service unavailable: attestation is not active on this host, retry later\"}",
                true);
        check_error(fx, 0, "org.azshci.Attestation1.Error.Expired", 503,
                "{\"error\":\"Service unavailable: the host's signing certificate has expired, retry later\"}",
                true);
        check_error(fx, 0, "org.freedesktop.DBus.Error.ServiceUnknown", 503,
                "{\"error\":\"Service unavailable: the attestation service is not reachable, retry later\"}",
                true);
        check_error(fx, -ETIMEDOUT, NULL, 503,
                "{\"error\":\"Service unavailable: the attestation service is not reachable, retry later\"}",
                true);
        check_error(fx, 0, "org.freedesktop.DBus.Error.AccessDenied", 500,
                "{\"error\":\"Internal error: the request could not be served, retry later\"}", true);
}

static void test_unidentified(Fixture *fx, gconstpointer unused) {
        static const uint32_t bad[] = {VMADDR_CID_HYPERVISOR, VMADDR_CID_LOCAL, VMADDR_CID_HOST,
                VMADDR_CID_ANY};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                g_autoptr(GString) buf = g_string_new(NULL);
                Response r = {};
                int fd = connect_as(fx, bad[i]);

                send_request(fd, "/metadata/attested/document?api-version=2018-10-01", NULL);
                read_response(fx, fd, buf, &r);
                g_assert_cmpuint(r.status, ==, 403);
                g_assert_cmpstr(r.body, ==,
                        "{\"error\":\"Forbidden: the requesting VM could not be identified\"}");
                response_clear(&r);
                close(fd);
        }
        g_assert_cmpuint(fx->fake.n_calls, ==, 0);
}

static void test_rate_limit(Fixture *fx, gconstpointer unused) {
        g_autoptr(GString) buf = g_string_new(NULL), buf2 = g_string_new(NULL);
        Response r = {};
        int fd = connect_as(fx, 77), fd2;

        for (int i = 0; i < 5; i++) {
                send_request(fd, "/metadata/attested/document?api-version=2018-10-01", NULL);
                run_until_pending(fx, 1);
                fake_answer(&fx->fake, 0, NULL, DOCUMENT);
                read_response(fx, fd, buf, &r);
                g_assert_cmpuint(r.status, ==, 200);
                response_clear(&r);
        }
        send_request(fd, "/metadata/attested/document?api-version=2018-10-01", NULL);
        read_response(fx, fd, buf, &r);
        g_assert_cmpuint(r.status, ==, 429);
        g_assert_cmpstr(r.body, ==,
                "{\"error\":\"Too many requests: the rate limit of this VM was exceeded\"}");
        g_assert_nonnull(strstr(r.headers, "Retry-After: 1\r\n"));
        response_clear(&r);
        g_assert_cmpuint(fx->fake.n_calls, ==, 5);

        /* Another VM (another connection, another CID) is not limited; the same CID on a new
         * connection is. */
        fd2 = connect_as(fx, 78);
        send_request(fd2, "/metadata/attested/document?api-version=2018-10-01", NULL);
        run_until_pending(fx, 1);
        fake_answer(&fx->fake, 0, NULL, DOCUMENT);
        read_response(fx, fd2, buf2, &r);
        g_assert_cmpuint(r.status, ==, 200);
        response_clear(&r);
        close(fd2);
        fd2 = connect_as(fx, 77);
        g_string_truncate(buf2, 0);
        send_request(fd2, "/metadata/attested/document?api-version=2018-10-01", NULL);
        read_response(fx, fd2, buf2, &r);
        g_assert_cmpuint(r.status, ==, 429);
        response_clear(&r);
        close(fd2);
        close(fd);
}

static void test_not_blocking(Fixture *fx, gconstpointer unused) {
        g_autoptr(GString) b1 = g_string_new(NULL), b2 = g_string_new(NULL), b3 = g_string_new(NULL);
        Response r = {};
        int fd1 = connect_as(fx, 10), fd2 = connect_as(fx, 11), fd3 = connect_as(fx, 12);

        /* Two requests wait for slow signatures; a third client is served meanwhile. */
        send_request(fd1, "/metadata/attested/document?api-version=2018-10-01&nonce=one", NULL);
        send_request(fd2, "/metadata/attested/document?api-version=2018-10-01&nonce=two", NULL);
        run_until_pending(fx, 2);
        send_request(fd3, "/metadata/versions", NULL);
        read_response(fx, fd3, b3, &r);
        g_assert_cmpuint(r.status, ==, 200);
        g_assert_true(g_str_has_prefix(r.body, "{\"apiVersions\":[\"2018-10-01\","));
        response_clear(&r);
        assert_no_response(fx, fd1);
        assert_no_response(fx, fd2);

        fake_answer(&fx->fake, 0, NULL, DOCUMENT);
        read_response(fx, fd1, b1, &r);
        g_assert_cmpuint(r.status, ==, 200);
        response_clear(&r);
        fake_answer(&fx->fake, 0, "org.azshci.Attestation1.Error.UnknownVM", NULL);
        read_response(fx, fd2, b2, &r);
        g_assert_cmpuint(r.status, ==, 403);
        response_clear(&r);
        close(fd1);
        close(fd2);
        close(fd3);
}

static void test_free_in_flight(Fixture *fx, gconstpointer unused) {
        int fd = connect_as(fx, 99);

        send_request(fd, "/metadata/attested/document?api-version=2018-10-01", NULL);
        run_until_pending(fx, 1);
        g_assert_cmpuint(imds_http_n_connections(fx->server), ==, 1);
        /* Stopping with a call in flight cancels it and closes the connection. */
        fx->server = imds_http_free(fx->server);
        g_assert_cmpuint(fx->fake.n_cancelled, ==, 1);
        g_assert_cmpuint(fx->fake.n_pending, ==, 0);
        close(fd);
}

static void test_connection_count(Fixture *fx, gconstpointer unused) {
        g_autoptr(GString) buf = g_string_new(NULL);
        Response r = {};
        int fd = connect_as(fx, 5);
        gint64 deadline;

        g_assert_cmpuint(imds_http_n_connections(fx->server), ==, 1);
        send_request(fd, "/nope", NULL);
        read_response(fx, fd, buf, &r);
        g_assert_cmpuint(r.status, ==, 404);
        response_clear(&r);
        close(fd);
        deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
        while (imds_http_n_connections(fx->server) > 0) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_assert_cmpint(sd_event_run(fx->event, 10 * USEC_PER_MSEC), >=, 0);
        }
}

#define ADD(name, fn) \
        g_test_add("/vsock-socketpair/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);

        ADD("document", test_document);
        ADD("bus-errors", test_bus_errors);
        ADD("unidentified", test_unidentified);
        ADD("rate-limit", test_rate_limit);
        ADD("not-blocking", test_not_blocking);
        ADD("free-in-flight", test_free_in_flight);
        ADD("connection-count", test_connection_count);
        return g_test_run();
}
