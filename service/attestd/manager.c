/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <malloc.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "bus-names.h"
#include "fileio.h"
#include "log.h"
#include "manager-attest.h"
#include "manager-cluster.h"
#include "manager-direct.h"
#include "manager-inventory.h"
#include "manager-legacy.h"
#include "manager-state.h"
#include "manager.h"
#include "ratelimit.h"
#include "server-bus.h"
#include "strv.h"
#include "validate.h"
#include "vm-bus.h"

static const char *const server_state_table[_SERVER_STATE_MAX] = {
        [SERVER_ACTIVE] = "Active",
        [SERVER_EXPIRED] = "Expired",
        [SERVER_INACTIVE] = "Inactive",
        [SERVER_ERROR] = "Error",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(server_state, ServerState);

int manager_new(const char *config_path, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        assert(ret);

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;

        config_init(&m->config);
        vm_indexes_init(&m->index);
        m->server_state = SERVER_INACTIVE;
        m->config_path = strdup(config_path ?: PKGSYSCONFDIR "/attestation.json");
        if (!m->config_path)
                return -ENOMEM;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        (void)sd_event_set_watchdog(m->event, true);

        r = sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, NULL, NULL);
        if (r < 0)
                return r;

        r = polkit_registry_new(&m->polkit);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        manager_inventory_done(m);
        manager_direct_done(m);
        manager_cluster_done(m); /* answers the bus calls waiting for etcd: before the bus goes */
        manager_legacy_done(m);
        manager_attestation_done(m);
        polkit_registry_free(m->polkit);
        sd_event_source_disable_unref(m->bus_reconnect);
        ratelimit_free(m->inventory_reads);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);

        for (size_t i = 0; i < m->n_vms; i++)
                vm_free(m->vms[i]);
        free(m->vms);
        vm_indexes_done(&m->index);

        benefit_rules_free(m->rules); /* after the VMs, whose evaluations point into them */
        config_done(&m->config);
        free(m->config_path);
        free(m->state_file);
        free(m->server_name);
        free(m->server_path);
        free(m->server_error);
        free(m->state_error);
        return mfree(m);
}

static int compare_vm_id(const void *key, const void *element) {
        return strcmp(key, (*(Vm *const *)element)->id);
}

size_t manager_vm_position(Manager *m, const char *id) {
        size_t lo = 0, hi = m->n_vms;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (strcmp(m->vms[mid]->id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

Vm *manager_find_vm_by_id(Manager *m, const char *id) {
        Vm **p;

        assert(m);
        assert(id);

        if (m->n_vms == 0) /* bsearch() must not see a NULL array */
                return NULL;
        p = bsearch(id, m->vms, m->n_vms, sizeof(Vm *), compare_vm_id);
        return p ? *p : NULL;
}

Vm *manager_find_vm(Manager *m, const char *name_or_id) {
        _cleanup_free_ char *id = NULL;

        assert(m);
        assert(name_or_id);

        /* Something shaped like an id is only ever an id, whether or not a VM has it: names
         * never shadow ids. New names cannot look like ids (vm.c); a state file from before
         * may still hold such a name, and that VM is then reached by its id. */
        if (uuid_is_shaped(name_or_id)) {
                if (uuid_normalize(name_or_id, &id) < 0)
                        return NULL; /* the nil UUID, or out of memory */
                return manager_find_vm_by_id(m, id);
        }
        return hash_index_get(&m->index.by_key[VM_KEY_NAME], name_or_id);
}

Vm *manager_find_vm_by_cid(Manager *m, uint32_t cid) {
        assert(m);

        if (cid == 0)
                return NULL;
        return hash_index_get(&m->index.by_key[VM_KEY_VSOCK_CID], &cid);
}

Vm *manager_find_vm_by_legacy_interface(Manager *m, const char *ifname) {
        assert(m);
        assert(ifname);

        if (isempty(ifname))
                return NULL;
        return hash_index_get(&m->index.by_key[VM_KEY_LEGACY_INTERFACE], ifname);
}

int manager_check_unique(Manager *m, const Vm *vm, const Vm *except, sd_bus_error *error) {
        VmKey key;
        Vm *other;

        assert(m);
        assert(vm);

        other = vm_indexes_find_clash(&m->index, vm, except, &key);
        if (!other)
                return 0;
        switch (key) {
        case VM_KEY_ID:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property 'Id': a VM with id %s is already registered ('%s').", vm->id,
                        other->name);
        case VM_KEY_NAME:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property 'Name': a VM named '%s' is already registered.", vm->name);
        case VM_KEY_VSOCK_CID:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property 'VsockCid': CID %" PRIu32 " already belongs to VM '%s'.", vm->vsock_cid,
                        other->name);
        case VM_KEY_LEGACY_MAC:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property 'LegacyMac': %s already belongs to VM '%s'.", vm->legacy_mac,
                        other->name);
        default:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property 'LegacyInterface': %s already belongs to VM '%s'.",
                        vm->legacy_interface, other->name);
        }
}

