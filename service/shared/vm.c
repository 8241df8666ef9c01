/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "bus-util.h"
#include "string-util.h"
#include "validate.h"
#include "vm.h"

static const char *const vm_power_state_table[_VM_POWER_STATE_MAX] = {
        [VM_POWER_RUNNING] = "Running",
        [VM_POWER_OFF] = "Off",
        [VM_POWER_PAUSED] = "Paused",
};

DEFINE_STRING_TABLE_LOOKUP(vm_power_state, VmPowerState);

static const char *const vm_source_table[_VM_SOURCE_MAX] = {
        [VM_SOURCE_MANUAL] = "manual",
        [VM_SOURCE_LIBVIRT] = "libvirt",
};

DEFINE_STRING_TABLE_LOOKUP(vm_source, VmSource);

static const char *const vm_status_table[_VM_STATUS_MAX] = {
        [VM_STATUS_ACTIVE_BENEFITS] = "ActiveBenefits",
        [VM_STATUS_INACTIVE_BENEFITS] = "InactiveBenefits",
        [VM_STATUS_UNKNOWN] = "Unknown",
        [VM_STATUS_NO_APPLICABLE_BENEFITS] = "NoApplicableBenefits",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(vm_status, VmStatus);

void benefit_evaluation_done(BenefitEvaluation *e) {
        assert(e);

        e->eligible = mfree(e->eligible); /* borrowed strings: the arrays only */
        e->active = mfree(e->active);
        e->recommended_actions = mfree(e->recommended_actions);
        e->required_updates = strv_free(e->required_updates);
        e->legacy_error = mfree(e->legacy_error);
}

bool benefit_evaluation_equal(const BenefitEvaluation *a, const BenefitEvaluation *b) {
        return a->status == b->status && strv_equal(a->eligible, b->eligible) &&
               strv_equal(a->active, b->active) &&
               strv_equal(a->recommended_actions, b->recommended_actions) &&
               strv_equal(a->required_updates, b->required_updates) &&
               streq_ptr(a->legacy_error, b->legacy_error);
}

/* How each field's value is checked and stored. */
typedef enum FieldKind {
        KIND_UUID,
        KIND_NAME,
        KIND_TEXT,    /* free text: no control characters, at most 1 KiB */
        KIND_VERSION, /* dotted numeric, "" = unset */
        KIND_MAC,     /* "" = unset */
        KIND_IFNAME,  /* "" = unset */
        KIND_GENERATION,
        KIND_POWER_STATE,
        KIND_CID,
        KIND_BOOL,
} FieldKind;

typedef struct FieldImpl {
        FieldKind kind;
        size_t offset;
} FieldImpl;

/* The public table and the implementation table share their index. */
const VmField vm_fields[] = {
        {"Id", 's', true},
        {"Name", 's', true},
        {"Generation", 'u', false},
        {"PowerState", 's', false},
        {"GuestServiceInterface", 'b', false},
        {"DataExchange", 'b', false},
        {"OsName", 's', false},
        {"OsVersion", 's', false},
        {"SqlVersion", 's', false},
        {"ArcAgentVersion", 's', false},
        {"VsockCid", 'u', false},
        {"LegacyMac", 's', false},
        {"LegacyInterface", 's', false},
        {"Sku", 's', false},
        {"LicenseType", 's', false},
        {},
};

const char *const vm_derived_properties[] = {
        "Status",
        "EligibleBenefits",
        "ActiveBenefits",
        "RecommendedActions",
        "RequiredUpdates",
        "LegacyAccess",
        "LegacyError",
        "Source",
        NULL,
};

static const FieldImpl field_impls[] = {
        {KIND_UUID, offsetof(Vm, id)},
        {KIND_NAME, offsetof(Vm, name)},
        {KIND_GENERATION, offsetof(Vm, generation)},
        {KIND_POWER_STATE, offsetof(Vm, power_state)},
        {KIND_BOOL, offsetof(Vm, guest_service_interface)},
        {KIND_BOOL, offsetof(Vm, data_exchange)},
        {KIND_TEXT, offsetof(Vm, os_name)},
        {KIND_VERSION, offsetof(Vm, os_version)},
        {KIND_VERSION, offsetof(Vm, sql_version)},
        {KIND_VERSION, offsetof(Vm, arc_agent_version)},
        {KIND_CID, offsetof(Vm, vsock_cid)},
        {KIND_MAC, offsetof(Vm, legacy_mac)},
        {KIND_IFNAME, offsetof(Vm, legacy_interface)},
        {KIND_TEXT, offsetof(Vm, sku)},
        {KIND_TEXT, offsetof(Vm, license_type)},
};

_Static_assert(ELEMENTSOF(vm_fields) == ELEMENTSOF(field_impls) + 1, "field tables out of sync");

Vm *vm_new(void) {
        Vm *vm = calloc(1, sizeof(Vm));
        if (!vm)
                return NULL;
        /* Defaults for a VM registered with only Id and Name: a modern VM, running, whose
         * guest has told us nothing yet. */
        vm->generation = 2;
        vm->power_state = VM_POWER_RUNNING;
        vm->evaluation.status = VM_STATUS_UNKNOWN;
        return vm;
}

static char **field_string(const Vm *vm, size_t i) {
        return (char **)((uint8_t *)vm + field_impls[i].offset);
}

Vm *vm_free(Vm *vm) {
        if (!vm)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(field_impls); i++)
                if (vm_fields[i].type == 's' && field_impls[i].kind != KIND_POWER_STATE)
                        free(*field_string(vm, i));
        benefit_evaluation_done(&vm->evaluation);
        free(vm->legacy_refusal);
        return mfree(vm);
}

