/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The VM registration table (vm.h): typed field access, validation errors that name the field,
 * deep copies, the a{sv} decoder and the object path. */

#define TEST_PREFIX "/vm"

#include <glib.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "test-util.h"
#include "vm.h"

#define ID "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"

static void cleanup_bus_error(sd_bus_error *e) {
        sd_bus_error_free(e);
}

/* Sets a field expecting failure; checks the error name and exact message. */
static void expect_set_error(Vm *vm, const char *field, const VmValue *v, const char *message) {
        _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

        g_assert_cmpint(vm_set_field(vm, field, v, &error), ==, -EINVAL);
        g_assert_cmpstr(error.name, ==, SD_BUS_ERROR_INVALID_ARGS);
        g_assert_cmpstr(error.message, ==, message);
}

static void set_ok(Vm *vm, const char *field, const VmValue *v) {
        _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

        g_assert_cmpint(vm_set_field(vm, field, v, &error), ==, 0);
        g_assert_false(sd_bus_error_is_set(&error));
}

#define NAME_ERROR                                                                                        \
        "VM property 'Name' must be 1 to 255 bytes of UTF-8 without control, bidirectional or invisible " \
        "formatting characters, and not '*'."

#define S(x) (&(VmValue){.type = 's', .s = (x)})
#define U(x) (&(VmValue){.type = 'u', .u = (x)})
#define B(x) (&(VmValue){.type = 'b', .b = (x)})

TEST(defaults) {
        _cleanup_(vm_freep) Vm *vm = vm_new();
        VmValue v;

        g_assert_nonnull(vm);
        g_assert_cmpuint(vm->generation, ==, 2);
        g_assert_cmpint(vm->power_state, ==, VM_POWER_RUNNING);
        g_assert_cmpint(vm->evaluation.status, ==, VM_STATUS_UNKNOWN);
        g_assert_false(vm->data_exchange);
        g_assert_false(vm->guest_service_interface);
        g_assert_false(vm->legacy_access);

        /* Unset strings read back as "". */
        g_assert_cmpint(vm_get_field(vm, "OsName", &v), ==, 0);
        g_assert_cmpint(v.type, ==, 's');
        g_assert_cmpstr(v.s, ==, "");
        g_assert_cmpint(vm_get_field(vm, "PowerState", &v), ==, 0);
        g_assert_cmpstr(v.s, ==, "Running");
        g_assert_cmpint(vm_get_field(vm, "Generation", &v), ==, 0);
        g_assert_cmpint(v.type, ==, 'u');
        g_assert_cmpuint(v.u, ==, 2);

        g_assert_null(vm_free(NULL));
}

TEST(field_table) {
        size_t n = 0;

        for (const VmField *f = vm_fields; f->name; f++) {
                g_assert_true(vm_field_find(f->name) == f);
                g_assert_true(strchr("sub", f->type));
                n++;
        }
        g_assert_cmpuint(n, ==, 15);
        g_assert_null(vm_field_find("Colour"));
        g_assert_null(vm_field_find("osname")); /* names are case-sensitive */
        g_assert_true(vm_field_find("Id")->required);
        g_assert_true(vm_field_find("Name")->required);
        g_assert_false(vm_field_find("OsName")->required);
}

