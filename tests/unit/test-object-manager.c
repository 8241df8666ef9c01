/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* object_manager_check_vtable(): the service's own GetManagedObjects (object-manager.c) dumps
 * only vtables it dumps as sd-bus would; anything else is refused when the vtable is registered
 * (vm-bus.c, server-bus.c), so the daemon never meets it in a reply. */

#include <errno.h>
#include <glib.h>
#include <stddef.h>

#include "object-manager.h"

typedef struct Thing {
        char *name;
        unsigned count;
} Thing;

static int get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "s", *(char **)userdata);
}

static const sd_bus_vtable good[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_name, offsetof(Thing, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Count", "u", NULL, offsetof(Thing, count), SD_BUS_VTABLE_HIDDEN),
        SD_BUS_PROPERTY("Other", "u", NULL, offsetof(Thing, count), SD_BUS_VTABLE_PROPERTY_EXPLICIT),
        SD_BUS_VTABLE_END,
};

/* sd-bus reads a property without getter from its offset; object_manager_append() does not. */
static const sd_bus_vtable no_getter[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_name, offsetof(Thing, name), 0),
        SD_BUS_PROPERTY("Count", "u", NULL, offsetof(Thing, count), 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable absolute[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_name, 0, SD_BUS_VTABLE_ABSOLUTE_OFFSET),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable sensitive[] = {
        SD_BUS_VTABLE_START(SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_PROPERTY("Name", "s", get_name, offsetof(Thing, name), 0),
        SD_BUS_VTABLE_END,
};

static void test_check_vtable(void) {
        g_assert_cmpint(object_manager_check_vtable(good), ==, 0);
        g_assert_cmpint(object_manager_check_vtable(no_getter), ==, -EOPNOTSUPP);
        g_assert_cmpint(object_manager_check_vtable(absolute), ==, -EOPNOTSUPP);
        g_assert_cmpint(object_manager_check_vtable(sensitive), ==, -EOPNOTSUPP);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/object-manager/check-vtable", test_check_vtable);
        return g_test_run();
}
