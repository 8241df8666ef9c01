/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A third-party client of the service's direct socket for the frontends: GDBus, peer to peer
 * (no Hello, no dbus-daemon), which sends its first method call the moment it has sent BEGIN
 * (the shipped frontends use sd-bus, which waits for the server's OK first). Used by
 * tests/frontends/test_direct.py and tests/integration/test_bus.py:
 *
 *   direct-gdbus-client SOCKET CONNECTIONS TRANSPORT PEER NONCE
 *
 * opens CONNECTIONS fresh connections one after the other and calls Attest(TRANSPORT, PEER,
 * NONCE) on each with a 5 s timeout. Prints "reply DOCUMENT" for the first document and
 * "error NAME: MESSAGE" for the first D-Bus error the service sent, a line
 * "connection N: no answer: WHY" for each call that got no answer, then
 * "connections=C answered=A errors=E" (answered: a document or an error from the service).
 * Exit status 0 when every call was answered. */

#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char *argv[]) {
        g_autofree char *escaped = NULL, *address = NULL;
        unsigned n, answered = 0, errors = 0;

        if (argc != 6) {
                fprintf(stderr, "usage: %s SOCKET CONNECTIONS TRANSPORT PEER NONCE\n", argv[0]);
                return 2;
        }
        escaped = g_dbus_address_escape_value(argv[1]);
        address = g_strconcat("unix:path=", escaped, NULL);
        n = (unsigned)strtoul(argv[2], NULL, 10);

        for (unsigned i = 0; i < n; i++) {
                g_autoptr(GDBusConnection) c = NULL;
                g_autoptr(GVariant) reply = NULL;
                g_autoptr(GError) error = NULL;

                c = g_dbus_connection_new_for_address_sync(address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, NULL, &error);
                if (!c) {
                        printf("connection %u: no answer: cannot connect: %s\n", i, error->message);
                        continue;
                }
                reply = g_dbus_connection_call_sync(c, NULL, "/org/azshci/Attestation1",
                        "org.azshci.Attestation1", "Attest",
                        g_variant_new("(sss)", argv[3], argv[4], argv[5]), G_VARIANT_TYPE("(s)"),
                        G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
                if (reply) {
                        const char *document;

                        g_variant_get(reply, "(&s)", &document);
                        if (answered - errors == 0)
                                printf("reply %s\n", document);
                        answered++;
                } else if (g_dbus_error_is_remote_error(error)) {
                        g_autofree char *name = g_dbus_error_get_remote_error(error);

                        g_dbus_error_strip_remote_error(error);
                        if (errors == 0)
                                printf("error %s: %s\n", name, error->message);
                        answered++;
                        errors++;
                } else
                        printf("connection %u: no answer: %s\n", i, error->message);
                (void)g_dbus_connection_close_sync(c, NULL, NULL);
        }
        printf("connections=%u answered=%u errors=%u\n", n, answered, errors);
        return answered == n ? 0 : 1;
}