TEST(set_get_roundtrip) {
        _cleanup_(vm_freep) Vm *vm = vm_new();
        VmValue v;

        set_ok(vm, "Id", S("6F1C8A52-3B0E-4C7D-9A41-2D5E8F7B9C10"));
        set_ok(vm, "Name", S("sales-avd-01"));
        set_ok(vm, "Generation", U(1));
        set_ok(vm, "PowerState", S("Off"));
        set_ok(vm, "GuestServiceInterface", B(true));
        set_ok(vm, "DataExchange", B(true));
        set_ok(vm, "OsName", S("Windows 11 Enterprise multi-session"));
        set_ok(vm, "OsVersion", S("10.0.22621.3447"));
        set_ok(vm, "SqlVersion", S("12.0.6024.0"));
        set_ok(vm, "ArcAgentVersion", S("1.39.0"));
        set_ok(vm, "VsockCid", U(42));
        set_ok(vm, "LegacyMac", S("52-54-00-AB-CD-EF"));
        set_ok(vm, "LegacyInterface", S("vnet7"));
        set_ok(vm, "Sku", S("Enterprise"));
        set_ok(vm, "LicenseType", S("Windows_Client"));

        /* Normalised on the way in. */
        g_assert_cmpstr(vm->id, ==, ID);
        g_assert_cmpstr(vm->legacy_mac, ==, "52:54:00:ab:cd:ef");
        g_assert_cmpuint(vm->generation, ==, 1);
        g_assert_cmpint(vm->power_state, ==, VM_POWER_OFF);
        g_assert_true(vm->guest_service_interface);
        g_assert_true(vm->data_exchange);
        g_assert_cmpuint(vm->vsock_cid, ==, 42);

        g_assert_cmpint(vm_get_field(vm, "Id", &v), ==, 0);
        g_assert_cmpstr(v.s, ==, ID);
        g_assert_cmpint(vm_get_field(vm, "PowerState", &v), ==, 0);
        g_assert_cmpstr(v.s, ==, "Off");
        g_assert_cmpint(vm_get_field(vm, "GuestServiceInterface", &v), ==, 0);
        g_assert_cmpint(v.type, ==, 'b');
        g_assert_true(v.b);
        g_assert_cmpint(vm_get_field(vm, "VsockCid", &v), ==, 0);
        g_assert_cmpuint(v.u, ==, 42);
        g_assert_cmpint(vm_get_field(vm, "LegacyInterface", &v), ==, 0);
        g_assert_cmpstr(v.s, ==, "vnet7");
        g_assert_cmpint(vm_get_field(vm, "LegacyMac", &v), ==, 0);
        g_assert_cmpstr(v.s, ==, "52:54:00:ab:cd:ef");
        g_assert_cmpint(vm_get_field(vm, "ArcAgentVersion", &v), ==, 0);
        g_assert_cmpstr(v.s, ==, "1.39.0");

        /* "" clears an optional string. */
        set_ok(vm, "SqlVersion", S(""));
        g_assert_null(vm->sql_version);
        set_ok(vm, "LegacyMac", S(""));
        g_assert_null(vm->legacy_mac);
        g_assert_cmpint(vm_get_field(vm, "SqlVersion", &v), ==, 0);
        g_assert_cmpstr(v.s, ==, "");

        g_assert_cmpint(vm_get_field(vm, "Colour", &v), ==, -ENOENT);
}

/* A value vm_set_field() refuses on a new VM, and its exact message. */
typedef struct SetErrorCase {
        const char *name; /* the last part of the test path; NULL: "field=value" */
        const char *field;
        VmValue value;
        const char *message;
} SetErrorCase;

#define SV(x) \
        { .type = 's', .s = (x) }
#define UV(x) \
        { .type = 'u', .u = (x) }
#define BV(x) \
        { .type = 'b', .b = (x) }

/* 1025 bytes, one past the limit of free text; filled in by main(). */
static char long_text[1026];

