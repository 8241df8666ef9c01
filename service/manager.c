/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <malloc.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "bus-names.h"
#include "fileio.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "state.h"
#include "validate.h"
#include "strv.h"

/* The VM properties that follow from the benefit evaluation. */
#define VM_EVALUATION_PROPERTIES \
        STRV_MAKE("Status", "EligibleBenefits", "ActiveBenefits", "RecommendedActions")

static const char *const server_state_table[_SERVER_STATE_MAX] = {
        [SERVER_ACTIVE] = "Active",
        [SERVER_EXPIRED] = "Expired",
        [SERVER_INACTIVE] = "Inactive",
        [SERVER_ERROR] = "Error",
};

const char *server_state_to_string(ServerState s) {
        return s >= 0 && s < _SERVER_STATE_MAX ? server_state_table[s] : NULL;
}

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

        manager_frontend_done(m);
        manager_legacy_done(m);
        manager_attestation_done(m);
        polkit_registry_free(m->polkit);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);

        for (size_t i = 0; i < m->n_vms; i++)
                vm_free(m->vms[i]);
        free(m->vms);
        vm_indexes_done(&m->index);

        benefit_rules_free(m->rules);
        config_done(&m->config);
        free(m->config_path);
        free(m->state_file);
        free(m->server_name);
        free(m->server_path);
        free(m->server_error);
        return mfree(m);
}

static int compare_vm_id(const void *key, const void *element) {
        return strcmp(key, (*(Vm *const *)element)->id);
}

static size_t vm_insert_position(Manager *m, const char *id) {
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
        Vm *vm;

        assert(m);
        assert(name_or_id);

        /* Names win over ids: a VM may well be named like another's UUID, but never twice. */
        vm = hash_index_get(&m->index.by_key[VM_KEY_NAME], name_or_id);
        if (vm)
                return vm;

        if (uuid_normalize(name_or_id, &id) < 0)
                return NULL;
        vm = manager_find_vm_by_id(m, id);
        return vm;
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

        pos = vm_insert_position(m, vm->id);
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

        pos = vm_insert_position(m, vm->id);
        assert(pos < m->n_vms && m->vms[pos] == vm);
        memmove(m->vms + pos, m->vms + pos + 1, (m->n_vms - pos - 1) * sizeof(Vm *));
        m->n_vms--;
        vm_indexes_remove(&m->index, vm);
        vm_free(vm);
}

static int compare_vms_by_id(const void *a, const void *b) {
        return strcmp((*(Vm *const *)a)->id, (*(Vm *const *)b)->id);
}

/* Adds many VMs at once (taking ownership of them on success): one sort instead of one
 * insertion each. All or nothing: -EEXIST when one of them clashes with a registered VM or
 * another of them, -ENOMEM. */
static int manager_add_vms(Manager *m, Vm **vms, size_t n) {
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
        if (r < 0) {
                log_error_errno(r, "Failed to evaluate the benefits of VM '%s': %m", vm->name);
                return false;
        }

        changed = !benefit_evaluation_equal(&e, &vm->evaluation);
        benefit_evaluation_done(&vm->evaluation);
        vm->evaluation = e;
        return changed;
}

int manager_save_state(Manager *m) {
        _cleanup_free_ char *json = NULL;
        int r;

        assert(m);

        r = state_serialize(m->legacy_support, m->last_sync, m->vms, m->n_vms, &json);
        if (r < 0)
                return r;
        r = write_file_atomic(m->state_file, json, strlen(json), 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", m->state_file);
        return 0;
}

static int manager_load_state(Manager *m) {
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_free_ char *data = NULL, *error = NULL;
        int r;

        r = read_full_file(m->state_file, 64 * 1024 * 1024, &data, NULL);
        if (r == -ENOENT) {
                log_info("No state in %s yet, starting with an empty inventory.", m->state_file);
                return 0;
        }
        if (r >= 0)
                r = state_deserialize(m->state_file, data, &s, &error);
        else
                (void)asprintf(&error, "%s: %s", m->state_file, strerror(-r));
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                _cleanup_free_ char *aside = NULL;

                /* Keep the broken file for a human to look at, and start afresh rather than
                 * refusing to start for ever. */
                if (asprintf(&aside, "%s.corrupt-%" PRIu64, m->state_file, now_usec(CLOCK_REALTIME)) < 0)
                        return log_oom();
                if (rename(m->state_file, aside) < 0)
                        return log_error_errno(negative_errno(),
                                "State file is corrupt (%s) and could not be moved "
                                "aside: %m",
                                strna(error));
                log_error("State file is corrupt (%s); moved it to %s and starting with an empty inventory.",
                        strna(error), aside);
                return 0;
        }

        m->legacy_support = s.legacy_support;
        m->last_sync = s.last_sync;
        r = manager_add_vms(m, s.vms, s.n_vms);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) /* state_deserialize() checked uniqueness */
                return log_error_errno(r, "Failed to index the VMs of %s: %m", m->state_file);
        s.n_vms = 0; /* now the manager's */
        log_info("Loaded %zu VM(s) from %s; legacy OS support is %s.", m->n_vms, m->state_file,
                m->legacy_support ? "on" : "off");
        return 0;
}

