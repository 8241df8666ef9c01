/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the service's state read with Properties.GetAll and ObjectManager.GetManagedObjects,
 * as JSON objects with their keys in a fixed order. */

#include <strings.h>

#include "azshcictl-state.h"
#include "bus-names.h"
#include "bus-util.h"
#include "log.h"

/* A basic value as sd_bus_message_read_basic() stores it. */
typedef union BusBasic {
        const char *s;
        int b;
        uint8_t y;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
} BusBasic;

/* The JSON node of a basic value of the type (one of "sogbynqiuxtd"). */
static JsonNode *basic_to_json(char type, const BusBasic *v) {
        JsonNode *node = json_node_alloc();

        switch (type) {
        case 's':
        case 'o':
        case 'g':
                return json_node_init_string(node, v->s);
        case 'b':
                return json_node_init_boolean(node, v->b);
        case 'y':
                return json_node_init_int(node, v->y);
        case 'n':
                return json_node_init_int(node, v->n);
        case 'q':
                return json_node_init_int(node, v->q);
        case 'i':
                return json_node_init_int(node, v->i);
        case 'u':
                return json_node_init_int(node, v->u);
        case 'x':
                return json_node_init_int(node, v->x);
        case 't':
                return json_node_init_int(node, (gint64)MIN(v->t, (uint64_t)INT64_MAX));
        case 'd':
        default:
                return json_node_init_double(node, v->d);
        }
}

static int read_variant(sd_bus_message *m, JsonNode **ret) {
        _cleanup_(json_node_unrefp) JsonNode *node = NULL;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != 'v')
                return -EBADMSG;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;

        if (streq(contents, "as")) {
                _cleanup_strv_free_ char **l = NULL;
                JsonArray *a;

                r = sd_bus_message_read_strv(m, &l);
                if (r < 0)
                        return r;
                a = json_array_new();
                STRV_FOREACH (s, l)
                        json_array_add_string_element(a, *s);
                node = json_node_init_array(json_node_alloc(), a);
                json_array_unref(a);
        } else if (strlen(contents) == 1 && strchr("sogbynqiuxtd", contents[0])) {
                BusBasic v;

                r = sd_bus_message_read_basic(m, contents[0], &v);
                if (r >= 0)
                        node = basic_to_json(contents[0], &v);
        } else
                r = sd_bus_message_skip(m, contents); /* nothing in our API; newer services may add some */
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(node); /* NULL for types we do not show */
        return 0;
}

static int read_property(sd_bus_message *m, const char *name, void *userdata) {
        JsonObject *o = userdata;
        JsonNode *node = NULL;
        int r;

        r = read_variant(m, &node);
        if (r < 0)
                return r;
        if (node)
                json_object_set_member(o, name, node);
        return 0;
}

/* Reads an a{sv} into o. */
static int read_properties(sd_bus_message *m, JsonObject *o) {
        return bus_message_read_dict(m, read_property, o);
}

/* A copy of o with the keys in a fixed order: those listed first, then the rest as they came. */
static JsonObject *json_object_ordered(JsonObject *o, const char *const *keys) {
        JsonObject *n = json_object_new();
        JsonObjectIter iter;
        const char *key;
        JsonNode *node;

        for (const char *const *k = keys; *k; k++)
                if (json_object_has_member(o, *k))
                        json_object_set_member(n, *k, json_node_copy(json_object_get_member(o, *k)));
        json_object_iter_init(&iter, o);
        while (json_object_iter_next(&iter, &key, &node))
                if (!json_object_has_member(n, key))
                        json_object_set_member(n, key, json_node_copy(node));
        return n;
}

static const char *const cluster_keys[] = {
        "HostState",
        "LegacyOsSupport",
        "LastSync",
        "CertificateExpiry",
        "SubscriptionId",
        "Version",
        "InventoryStale",
        NULL,
};
static const char *const server_keys[] = {
        "Name",
        "State",
        "LastSync",
        "CertificateExpiry",
        "LegacyOsSupport",
        "Error",
        NULL,
};

static const char **vm_keys_new(void) {
        size_t n = 0, d = 0, k = 0;
        const char **keys;

        while (vm_fields[n].name)
                n++;
        while (vm_derived_properties[d])
                d++;
        keys = calloc(n + d + 1, sizeof(char *));
        if (!keys)
                return NULL;
        for (size_t i = 0; i < n; i++)
                keys[k++] = vm_fields[i].name;
        for (size_t i = 0; i < d; i++)
                keys[k++] = vm_derived_properties[i];
        return keys;
}

