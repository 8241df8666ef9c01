/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the reading verbs: status, servers, vms, vm show. Open to everyone. */

#include <inttypes.h>

#include "azshcictl-show.h"
#include "azshcictl-state.h"
#include "bus-names.h"
#include "log.h"
#include "table.h"
#include "strv.h"

static int servers_table(Context *c, JsonArray *servers) {
        static const char *const headers[] = {"NAME", "STATE", "LAST SYNC", "CERTIFICATE EXPIRY", "LEGACY",
                "ERROR"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        int r = 0;

        if (!t)
                return log_oom();
        for (guint i = 0; i < json_array_get_length(servers); i++) {
                JsonObject *s = json_array_get_object_element(servers, i);
                char a[64], b[64];

                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "Name"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "State"), state_color(jstr(s, "State")));
                if (r >= 0)
                        r = table_add_cell(t, format_timestamp_utc(a, sizeof a, jint(s, "LastSync")), NULL);
                if (r >= 0)
                        r = table_add_cell(t,
                                format_timestamp_utc(b, sizeof b, jint(s, "CertificateExpiry")), NULL);
                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "LegacyOsSupport"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "Error"), isempty(jstr(s, "Error")) ? NULL : ANSI_RED);
        }
        if (r < 0)
                return log_oom();
        if (table_get_rows(t) == 0) {
                if (c->legend)
                        puts("No servers.");
                return 0;
        }
        r = table_print(t, stdout, c->legend, c->color);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to write output: %s", strerror(-r));
        return 0;
}

int verb_status(Context *c, char **args) {
        _cleanup_(json_object_freep) JsonObject *cluster = NULL;
        _cleanup_(json_array_freep) JsonArray *servers = NULL;
        int r;

        r = get_cluster(c, &cluster);
        if (r < 0)
                return r;
        r = get_objects(c, BUS_INTERFACE_SERVER, &servers);
        if (r < 0)
                return r;

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_object_member(o, "cluster", json_object_ref(cluster));
                json_object_set_array_member(o, "servers", json_array_ref(servers));
                return print_json(c, o);
        }

        Field fields[8] = {
                {"Host state", strdup(jstr(cluster, "HostState")), state_color(jstr(cluster, "HostState"))},
                {"Legacy OS support", strdup(jstr(cluster, "LegacyOsSupport")), NULL},
                {"Last sync", xstrdup_timestamp(jint(cluster, "LastSync")), NULL},
                {"Certificate expiry", xstrdup_timestamp(jint(cluster, "CertificateExpiry")), NULL},
                {"Subscription", strdup(jstr(cluster, "SubscriptionId")), NULL},
                {"Version", strdup(jstr(cluster, "Version")), NULL},
        };
        size_t n_fields = 6;
        const char *store = jstr(cluster, "ClusterStore");
        /* only in a cluster: a standalone server shows what it always did */
        if (!isempty(store) && !streq(store, "Standalone"))
                fields[n_fields++] = (Field){"Cluster store", strdup(store), NULL};
        /* only while the libvirt inventory cannot be followed */
        if (jbool(cluster, "InventoryStale"))
                fields[n_fields++] = (Field){"Inventory",
                        strdup("libvirt not reachable, showing the last known VMs"), ANSI_YELLOW};
        assert(n_fields <= ELEMENTSOF(fields));
        print_fields(c, fields, n_fields);
        fields_done(fields, n_fields);
        putchar('\n');
        return servers_table(c, servers);
}

int verb_servers(Context *c, char **args) {
        _cleanup_(json_array_freep) JsonArray *servers = NULL;
        int r;

        r = get_objects(c, BUS_INTERFACE_SERVER, &servers);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_array_member(o, "servers", json_array_ref(servers));
                return print_json(c, o);
        }
        return servers_table(c, servers);
}

static const char *const status_order[] = {"ActiveBenefits", "InactiveBenefits", "Unknown",
        "NoApplicableBenefits"};

