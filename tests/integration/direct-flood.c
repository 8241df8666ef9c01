/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A frontend that sends more than the service will queue: on one connection to the service's
 * direct socket (GDBus, peer to peer), CALLS AttestBatch calls of 64 requests (vsock, PEER,
 * a nonce each) all sent before the first reply is read. Used by tests/integration/test_attest.py
 * (attest-queue-limit):
 *
 *   direct-flood SOCKET CALLS PEER
 *
 * Prints "documents=D refused-calls=R other=O" (D: requests answered with a document; R: calls
 * refused as a whole with LimitsExceeded; O: anything else), the first LimitsExceeded message
 * as "limit MESSAGE" and the first other error as "other NAME: MESSAGE" (a call with no answer
 * counts as other). Exit status 0 once every call returned, 1 when it cannot connect. */

#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH 64U

typedef struct Counts {
        unsigned pending, documents, refused, other;
        char *limit_message, *other_error;
        GMainLoop *loop;
} Counts;

static void on_reply(GObject *source, GAsyncResult *result, gpointer userdata) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;
        Counts *c = userdata;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (reply) {
                g_autoptr(GVariantIter) iter = NULL;
                const char *name, *message;
                GVariant *doc;

                g_variant_get(reply, "(a(ayss))", &iter);
                while (g_variant_iter_next(iter, "(@ay&s&s)", &doc, &name, &message)) {
                        if (*name == '\0')
                                c->documents++;
                        else if (c->other++ == 0)
                                c->other_error = g_strdup_printf("%s: %s", name, message);
                        g_variant_unref(doc);
                }
        } else {
                g_autofree char *name = g_dbus_error_get_remote_error(error);

                g_dbus_error_strip_remote_error(error);
                if (g_strcmp0(name, "org.freedesktop.DBus.Error.LimitsExceeded") == 0) {
                        if (c->refused++ == 0)
                                c->limit_message = g_strdup(error->message);
                } else if (c->other++ == 0)
                        c->other_error = g_strdup_printf("%s: %s", name ?: "(no answer)", error->message);
        }
        if (--c->pending == 0)
                g_main_loop_quit(c->loop);
}

int main(int argc, char *argv[]) {
        g_autofree char *escaped = NULL, *address = NULL;
        g_autoptr(GDBusConnection) conn = NULL;
        g_autoptr(GError) error = NULL;
        Counts c = {};
        unsigned calls;

        if (argc != 4) {
                fprintf(stderr, "usage: %s SOCKET CALLS PEER\n", argv[0]);
                return 2;
        }
        escaped = g_dbus_address_escape_value(argv[1]);
        address = g_strconcat("unix:path=", escaped, NULL);
        calls = (unsigned)strtoul(argv[2], NULL, 10);

        conn = g_dbus_connection_new_for_address_sync(address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                NULL, NULL, &error);
        if (!conn) {
                fprintf(stderr, "cannot connect: %s\n", error->message);
                return 1;
        }
        c.loop = g_main_loop_new(NULL, FALSE);
        for (unsigned i = 0; i < calls; i++) {
                GVariantBuilder b;

                g_variant_builder_init(&b, G_VARIANT_TYPE("a(ssss)"));
                for (unsigned k = 0; k < BATCH; k++) {
                        g_autofree char *nonce = g_strdup_printf("f%u-%u", i, k);
                        g_variant_builder_add(&b, "(ssss)", "vsock", argv[3], nonce, "2020-09-01");
                }
                g_dbus_connection_call(conn, NULL, "/org/azshci/Attestation1", "org.azshci.Attestation1",
                        "AttestBatch", g_variant_new("(a(ssss))", &b), G_VARIANT_TYPE("(a(ayss))"),
                        G_DBUS_CALL_FLAGS_NONE, 120000, NULL, on_reply, &c);
                c.pending++;
        }
        if (c.pending > 0)
                g_main_loop_run(c.loop);
        g_main_loop_unref(c.loop);

        printf("documents=%u refused-calls=%u other=%u\n", c.documents, c.refused, c.other);
        if (c.limit_message)
                printf("limit %s\n", c.limit_message);
        if (c.other_error)
                printf("other %s\n", c.other_error);
        g_free(c.limit_message);
        g_free(c.other_error);
        return 0;
}