static const SetErrorCase set_error_cases[] = {
        {NULL, "Colour", SV("blue"), "Unknown VM property 'Colour'."},
        {NULL, "Generation", SV("2"), "VM property 'Generation' must be an unsigned 32-bit integer."},
        {NULL, "OsName", UV(1), "VM property 'OsName' must be a string."},
        {NULL, "DataExchange", SV("true"), "VM property 'DataExchange' must be a boolean."},
        {NULL, "Id", SV("not-a-uuid"),
                "VM property 'Id' must be a UUID (8-4-4-4-12 hex digits), not 'not-a-uuid'."},
        {NULL, "Id", SV(""), "VM property 'Id' must be a UUID (8-4-4-4-12 hex digits), not ''."},
        {NULL, "Name", SV("*"), NAME_ERROR},
        {NULL, "Name", SV(""), NAME_ERROR},
        /* A right-to-left override (U+202E) makes "vm-exe.txt" display as "vm-txt.exe". */
        {NULL, "Name", SV("vm-\u202etxt.exe"), NAME_ERROR},
        {NULL, "Name", SV("vm\u2066x\u2069"), NAME_ERROR},
        {NULL, "Name", SV("\u200fvm"), NAME_ERROR},
        {NULL, "Name", SV("vm\xc2\x85"), NAME_ERROR},
        {NULL, "OsName", SV("Windows\n11"),
                "VM property 'OsName' must be at most 1024 bytes without control characters."},
        {"Sku=1025-bytes", "Sku", SV(long_text),
                "VM property 'Sku' must be at most 1024 bytes without control characters."},
        {NULL, "OsVersion", SV("10.0.22621.3447a"),
                "VM property 'OsVersion' must be a dotted numeric version such as 10.0.22621.3447, not "
                "'10.0.22621.3447a'."},
        {NULL, "ArcAgentVersion", SV("v1.39"),
                "VM property 'ArcAgentVersion' must be a dotted numeric version such as 10.0.22621.3447, not "
                "'v1.39'."},
        {NULL, "LegacyInterface", SV("this-name-is-too-long"),
                "VM property 'LegacyInterface' must be a network interface name (1 to 15 characters of A-Z, "
                "a-z, 0-9, '_', '.' and '-'), not 'this-name-is-too-long'."},
        {NULL, "LegacyInterface", SV("tap/0"),
                "VM property 'LegacyInterface' must be a network interface name (1 to 15 characters of A-Z, "
                "a-z, 0-9, '_', '.' and '-'), not 'tap/0'."},
        {NULL, "LegacyMac", SV("ff:ff:ff:ff:ff:ff"),
                "VM property 'LegacyMac' must be a unicast MAC address such as 52:54:00:12:34:56, not "
                "'ff:ff:ff:ff:ff:ff'."},
        {NULL, "Generation", UV(3), "VM property 'Generation' must be 1 or 2, not 3."},
        {NULL, "Generation", UV(0), "VM property 'Generation' must be 1 or 2, not 0."},
        {NULL, "PowerState", SV("Saved"),
                "VM property 'PowerState' must be Running, Off or Paused, not 'Saved'."},
        {NULL, "VsockCid", UV(2),
                "VM property 'VsockCid' must be 0 (none) or a guest CID from 3 to 4294967294, not 2."},
        {NULL, "VsockCid", UV(UINT32_MAX),
                "VM property 'VsockCid' must be 0 (none) or a guest CID from 3 to 4294967294, not 4294967295."},
};

static void test_set_error_case(const void *data) {
        const SetErrorCase *c = data;
        _cleanup_(vm_freep) Vm *vm = vm_new();

        expect_set_error(vm, c->field, &c->value, c->message);
}

/* A failed set leaves the old value alone; without an error object it is still -EINVAL. */
static void test_set_error_keeps_value(void) {
        _cleanup_(vm_freep) Vm *vm = vm_new();

        set_ok(vm, "OsVersion", S("6.3.9600"));
        expect_set_error(vm, "OsVersion", S("x"),
                "VM property 'OsVersion' must be a dotted numeric version such as 10.0.22621.3447, not 'x'.");
        g_assert_cmpstr(vm->os_version, ==, "6.3.9600");

        g_assert_cmpint(vm_set_field(vm, "Generation", U(5), NULL), ==, -EINVAL);
}

TEST(validate_complete) {
        _cleanup_(vm_freep) Vm *vm = vm_new();
        _cleanup_(cleanup_bus_error) sd_bus_error e1 = SD_BUS_ERROR_NULL, e2 = SD_BUS_ERROR_NULL;

        g_assert_cmpint(vm_validate_complete(vm, &e1), ==, -EINVAL);
        g_assert_cmpstr(e1.name, ==, SD_BUS_ERROR_INVALID_ARGS);
        g_assert_cmpstr(e1.message, ==, "VM property 'Id' is required.");

        set_ok(vm, "Id", S(ID));
        g_assert_cmpint(vm_validate_complete(vm, &e2), ==, -EINVAL);
        g_assert_cmpstr(e2.message, ==, "VM property 'Name' is required.");

        set_ok(vm, "Name", S("vm"));
        g_assert_cmpint(vm_validate_complete(vm, NULL), ==, 0);
}