int verb_vms(Context *c, char **args) {
        static const char *const headers[] = {"NAME", "STATUS", "ELIGIBLE", "ACTIVE", "ACTIONS",
                "LEGACY ACCESS"};
        _cleanup_(json_array_freep) JsonArray *vms = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        uint64_t counts[ELEMENTSOF(status_order)] = {};
        guint n;
        int r;

        r = get_objects(c, BUS_INTERFACE_VM, &vms);
        if (r < 0)
                return r;
        n = json_array_get_length(vms);
        for (guint i = 0; i < n; i++) {
                const char *s = jstr(json_array_get_object_element(vms, i), "Status");
                for (size_t k = 0; k < ELEMENTSOF(status_order); k++)
                        if (streq(s, status_order[k]))
                                counts[k]++;
        }

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                JsonObject *summary = json_object_new();

                for (size_t k = 0; k < ELEMENTSOF(status_order); k++)
                        json_object_set_int_member(summary, status_order[k], (gint64)counts[k]);
                json_object_set_int_member(summary, "Total", n);
                json_object_set_object_member(o, "summary", summary);
                json_object_set_array_member(o, "vms", json_array_ref(vms));
                return print_json(c, o);
        }

        if (c->legend) {
                Field fields[ELEMENTSOF(status_order)];
                for (size_t k = 0; k < ELEMENTSOF(status_order); k++) {
                        fields[k].label = vm_status_label(status_order[k]);
                        fields[k].color = NULL;
                        if (asprintf(&fields[k].value, "%" PRIu64, counts[k]) < 0)
                                fields[k].value = NULL;
                }
                print_fields(c, fields, ELEMENTSOF(fields));
                fields_done(fields, ELEMENTSOF(fields));
                putchar('\n');
        }

        if (n == 0) {
                if (c->legend)
                        puts("No VMs registered.");
                return 0;
        }

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return log_oom();
        for (guint i = 0; i < n && r >= 0; i++) {
                JsonObject *vm = json_array_get_object_element(vms, i);
                _cleanup_free_ char *eligible = jstrv_join(vm, "EligibleBenefits", ",");
                _cleanup_free_ char *active = jstrv_join(vm, "ActiveBenefits", ",");
                _cleanup_free_ char *actions = jstrv_join(vm, "RecommendedActions", ",");

                if (!eligible || !active || !actions)
                        return log_oom();
                r = table_add_cell(t, jstr(vm, "Name"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, vm_status_label(jstr(vm, "Status")),
                                state_color(jstr(vm, "Status")));
                if (r >= 0)
                        r = table_add_cell(t, eligible, NULL);
                if (r >= 0)
                        r = table_add_cell(t, active, NULL);
                if (r >= 0)
                        r = table_add_cell(t, actions, NULL);
                if (r >= 0)
                        r = table_add_cell(t, jbool(vm, "LegacyAccess") ? "yes" : "no", NULL);
        }
        if (r < 0)
                return log_oom();
        r = table_print(t, stdout, c->legend, c->color);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to write output: %s", strerror(-r));
        return 0;
}

static const struct {
        const char *property;
        const char *label;
} vm_labels[] = {
        {"Name", "Name"},
        {"Id", "Id"},
        {"Generation", "Generation"},
        {"PowerState", "Power state"},
        {"GuestServiceInterface", "Guest service interface"},
        {"DataExchange", "Data exchange"},
        {"OsName", "OS"},
        {"OsVersion", "OS version"},
        {"SqlVersion", "SQL Server version"},
        {"ArcAgentVersion", "Arc agent version"},
        {"VsockCid", "vsock CID"},
        {"LegacyMac", "Legacy NIC MAC"},
        {"LegacyInterface", "Legacy NIC interface"},
        {"Sku", "SKU"},
        {"LicenseType", "License type"},
        {"Status", "Status"},
        {"EligibleBenefits", "Eligible benefits"},
        {"ActiveBenefits", "Active benefits"},
        {"RecommendedActions", "Recommended actions"},
        {"RequiredUpdates", "Required updates"},
        {"LegacyAccess", "Legacy access"},
        {"LegacyError", "Legacy error"},
        {"Source", "Source"},
};

static char *json_value_to_text(JsonNode *n, const char *property) {
        if (json_node_is_bool(n))
                return strdup(json_node_get_boolean(n) ? "yes" : "no");
        if (json_node_is_integer(n)) {
                char *s;
                if (streq(property, "VsockCid") && json_node_get_int(n) == 0)
                        return strdup("");
                return asprintf(&s, "%" PRIi64, (int64_t)json_node_get_int(n)) < 0 ? NULL : s;
        }
        if (json_node_is_string(n)) {
                if (streq(property, "Status"))
                        return strdup(vm_status_label(json_node_get_string(n)));
                return strdup(json_node_get_string(n));
        }
        if (JSON_NODE_HOLDS_ARRAY(n)) {
                _cleanup_strv_free_ char **l = NULL;
                JsonArray *a = json_node_get_array(n);
                for (guint i = 0; i < json_array_get_length(a); i++)
                        if (json_node_is_string(json_array_get_element(a, i)) &&
                                strv_extend(&l, json_array_get_string_element(a, i)) < 0)
                                return NULL;
                return strv_join(l, ", ");
        }
        return strdup("");
}

int verb_vm_show(Context *c, char **args) {
        _cleanup_(json_array_freep) JsonArray *vms = NULL;
        Field fields[ELEMENTSOF(vm_labels)];
        size_t n = 0;
        JsonObject *vm;
        int r;

        r = get_vm(c, args[0], &vms, &vm);
        if (r < 0)
                return r;

        if (c->json != JSON_OFF)
                return print_json(c, vm);

        for (size_t i = 0; i < ELEMENTSOF(vm_labels); i++) {
                JsonNode *node = json_object_get_member(vm, vm_labels[i].property);
                if (!node)
                        continue;
                fields[n].label = vm_labels[i].label;
                fields[n].value = json_value_to_text(node, vm_labels[i].property);
                fields[n].color =
                        streq(vm_labels[i].property, "Status") ? state_color(jstr(vm, "Status")) : NULL;
                n++;
        }
        print_fields(c, fields, n);
        fields_done(fields, n);
        return 0;
}
