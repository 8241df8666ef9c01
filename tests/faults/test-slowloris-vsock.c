/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Slowloris over the vsock frontend's path: the real HTTP server (libmicrohttpd in sd-event)
 * with the vsock identity function, peers injected over socketpairs with
 * imds_http_add_connection() and the CID they would have had after accept() (the internal
 * API; production peers always come from accept()). A fake backend answers at once.
 *
 * - 1000 connections from one CID that send nothing: all but --max-connections-per-vm are
 *   closed at once, and another VM gets its document meanwhile, within a bounded time;
 * - connections that trickle one byte at a time (never idle long enough for the inactivity
 *   timeout) are closed when the request deadline passes, not before;
 * - a keep-alive connection gets a fresh deadline after each response;
 * - the unidentified peers (CID 0, 1, 2) share one count;
 * - connections from many distinct CIDs that fill the global limit are gone after the request
 *   deadline, and the server serves again. */

#include <glib.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "imds-http.h"
#include "macro.h"
#include "vsock-peer.h"
#include "vsock-socketpair.h"

#define PER_VM          4U
#define REQUEST_TIMEOUT 1U /* seconds */
#define MAX_CONNECTIONS 64U
#define DOCUMENT \
        "{\"encoding\":\"pkcs7\",\"signature\":\"MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEF\"}"

typedef struct Fixture {
        sd_event *event;
        ImdsHttp *server;
        unsigned n_calls;
        char last_peer[32];
} Fixture;

/* The fake backend answers at once, from the event loop (never before attest() returns). */
typedef struct Answer {
        ImdsAttestDone done;
        void *userdata;
        sd_event_source *source;
} Answer;

static int answer_now(sd_event_source *es, void *userdata) {
        Answer *a = userdata;

        sd_event_source_unref(a->source);
        a->done(a->userdata, 0, NULL, DOCUMENT);
        g_free(a);
        return 0;
}

static int fake_attest(void *data, const char *transport, const char *peer, const char *nonce,
        const char *api_version, ImdsAttestDone done, void *userdata, void **ret_handle) {
        Fixture *fx = data;
        Answer *a = g_new0(Answer, 1);

        fx->n_calls++;
        g_strlcpy(fx->last_peer, peer, sizeof fx->last_peer);
        a->done = done;
        a->userdata = userdata;
        g_assert_cmpint(sd_event_add_defer(fx->event, &a->source, answer_now, a), >=, 0);
        *ret_handle = a;
        return 0;
}

static void fake_cancel(void *data, void *handle) {
        Answer *a = handle;

        sd_event_source_disable_unref(a->source);
        g_free(a);
}

static void fixture_setup(Fixture *fx, gconstpointer unused) {
        ImdsHttpOptions o = {
                .transport = "vsock",
                .identify = test_vsock_identify,
                .backend = {.attest = fake_attest, .cancel = fake_cancel, .data = fx},
                .rate = 0,
                .burst = 1,
                .max_connections = MAX_CONNECTIONS,
                .max_connections_per_peer = PER_VM,
                .connection_timeout_sec = 10, /* far longer than the request deadline */
                .request_timeout_sec = REQUEST_TIMEOUT,
        };

        g_assert_cmpint(sd_event_new(&fx->event), >=, 0);
        g_assert_cmpint(imds_http_new(fx->event, -1, &o, &fx->server), ==, 0);
}

static void fixture_teardown(Fixture *fx, gconstpointer unused) {
        fx->server = imds_http_free(fx->server);
        fx->event = sd_event_unref(fx->event);
}

/* Our end of a socketpair the server serves as peer CID cid; -1 if the server refused it. */
static int connect_as(Fixture *fx, uint32_t cid) {
        return test_vsock_connect(fx->server, cid, SOCK_NONBLOCK);
}

static void run_for(Fixture *fx, usec_t usec) {
        gint64 end = g_get_monotonic_time() + (gint64)usec;

        while (g_get_monotonic_time() < end)
                g_assert_cmpint(sd_event_run(fx->event, 5 * USEC_PER_MSEC), >=, 0);
}

/* Whether the server closed fd (EOF, no data). */
static bool is_closed(int fd) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

        if (n > 0)
                g_error("a connection that sent no complete request got data");
        return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void run_until_connections(Fixture *fx, unsigned n, usec_t timeout) {
        gint64 deadline = g_get_monotonic_time() + (gint64)timeout;

        while (imds_http_n_connections(fx->server) != n) {
                if (g_get_monotonic_time() >= deadline)
                        g_error("the server has %u connections, expected %u",
                                imds_http_n_connections(fx->server), n);
                g_assert_cmpint(sd_event_run(fx->event, 5 * USEC_PER_MSEC), >=, 0);
        }
}

