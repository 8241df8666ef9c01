/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the legacy OS support verbs: legacy on|off, legacy status, vm-access. */

#include "azshcictl-legacy.h"
#include "azshcictl-state.h"
#include "bus-names.h"
#include "log.h"
#include "strv.h"

static int parse_on_off(Context *c, const char *verb, const char *s, bool *ret) {
        int b = parse_boolean(s);
        if (b < 0)
                return usage_error(c, "%s: expected 'on' or 'off', not '%s'.", verb, s);
        *ret = b;
        return 0;
}

/* One result of EnableLegacyEx/SetVMAccessEx/FixVM as the CLI shows it. */
typedef struct VmLine {
        const char *id, *name, *result, *message;
} VmLine;

/* The final state after a change: the switch, and how many VMs have legacy access (the one
 * VM's access when vm is given; "legacyAccess" only when it is on this server). */
static int final_state(Context *c, const char *vm, JsonObject *out, char **ret_text) {
        _cleanup_(json_array_freep) JsonArray *vms = NULL;
        _cleanup_(json_object_freep) JsonObject *cluster = NULL;
        const char *legacy;
        unsigned n = 0, total;
        int r;

        r = get_cluster(c, &cluster);
        if (r >= 0)
                r = get_objects(c, BUS_INTERFACE_VM, &vms);
        if (r < 0)
                return r;
        legacy = jstr(cluster, "LegacyOsSupport");
        total = json_array_get_length(vms);
        for (guint i = 0; i < total; i++)
                n += jbool(json_array_get_object_element(vms, i), "LegacyAccess");
        json_object_set_string_member(out, "legacyOsSupport", legacy);
        json_object_set_int_member(out, "vmsWithAccess", n);
        json_object_set_int_member(out, "vms", total);
        if (vm && !find_vm(vms, vm))
                /* In a cluster, a VM of another server (or of none yet): its grant is in etcd. */
                return asprintf(ret_text,
                               "Legacy OS support: %s; VM '%s' is not on this server: the server that runs it "
                               "applies the change.",
                               legacy, vm) < 0
                               ? log_oom()
                               : 0;
        if (vm) {
                JsonObject *o = find_vm(vms, vm);
                bool on = jbool(o, "LegacyAccess");

                json_object_set_boolean_member(out, "legacyAccess", on);
                return asprintf(ret_text, "Legacy OS support: %s; VM '%s': legacy access %s.", legacy,
                               o ? jstr(o, "Name") : vm, on ? "on" : "off") < 0
                               ? log_oom()
                               : 0;
        }
        return asprintf(ret_text, "Legacy OS support: %s; %u of %u VM(s) have legacy access.", legacy, n,
                       total) < 0
                       ? log_oom()
                       : 0;
}

/* Prints the a(ssss) of reply, one line per VM (or "vms" in JSON), then the final state.
 * Exit EXIT_SERVICE when a VM failed (a refusal is a result, not a failure). */
static int print_vm_results(Context *c, sd_bus_message *reply, const char *vm, const char *member) {
        _cleanup_(json_object_freep) JsonObject *out = json_object_new();
        _cleanup_free_ char *state = NULL;
        JsonArray *a = json_array_new();
        VmLine l;
        bool failed = false;
        int r;

        json_object_set_array_member(out, "changes", a);
        r = sd_bus_message_enter_container(reply, 'a', "(ssss)");
        while (r >= 0 &&
                (r = sd_bus_message_read(reply, "(ssss)", &l.id, &l.name, &l.result, &l.message)) > 0) {
                JsonObject *o = json_object_new();

                json_object_set_string_member(o, "id", l.id);
                json_object_set_string_member(o, "name", l.name);
                json_object_set_string_member(o, "result", l.result);
                json_object_set_string_member(o, "message", l.message);
                json_array_add_object_element(a, o);
                failed = failed || streq(l.result, "failed");
                if (c->json == JSON_OFF)
                        printf("%s: %s: %s\n", l.name, l.result, l.message);
        }
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the %s reply: %s", member,
                        strerror(-r));
        r = final_state(c, vm, out, &state);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF)
                r = print_json(c, out);
        else {
                puts(state);
                r = fflush(stdout) == EOF
                            ? log_error_status(c, EXIT_SERVICE, -errno, "Failed to write output.")
                            : 0;
        }
        if (r < 0)
                return r;
        if (failed)
                return log_error_status(c, EXIT_SERVICE, -EIO, "Some VMs failed (listed above).");
        return 0;
}