TEST(copy) {
        _cleanup_(vm_freep) Vm *vm = vm_new(), *c = NULL, *sparse_copy = NULL;
        _cleanup_(vm_freep) Vm *sparse = vm_new();

        set_ok(vm, "Id", S(ID));
        set_ok(vm, "Name", S("esu-2012r2"));
        set_ok(vm, "Generation", U(1));
        set_ok(vm, "PowerState", S("Paused"));
        set_ok(vm, "DataExchange", B(true));
        set_ok(vm, "OsName", S("Windows Server 2012 R2 Datacenter"));
        set_ok(vm, "OsVersion", S("6.3.9600"));
        set_ok(vm, "SqlVersion", S("11.0.7001.0"));
        set_ok(vm, "VsockCid", U(7));
        set_ok(vm, "LegacyMac", S("52:54:00:00:00:07"));
        vm->legacy_access = true;
        vm->evaluation.status = VM_STATUS_ACTIVE_BENEFITS;
        vm->evaluation.eligible = calloc(2, sizeof(char *)); /* borrowed strings (vm.h) */
        g_assert_nonnull(vm->evaluation.eligible);
        vm->evaluation.eligible[0] = (char *)"ExtendedSecurityUpdates";

        g_assert_cmpint(vm_copy(vm, &c), ==, 0);
        g_assert_true(c != vm);
        g_assert_cmpstr(c->id, ==, ID);
        g_assert_true(c->id != vm->id); /* deep */
        g_assert_cmpstr(c->name, ==, "esu-2012r2");
        g_assert_cmpuint(c->generation, ==, 1);
        g_assert_cmpint(c->power_state, ==, VM_POWER_PAUSED);
        g_assert_true(c->data_exchange);
        g_assert_false(c->guest_service_interface);
        g_assert_cmpstr(c->os_name, ==, "Windows Server 2012 R2 Datacenter");
        g_assert_cmpstr(c->os_version, ==, "6.3.9600");
        g_assert_cmpstr(c->sql_version, ==, "11.0.7001.0");
        g_assert_null(c->arc_agent_version);
        g_assert_null(c->sku);
        g_assert_cmpuint(c->vsock_cid, ==, 7);
        g_assert_cmpstr(c->legacy_mac, ==, "52:54:00:00:00:07");
        g_assert_true(c->legacy_access);
        /* The evaluation is derived state and is not copied. */
        g_assert_cmpint(c->evaluation.status, ==, VM_STATUS_UNKNOWN);
        g_assert_null(c->evaluation.eligible);

        /* Changing the copy leaves the original alone. */
        set_ok(c, "OsVersion", S("6.3.9601"));
        g_assert_cmpstr(vm->os_version, ==, "6.3.9600");

        /* A VM that has not been completed yet (no Id, no Name) copies too. */
        g_assert_cmpint(vm_copy(sparse, &sparse_copy), ==, 0);
        g_assert_null(sparse_copy->id);
        g_assert_null(sparse_copy->name);
}