int vm_copy(const Vm *vm, Vm **ret) {
        _cleanup_(vm_freep) Vm *c = NULL;

        assert(vm);
        assert(ret);

        c = vm_new();
        if (!c)
                return -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(field_impls); i++) {
                VmValue v;
                int r = vm_get_field(vm, vm_fields[i].name, &v);
                if (r < 0)
                        return r;
                r = vm_set_field(c, vm_fields[i].name, &v, NULL);
                /* Unset strings read back as "", which every optional string field accepts. */
                if (r < 0 && !(v.type == 's' && isempty(v.s)))
                        return r;
        }
        c->legacy_access = vm->legacy_access;
        c->source = vm->source;
        c->legacy_nic_ours = vm->legacy_nic_ours;
        if (vm->legacy_refusal) {
                c->legacy_refusal = strdup(vm->legacy_refusal);
                if (!c->legacy_refusal)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int vm_copy_admin_state(Vm *dst, const Vm *src) {
        assert(dst);
        assert(src);

        dst->legacy_access = src->legacy_access;
        return free_and_strdup(&dst->legacy_refusal, src->legacy_refusal);
}

void vm_swap(Vm *a, Vm *b) {
        Vm t;

        assert(a);
        assert(b);
        t = *a;
        *a = *b;
        *b = t;
}

int vm_changed_properties(const Vm *a, const Vm *b, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        assert(a);
        assert(b);
        assert(ret);

        for (const VmField *f = vm_fields; f->name; f++) {
                VmValue x, y;
                bool same;

                (void)vm_get_field(a, f->name, &x);
                (void)vm_get_field(b, f->name, &y);
                same = f->type == 's' ? streq(x.s, y.s) : f->type == 'u' ? x.u == y.u : x.b == y.b;
                if (!same) {
                        r = strv_extend(&l, f->name);
                        if (r < 0)
                                return r;
                }
        }
        if (a->source != b->source) {
                r = strv_extend(&l, "Source");
                if (r < 0)
                        return r;
        }
        if (a->legacy_access != b->legacy_access) {
                r = strv_extend(&l, "LegacyAccess");
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static ssize_t field_index(const char *name) {
        for (size_t i = 0; vm_fields[i].name; i++)
                if (streq(vm_fields[i].name, name))
                        return (ssize_t)i;
        return -ENOENT;
}

const VmField *vm_field_find(const char *name) {
        ssize_t i = field_index(name);
        return i < 0 ? NULL : &vm_fields[i];
}

static bool text_is_valid(const char *s) {
        if (strlen(s) > 1024)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static const char *dbus_type_name(char type) {
        switch (type) {
        case 's':
                return "a string";
        case 'u':
                return "an unsigned 32-bit integer";
        case 'b':
                return "a boolean";
        default:
                return "an unsupported type";
        }
}

int vm_set_field(Vm *vm, const char *name, const VmValue *value, sd_bus_error *error) {
        _cleanup_free_ char *normalized = NULL;
        ssize_t i;
        int r;

        assert(vm);
        assert(name);
        assert(value);

        i = field_index(name);
        if (i < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown VM property '%s'.",
                        name);
        if (value->type != vm_fields[i].type)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "VM property '%s' must be %s.",
                        name, dbus_type_name(vm_fields[i].type));

        switch (field_impls[i].kind) {
        case KIND_UUID:
                r = uuid_normalize(value->s, &normalized);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property 'Id' must be a UUID (8-4-4-4-12 hex digits), not '%s'.",
                                value->s);
                break;

        case KIND_NAME:
                if (!vm_name_is_valid(value->s))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property 'Name' must be 1 to 255 bytes of UTF-8 without control, "
                                "bidirectional or invisible formatting characters, and not '*'.");
                break;

        case KIND_TEXT:
                if (!text_is_valid(value->s))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property '%s' must be at most 1024 bytes without control characters.",
                                name);
                break;

        case KIND_VERSION:
                if (!isempty(value->s) && !version_is_valid(value->s))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property '%s' must be a dotted numeric version such as 10.0.22621.3447, "
                                "not '%s'.",
                                name, value->s);
                break;

        case KIND_MAC:
                if (!isempty(value->s)) {
                        r = mac_normalize(value->s, &normalized);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "VM property 'LegacyMac' must be a unicast MAC address such as "
                                        "52:54:00:12:34:56, not '%s'.",
                                        value->s);
                }
                break;

        case KIND_IFNAME:
                if (!isempty(value->s) && !ifname_is_valid(value->s))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property 'LegacyInterface' must be a network interface name (1 to 15 "
                                "characters of A-Z, a-z, 0-9, '_', '.' and '-'), not '%s'.",
                                value->s);
                break;

        case KIND_GENERATION:
                if (value->u != 1 && value->u != 2)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property 'Generation' must be 1 or 2, not %" PRIu32 ".", value->u);
                vm->generation = value->u;
                return 0;

        case KIND_POWER_STATE: {
                VmPowerState s = vm_power_state_from_string(value->s);
                if (s < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property 'PowerState' must be Running, Off or Paused, not '%s'.",
                                value->s);
                vm->power_state = s;
                return 0;
        }

        case KIND_CID:
                if (!vsock_cid_is_valid(value->u))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property 'VsockCid' must be 0 (none) or a guest CID from 3 to 4294967294, "
                                "not %" PRIu32 ".",
                                value->u);
                vm->vsock_cid = value->u;
                return 0;

        case KIND_BOOL:
                *(bool *)((uint8_t *)vm + field_impls[i].offset) = value->b;
                return 0;
        }

        /* String fields: store the normalized form if there is one, NULL for "". */
        if (!normalized && !isempty(value->s)) {
                normalized = strdup(value->s);
                if (!normalized)
                        return -ENOMEM;
        }
        free(*field_string(vm, (size_t)i));
        *field_string(vm, (size_t)i) = TAKE_PTR(normalized);
        return 0;
}