int manager_add_vm(Manager *m, Vm *vm) {
        Vm **a;
        size_t pos;
        int r;

        assert(m);
        assert(vm);
        assert(!manager_find_vm_by_id(m, vm->id));

        a = reallocarray(m->vms, m->n_vms + 1, sizeof(Vm *));
        if (!a)
                return -ENOMEM;
        m->vms = a;
        r = vm_indexes_add(&m->index, vm);
        if (r < 0)
                return r;

        pos = manager_vm_position(m, vm->id);
        memmove(m->vms + pos + 1, m->vms + pos, (m->n_vms - pos) * sizeof(Vm *));
        m->vms[pos] = vm;
        m->n_vms++;

        (void)manager_evaluate_vm(m, vm);
        return 0;
}

void manager_remove_vm(Manager *m, Vm *vm) {
        size_t pos;

        assert(m);
        assert(vm);

        pos = manager_vm_position(m, vm->id);
        assert(pos < m->n_vms && m->vms[pos] == vm);
        memmove(m->vms + pos, m->vms + pos + 1, (m->n_vms - pos - 1) * sizeof(Vm *));
        m->n_vms--;
        vm_indexes_remove(&m->index, vm);
        vm_free(vm);
}

static int compare_vms_by_id(const void *a, const void *b) {
        return strcmp((*(Vm *const *)a)->id, (*(Vm *const *)b)->id);
}

int manager_add_vms(Manager *m, Vm **vms, size_t n) {
        Vm **a;
        int r;

        assert(m);
        assert(vms || n == 0);

        if (n == 0)
                return 0;
        if (n == 1)
                return manager_add_vm(m, vms[0]);

        a = reallocarray(m->vms, m->n_vms + n, sizeof(Vm *));
        if (!a)
                return -ENOMEM;
        m->vms = a;
        r = vm_indexes_reserve(&m->index, m->n_vms + n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = vm_indexes_add(&m->index, vms[i]);
                if (r < 0) {
                        while (i > 0)
                                vm_indexes_remove(&m->index, vms[--i]);
                        return r;
                }
        }

        memcpy(m->vms + m->n_vms, vms, n * sizeof(Vm *));
        m->n_vms += n;
        qsort(m->vms, m->n_vms, sizeof(Vm *), compare_vms_by_id);

        for (size_t i = 0; i < n; i++)
                (void)manager_evaluate_vm(m, vms[i]);
        return 0;
}

static BenefitContext manager_benefit_context(Manager *m) {
        return (BenefitContext){
                .server_active = m->server_state == SERVER_ACTIVE,
                .legacy_support = m->legacy_support,
        };
}

bool manager_evaluate_vm(Manager *m, Vm *vm) {
        BenefitContext ctx = manager_benefit_context(m);
        BenefitEvaluation e = {};
        bool changed;
        int r;

        assert(m);
        assert(vm);

        r = benefit_evaluate(m->rules, vm, &ctx, &e);
        if (r >= 0)
                r = manager_legacy_vm_error(m, vm, &e.legacy_error);
        if (r < 0) {
                benefit_evaluation_done(&e);
                log_error_errno(r, "Failed to evaluate the benefits of VM '%s': %m", vm->name);
                return false;
        }

        changed = !benefit_evaluation_equal(&e, &vm->evaluation);
        benefit_evaluation_done(&vm->evaluation);
        vm->evaluation = e;
        return changed;
}

