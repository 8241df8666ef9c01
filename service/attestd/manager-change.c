/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <malloc.h>

#include "bus-names.h"
#include "log.h"
#include "manager-bus.h"
#include "manager-change.h"
#include "manager-cluster.h"
#include "manager-legacy.h"
#include "manager-state.h"
#include "server-bus.h"
#include "strv.h"
#include "vm-bus.h"

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

        pos = manager_vm_position(m, vm->id);
        assert(pos < m->n_vms && m->vms[pos] == vm);
        if (!c->replace[pos]) {
                r = vm_copy(vm, &c->replace[pos]);
                if (r < 0)
                        return r;
        }
        *ret_copy = c->replace[pos];
        return 0;
}

int manager_commit(Manager *m, Change *c, sd_bus_error *error) {
        _cleanup_free_ Vm **view = NULL;
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

        r = manager_write_state(m, &(StateContent){c->legacy_support, m->last_sync, view, n});
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to save the state to %s: %m",
                        m->state_file);

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
                        (void)vm_emit_changed(m, new, changed);
                if (c->legacy_support == m->legacy_support && manager_evaluate_vm(m, new))
                        (void)vm_emit_changed(m, new, VM_EVALUATION_PROPERTIES);
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
                (void)server_emit_changed(m, STRV_MAKE("LegacyOsSupport"));
        }

        if (legacy_changed)
                /* An input of every VM's evaluation changed; otherwise only the replaced VMs
                 * (evaluated above) and the added one (evaluated when added) can have. */
                manager_refresh(m);

        if (legacy_changed || n_replaced >= 100 || n_added >= 100)
                /* Give the memory of the copies and the serialised state back to the system. */
                (void)malloc_trim(0);
        /* A VM that arrived may have a grant in the cluster (it migrated here). */
        manager_cluster_changed(m);
        return 0;
}