/* A whole GET on fd; returns the status of the response, read within timeout (event loop
 * running meanwhile), and leaves the connection open (keep-alive). */
static unsigned get(Fixture *fx, int fd, const char *target, usec_t timeout) {
        g_autofree char *req =
                g_strdup_printf("GET %s HTTP/1.1\r\nHost: 169.254.169.253\r\nMetadata: true\r\n\r\n",
                        target);
        g_autoptr(GString) buf = g_string_new(NULL);
        gint64 deadline = g_get_monotonic_time() + (gint64)timeout;
        unsigned status = 0;

        g_assert_cmpint(write(fd, req, strlen(req)), ==, (ssize_t)strlen(req));
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                const char *end = strstr(buf->str, "\r\n\r\n"), *cl;
                char chunk[4096];

                if (end && (cl = strstr(buf->str, "Content-Length: ")) &&
                        buf->len >= (size_t)(end - buf->str) + 4 + strtoul(cl + 16, NULL, 10)) {
                        g_assert_cmpint(sscanf(buf->str, "HTTP/1.1 %u ", &status), ==, 1);
                        return status;
                }
                if (g_get_monotonic_time() >= deadline)
                        g_error("no response to GET %s within %" PRIu64 " ms", target,
                                timeout / USEC_PER_MSEC);
                g_assert_cmpint(sd_event_run(fx->event, 5 * USEC_PER_MSEC), >=, 0);
                if (poll(&p, 1, 0) == 1) {
                        ssize_t n = read(fd, chunk, sizeof chunk);
                        g_assert_cmpint(n, >, 0);
                        g_string_append_len(buf, chunk, n);
                }
        }
}

#define DOC "/metadata/attested/document?api-version=2018-10-01&nonce=n"

static void test_idle_flood_one_vm(Fixture *fx, gconstpointer unused) {
        int fds[1000], other;
        unsigned closed = 0;
        gint64 start;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = connect_as(fx, 7);
                g_assert_cmpint(fds[i], >=, 0); /* never over the global limit: the rest are closed */
        }
        /* Only PER_VM of them stay; the others were closed at once (before any deadline). */
        run_until_connections(fx, PER_VM, 500 * USEC_PER_MSEC);
        g_assert_cmpuint(imds_http_n_peer_connections(fx->server, "7"), ==, PER_VM);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                closed += is_closed(fds[i]);
        g_assert_cmpuint(closed, ==, ELEMENTSOF(fds) - PER_VM);

        /* Another VM is served meanwhile, at once. */
        start = g_get_monotonic_time();
        other = connect_as(fx, 9);
        g_assert_cmpint(other, >=, 0);
        g_assert_cmpuint(get(fx, other, DOC, 500 * USEC_PER_MSEC), ==, 200);
        g_assert_cmpstr(fx->last_peer, ==, "9");
        g_assert_cmpint(g_get_monotonic_time() - start, <, 500 * G_USEC_PER_SEC / 1000);
        g_assert_cmpuint(fx->n_calls, ==, 1);
        close(other);

        /* The four silent ones are dropped by the request deadline, not before. */
        run_until_connections(fx, PER_VM, 500 * USEC_PER_MSEC);
        g_assert_cmpint(g_get_monotonic_time() - start, <, REQUEST_TIMEOUT * G_USEC_PER_SEC / 2);
        run_until_connections(fx, 0, (REQUEST_TIMEOUT + 2) * USEC_PER_SEC);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                g_assert_true(is_closed(fds[i]));
                close(fds[i]);
        }
}