int manager_load(Manager *m) {
        _cleanup_free_ char *error = NULL;
        char hostname[256];
        int r;

        assert(m);

        r = config_load(&m->config, m->config_path, true, &error);
        if (r < 0)
                return log_error_errno(r, "Invalid configuration: %s", strna(error));

        /* Loaded once, never reloaded: every VM's evaluation points into these rules (vm.h). A
         * reload would have to evaluate every VM again before it frees the old rules. */
        r = benefit_rules_load(m->config.benefits_file, &m->rules, &error);
        if (r < 0)
                return log_error_errno(r, "Invalid benefit rules: %s", strna(error));

        if (m->config.server_name)
                m->server_name = strdup(m->config.server_name);
        else {
                if (gethostname(hostname, sizeof hostname) < 0)
                        return log_error_errno(negative_errno(), "Failed to get the host name: %m");
                hostname[sizeof hostname - 1] = 0;
                m->server_name = strdup(hostname);
        }
        if (!m->server_name)
                return log_oom();
        r = sd_bus_path_encode(BUS_PATH_SERVER_PREFIX, m->server_name, &m->server_path);
        if (r < 0)
                return log_oom();

        r = mkdir_safe(m->config.state_directory, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create the state directory %s: %m",
                        m->config.state_directory);

        if (asprintf(&m->state_file, "%s/state.json", m->config.state_directory) < 0)
                return log_oom();

        r = manager_load_state(m);
        if (r < 0)
                return r;

        r = manager_attestation_init(m);
        if (r < 0)
                return r;

        r = manager_legacy_init(m);
        if (r < 0)
                return r;

        r = manager_cluster_init(m);
        if (r < 0)
                return r;

        manager_refresh(m);
        (void)malloc_trim(0); /* loading a big inventory leaves the parser's memory behind */
        return 0;
}

/* Appends "; label: error" to *s, or makes it "Label: error" when *s is empty. */
static bool append_error(char **s, const char *label, const char *error) {
        char *n;
        int r;

        if (isempty(*s))
                r = asprintf(&n, "%c%s: %s", toupper((unsigned char)label[0]), label + 1, error);
        else
                r = asprintf(&n, "%s; %s: %s", *s, label, error);
        if (r < 0)
                return false;
        free_and_replace_string(s, n);
        return true;
}

char *manager_server_error(Manager *m) {
        _cleanup_free_ char *s = NULL;

        assert(m);

        /* "sync error; legacy network: ...; state: ..." with the parts that are set. */
        s = strdup(strempty(m->server_error));
        if (!s)
                return NULL;
        if (m->legacy_error && !append_error(&s, "legacy network", m->legacy_error))
                return NULL;
        if (m->state_error && !append_error(&s, "state", m->state_error))
                return NULL;
        if (m->cluster_error && !append_error(&s, "cluster", m->cluster_error))
                return NULL;
        return TAKE_PTR(s);
}

void manager_refresh(Manager *m) {
        ServerState state;

        assert(m);

        state = manager_compute_server_state(m);
        if (state != m->server_state) {
                log_info("Server %s is now %s.", m->server_name, server_state_to_string(state));
                m->server_state = state;
                (void)server_emit_changed(m, STRV_MAKE("State"));
        }

        for (size_t i = 0; i < m->n_vms; i++)
                if (manager_evaluate_vm(m, m->vms[i]))
                        (void)vm_emit_changed(m, m->vms[i], VM_EVALUATION_PROPERTIES);
}

int manager_run(Manager *m) {
        int r;

        assert(m);

        (void)sd_notifyf(false, "READY=1\nSTATUS=Serving %zu VM(s); server %s is %s.", m->n_vms,
                m->server_name, server_state_to_string(m->server_state));
        log_info("Ready: %s on %s.", BUS_NAME, m->server_name);

        r = sd_event_loop(m->event);
        (void)sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}
