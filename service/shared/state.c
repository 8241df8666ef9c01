/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio_ext.h>

#include "json-util.h"
#include "state.h"
#include "vm-index.h"

void state_data_done(StateData *s) {
        assert(s);

        for (size_t i = 0; i < s->n_vms; i++)
                vm_free(s->vms[i]);
        free(s->vms);
        *s = (StateData){};
}

/* The state file is written by hand rather than through JsonBuilder/JsonGenerator: with ten
 * thousand VMs the GObject tree took half a second per admin call, this takes milliseconds.
 * The parser that reads it back is still json-glib's. */
static void write_vm(FILE *f, const Vm *vm) {
        fputs("    {", f);
        for (const VmField *field = vm_fields; field->name; field++) {
                VmValue v;

                if (vm_get_field(vm, field->name, &v) < 0)
                        continue;
                /* Unset optional strings are left out, so the file stays readable. */
                if (v.type == 's' && isempty(v.s))
                        continue;
                fprintf(f, "\n      \"%s\": ", field->name);
                switch (v.type) {
                case 's':
                        json_write_string(f, v.s);
                        break;
                case 'u':
                        fprintf(f, "%" PRIu32, v.u);
                        break;
                case 'b':
                        fputs(v.b ? "true" : "false", f);
                        break;
                }
                fputc(',', f);
        }
        /* Hand-registered VMs say nothing, so that files of older versions read the same. */
        if (vm->source != VM_SOURCE_MANUAL)
                fprintf(f, "\n      \"Source\": \"%s\",", vm_source_to_string(vm->source));
        fprintf(f, "\n      \"LegacyAccess\": %s\n    }", vm->legacy_access ? "true" : "false");
}

int state_write(FILE *f, bool legacy_support, usec_t last_sync, Vm *const *vms, size_t n_vms) {
        assert(f);
        assert(vms || n_vms == 0);

        fprintf(f,
                "{\n  \"version\": %d,\n  \"legacyOsSupport\": %s,\n  \"lastSync\": %" PRIu64
                ",\n  \"vms\": [",
                STATE_FORMAT_VERSION, legacy_support ? "true" : "false", last_sync);
        for (size_t i = 0; i < n_vms; i++) {
                fputs(i == 0 ? "\n" : ",\n", f);
                write_vm(f, vms[i]);
        }
        fputs(n_vms > 0 ? "\n  ]\n}\n" : "]\n}\n", f);
        return ferror(f) ? -EIO : 0;
}

int state_serialize(bool legacy_support, usec_t last_sync, Vm *const *vms, size_t n_vms, char **ret_json) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r;
        FILE *f;

        assert(vms || n_vms == 0);
        assert(ret_json);

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        (void)__fsetlocking(f, FSETLOCKING_BYCALLER); /* one thread: no lock per character */

        r = state_write(f, legacy_support, last_sync, vms, n_vms);
        if (fclose(f) != 0 || r < 0)
                return -ENOMEM;
        *ret_json = TAKE_PTR(buf);
        return 0;
}

