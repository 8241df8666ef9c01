/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "log.h"
#include "server-bus.h"

/* The org.azshci.Attestation1.Server objects. This host is the only server a standalone
 * service knows; the object path carries its escaped name so that cluster members can be
 * added beside it. */

static int server_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
        sd_bus_error *error) {
        Manager *m = userdata;

        if (!streq(path, m->server_path))
                return 0;
        *found = m;
        return 1;
}

static int server_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
        sd_bus_error *error) {
        Manager *m = userdata;
        char **l;

        l = calloc(2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        l[0] = strdup(m->server_path);
        if (!l[0]) {
                free(l);
                return -ENOMEM;
        }
        *nodes = l;
        return 0;
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->server_name);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", server_state_to_string(m->server_state));
}

static int property_get_legacy(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->legacy_support ? "On" : "Off");
}

static int property_get_error(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *e = manager_server_error(userdata);

        if (!e)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", e);
}

static const sd_bus_vtable server_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastSync", "t", NULL, offsetof(Manager, last_sync),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CertificateExpiry", "t", NULL, offsetof(Manager, certificate_expiry),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LegacyOsSupport", "s", property_get_legacy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", property_get_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int server_add_bus_objects(Manager *m) {
        int r;

        assert(m);

        r = sd_bus_add_fallback_vtable(m->bus, NULL, BUS_PATH_SERVER_PREFIX, BUS_INTERFACE_SERVER,
                server_vtable, server_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register %s: %m", BUS_INTERFACE_SERVER);

        r = sd_bus_add_node_enumerator(m->bus, NULL, BUS_PATH_SERVER_PREFIX, server_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the server enumerator: %m");
        return 0;
}

int server_emit_changed(Manager *m, char **properties) {
        assert(m);

        if (!m->bus)
                return 0;
        return sd_bus_emit_properties_changed_strv(m->bus, m->server_path, BUS_INTERFACE_SERVER, properties);
}
