/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "log.h"
#include "manager-cluster.h"
#include "object-manager.h"
#include "server-bus.h"
#include "strv.h"

/* The org.azshci.Attestation1.Server objects: this host, and in a cluster every other server
 * of it (docs/cluster.md). The object path carries the escaped name. */

/* The other servers of a cluster come from the cluster store's view (manager-cluster.c); the
 * getters tell them apart by path. */

static int server_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
        sd_bus_error *error) {
        Manager *m = userdata;

        if (!streq(path, m->server_path) && !manager_cluster_find_server(m, path))
                return 0;
        *found = m;
        return 1;
}

static int server_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
        sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Manager *m = userdata;
        int r;

        r = manager_cluster_server_paths(m, &l);
        if (r < 0)
                return r;
        r = strv_extend(&l, m->server_path);
        if (r < 0)
                return r;
        *nodes = TAKE_PTR(l);
        return 0;
}

/* The other server at path, or NULL for this one. */
static const ClusterServerView *remote(Manager *m, const char *path) {
        return streq(path, m->server_path) ? NULL : manager_cluster_find_server(m, path);
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const ClusterServerView *v = remote(m, path);
        return sd_bus_message_append(reply, "s", v ? v->name : m->server_name);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const ClusterServerView *v = remote(m, path);
        return sd_bus_message_append(reply, "s",
                v ? cluster_server_view_state(v) : server_state_to_string(m->server_state));
}

static int property_get_last_sync(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const ClusterServerView *v = remote(m, path);
        return sd_bus_message_append(reply, "t", v ? v->status.last_sync : m->last_sync);
}

static int property_get_certificate_expiry(sd_bus *bus, const char *path, const char *interface,
        const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const ClusterServerView *v = remote(m, path);
        return sd_bus_message_append(reply, "t", v ? v->status.certificate_expiry : m->certificate_expiry);
}

static int property_get_legacy(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const ClusterServerView *v = remote(m, path);
        /* Another server: whether its bridge and firewall are up, as it last said. */
        return sd_bus_message_append(reply, "s",
                (v ? v->has_status && v->status.legacy_applied : m->legacy_support) ? "On" : "Off");
}

static int property_get_error(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const ClusterServerView *v = remote(userdata, path);
        _cleanup_free_ char *e = NULL;

        if (v)
                return sd_bus_message_append(reply, "s",
                        v->has_status ? strempty(v->status.error)
                                      : "Disconnected: its status record expired with its lease");
        e = manager_server_error(userdata);
        if (!e)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", e);
}

static const sd_bus_vtable server_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastSync", "t", property_get_last_sync, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CertificateExpiry", "t", property_get_certificate_expiry, 0,
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LegacyOsSupport", "s", property_get_legacy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", property_get_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int server_add_bus_objects(Manager *m) {
        int r;

        assert(m);

        /* GetManagedObjects dumps it with object_manager_append(). */
        r = object_manager_check_vtable(server_vtable);
        if (r < 0)
                return log_error_errno(r,
                        "The vtable of %s has a property GetManagedObjects cannot dump: %m",
                        BUS_INTERFACE_SERVER);

        r = sd_bus_add_fallback_vtable(m->bus, NULL, BUS_PATH_SERVER_PREFIX, BUS_INTERFACE_SERVER,
                server_vtable, server_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register %s: %m", BUS_INTERFACE_SERVER);

        r = sd_bus_add_node_enumerator(m->bus, NULL, BUS_PATH_SERVER_PREFIX, server_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the server enumerator: %m");
        return 0;
}

int server_append_managed_objects(Manager *m, sd_bus_message *reply, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        assert(m);
        assert(reply);

        r = server_enumerate(m->bus, BUS_PATH_SERVER_PREFIX, m, &l, error);
        if (r < 0)
                return r;
        for (size_t i = 0; l[i]; i++) {
                size_t j = 0;

                while (!streq(l[j], l[i])) /* a path listed twice counts once, where first listed */
                        j++;
                if (j < i)
                        continue;
                r = object_manager_append(m->bus, reply, l[i], BUS_INTERFACE_SERVER, server_vtable, m,
                        error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int server_emit_changed(Manager *m, char **properties) {
        assert(m);

        manager_cluster_changed(m); /* publish this server's status to the cluster */

        if (!m->bus)
                return 0;
        return sd_bus_emit_properties_changed_strv(m->bus, m->server_path, BUS_INTERFACE_SERVER, properties);
}