TEST(enums) {
        g_assert_cmpstr(vm_power_state_to_string(VM_POWER_RUNNING), ==, "Running");
        g_assert_cmpstr(vm_power_state_to_string(VM_POWER_OFF), ==, "Off");
        g_assert_cmpstr(vm_power_state_to_string(VM_POWER_PAUSED), ==, "Paused");
        g_assert_null(vm_power_state_to_string(_VM_POWER_STATE_MAX));
        g_assert_null(vm_power_state_to_string(_VM_POWER_STATE_INVALID));
        g_assert_cmpint(vm_power_state_from_string("Off"), ==, VM_POWER_OFF);
        g_assert_cmpint(vm_power_state_from_string("off"), ==, _VM_POWER_STATE_INVALID);
        g_assert_cmpint(vm_power_state_from_string(NULL), ==, _VM_POWER_STATE_INVALID);

        g_assert_cmpstr(vm_status_to_string(VM_STATUS_ACTIVE_BENEFITS), ==, "ActiveBenefits");
        g_assert_cmpstr(vm_status_to_string(VM_STATUS_INACTIVE_BENEFITS), ==, "InactiveBenefits");
        g_assert_cmpstr(vm_status_to_string(VM_STATUS_UNKNOWN), ==, "Unknown");
        g_assert_cmpstr(vm_status_to_string(VM_STATUS_NO_APPLICABLE_BENEFITS), ==, "NoApplicableBenefits");
        g_assert_null(vm_status_to_string(_VM_STATUS_MAX));
}

TEST(evaluation_equal) {
        BenefitEvaluation a = {.status = VM_STATUS_INACTIVE_BENEFITS},
                          b = {.status = VM_STATUS_INACTIVE_BENEFITS};

        g_assert_true(benefit_evaluation_equal(&a, &b));
        /* The evaluation's arrays hold borrowed strings (vm.h): strv_push(), not a copy. */
        g_assert_cmpint(strv_push(&a.recommended_actions, (char *)"InstallUpdates"), ==, 0);
        g_assert_false(benefit_evaluation_equal(&a, &b));
        g_assert_cmpint(strv_push(&b.recommended_actions, (char *)"InstallUpdates"), ==, 0);
        g_assert_true(benefit_evaluation_equal(&a, &b));
        b.status = VM_STATUS_ACTIVE_BENEFITS;
        g_assert_false(benefit_evaluation_equal(&a, &b));

        benefit_evaluation_done(&a);
        benefit_evaluation_done(&b);
        g_assert_null(a.recommended_actions);
}

/* Builds a sealed method call whose body is the a{sv} built by append(), positioned at it. */
static sd_bus_message *make_properties_message(sd_bus *bus, const char *signature, ...) {
        sd_bus_message *m = NULL;
        va_list ap;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.azshci.Attestation1",
                                "/org/azshci/Attestation1", "org.azshci.Attestation1", "RegisterVM"),
                >=, 0);
        va_start(ap, signature);
        g_assert_cmpint(sd_bus_message_appendv(m, signature, ap), >=, 0);
        va_end(ap);
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, true), >=, 0);
        return m;
}

