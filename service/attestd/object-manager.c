/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "macro.h"
#include "object-manager.h"

/* What sd-bus leaves out of a dump of all properties in a method return (GetAll,
 * GetManagedObjects): hidden and explicit properties. Those that only emit an invalidation are
 * left out of signals (InterfacesAdded) only, so they are dumped here. */
#define PROPERTY_NOT_DUMPED (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT)

/* Opens a dict entry of signature contents, appends its key and opens its value, a container of
 * type value_type (an array or a variant) with value_contents. */
static int open_entry(sd_bus_message *reply, const char *contents, char key_type, const char *key,
        char value_type, const char *value_contents) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', contents);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, key_type, key);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(reply, value_type, value_contents);
}

static bool property_dumped(const sd_bus_vtable *v) {
        return (v->type == _SD_BUS_VTABLE_PROPERTY || v->type == _SD_BUS_VTABLE_WRITABLE_PROPERTY) &&
               !(v->flags & PROPERTY_NOT_DUMPED);
}

int object_manager_check_vtable(const sd_bus_vtable *vtable) {
        assert(vtable);
        assert(vtable[0].type == _SD_BUS_VTABLE_START);

        if (vtable[0].flags & SD_BUS_VTABLE_SENSITIVE)
                return -EOPNOTSUPP;
        for (const sd_bus_vtable *v = vtable + 1; v->type != _SD_BUS_VTABLE_END; v++)
                if (property_dumped(v) && (!v->x.property.get || (v->flags & SD_BUS_VTABLE_ABSOLUTE_OFFSET)))
                        return -EOPNOTSUPP;
        return 0;
}

static int append_property(sd_bus *bus, sd_bus_message *reply, const char *path, const char *interface,
        const sd_bus_vtable *v, void *userdata, sd_bus_error *error) {
        int r;

        r = open_entry(reply, "sv", 's', v->x.property.member, 'v', v->x.property.signature);
        if (r < 0)
                return r;
        /* Every property dumped has a getter (object_manager_check_vtable()). */
        assert(v->x.property.get);
        r = v->x.property.get(bus, path, interface, v->x.property.member, reply,
                (uint8_t *)userdata + v->x.property.offset, error);
        if (r < 0)
                return r;
        if (sd_bus_error_is_set(error))
                return -sd_bus_error_get_errno(error);
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

int object_manager_append(sd_bus *bus, sd_bus_message *reply, const char *path, const char *interface,
        const sd_bus_vtable *vtable, void *userdata, sd_bus_error *error) {
        int r;

        assert(reply);
        assert(path);
        assert(interface);
        assert(vtable);
        assert(vtable[0].type == _SD_BUS_VTABLE_START);

        r = open_entry(reply, "oa{sa{sv}}", 'o', path, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "{sa{sv}}{sa{sv}}{sa{sv}}", "org.freedesktop.DBus.Peer", 0,
                "org.freedesktop.DBus.Introspectable", 0, "org.freedesktop.DBus.Properties", 0);
        if (r < 0)
                return r;
        r = open_entry(reply, "sa{sv}", 's', interface, 'a', "{sv}");
        if (r < 0)
                return r;
        if (!(vtable[0].flags & SD_BUS_VTABLE_HIDDEN))
                for (const sd_bus_vtable *v = vtable + 1; v->type != _SD_BUS_VTABLE_END; v++) {
                        if (!property_dumped(v))
                                continue;
                        r = append_property(bus, reply, path, interface, v, userdata, error);
                        if (r < 0)
                                return r;
                }
        for (unsigned i = 0; i < 4; i++) { /* the properties, the interface, the interfaces, the entry */
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return 0;
}