int manager_load(Manager *m) {
        _cleanup_free_ char *error = NULL;
        char hostname[256];
        int r;

        assert(m);

        r = config_load(&m->config, m->config_path, true, &error);
        if (r < 0)
                return log_error_errno(r, "Invalid configuration: %s", strna(error));

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

        manager_refresh(m);
        (void)malloc_trim(0); /* loading a big inventory leaves the parser's memory behind */
        return 0;
}

char *manager_server_error(Manager *m) {
        char *s;

        assert(m);

        if (m->server_error && m->legacy_error) {
                if (asprintf(&s, "%s; legacy network: %s", m->server_error, m->legacy_error) < 0)
                        return NULL;
                return s;
        }
        if (m->legacy_error) {
                if (asprintf(&s, "Legacy network: %s", m->legacy_error) < 0)
                        return NULL;
                return s;
        }
        return strdup(strempty(m->server_error));
}

void manager_refresh(Manager *m) {
        ServerState state;

        assert(m);

        state = manager_compute_server_state(m);
        if (state != m->server_state) {
                log_info("Server %s is now %s.", m->server_name, server_state_to_string(state));
                m->server_state = state;
                (void)manager_emit_server_changed(m, STRV_MAKE("State"));
        }

        for (size_t i = 0; i < m->n_vms; i++)
                if (manager_evaluate_vm(m, m->vms[i]))
                        (void)manager_emit_vm_changed(m, m->vms[i], VM_EVALUATION_PROPERTIES);
}

int manager_emit_vm_changed(Manager *m, Vm *vm, char **properties) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert(m);
        assert(vm);

        if (!m->bus)
                return 0;
        r = vm_object_path(vm, &path);
        if (r < 0)
                return r;
        return sd_bus_emit_properties_changed_strv(m->bus, path, BUS_INTERFACE_VM, properties);
}

