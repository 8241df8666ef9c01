/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The service's direct socket (service/attestd/direct-socket.c) in-process: the real server on a
 * real UNIX socket in an sd-event loop the test turns by hand, and a client written from the
 * D-Bus specification on a plain socket, so that the test decides exactly which bytes arrive
 * together and when the loop runs:
 *
 * - a first call sent in the same write as BEGIN (as GDBus does) is answered;
 * - a call on a frontend connection is dispatched before an event source of normal priority
 *   that is pending at the same time (what the system bus's connection is, one level lower
 *   still): a guest's request never waits behind a queue of inventory reads. */

#include <glib.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "direct-socket.h"
#include "macro.h"

#define TEST_PATH  "/org/azshci/Attestation1"
#define TEST_IFACE "org.azshci.Attestation1"

typedef struct Fixture {
        char *dir, *socket_path;
        sd_event *event;
        DirectSocket *server;
        unsigned n_calls;
        unsigned n_other; /* dispatches of the competing source */
} Fixture;

static int method_poke(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fixture *f = userdata;

        f->n_calls++;
        return sd_bus_reply_method_return(m, "s", "poked");
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Poke", "", "s", method_poke, 0),
        SD_BUS_VTABLE_END,
};

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        bool inherited;
        int fd;

        g_unsetenv("LISTEN_FDS");
        f->dir = g_dir_make_tmp("test-direct-socket-XXXXXX", &error);
        g_assert_no_error(error);
        f->socket_path = g_build_filename(f->dir, "frontend.socket", NULL);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        g_assert_cmpint(direct_socket_open(f->socket_path, (gid_t)-1, &fd, &inherited), ==, 0);
        g_assert_false(inherited);
        g_assert_cmpint(direct_socket_new(f->event, fd, (gid_t)-1, TEST_PATH, TEST_IFACE, test_vtable, f,
                                &f->server),
                ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        direct_socket_free(f->server);
        sd_event_unref(f->event);
        (void)g_unlink(f->socket_path);
        (void)g_rmdir(f->dir);
        g_free(f->socket_path);
        g_free(f->dir);
}

static int client_connect(Fixture *f) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        g_strlcpy(sa.sun_path, f->socket_path, sizeof sa.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
        return fd;
}

static void client_send(int fd, const void *data, size_t size) {
        g_assert_cmpint(send(fd, data, size, MSG_NOSIGNAL), ==, (ssize_t)size);
}

/* Turns the loop (at most 10 ms per turn) until the client has received at least `want`
 * bytes in total or 5 s have passed; returns what arrived. */
static GByteArray *run_until_received(Fixture *f, int fd, GByteArray *got, size_t want) {
        gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        while (got->len < want && g_get_monotonic_time() < end) {
                uint8_t buf[4096];
                ssize_t n;

                g_assert_cmpint(sd_event_run(f->event, 10 * 1000), >=, 0);
                while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
                        g_byte_array_append(got, buf, (guint)n);
        }
        return got;
}

/* "\0AUTH EXTERNAL <uid in hex>\r\n" */
static char *auth_line(void) {
        g_autofree char *uid = g_strdup_printf("%u", (unsigned)getuid());
        GString *s = g_string_new(NULL);

        g_string_append_len(s, "\0AUTH EXTERNAL ", 15);
        for (const char *p = uid; *p; p++)
                g_string_append_printf(s, "%02x", (unsigned char)*p);
        g_string_append(s, "\r\n");
        return g_string_free(s, FALSE);
}

static void append_padding(GByteArray *b, unsigned align) {
        static const uint8_t zeros[8] = {};

        g_byte_array_append(b, zeros, (-b->len) % align);
}

static void append_header_field(GByteArray *b, uint8_t code, char type, const char *value) {
        uint8_t head[4] = {code, 1, (uint8_t)type, 0};
        uint32_t len = (uint32_t)strlen(value);

        append_padding(b, 8);
        g_byte_array_append(b, head, sizeof head);
        g_byte_array_append(b, (const uint8_t *)&len, sizeof len);
        g_byte_array_append(b, (const uint8_t *)value, len + 1);
}