static int vm_from_json(const char *name, size_t index, JsonNode *node, Vm **ret, char **ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(g_list_freep) GList *members = NULL;
        _cleanup_(vm_freep) Vm *vm = NULL;
        JsonObject *o;
        int r;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return json_error(ret_error, -EINVAL, "%s: vms[%zu] is not an object", name, index);
        o = json_node_get_object(node);

        vm = vm_new();
        if (!vm)
                return -ENOMEM;

        members = json_object_get_members(o);
        for (GList *i = members; i; i = i->next) {
                const char *key = i->data;
                JsonNode *value = json_object_get_member(o, key);
                const VmField *f;
                VmValue v = {};

                if (streq(key, "LegacyAccess")) {
                        if (!json_node_is_bool(value))
                                return json_error(ret_error, -EINVAL,
                                        "%s: vms[%zu].LegacyAccess must be a boolean", name, index);
                        vm->legacy_access = json_node_get_boolean(value);
                        continue;
                }

                if (streq(key, "Source")) {
                        VmSource src = json_node_is_string(value)
                                               ? vm_source_from_string(json_node_get_string(value))
                                               : _VM_SOURCE_INVALID;
                        if (src < 0)
                                return json_error(ret_error, -EINVAL,
                                        "%s: vms[%zu].Source must be \"manual\" or \"libvirt\"", name,
                                        index);
                        vm->source = src;
                        continue;
                }

                f = vm_field_find(key);
                if (!f)
                        return json_error(ret_error, -EINVAL, "%s: vms[%zu] has unknown key \"%s\"", name,
                                index, key);

                v.type = f->type;
                if (f->type == 's' && json_node_is_string(value))
                        v.s = json_node_get_string(value);
                else if (f->type == 'b' && json_node_is_bool(value))
                        v.b = json_node_get_boolean(value);
                else if (f->type == 'u' && json_node_is_integer(value) && json_node_get_int(value) >= 0 &&
                         json_node_get_int(value) <= UINT32_MAX)
                        v.u = (uint32_t)json_node_get_int(value);
                else
                        return json_error(ret_error, -EINVAL, "%s: vms[%zu].%s has the wrong type", name,
                                index, key);

                r = vm_set_field(vm, key, &v, &error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return json_error(ret_error, -EINVAL, "%s: vms[%zu]: %s", name, index,
                                error.message);
        }

        r = vm_validate_complete(vm, &error);
        if (r < 0)
                return json_error(ret_error, -EINVAL, "%s: vms[%zu]: %s", name, index, error.message);

        *ret = TAKE_PTR(vm);
        return 0;
}

/* Every unique key (vm-index.h) once: O(n) with the same hash indexes the manager uses, where
 * comparing every pair took most of a start with 10,000 VMs. */
static int check_unique(const char *name, Vm *const *vms, size_t n, char **ret_error) {
        _cleanup_(vm_indexes_done) VmIndexes ix = {};
        int r;

        vm_indexes_init(&ix);
        r = vm_indexes_reserve(&ix, n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                VmKey key = _VM_KEY_INVALID;
                Vm *other = vm_indexes_find_clash(&ix, vms[i], NULL, &key);

                if (other) {
                        size_t j = 0;

                        while (vms[j] != other) /* only on the error path */
                                j++;
                        return json_error(ret_error, -EINVAL, "%s: vms[%zu] and vms[%zu] have the same %s",
                                name, j, i, vm_key_to_string(key));
                }
                r = vm_indexes_add(&ix, vms[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One JsonParser tree of 10,000 VMs is about 20 MiB for a moment: the service's peak. So VMs
 * leave the tree as soon as the parser completes each: for the arrays directly inside the root
 * object, the "array-element" signal converts the element and removes it from its array, and
 * the root's "object-member" signal then keeps what was converted for the member "vms" and
 * drops it for any other member. The tree never holds more than one VM. Depth 1 is the root
 * object's: json_parser_load() refuses data with a second top-level value. */
typedef struct VmsLoader {
        const char *name;
        unsigned object_depth, array_depth;
        /* The array being parsed at the top level: its elements so far, the first error. */
        Vm **pending;
        size_t n_pending, n_seen;
        int pending_error;
        char *pending_message;
        /* What "vms" turned out to hold. */
        Vm **vms;
        size_t n_vms;
        int vms_error;
        char *vms_message;
} VmsLoader;

static void vms_free(Vm **vms, size_t n) {
        for (size_t i = 0; i < n; i++)
                vm_free(vms[i]);
        free(vms);
}

static void vms_loader_drop_pending(VmsLoader *l) {
        vms_free(l->pending, l->n_pending);
        l->pending = NULL;
        l->n_pending = l->n_seen = 0;
        l->pending_error = 0;
        l->pending_message = mfree(l->pending_message);
}

static void vms_loader_done(VmsLoader *l) {
        vms_loader_drop_pending(l);
        vms_free(l->vms, l->n_vms);
        free(l->vms_message);
}

static void on_object_start(JsonParser *parser, gpointer userdata) {
        ((VmsLoader *)userdata)->object_depth++;
}

static void on_object_end(JsonParser *parser, JsonObject *object, gpointer userdata) {
        ((VmsLoader *)userdata)->object_depth--;
}

static void on_array_start(JsonParser *parser, gpointer userdata) {
        ((VmsLoader *)userdata)->array_depth++;
}

static void on_array_end(JsonParser *parser, JsonArray *array, gpointer userdata) {
        ((VmsLoader *)userdata)->array_depth--;
}

static void on_array_element(JsonParser *parser, JsonArray *array, gint index, gpointer userdata) {
        VmsLoader *l = userdata;
        guint last = json_array_get_length(array) - 1;
        Vm *vm = NULL;
        int r;

        if (l->object_depth != 1 || l->array_depth != 1)
                return; /* not an element of a member of the root object */

        if (l->pending_error == 0) {
                r = vm_from_json(l->name, l->n_seen, json_array_get_element(array, last), &vm,
                        &l->pending_message);
                if (r >= 0) {
                        Vm **a = reallocarray(l->pending, l->n_pending + 1, sizeof(Vm *));
                        if (!a) {
                                vm_free(vm);
                                r = -ENOMEM;
                        } else {
                                l->pending = a;
                                l->pending[l->n_pending++] = vm;
                        }
                }
                if (r < 0)
                        l->pending_error = r;
        }
        l->n_seen++;
        json_array_remove_element(array, last);
}

static void on_object_member(JsonParser *parser, JsonObject *object, gchar *member, gpointer userdata) {
        VmsLoader *l = userdata;

        if (l->object_depth != 1)
                return;
        if (streq(member, "vms")) { /* the last one counts, as in the tree */
                vms_free(l->vms, l->n_vms);
                free(l->vms_message);
                l->vms = TAKE_PTR(l->pending);
                l->n_vms = l->n_pending;
                l->vms_error = l->pending_error;
                l->vms_message = TAKE_PTR(l->pending_message);
                l->n_pending = 0;
        }
        vms_loader_drop_pending(l);
}

int state_deserialize(const char *name, const char *json, StateData *ret, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_(vms_loader_done) VmsLoader loader = {.name = name};
        JsonObject *o;
        JsonNode *node, *root;
        int r;

        assert(name);
        assert(json);
        assert(ret);

        parser = json_parser_new();
        g_signal_connect(parser, "object-start", G_CALLBACK(on_object_start), &loader);
        g_signal_connect(parser, "object-end", G_CALLBACK(on_object_end), &loader);
        g_signal_connect(parser, "object-member", G_CALLBACK(on_object_member), &loader);
        g_signal_connect(parser, "array-start", G_CALLBACK(on_array_start), &loader);
        g_signal_connect(parser, "array-end", G_CALLBACK(on_array_end), &loader);
        g_signal_connect(parser, "array-element", G_CALLBACK(on_array_element), &loader);
        r = json_parser_load(parser, name, json, ret_error);
        if (r < 0)
                return r;
        root = json_parser_get_root(parser);
        if (!JSON_NODE_HOLDS_OBJECT(root))
                return json_error(ret_error, -EINVAL, "%s: not a JSON object", name);
        o = json_node_get_object(root);

        node = json_object_get_member(o, "version");
        if (!json_node_is_integer(node) || json_node_get_int(node) != STATE_FORMAT_VERSION)
                return json_error(ret_error, -EINVAL, "%s: unsupported \"version\" (expected %d)", name,
                        STATE_FORMAT_VERSION);

        node = json_object_get_member(o, "legacyOsSupport");
        if (!json_node_is_bool(node))
                return json_error(ret_error, -EINVAL, "%s: \"legacyOsSupport\" must be a boolean", name);
        s.legacy_support = json_node_get_boolean(node);

        node = json_object_get_member(o, "lastSync");
        if (node) {
                if (!json_node_is_integer(node) || json_node_get_int(node) < 0)
                        return json_error(ret_error, -EINVAL,
                                "%s: \"lastSync\" must be a non-negative integer", name);
                s.last_sync = (usec_t)json_node_get_int(node);
        }

        node = json_object_get_member(o, "vms");
        if (!node || !JSON_NODE_HOLDS_ARRAY(node))
                return json_error(ret_error, -EINVAL, "%s: \"vms\" must be an array", name);
        if (loader.vms_error < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(loader.vms_message);
                return loader.vms_error;
        }
        s.vms = TAKE_PTR(loader.vms);
        s.n_vms = loader.n_vms;
        loader.n_vms = 0;

        r = check_unique(name, s.vms, s.n_vms, ret_error);
        if (r < 0)
                return r;

        *ret = s;
        s = (StateData){};
        return 0;
}
