/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "macro.h"
#include "string-util.h"
#include "strv.h"

/* A VM as the hypervisor tooling registers it, and the result of evaluating its benefits.
 * The registration fields are described once, in a table (vm.c), which drives the a{sv}
 * decoding of RegisterVM/UpdateVM, the JSON of `azshcictl vm import` and the state file, so
 * the three can never disagree about names, types or validation. */

typedef enum VmPowerState {
        VM_POWER_RUNNING,
        VM_POWER_OFF,
        VM_POWER_PAUSED,
        _VM_POWER_STATE_MAX,
        _VM_POWER_STATE_INVALID = -EINVAL,
} VmPowerState;

typedef enum VmStatus {
        VM_STATUS_ACTIVE_BENEFITS,
        VM_STATUS_INACTIVE_BENEFITS,
        VM_STATUS_UNKNOWN,
        VM_STATUS_NO_APPLICABLE_BENEFITS,
        _VM_STATUS_MAX,
        _VM_STATUS_INVALID = -EINVAL,
} VmStatus;

/* Where a VM's facts come from: registered by hand (RegisterVM, ImportVMs) or observed
 * through libvirt (docs/libvirt.md), which then owns them. */
typedef enum VmSource {
        VM_SOURCE_MANUAL,
        VM_SOURCE_LIBVIRT,
        _VM_SOURCE_MAX,
        _VM_SOURCE_INVALID = -EINVAL,
} VmSource;

DECLARE_STRING_TABLE_LOOKUP(vm_source, VmSource);
DECLARE_STRING_TABLE_LOOKUP(vm_power_state, VmPowerState);
DECLARE_STRING_TABLE_LOOKUP_TO_STRING(vm_status, VmStatus);

/* eligible, active and recommended_actions own their arrays, not their strings: those are the
 * rules' benefit ids and the static action names (benefits.c), the same few strings for every
 * VM (a copy of each in each of 10,000 VMs was 0.6 MiB), and the rules outlive every VM. */
typedef struct BenefitEvaluation {
        VmStatus status;
        char **eligible; /* benefit ids, in rule-file order */
        char **active;   /* subset of eligible */
        char **recommended_actions;
        /* With InstallUpdates: what to install, one entry per rule whose minimum is not met:
         * "KB5036892 (OsVersion 10.0.19045.4291)", or "ArcAgentVersion 1.39" without a named
         * update. */
        char **required_updates;
        /* LegacyError: what keeps the VM from its legacy access (a refused grant, its legacy
         * NIC missing or changed), NULL when nothing does. Set by the manager after the
         * benefit evaluation, with which it is compared and signalled. */
        char *legacy_error;
} BenefitEvaluation;

void benefit_evaluation_done(BenefitEvaluation *e);
bool benefit_evaluation_equal(const BenefitEvaluation *a, const BenefitEvaluation *b);

typedef struct Vm {
        /* Registration: keep in sync with the field table in vm.c. */
        char *id; /* lowercase UUID; becomes the document's vmId */
        char *name;
        uint32_t generation; /* 1 or 2 */
        VmPowerState power_state;
        bool guest_service_interface;
        bool data_exchange;
        char *os_name;
        char *os_version;        /* dotted numeric or NULL */
        char *sql_version;       /* dotted numeric or NULL */
        char *arc_agent_version; /* dotted numeric or NULL */
        uint32_t vsock_cid;      /* 0 = none */
        char *legacy_mac;        /* "aa:bb:cc:dd:ee:ff" or NULL */
        char *legacy_interface;  /* host side of the legacy NIC (tap/veth), or NULL */
        char *sku;
        char *license_type;

        VmSource source;
        /* libvirt: the legacy NIC is the one the service added (its alias), not one an admin
         * put on the legacy bridge by hand (docs/libvirt.md). */
        bool legacy_nic_ours;

        /* Admin state. */
        bool legacy_access;
        /* Why the last attempt to grant legacy access failed (libvirt's error), or NULL; kept in
         * memory only, shown (as LegacyError) while legacy OS support is on and the VM has no
         * access. */
        char *legacy_refusal;

        /* Derived; recomputed by the manager whenever an input changes. */
        BenefitEvaluation evaluation;
} Vm;

Vm *vm_new(void);
Vm *vm_free(Vm *vm);
DEFINE_TRIVIAL_CLEANUP_FUNC(Vm *, vm_free);

/* Deep copy of the registration, source and admin state (not the evaluation). */
int vm_copy(const Vm *vm, Vm **ret);
/* Gives dst the admin state of src (legacy access and the reason of a refused grant). */
int vm_copy_admin_state(Vm *dst, const Vm *src);
/* Exchanges the contents of two VMs. */
void vm_swap(Vm *a, Vm *b);
/* The names of the registration properties (and LegacyAccess) that differ between a and b;
 * NULL when none does. */
int vm_changed_properties(const Vm *a, const Vm *b, char ***ret);

/* A typed value for one registration field. */
typedef struct VmValue {
        char type; /* 's', 'u' or 'b': the D-Bus signature of the field */
        union {
                const char *s;
                uint32_t u;
                bool b;
        };
} VmValue;

typedef struct VmField {
        const char *name; /* D-Bus property name, also the JSON key */
        char type;
        bool required;
} VmField;

/* The registration fields, terminated by an entry with name NULL. */
extern const VmField vm_fields[];
const VmField *vm_field_find(const char *name);

/* The properties a VM's object has beyond its fields: the service derives them (evaluation,
 * legacy access, source) and takes none of them in. NULL-terminated. */
extern const char *const vm_derived_properties[];

/* Validates and stores one field. Errors: -EINVAL (unknown field, wrong type, bad value) with
 * org.freedesktop.DBus.Error.InvalidArgs set on error, naming the field. */
int vm_set_field(Vm *vm, const char *name, const VmValue *value, sd_bus_error *error);

/* Reads one field back. Strings that are unset read as "". */
int vm_get_field(const Vm *vm, const char *name, VmValue *ret);

/* Checks the fields that must be present in a complete registration. */
int vm_validate_complete(const Vm *vm, sd_bus_error *error);

/* Applies an a{sv} dictionary (the message must be positioned at it) to vm. Beyond
 * vm_set_field() it refuses a key given twice and a Name shaped like a UUID (an id). */
int vm_apply_properties_message(Vm *vm, sd_bus_message *m, sd_bus_error *error);

/* The D-Bus object path of a VM: /org/azshci/Attestation1/vm/<escaped id>. */
int vm_object_path(const Vm *vm, char **ret);

/* A Generation 1 VM gets its legacy NIC only while it is powered off (as on Azure Stack HCI):
 * whether vm must be powered off before it can be given legacy access. */
bool vm_needs_power_off_for_legacy(const Vm *vm);
