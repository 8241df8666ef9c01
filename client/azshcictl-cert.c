/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the signing certificate verbs: sync, ca export. */

#include "azshcictl-cert.h"
#include "azshcictl-state.h"
#include "bus-names.h"
#include "strv.h"

int verb_sync(Context *c, char **args) {
        _cleanup_(json_object_freep) JsonObject *cluster = NULL;
        char buf[64];
        int r;

        r = simple_admin_call(c, "Sync", "sync", NULL);
        if (r < 0)
                return r;
        r = get_cluster(c, &cluster);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_int_member(o, "LastSync", (gint64)jint(cluster, "LastSync"));
                json_object_set_int_member(o, "CertificateExpiry",
                        (gint64)jint(cluster, "CertificateExpiry"));
                return print_json(c, o);
        }
        printf("Synced. The signing certificate is valid until %s.\n",
                format_timestamp_utc(buf, sizeof buf, jint(cluster, "CertificateExpiry")));
        return 0;
}

int verb_ca_export(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *pem;
        int r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        /* The trust anchor (PEM) that verifiers of our documents trust. Open to everyone. */
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "GetTrustAnchor", &error, &reply,
                NULL);
        if (r < 0)
                return log_bus_error(c, &error, r, "get the trust anchor");
        r = sd_bus_message_read(reply, "s", &pem);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the GetTrustAnchor reply: %s",
                        strerror(-r));
        if (isempty(pem))
                return log_error_status(c, EXIT_SERVICE, -ENOENT,
                        "The service has no trust anchor yet. (%s)", BUS_ERROR_NOT_CONFIGURED);

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_string_member(o, "pem", pem);
                return print_json(c, o);
        }
        fputs(pem, stdout);
        if (pem[strlen(pem) - 1] != '\n')
                putchar('\n');
        return 0;
}
