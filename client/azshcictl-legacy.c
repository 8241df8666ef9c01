/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the legacy OS support verbs: legacy on|off, legacy status, vm-access. */

#include "azshcictl-legacy.h"
#include "azshcictl-state.h"
#include "bus-names.h"
#include "strv.h"

static int parse_on_off(Context *c, const char *verb, const char *s, bool *ret) {
        int b = parse_boolean(s);
        if (b < 0)
                return usage_error(c, "%s: expected 'on' or 'off', not '%s'.", verb, s);
        *ret = b;
        return 0;
}

int verb_legacy(Context *c, char **args) {
        bool enable = false;
        int r;

        r = parse_on_off(c, "legacy", args[0], &enable);
        if (r < 0)
                return r;
        return simple_admin_call(c, "EnableLegacy",
                enable ? "enable legacy OS support" : "disable legacy OS support", "b", (int)enable);
}

/* "legacy reapply SERVER": ReapplyLegacy, the -ComputerName of Enable-AzStackHCIAttestation. */
int verb_legacy_reapply(Context *c, char **args) {
        return simple_admin_call(c, "ReapplyLegacy", "re-apply legacy OS support", "s", args[0]);
}

/* "legacy status": GetLegacyNetworkStatus (open to everyone). Exit 0 when the bridge, address,
 * firewall and every VM's port are as configured, 1 (EXIT_SERVICE) when something drifted. */
int verb_legacy_status(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *report;
        int ok, r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "GetLegacyNetworkStatus", &error,
                &reply, NULL);
        if (r < 0)
                return log_bus_error(c, &error, r, "get the legacy network status");
        r = sd_bus_message_read(reply, "bs", &ok, &report);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r,
                        "Failed to parse the GetLegacyNetworkStatus reply: %s", strerror(-r));

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_boolean_member(o, "ok", ok);
                json_object_set_string_member(o, "report", report);
                r = print_json(c, o);
                if (r < 0)
                        return r;
        } else {
                fputs(report, stdout);
                if (!isempty(report) && report[strlen(report) - 1] != '\n')
                        putchar('\n');
                if (fflush(stdout) == EOF)
                        return log_error_status(c, EXIT_SERVICE, -errno, "Failed to write output.");
        }
        if (!ok)
                return log_error_status(c, EXIT_SERVICE, -EIO,
                        "The legacy network drifted from its configuration. Repair: "
                        "azshcictl legacy off && azshcictl legacy on");
        return 0;
}

int verb_vm_access(Context *c, char **args) {
        const char *vm;
        bool enable = false;
        int r;

        if (c->all) {
                if (strv_length(args) != 1)
                        return usage_error(c, "vm-access --all: expected 'on' or 'off' and nothing else.");
                vm = "*";
        } else {
                if (strv_length(args) != 2)
                        return usage_error(c, "vm-access: expected NAME|ID on|off, or --all on|off.");
                vm = args[0];
                args++;
        }
        r = parse_on_off(c, "vm-access", args[0], &enable);
        if (r < 0)
                return r;
        return simple_admin_call(c, "SetVMAccess", enable ? "grant legacy access" : "revoke legacy access",
                "sb", vm, (int)enable);
}