/* A little-endian method call of Poke on the test object, no body, serial 1. */
static GByteArray *poke_message(void) {
        GByteArray *fields = g_byte_array_new(), *m = g_byte_array_new();
        uint8_t fixed[16] = {'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0};
        uint32_t fields_len;

        append_header_field(fields, 1, 'o', TEST_PATH);
        append_header_field(fields, 2, 's', TEST_IFACE);
        append_header_field(fields, 3, 's', "Poke");
        fields_len = fields->len;
        memcpy(fixed + 12, &fields_len, sizeof fields_len);
        g_byte_array_append(m, fixed, sizeof fixed);
        g_byte_array_append(m, fields->data, fields->len);
        append_padding(m, 8);
        g_byte_array_unref(fields);
        return m;
}

/* The server's "OK <guid>\r\n" to AUTH EXTERNAL. */
static void client_authenticate(Fixture *f, int fd) {
        g_autofree char *auth = auth_line();
        g_autoptr(GByteArray) got = g_byte_array_new();

        client_send(fd, auth, 15 + strlen(auth + 15));
        run_until_received(f, fd, got, 37);
        g_assert_cmpuint(got->len, ==, 37);
        g_assert_cmpmem(got->data, 3, "OK ", 3);
}

/* A method return to serial 1: message type 2 in the second byte. */
static void assert_reply(GByteArray *got) {
        g_assert_cmpuint(got->len, >=, 16);
        g_assert_cmpuint(got->data[1], ==, 2);
}

static void test_first_call_with_begin(Fixture *f, gconstpointer data) {
        g_autoptr(GByteArray) msg = poke_message(), got = g_byte_array_new();
        int fd = client_connect(f);

        client_authenticate(f, fd);

        /* BEGIN and the first call in one write: the server reads both in one go. */
        g_autoptr(GByteArray) begin = g_byte_array_new();
        g_byte_array_append(begin, (const uint8_t *)"BEGIN\r\n", 7);
        g_byte_array_append(begin, msg->data, msg->len);
        client_send(fd, begin->data, begin->len);

        run_until_received(f, fd, got, 16);
        g_assert_cmpuint(f->n_calls, ==, 1);
        assert_reply(got);
        close(fd);
}

static int on_other(sd_event_source *s, void *userdata) {
        Fixture *f = userdata;

        f->n_other++;
        return 0;
}

static void test_priority(Fixture *f, gconstpointer data) {
        g_autoptr(GByteArray) msg = poke_message(), got = g_byte_array_new();
        _cleanup_(sd_event_source_unrefp) sd_event_source *other = NULL;
        int fd = client_connect(f);

        client_authenticate(f, fd);
        client_send(fd, "BEGIN\r\n", 7);
        /* Until the server has nothing left to do with the connection. */
        while (sd_event_run(f->event, 50 * 1000) > 0)
                ;

        /* Something of normal priority that has had work since before the call arrives (a bus
         * with GetManagedObjects calls queued, the signers' completions): among sources of equal
         * priority, sd-event dispatches the one pending longest first. */
        g_assert_cmpint(sd_event_add_defer(f->event, &other, on_other, f), >=, 0);
        g_assert_cmpint(sd_event_source_set_priority(other, SD_EVENT_PRIORITY_NORMAL), >=, 0);

        client_send(fd, msg->data, msg->len);
        /* One turn of the loop dispatches one source: the frontend's call, not the other. */
        g_assert_cmpint(sd_event_run(f->event, UINT64_MAX), >, 0);
        g_assert_cmpuint(f->n_calls, ==, 1);
        g_assert_cmpuint(f->n_other, ==, 0);

        /* And the system bus comes after both. */
        g_assert_cmpint(FRONTEND_PRIORITY, <, SD_EVENT_PRIORITY_NORMAL);
        g_assert_cmpint(FRONTEND_PRIORITY_BUS, >, SD_EVENT_PRIORITY_NORMAL);

        run_until_received(f, fd, got, 16);
        assert_reply(got);
        g_assert_cmpint(sd_event_source_set_enabled(other, SD_EVENT_OFF), >=, 0);
        close(fd);
}

#define ADD(name, fn) g_test_add("/direct-socket/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        ADD("first-call-with-begin", test_first_call_with_begin);
        ADD("frontend-before-normal-priority", test_priority);
        return g_test_run();
}