TEST(apply_properties_message) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_(vm_freep) Vm *vm = vm_new();

        int fds[2];

        /* An unconnected bus object can build messages once it has been started; one end of a
         * socketpair is enough, nothing is ever sent. */
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), ==, 0);
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, fds[0], fds[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);

        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = make_properties_message(bus, "a{sv}", 4,
                        "Id", "s", ID, "Name", "s", "w11", "Generation", "u", 1, "DataExchange", "b", 1);
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), >=, 0);
                g_assert_cmpstr(vm->id, ==, ID);
                g_assert_cmpstr(vm->name, ==, "w11");
                g_assert_cmpuint(vm->generation, ==, 1);
                g_assert_true(vm->data_exchange);
        }
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m =
                        make_properties_message(bus, "a{sv}", 1, "Shoe", "s", "x");
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                g_assert_cmpstr(error.name, ==, SD_BUS_ERROR_INVALID_ARGS);
                g_assert_cmpstr(error.message, ==, "Unknown VM property 'Shoe'.");
        }
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m =
                        make_properties_message(bus, "a{sv}", 1, "Generation", "i", -1);
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                g_assert_cmpstr(error.message, ==, "VM property 'Generation' has unsupported type 'i'.");
        }
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m =
                        make_properties_message(bus, "a{sv}", 1, "Generation", "s", "2");
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                g_assert_cmpstr(error.message, ==,
                        "VM property 'Generation' must be an unsigned 32-bit integer.");
        }
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m =
                        make_properties_message(bus, "a{sv}", 1, "LegacyMac", "s", "01:00:5e:00:00:01");
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                g_assert_cmpstr(error.message, ==,
                        "VM property 'LegacyMac' must be a unicast MAC address such as 52:54:00:12:34:56, not "
                        "'01:00:5e:00:00:01'.");
        }
        {
                /* The last value would silently win: refused, whatever the values. */
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = make_properties_message(bus, "a{sv}", 3,
                        "Name", "s", "w11", "Sku", "s", "Datacenter", "Name", "s", "other");
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                g_assert_cmpstr(error.name, ==, SD_BUS_ERROR_INVALID_ARGS);
                g_assert_cmpstr(error.message, ==, "VM property 'Name' is given more than once.");
        }
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m =
                        make_properties_message(bus, "a{sv}", 2, "Generation", "u", 1, "Generation", "u", 1);
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                g_assert_cmpstr(error.message, ==, "VM property 'Generation' is given more than once.");
        }
        {
                /* A name shaped like an id, in any case, the nil UUID too. */
                static const char *const names[] = {
                        "0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f",
                        "0B0F3C1E-5A7D-4E2B-8C9F-1A2B3C4D5E6F",
                        "00000000-0000-0000-0000-000000000000",
                };
                for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m =
                                make_properties_message(bus, "a{sv}", 1, "Name", "s", names[i]);
                        _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;
                        g_autofree char *expected = g_strdup_printf(
                                "VM property 'Name' must not be a UUID ('%s'): a UUID always means the VM "
                                "with that id.",
                                names[i]);

                        g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                        g_assert_cmpstr(error.name, ==, SD_BUS_ERROR_INVALID_ARGS);
                        g_assert_cmpstr(error.message, ==, expected);
                }
        }
        {
                /* The type is checked before the value. */
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m =
                        make_properties_message(bus, "a{sv}", 1, "Name", "u", 7);
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), ==, -EINVAL);
                g_assert_cmpstr(error.message, ==, "VM property 'Name' must be a string.");
        }
        {
                /* In braces it is not the form an id is given in: a name. */
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = make_properties_message(bus, "a{sv}", 1,
                        "Name", "s", "{0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f}");
                _cleanup_(cleanup_bus_error) sd_bus_error error = SD_BUS_ERROR_NULL;

                g_assert_cmpint(vm_apply_properties_message(vm, m, &error), >=, 0);
                g_assert_cmpstr(vm->name, ==, "{0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f}");
        }
        /* Earlier good values are unaffected by the rejected messages. */
        g_assert_cmpuint(vm->generation, ==, 1);
        g_assert_null(vm->legacy_mac);

        bus = sd_bus_close_unref(bus);
        safe_close(fds[1]);
}

TEST(object_path) {
        _cleanup_(vm_freep) Vm *vm = vm_new();
        _cleanup_free_ char *path = NULL, *id = NULL;

        set_ok(vm, "Id", S(ID));
        g_assert_cmpint(vm_object_path(vm, &path), >=, 0);
        /* sd-bus escapes every byte that is not [A-Za-z0-9], and a leading digit, as _xx. */
        g_assert_cmpstr(path, ==,
                "/org/azshci/Attestation1/vm/_36f1c8a52_2d3b0e_2d4c7d_2d9a41_2d2d5e8f7b9c10");
        g_assert_cmpint(sd_bus_path_decode(path, "/org/azshci/Attestation1/vm", &id), >, 0);
        g_assert_cmpstr(id, ==, ID);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        test_add_registered();
        memset(long_text, 'x', 1025);
        for (size_t i = 0; i < G_N_ELEMENTS(set_error_cases); i++) {
                const SetErrorCase *c = &set_error_cases[i];
                g_autofree char *name = c->value.type == 's'
                                                ? g_strdup_printf("%s=%s", c->field, c->value.s)
                                                : g_strdup_printf("%s=%" PRIu32, c->field, c->value.u);

                test_add_case("/vm/set-errors", c->name ?: name, c, test_set_error_case);
        }
        g_test_add_func("/vm/set-errors/keeps-value", test_set_error_keeps_value);

        return g_test_run();
}