static void test_tricklers(Fixture *fx, gconstpointer unused) {
        static const char req[] = "GET " DOC " HTTP/1.1\r\nHost: 169.254.169.253\r\nMetadata: true\r\n\r\n";
        int slow[PER_VM], other;
        size_t sent = 0;
        gint64 start = g_get_monotonic_time(), dropped_at = 0;

        for (size_t i = 0; i < ELEMENTSOF(slow); i++)
                slow[i] = connect_as(fx, 11);
        /* One byte per connection every 100 ms (the inactivity timeout is 10 s): the request
         * deadline must end them. Meanwhile another VM is served. */
        other = connect_as(fx, 12);
        while (!dropped_at) {
                g_assert_cmpint(g_get_monotonic_time() - start, <, (REQUEST_TIMEOUT + 2) * G_USEC_PER_SEC);
                g_assert_cmpuint(sent, <, sizeof req - 5); /* never a complete request */
                for (size_t i = 0; i < ELEMENTSOF(slow); i++)
                        (void)send(slow[i], req + sent, 1, MSG_NOSIGNAL);
                sent++;
                run_for(fx, 100 * USEC_PER_MSEC);
                if (imds_http_n_peer_connections(fx->server, "11") == 0)
                        dropped_at = g_get_monotonic_time();
                if (sent == 3)
                        g_assert_cmpuint(get(fx, other, DOC, 500 * USEC_PER_MSEC), ==, 200);
        }
        /* Not before the deadline (10 ms timer accuracy), not long after it. */
        g_assert_cmpint(dropped_at - start, >=, REQUEST_TIMEOUT * G_USEC_PER_SEC - 20000);
        g_assert_cmpint(dropped_at - start, <, (REQUEST_TIMEOUT + 1) * G_USEC_PER_SEC);
        run_for(fx, 50 * USEC_PER_MSEC);
        for (size_t i = 0; i < ELEMENTSOF(slow); i++) {
                g_assert_true(is_closed(slow[i]));
                close(slow[i]);
        }
        g_assert_cmpuint(fx->n_calls, ==, 1);
        close(other);
}

static void test_keepalive_deadline(Fixture *fx, gconstpointer unused) {
        int fd = connect_as(fx, 20);
        gint64 t;

        /* Requests well apart, each complete within its deadline: the connection lives longer
         * than one deadline in all. */
        for (int i = 0; i < 3; i++) {
                g_assert_cmpuint(get(fx, fd, DOC, 500 * USEC_PER_MSEC), ==, 200);
                run_for(fx, (REQUEST_TIMEOUT * USEC_PER_SEC) * 6 / 10);
                g_assert_false(is_closed(fd));
        }
        g_assert_cmpuint(get(fx, fd, DOC, 500 * USEC_PER_MSEC), ==, 200);
        /* Then nothing: closed one deadline after the last response. */
        t = g_get_monotonic_time();
        run_until_connections(fx, 0, (REQUEST_TIMEOUT + 2) * USEC_PER_SEC);
        g_assert_cmpint(g_get_monotonic_time() - t, >=, REQUEST_TIMEOUT * G_USEC_PER_SEC - 20000);
        g_assert_true(is_closed(fd));
        close(fd);
}

static void test_unidentified_share(Fixture *fx, gconstpointer unused) {
        static const uint32_t bad[] = {VMADDR_CID_HYPERVISOR, VMADDR_CID_LOCAL, VMADDR_CID_HOST};
        int fds[3 * PER_VM];

        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = connect_as(fx, bad[i % ELEMENTSOF(bad)]);
        run_until_connections(fx, PER_VM, 500 * USEC_PER_MSEC);
        g_assert_cmpuint(imds_http_n_peer_connections(fx->server, NULL), ==, PER_VM);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        run_until_connections(fx, 0, 500 * USEC_PER_MSEC);
}

static void test_global_limit_recovers(Fixture *fx, gconstpointer unused) {
        int fds[MAX_CONNECTIONS + 16], fd;
        unsigned refused = 0;
        gint64 start = g_get_monotonic_time();

        /* Distinct VMs, each within its own limit, fill the server. */
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = connect_as(fx, 1000 + (uint32_t)i);
                refused += fds[i] < 0;
        }
        g_assert_cmpuint(refused, ==, 16);
        g_assert_cmpuint(imds_http_n_connections(fx->server), ==, MAX_CONNECTIONS);
        /* Full; the request deadline empties it, and a new client is served. */
        run_until_connections(fx, 0, (REQUEST_TIMEOUT + 2) * USEC_PER_SEC);
        g_assert_cmpint(g_get_monotonic_time() - start, <, (REQUEST_TIMEOUT + 1) * G_USEC_PER_SEC);
        fd = connect_as(fx, 5);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpuint(get(fx, fd, DOC, 500 * USEC_PER_MSEC), ==, 200);
        close(fd);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

#define ADD(name, fn) \
        g_test_add("/slowloris-vsock/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char *argv[]) {
        struct rlimit rl;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* 1000 socketpairs: both ends live in this process. */
        g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
                rl.rlim_cur = 4096;
                g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        }
        if (rl.rlim_cur < 2200) {
                printf("1..0 # SKIP RLIMIT_NOFILE %lu is below the 2200 file descriptors this test needs\n",
                        (unsigned long)rl.rlim_cur);
                return 77;
        }

        ADD("idle-flood-one-vm", test_idle_flood_one_vm);
        ADD("tricklers", test_tricklers);
        ADD("keepalive-deadline", test_keepalive_deadline);
        ADD("unidentified-share", test_unidentified_share);
        ADD("global-limit-recovers", test_global_limit_recovers);
        return g_test_run();
}