int vm_get_field(const Vm *vm, const char *name, VmValue *ret) {
        ssize_t i;

        assert(vm);
        assert(name);
        assert(ret);

        i = field_index(name);
        if (i < 0)
                return -ENOENT;

        ret->type = vm_fields[i].type;
        switch (field_impls[i].kind) {
        case KIND_GENERATION:
                ret->u = vm->generation;
                break;
        case KIND_CID:
                ret->u = vm->vsock_cid;
                break;
        case KIND_POWER_STATE:
                ret->s = vm_power_state_to_string(vm->power_state);
                break;
        case KIND_BOOL:
                ret->b = *(const bool *)((const uint8_t *)vm + field_impls[i].offset);
                break;
        default:
                ret->s = strempty(*field_string(vm, (size_t)i));
        }
        return 0;
}

int vm_validate_complete(const Vm *vm, sd_bus_error *error) {
        assert(vm);

        if (!vm->id)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "VM property 'Id' is required.");
        if (!vm->name)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "VM property 'Name' is required.");
        return 0;
}

typedef struct ApplyProperties {
        Vm *vm;
        uint64_t seen; /* bit i: vm_fields[i] was given */
        sd_bus_error *error;
} ApplyProperties;

static int apply_property(sd_bus_message *m, const char *key, void *userdata) {
        ApplyProperties *a = userdata;
        sd_bus_error *error = a->error;
        const char *contents;
        VmValue v = {};
        ssize_t i;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        i = field_index(key);
        if (i < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown VM property '%s'.", key);
        assert(i < 64);
        if (a->seen & UINT64_C(1) << i)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property '%s' is given more than once.", key);
        a->seen |= UINT64_C(1) << i;
        if (strlen(contents) != 1 || !strchr("sub", contents[0]))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property '%s' has unsupported type '%s'.", key, contents);

        v.type = contents[0];
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        switch (v.type) {
        case 's':
                r = sd_bus_message_read_basic(m, 's', &v.s);
                break;
        case 'u':
                r = sd_bus_message_read_basic(m, 'u', &v.u);
                break;
        case 'b': {
                int b;
                r = sd_bus_message_read_basic(m, 'b', &b);
                v.b = b;
                break;
        }
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        /* A name shaped like an id would make the lookups ambiguous (an id always
         * means its VM). Refused here, for what arrives over the bus, and not in
         * vm_set_field(): a state file from before may hold such a name. */
        if (field_impls[i].kind == KIND_NAME && v.type == 's' && uuid_is_shaped(v.s))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property 'Name' must not be a UUID ('%s'): a UUID always means the VM "
                        "with that id.",
                        v.s);

        return vm_set_field(a->vm, key, &v, error);
}

int vm_apply_properties_message(Vm *vm, sd_bus_message *m, sd_bus_error *error) {
        ApplyProperties a = {.vm = vm, .error = error};

        assert(vm);
        assert(m);

        return bus_message_read_dict(m, apply_property, &a);
}

int vm_object_path(const Vm *vm, char **ret) {
        assert(vm);
        assert(vm->id);
        assert(ret);

        return sd_bus_path_encode(BUS_PATH_VM_PREFIX, vm->id, ret);
}

bool vm_needs_power_off_for_legacy(const Vm *vm) {
        assert(vm);
        return vm->generation == 1 && vm->power_state != VM_POWER_OFF;
}
