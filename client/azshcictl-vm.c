/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the inventory verbs: vm add, vm update, vm remove. */

#include "azshcictl-vm.h"
#include "azshcictl-state.h"
#include "bus-names.h"
#include "strv.h"

static int local_invalid(Context *c, const sd_bus_error *e, int r, const char *what) {
        return log_bus_error(c, e, r, what); /* same format as the service's errors */
}

int verb_vm_add(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        VmPropertyList *l = &c->options;
        const char *path;
        int r;

        STRV_FOREACH (a, args) {
                r = vm_property_list_add_assignment(l, *a, &error);
                if (r < 0)
                        return local_invalid(c, &error, r, "register VM");
        }
        r = vm_property_list_validate(l, true, &error);
        if (r < 0)
                return local_invalid(c, &error, r, "register VM");

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = new_admin_call(c, "RegisterVM", &m);
        if (r >= 0)
                r = vm_property_list_append(l, m, false);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to build the RegisterVM call: %s",
                        strerror(-r));
        r = admin_call(c, m, "register VM", &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the RegisterVM reply: %s",
                        strerror(-r));

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_string_member(o, "path", path);
                return print_json(c, o);
        }
        printf("Registered VM '%s' as %s.\n", vm_property_list_get_string(l, "Name"), path);
        return 0;
}

int verb_vm_update(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        VmPropertyList *l = &c->options;
        int r;

        STRV_FOREACH (a, args + 1) {
                r = vm_property_list_add_assignment(l, *a, &error);
                if (r < 0)
                        return local_invalid(c, &error, r, "update VM");
        }
        if (l->n == 0)
                return usage_error(c, "vm update: nothing to change: give KEY=VALUE or --KEY VALUE.");
        r = vm_property_list_validate(l, false, &error);
        if (r < 0)
                return local_invalid(c, &error, r, "update VM");

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = new_admin_call(c, "UpdateVM", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", args[0]);
        if (r >= 0)
                r = vm_property_list_append(l, m, false);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to build the UpdateVM call: %s",
                        strerror(-r));
        return admin_call(c, m, "update VM", NULL);
}

int verb_vm_remove(Context *c, char **args) {
        return simple_admin_call(c, "UnregisterVM", "unregister VM", "s", args[0]);
}
