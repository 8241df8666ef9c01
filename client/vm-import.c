/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <inttypes.h>
#include <strings.h>

#include "json-util.h"
#include "strv.h"
#include "vm-import.h"

void vm_property_list_done(VmPropertyList *l) {
        assert(l);
        l->items = mfree(l->items);
        l->n = 0;
}

/* Compares ignoring case, '-' and '_'. */
static bool key_equal(const char *a, const char *b) {
        for (;;) {
                while (*a == '-' || *a == '_')
                        a++;
                while (*b == '-' || *b == '_')
                        b++;
                if (!*a || !*b)
                        return *a == *b;
                if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
                        return false;
                a++;
                b++;
        }
}

/* Finds a field by its D-Bus name or a spelling of it that ignores case, '-' and '_':
 * "LegacyMac", "legacy-mac", "legacy_mac" and "legacymac" are the same field. */
static const VmField *vm_field_lookup(const char *key) {
        assert(key);

        for (const VmField *f = vm_fields; f->name; f++)
                if (key_equal(f->name, key))
                        return f;
        return NULL;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
        static const char *const no[] = {"0", "no", "n", "false", "f", "off"};

        assert(s);
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

static int list_put(VmPropertyList *l, const VmField *field, const VmValue *value) {
        VmProperty *p;

        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].field == field) {
                        l->items[i].value = *value;
                        return 0;
                }

        p = reallocarray(l->items, l->n + 1, sizeof(VmProperty));
        if (!p)
                return -ENOMEM;
        l->items = p;
        l->items[l->n++] = (VmProperty){.field = field, .value = *value};
        return 0;
}

static int unknown_key(const char *key, sd_bus_error *error) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown VM property '%s'.", key);
}

int vm_property_list_add_string(VmPropertyList *l, const char *key, const char *value, sd_bus_error *error) {
        const VmField *f;
        VmValue v = {};

        assert(l);
        assert(key);
        assert(value);

        f = vm_field_lookup(key);
        if (!f)
                return unknown_key(key, error);

        v.type = f->type;
        switch (f->type) {
        case 's':
                v.s = value;
                break;
        case 'u': {
                char *end;
                unsigned long long u;

                errno = 0;
                u = strtoull(value, &end, 10);
                if (!isdigit((unsigned char)value[0]) || *end || errno != 0 || u > UINT32_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property '%s' must be an unsigned 32-bit integer, not '%s'.", f->name,
                                value);
                v.u = (uint32_t)u;
                break;
        }
        case 'b': {
                int b = parse_boolean(value);
                if (b < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property '%s' must be a boolean (yes or no), not '%s'.", f->name, value);
                v.b = b;
                break;
        }
        default:
                assert(false);
                return -EINVAL;
        }
        return list_put(l, f, &v);
}

int vm_property_list_add_assignment(VmPropertyList *l, const char *assignment, sd_bus_error *error) {
        _cleanup_free_ char *key = NULL;
        const char *eq;

        assert(l);
        assert(assignment);

        eq = strchr(assignment, '=');
        if (!eq || eq == assignment)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Expected KEY=VALUE, not '%s'.",
                        assignment);
        key = strndup(assignment, (size_t)(eq - assignment));
        if (!key)
                return -ENOMEM;
        return vm_property_list_add_string(l, key, eq + 1, error);
}

static const char *json_type_name(JsonNode *n) {
        if (JSON_NODE_HOLDS_NULL(n))
                return "null";
        if (JSON_NODE_HOLDS_OBJECT(n))
                return "an object";
        if (JSON_NODE_HOLDS_ARRAY(n))
                return "an array";
        if (json_node_is_string(n))
                return "a string";
        if (json_node_is_bool(n))
                return "a boolean";
        if (json_node_is_integer(n))
                return "an integer";
        return "a number";
}

int vm_property_list_from_json(VmPropertyList *l, JsonObject *o, sd_bus_error *error) {
        JsonObjectIter iter;
        const char *key;
        JsonNode *node;
        int r;

        assert(l);
        assert(o);

        json_object_iter_init(&iter, o);
        while (json_object_iter_next(&iter, &key, &node)) {
                const VmField *f;
                VmValue v = {};

                if (strv_contains((char *const *)vm_derived_properties, key))
                        continue;
                /* JSON keys are the exact D-Bus names: no alternative spellings in files. */
                f = vm_field_find(key);
                if (!f)
                        return unknown_key(key, error);

                v.type = f->type;
                switch (f->type) {
                case 's':
                        if (!json_node_is_string(node))
                                goto wrong_type;
                        v.s = json_node_get_string(node);
                        break;
                case 'u': {
                        gint64 i;
                        if (!json_node_is_integer(node))
                                goto wrong_type;
                        i = json_node_get_int(node);
                        if (i < 0 || i > UINT32_MAX)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "VM property '%s' must be an unsigned 32-bit integer, not %" PRIi64
                                        ".",
                                        key, (int64_t)i);
                        v.u = (uint32_t)i;
                        break;
                }
                case 'b':
                        if (!json_node_is_bool(node))
                                goto wrong_type;
                        v.b = json_node_get_boolean(node);
                        break;
                }
                r = list_put(l, f, &v);
                if (r < 0)
                        return r;
                continue;

        wrong_type:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property '%s' must be %s, not %s.", key,
                        f->type == 's'   ? "a string"
                        : f->type == 'u' ? "an unsigned 32-bit integer"
                                         : "a boolean",
                        json_type_name(node));
        }
        return 0;
}

const char *vm_property_list_get_string(const VmPropertyList *l, const char *name) {
        assert(l);
        assert(name);

        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].field->name, name) && l->items[i].value.type == 's')
                        return l->items[i].value.s;
        return NULL;
}

int vm_property_list_validate(const VmPropertyList *l, bool complete, sd_bus_error *error) {
        _cleanup_(vm_freep) Vm *scratch = NULL;
        int r;

        assert(l);

        scratch = vm_new();
        if (!scratch)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                r = vm_set_field(scratch, l->items[i].field->name, &l->items[i].value, error);
                if (r < 0)
                        return r;
        }
        return complete ? vm_validate_complete(scratch, error) : 0;
}

int vm_property_list_append(const VmPropertyList *l, sd_bus_message *m, bool skip_id) {
        int r;

        assert(l);
        assert(m);

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                const VmProperty *p = &l->items[i];

                if (skip_id && streq(p->field->name, "Id"))
                        continue;
                switch (p->value.type) {
                case 's':
                        r = sd_bus_message_append(m, "{sv}", p->field->name, "s", p->value.s);
                        break;
                case 'u':
                        r = sd_bus_message_append(m, "{sv}", p->field->name, "u", p->value.u);
                        break;
                case 'b':
                        r = sd_bus_message_append(m, "{sv}", p->field->name, "b", (int)p->value.b);
                        break;
                default:
                        r = -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}