static int results_call(Context *c, const char *member, const char *what, const char *vm, const char *types,
        ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = admin_callv(c, member, what, &reply, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return print_vm_results(c, reply, vm, member);
}

/* "legacy on|off [--remove-vms]": EnableLegacyEx, one line per VM changed or refused. */
int verb_legacy(Context *c, char **args) {
        bool enable = false;
        int r;

        r = parse_on_off(c, "legacy", args[0], &enable);
        if (r < 0)
                return r;
        if (enable && c->remove_vms)
                return usage_error(c, "--remove-vms goes only with 'legacy off'.");
        return results_call(c, "EnableLegacyEx",
                enable ? "enable legacy OS support" : "disable legacy OS support", NULL, "bt", (int)enable,
                (uint64_t)(c->remove_vms ? 1 : 0));
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
        return results_call(c, "SetVMAccessEx", enable ? "grant legacy access" : "revoke legacy access",
                streq(vm, "*") ? NULL : vm, "sb", vm, (int)enable);
}

/* "vm fix NAME [ACTION]": FixVM for ACTION, or for each of the VM's recommended actions. */
int verb_vm_fix(Context *c, char **args) {
        _cleanup_(json_object_freep) JsonObject *out = json_object_new();
        _cleanup_(json_array_freep) JsonArray *vms = NULL;
        _cleanup_strv_free_ char **actions = NULL;
        JsonArray *results = json_array_new();
        bool failed = false;
        JsonObject *vm;
        int r;

        json_object_set_array_member(out, "actions", results);
        r = connect_bus(c);
        if (r < 0)
                return r;
        r = get_vm(c, args[0], &vms, &vm);
        if (r < 0)
                return r;
        if (args[1])
                r = strv_extend(&actions, args[1]);
        else {
                JsonNode *n = json_object_get_member(vm, "RecommendedActions");
                JsonArray *l = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

                for (guint i = 0; r >= 0 && l && i < json_array_get_length(l); i++)
                        r = strv_extend(&actions, json_array_get_string_element(l, i));
        }
        if (r < 0)
                return log_oom();
        if (!actions && c->json == JSON_OFF)
                printf("VM '%s' has no recommended actions.\n", jstr(vm, "Name"));

        STRV_FOREACH (a, actions) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
                JsonObject *o = json_object_new();
                const char *text = NULL;

                r = new_admin_call(c, "FixVM", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "ss", jstr(vm, "Id"), *a);
                if (r < 0) {
                        json_object_unref(o);
                        return log_error_status(c, EXIT_SERVICE, r, "Failed to build the FixVM call: %s",
                                strerror(-r));
                }
                r = admin_call_send(c, m, &error, &reply);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "s", &text);
                json_object_set_string_member(o, "action", *a);
                json_object_set_string_member(o, "result", r >= 0 ? "done" : "refused");
                json_object_set_string_member(o, "message", r >= 0 ? text : strna(error.message));
                if (r < 0)
                        json_object_set_string_member(o, "error", strna(error.name));
                json_array_add_object_element(results, o);
                if (c->json == JSON_OFF)
                        printf("%s: %s: %s\n", *a, r >= 0 ? "done" : "refused",
                                r >= 0 ? text : strna(error.message));
                if (r < 0) {
                        failed = true;
                        c->exit_status = MAX(c->exit_status, exit_status_for_bus_error(&error, r));
                }
        }
        if (c->json != JSON_OFF) {
                r = print_json(c, out);
                if (r < 0)
                        return r;
        } else if (fflush(stdout) == EOF)
                return log_error_status(c, EXIT_SERVICE, -errno, "Failed to write output.");
        return failed ? -EIO : 0;
}