int get_cluster(Context *c, JsonObject **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_freep) JsonObject *o = NULL;
        int r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                &error, &reply, "s", BUS_INTERFACE);
        if (r < 0)
                return log_bus_error(c, &error, r, "read the service's properties");

        o = json_object_new();
        r = read_properties(reply, o);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the service's properties: %s",
                        strerror(-r));
        *ret = json_object_ordered(o, cluster_keys);
        return 0;
}

static int compare_by_name(const void *a, const void *b) {
        JsonObject *x = *(JsonObject *const *)a, *y = *(JsonObject *const *)b;
        const char *n = json_object_get_string_member_with_default(x, "Name", "");
        const char *m = json_object_get_string_member_with_default(y, "Name", "");
        return strcmp(n, m);
}

/* The objects under BUS_PATH that implement interface, as JSON objects with their properties
 * in a fixed key order, sorted by Name. */
int get_objects(Context *c, const char *interface, JsonArray **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_array_freep) JsonArray *result = NULL;
        _cleanup_free_ JsonObject **objects = NULL;
        _cleanup_free_ const char **keys = NULL;
        size_t n = 0;
        int r;

        if (streq(interface, BUS_INTERFACE_VM)) {
                keys = vm_keys_new();
                if (!keys)
                        return log_oom();
        }

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.ObjectManager",
                "GetManagedObjects", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(c, &error, r, "list the service's objects");

        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                goto parse_error;
        while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                const char *path;

                r = sd_bus_message_read(reply, "o", &path);
                if (r < 0)
                        goto parse_error;
                r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                if (r < 0)
                        goto parse_error;
                while ((r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                        const char *iface;

                        r = sd_bus_message_read(reply, "s", &iface);
                        if (r < 0)
                                goto parse_error;
                        if (streq(iface, interface)) {
                                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                                JsonObject **a;

                                r = read_properties(reply, o);
                                if (r < 0)
                                        goto parse_error;
                                a = reallocarray(objects, n + 1, sizeof(JsonObject *));
                                if (!a) {
                                        for (size_t i = 0; i < n; i++)
                                                json_object_unref(objects[i]);
                                        return log_oom();
                                }
                                objects = a;
                                objects[n++] = json_object_ordered(o, keys ?: server_keys);
                        } else {
                                r = sd_bus_message_skip(reply, "a{sv}");
                                if (r < 0)
                                        goto parse_error;
                        }
                        r = sd_bus_message_exit_container(reply);
                        if (r < 0)
                                goto parse_error;
                }
                if (r < 0)
                        goto parse_error;
                r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        goto parse_error;
        }
        if (r < 0)
                goto parse_error;

        if (n > 0)
                qsort(objects, n, sizeof(JsonObject *), compare_by_name);
        result = json_array_sized_new((guint)n);
        for (size_t i = 0; i < n; i++)
                json_array_add_object_element(result, objects[i]); /* takes the reference */
        *ret = TAKE_PTR(result);
        return 0;

parse_error:
        for (size_t i = 0; i < n; i++)
                json_object_unref(objects[i]);
        return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the service's objects: %s",
                strerror(-r));
}

/* Finds a VM by id (any case), else by exact name: an id always means its VM, as in the
 * service's lookups. */
JsonObject *find_vm(JsonArray *vms, const char *key) {
        guint n = json_array_get_length(vms);

        for (guint i = 0; i < n; i++) {
                JsonObject *vm = json_array_get_object_element(vms, i);
                if (strcasecmp(jstr(vm, "Id"), key) == 0)
                        return vm;
        }
        for (guint i = 0; i < n; i++) {
                JsonObject *vm = json_array_get_object_element(vms, i);
                if (streq(jstr(vm, "Name"), key))
                        return vm;
        }
        return NULL;
}

int get_vm(Context *c, const char *key, JsonArray **ret_vms, JsonObject **ret_vm) {
        _cleanup_(json_array_freep) JsonArray *vms = NULL;
        JsonObject *vm;
        int r;

        r = get_objects(c, BUS_INTERFACE_VM, &vms);
        if (r < 0)
                return r;
        vm = find_vm(vms, key);
        if (!vm)
                return log_error_status(c, EXIT_SERVICE, -ENOENT,
                        "No VM is registered with the name or id '%s'. (%s)", key, BUS_ERROR_NO_SUCH_VM);
        *ret_vms = TAKE_PTR(vms);
        *ret_vm = vm;
        return 0;
}