int manager_connect_bus(Manager *m) {
        int r;

        assert(m);

        r = sd_bus_default_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        r = manager_add_bus_objects(m);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");

        /* Synchronously, so that READY=1 is only sent once the name is ours. */
        r = sd_bus_request_name(m->bus, BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire the bus name %s: %m", BUS_NAME);

        return 0;
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

void change_done(Change *c) {
        assert(c);

        for (size_t i = 0; i < c->n_add; i++)
                vm_free(c->add[i]);
        free(c->add);
        if (c->replace)
                for (size_t i = 0; i < c->n_replace; i++)
                        vm_free(c->replace[i]);
        free(c->replace);
        *c = (Change){};
}

void change_init(Manager *m, Change *c) {
        assert(m);
        assert(c);

        *c = (Change){.legacy_support = m->legacy_support};
}

int change_add_vm(Change *c, Vm *vm) {
        Vm **a;

        assert(c);
        assert(vm);

        a = reallocarray(c->add, c->n_add + 1, sizeof(Vm *));
        if (!a) {
                vm_free(vm);
                return -ENOMEM;
        }
        c->add = a;
        c->add[c->n_add++] = vm;
        return 0;
}

int change_replace_vm(Manager *m, Change *c, Vm *vm, Vm **ret_copy) {
        size_t pos;
        int r;

        assert(m);
        assert(c);
        assert(vm);
        assert(ret_copy);

        if (!c->replace) {
                c->replace = calloc(m->n_vms, sizeof(Vm *));
                if (!c->replace)
                        return -ENOMEM;
                c->n_replace = m->n_vms;
        }

        pos = vm_insert_position(m, vm->id);
        assert(pos < m->n_vms && m->vms[pos] == vm);
        if (!c->replace[pos]) {
                r = vm_copy(vm, &c->replace[pos]);
                if (r < 0)
                        return r;
        }
        *ret_copy = c->replace[pos];
        return 0;
}

/* The names of the registration properties (and LegacyAccess) that differ between a and b. */
static int vm_changed_properties(const Vm *a, const Vm *b, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

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
        if (a->legacy_access != b->legacy_access) {
                r = strv_extend(&l, "LegacyAccess");
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int manager_commit(Manager *m, Change *c, sd_bus_error *error) {
        _cleanup_free_ Vm **view = NULL;
        _cleanup_free_ char *json = NULL;
        size_t n = 0, n_replaced = 0, n_added = c->n_add;
        bool legacy_changed;
        int r;

        assert(m);
        assert(c);
        assert(!c->replace || c->n_replace == m->n_vms);

        /* First the disk: the state as it will be after the change. Only once that is safely
         * written does the change become visible in memory and on the bus; if the write fails
         * nothing at all has changed. */
        view = calloc(m->n_vms + c->n_add, sizeof(Vm *));
        if (!view)
                return -ENOMEM;
        /* Room in the indexes now, so that nothing after the write below runs out of memory
         * there. */
        r = vm_indexes_reserve(&m->index, m->n_vms + c->n_add);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_vms; i++) {
                if (m->vms[i] == c->remove)
                        continue;
                view[n++] = c->replace && c->replace[i] ? c->replace[i] : m->vms[i];
        }
        for (size_t i = 0; i < c->n_add; i++)
                view[n++] = c->add[i];

        r = state_serialize(c->legacy_support, m->last_sync, view, n, &json);
        if (r < 0)
                return r;
        r = write_file_atomic(m->state_file, json, strlen(json), 0644);
        if (r < 0) {
                log_error_errno(r, "Failed to write %s: %m", m->state_file);
                return sd_bus_error_set_errnof(error, r, "Failed to save the state to %s: %m",
                        m->state_file);
        }

        /* Then memory and signals. Replacements first, while indices still match; all the old
         * copies leave the indexes before any new one enters, so that keys may move between
         * them. */
        for (size_t i = 0; c->replace && i < c->n_replace; i++)
                if (c->replace[i])
                        vm_indexes_remove(&m->index, m->vms[i]);
        for (size_t i = 0; c->replace && i < c->n_replace; i++) {
                _cleanup_strv_free_ char **changed = NULL;
                Vm *old = m->vms[i], *new = c->replace[i];

                if (!new)
                        continue;
                c->replace[i] = NULL;

                (void)vm_changed_properties(old, new, &changed);
                manager_legacy_vm_changed(m, c->legacy_support, old, new);
                /* Carry the evaluation over, so that refreshing signals only real changes. */
                new->evaluation = old->evaluation;
                old->evaluation = (BenefitEvaluation){};
                m->vms[i] = new;
                r = vm_indexes_add(&m->index, new);
                assert(r >= 0); /* reserved above; the change was checked for clashes */
                vm_free(old);

                if (changed)
                        (void)manager_emit_vm_changed(m, new, changed);
                if (c->legacy_support == m->legacy_support && manager_evaluate_vm(m, new))
                        (void)manager_emit_vm_changed(m, new, VM_EVALUATION_PROPERTIES);
                n_replaced++;
        }

        if (c->remove) {
                _cleanup_free_ char *path = NULL;

                if (vm_object_path(c->remove, &path) >= 0 && m->bus)
                        (void)sd_bus_emit_interfaces_removed(m->bus, path, BUS_INTERFACE_VM, NULL);
                manager_legacy_vm_changed(m, c->legacy_support, c->remove, NULL);
                log_info("Unregistered VM '%s' (%s).", c->remove->name, c->remove->id);
                manager_remove_vm(m, TAKE_PTR(c->remove));
        }

        if (c->n_add > 0) {
                r = manager_add_vms(m, c->add, c->n_add);
                if (r < 0)
                        /* Memory ran out after the state was written: it is on disk and will
                         * be loaded at the next start. */
                        return r;
                for (size_t i = 0; i < c->n_add; i++) {
                        _cleanup_free_ char *path = NULL;
                        Vm *vm = c->add[i];

                        if (vm_object_path(vm, &path) >= 0 && m->bus)
                                (void)sd_bus_emit_interfaces_added(m->bus, path, BUS_INTERFACE_VM, NULL);
                        manager_legacy_vm_changed(m, c->legacy_support, NULL, vm);
                        if (c->n_add == 1)
                                log_info("Registered VM '%s' (%s).", vm->name, vm->id);
                }
                if (c->n_add > 1)
                        log_info("Registered %zu VMs at once.", c->n_add);
                c->add = mfree(c->add); /* the VMs are the manager's now */
                c->n_add = 0;
        }

        legacy_changed = c->legacy_support != m->legacy_support;
        if (legacy_changed) {
                m->legacy_support = c->legacy_support;
                log_info("Legacy OS support is now %s.", m->legacy_support ? "on" : "off");
                (void)manager_emit_changed(m, STRV_MAKE("LegacyOsSupport"));
                (void)manager_emit_server_changed(m, STRV_MAKE("LegacyOsSupport"));
        }

        if (legacy_changed)
                /* An input of every VM's evaluation changed; otherwise only the replaced VMs
                 * (evaluated above) and the added one (evaluated when added) can have. */
                manager_refresh(m);

        if (legacy_changed || n_replaced >= 100 || n_added >= 100)
                /* Give the memory of the copies and the serialised state back to the system. */
                (void)malloc_trim(0);
        return 0;
}
