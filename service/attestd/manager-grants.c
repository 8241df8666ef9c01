/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "domain-devices.h"
#include "log.h"
#include "manager-change.h"
#include "manager-grants.h"
#include "manager-inventory.h"
#include "manager-legacy.h"

/* Granting and revoking legacy access VM by VM, and what happened to each (manager-grants.h).
 * Each VM's change is staged in one Change that is committed once; libvirt's domains are
 * changed first (their new facts staged with the access), the port follows in the commit. */

static const char *const grant_outcome_table[_GRANT_OUTCOME_MAX] = {
        [GRANT_GRANTED] = "granted",
        [GRANT_REVOKED] = "revoked",
        [GRANT_REPAIRED] = "repaired",
        [GRANT_REFUSED] = "refused",
        [GRANT_FAILED] = "failed",
        [GRANT_RECORDED] = "recorded",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(grant_outcome, GrantOutcome);

static void grant_result_done(GrantResult *e) {
        e->id = mfree(e->id);
        e->name = mfree(e->name);
        e->error_name = mfree(e->error_name);
        e->message = mfree(e->message);
}

void grant_results_done(GrantResults *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n; i++)
                grant_result_done(&r->items[i]);
        r->items = mfree(r->items);
        r->n = 0;
}

static int result_init(GrantResult *e, const char *id, const char *name, GrantOutcome outcome,
        const char *error_name, const char *message) {
        *e = (GrantResult){
                .id = strdup(id),
                .name = strdup(name),
                .outcome = outcome,
                .error_name = error_name ? strdup(error_name) : NULL,
                .message = strdup(message),
        };
        if (!e->id || !e->name || !e->message || (error_name && !e->error_name)) {
                grant_result_done(e);
                return -ENOMEM;
        }
        return 0;
}

static int results_add(GrantResults *r, const char *id, const char *name, GrantOutcome outcome,
        const char *error_name, const char *message) {
        GrantResult *a;
        int k;

        a = reallocarray(r->items, r->n + 1, sizeof(GrantResult));
        if (!a)
                return -ENOMEM;
        r->items = a;
        k = result_init(&a[r->n], id, name, outcome, error_name, message);
        if (k < 0)
                return k;
        r->n++;
        return 0;
}

int grant_results_add_entry(GrantResults *r, const GrantResult *e) {
        assert(e);

        if (!r)
                return 0;
        return results_add(r, e->id, e->name, e->outcome, e->error_name, e->message);
}

GrantResult *grant_result_new(const GrantResult *e) {
        GrantResult *n;

        assert(e);

        n = malloc(sizeof(*n));
        if (!n || result_init(n, e->id, e->name, e->outcome, e->error_name, e->message) < 0)
                return mfree(n);
        return n;
}

GrantResult *grant_result_free(GrantResult *e) {
        if (e)
                grant_result_done(e);
        return mfree(e);
}

int grant_results_add(GrantResults *r, const Vm *vm, GrantOutcome outcome, const char *error_name,
        const char *message) {
        int k;

        assert(vm);
        assert(message);

        if (!r)
                return 0;
        k = results_add(r, vm->id, vm->name, outcome, error_name, message);
        if (k < 0)
                return k;
        if (outcome == GRANT_REFUSED || outcome == GRANT_FAILED)
                log_notice("Legacy access of VM '%s' %s: %s", vm->name, grant_outcome_to_string(outcome),
                        message);
        return 0;
}

int grant_results_append(const GrantResults *r, sd_bus_message *reply) {
        int k;

        k = sd_bus_message_open_container(reply, 'a', "(ssss)");
        for (size_t i = 0; k >= 0 && r && i < r->n; i++)
                k = sd_bus_message_append(reply, "(ssss)", r->items[i].id, r->items[i].name,
                        grant_outcome_to_string(r->items[i].outcome), r->items[i].message);
        if (k < 0)
                return k;
        return sd_bus_message_close_container(reply);
}

static const char *legacy_bridge(Manager *m) {
        return m->config.legacy_bridge;
}

/* The legacy NICs this call added to or removed from domains, so that they can be put back
 * when its change cannot be committed. */
typedef struct NicChange {
        char *id;
        unsigned changed; /* DOMAIN_CHANGED_* */
        bool added;
        char *replaced; /* the NIC's device XML in the configuration before (domain-devices.h) */
} NicChange;

typedef struct NicChanges {
        NicChange *items;
        size_t n;
} NicChanges;

static void nic_change_done(NicChange *c) {
        c->id = mfree(c->id);
        c->replaced = mfree(c->replaced);
}

static void nic_changes_done(NicChanges *l) {
        for (size_t i = 0; i < l->n; i++)
                nic_change_done(&l->items[i]);
        l->items = mfree(l->items);
        l->n = 0;
}

/* Records a change; *replaced is taken (also on failure). */
static int nic_changes_add(NicChanges *l, const Vm *vm, unsigned changed, bool added, char **replaced) {
        _cleanup_free_ char *r = TAKE_PTR(*replaced);
        NicChange *a;

        a = reallocarray(l->items, l->n + 1, sizeof(NicChange));
        if (!a)
                return -ENOMEM;
        l->items = a;
        a[l->n] = (NicChange){.id = strdup(vm->id), .changed = changed, .added = added};
        if (!a[l->n].id)
                return -ENOMEM;
        a[l->n].replaced = TAKE_PTR(r);
        l->n++;
        return 0;
}

/* Undoes one domain change exactly where it was made (configuration, running domain or both):
 * removes the NIC that was added, or adds back the one removed. Returns what the domain is
 * left with, for the caller's message, in *error. */
static int undo_nic(Manager *m, const Vm *vm, const NicChange *c, sd_bus_error *error) {
        return domain_undo_legacy_nic(m->libvirt, vm, c->added, c->changed, c->replaced, error);
}

/* The change of a call could not be committed: its domains are put back as they were. */
static void undo_nics(Manager *m, const NicChanges *l) {
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                Vm *vm = manager_find_vm_by_id(m, l->items[i].id);

                if (!vm)
                        continue;
                if (undo_nic(m, vm, &l->items[i], &e) < 0)
                        log_warning("VM '%s': the change was not saved, and its legacy NIC could not be %s "
                                    "again: %s",
                                vm->name, l->items[i].added ? "removed" : "added", strna(e.message));
                else
                        log_notice("VM '%s': the change was not saved: its legacy NIC was %s again.",
                                vm->name, l->items[i].added ? "removed" : "added");
        }
}

/* The domain was given its NIC (the call's last recorded change), but the VM's new facts cannot
 * be taken (e is set): the NIC is removed again, no longer recorded, and e says whether it
 * stays. */
static int undo_after_error(Manager *m, const Vm *vm, NicChanges *l, sd_bus_error *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error u = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL, *name = NULL;
        bool added;
        int r;

        assert(l->n > 0);
        added = l->items[l->n - 1].added;
        r = undo_nic(m, vm, &l->items[l->n - 1], &u);
        if (r == -ENOMEM)
                return r; /* still recorded: the call's end tries again */
        nic_change_done(&l->items[--l->n]);
        if (r < 0)
                r = asprintf(&text, "%s; the legacy NIC stays %s the domain: %s", e->message,
                        added ? "in" : "out of", strna(u.message));
        else
                r = asprintf(&text, "%s (the legacy NIC was %s again)", e->message,
                        added ? "removed" : "added");
        name = strdup(e->name);
        if (r < 0 || !name)
                return -ENOMEM;
        sd_bus_error_free(e);
        (void)sd_bus_error_set(e, name, text);
        return 0;
}

/* "added to its configuration and hot-plugged" and the like. */
static const char *nic_change_text(unsigned changed, const Vm *vm) {
        if (changed & DOMAIN_CHANGED_LIVE)
                return (changed & DOMAIN_CHANGED_CONFIG) ? "added to the domain and hot-plugged"
                                                         : "hot-plugged";
        if (vm->power_state == VM_POWER_OFF)
                return "added to the domain's configuration (it is off)";
        return "added to the domain's configuration: it appears when the VM next starts";
}

int grant_refuse_power_off(const Vm *vm, sd_bus_error *error) {
        assert(vm);
        return sd_bus_error_setf(error, BUS_ERROR_POWER_OFF_REQUIRED,
                "VM '%s' is a Generation 1 VM and is %s: power it off before giving it legacy access.",
                vm->name, vm_power_state_to_string(vm->power_state));
}

int manager_grant_text(Manager *m, const Vm *vm, bool grant, char **ret) {
        int r;

        assert(m);
        assert(vm);
        assert(ret);

        if (!grant)
                r = asprintf(ret, "access revoked, its port detached");
        else if (!manager_legacy_managed(m))
                r = asprintf(ret,
                        "this server does not manage the legacy network (\"legacyNetwork\": false)");
        else if (!vm->legacy_mac)
                r = asprintf(ret, "access granted; no legacy NIC is registered yet");
        else
                r = asprintf(ret, "legacy NIC %s (%s) becomes a port of %s", strna(vm->legacy_interface),
                        vm->legacy_mac, legacy_bridge(m));
        return r < 0 ? -ENOMEM : 0;
}

/* Stages in c the access vm can get now, and says so in results. Returns < 0 only when out of
 * memory; *ret_last (may be NULL) is set to vm's result when it has one (nothing changed for a
 * VM that has access and its NIC). */
static int grant_one(Manager *m, Change *c, Vm *vm, GrantResults *results, NicChanges *nics,
        const GrantResult **ret_last) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL;
        bool had = vm->legacy_access, managed = manager_inventory_manages_devices(m, vm);
        _cleanup_free_ char *replaced = NULL;
        unsigned changed = 0;
        GrantOutcome outcome = had ? GRANT_REPAIRED : GRANT_GRANTED;
        Vm *copy;
        int r;

        if (!had && vm_needs_power_off_for_legacy(vm))
                (void)grant_refuse_power_off(vm, &e);
        else if (!had && !managed && c->legacy_support)
                (void)manager_legacy_check_vm(m, vm, &e);
        else if (managed) {
                /* A running Generation 1 VM that has access keeps it; its NIC, if it lost it, is
                 * put back into its configuration only. */
                r = domain_add_legacy_nic(m->libvirt, vm, !vm_needs_power_off_for_legacy(vm), &changed,
                        &replaced, &e);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0 && changed != 0) {
                        /* Recorded first, so that the call puts it back whatever fails next. */
                        if (nic_changes_add(nics, vm, changed, true, &replaced) < 0)
                                return -ENOMEM;
                        r = manager_inventory_reread(m, c, vm, &e);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                r = undo_after_error(m, vm, nics, &e);
                                if (r < 0)
                                        return r;
                        }
                }
        }

        if (sd_bus_error_is_set(&e)) {
                outcome = streq(e.name, BUS_ERROR_LIBVIRT_FAILED) ? GRANT_FAILED : GRANT_REFUSED;
                /* A refusal follows from the VM's facts (LegacyError says it again); a failure
                 * is remembered. */
                if (!had && outcome == GRANT_FAILED) {
                        r = change_replace_vm(m, c, vm, &copy);
                        if (r < 0)
                                return r;
                        r = free_and_strdup(&copy->legacy_refusal, e.message);
                        if (r < 0)
                                return r;
                }
                r = grant_results_add(results, vm, outcome, e.name, e.message);
                goto finish;
        }
        if (had && changed == 0)
                return 0; /* nothing to do */

        r = change_replace_vm(m, c, vm, &copy);
        if (r < 0)
                return r;
        copy->legacy_access = true;
        copy->legacy_refusal = mfree(copy->legacy_refusal);

        if (!managed)
                r = manager_grant_text(m, copy, true, &text);
        else if (changed == 0)
                r = asprintf(&text, "the domain has its legacy NIC %s (%s) already", VIRT_LEGACY_NIC_ALIAS,
                        strna(copy->legacy_mac));
        else {
                char mac[VIRT_MAC_BUFLEN];

                /* The MAC it was given: a NIC only in the configuration is not in the facts of a
                 * running domain yet. */
                virt_legacy_nic_mac(vm->id, mac);
                r = asprintf(&text, "%slegacy NIC %s (%s) %s", had ? "its missing or changed " : "",
                        VIRT_LEGACY_NIC_ALIAS, mac, nic_change_text(changed, vm));
        }
        if (r < 0)
                return -ENOMEM;
        r = grant_results_add(results, vm, outcome, NULL, text);
finish:
        if (r >= 0 && ret_last && results && results->n > 0)
                *ret_last = &results->items[results->n - 1];
        return r;
}

/* Stages the revocation of vm's access in c: a libvirt domain loses the service's NIC (a
 * running Generation 1 VM from its configuration only). */
static int revoke_one(Manager *m, Change *c, Vm *vm, GrantResults *results, NicChanges *nics,
        const GrantResult **ret_last) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL, reread = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL, *replaced = NULL;
        bool live = !vm_needs_power_off_for_legacy(vm);
        unsigned changed = 0;
        Vm *copy;
        int r;

        if (!vm->legacy_access)
                return 0;
        if (manager_inventory_manages_devices(m, vm)) {
                r = domain_remove_legacy_nic(m->libvirt, vm, live, &changed, &replaced, &e);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0 && changed != 0) {
                        if (nic_changes_add(nics, vm, changed, false, &replaced) < 0)
                                return -ENOMEM;
                        /* The NIC is gone whatever the new facts: libvirt's next event brings
                         * them if they cannot be read now. */
                        r = manager_inventory_reread(m, c, vm, &reread);
                        if (r == -ENOMEM)
                                return r;
                }
        }
        r = change_replace_vm(m, c, vm, &copy);
        if (r < 0)
                return r;
        /* The access goes also when the NIC could not be removed: its port is detached. */
        copy->legacy_access = false;
        copy->legacy_refusal = mfree(copy->legacy_refusal);

        if (sd_bus_error_is_set(&e)) {
                if (asprintf(&text, "access revoked, but its legacy NIC stays: %s", e.message) < 0)
                        return -ENOMEM;
                r = grant_results_add(results, vm, GRANT_FAILED, e.name, text);
        } else {
                if (changed == 0 && !manager_inventory_manages_devices(m, vm))
                        r = manager_grant_text(m, vm, false, &text);
                else if (changed == 0)
                        r = asprintf(&text, "access revoked (the domain had no legacy NIC of the service)");
                else if (!live && vm->power_state != VM_POWER_OFF)
                        r = asprintf(&text,
                                "legacy NIC %s removed from the domain's configuration: a running Generation 1 VM "
                                "keeps it until it stops (its port is detached now)",
                                VIRT_LEGACY_NIC_ALIAS);
                else
                        r = asprintf(&text, "legacy NIC %s removed from the domain%s%s%s",
                                VIRT_LEGACY_NIC_ALIAS,
                                sd_bus_error_is_set(&reread) ? " (its new facts could not be read: " : "",
                                strempty(reread.message), sd_bus_error_is_set(&reread) ? ")" : "");
                if (r < 0)
                        return -ENOMEM;
                r = grant_results_add(results, vm, GRANT_REVOKED, NULL, text);
        }
        if (r >= 0 && ret_last && results && results->n > 0)
                *ret_last = &results->items[results->n - 1];
        return r;
}

/* One call: the change it stages, the domains it changed on the way and where it says what it
 * did VM by VM (its own list when the caller wants none). A call that ends before its commit
 * (out of memory half way) puts the domains it changed back as they were. */
typedef struct GrantCall {
        Manager *manager;
        Change change;
        NicChanges nics;
        GrantResults own;
        GrantResults *results;
        bool settled; /* committed, or the domains put back */
} GrantCall;

static void grant_call_init(Manager *m, GrantCall *g, GrantResults *results) {
        g->manager = m;
        change_init(m, &g->change);
        g->results = results ?: &g->own;
}

static void grant_call_done(GrantCall *g) {
        if (g->manager && !g->settled)
                undo_nics(g->manager, &g->nics);
        change_done(&g->change);
        nic_changes_done(&g->nics);
        grant_results_done(&g->own);
}

/* grant_one() or revoke_one() for vm in the call; *ret_last as theirs (NULL when none). */
static int grant_call_one(Manager *m, GrantCall *g, Vm *vm, bool grant, const GrantResult **ret_last) {
        *ret_last = NULL;
        return grant ? grant_one(m, &g->change, vm, g->results, &g->nics, ret_last)
                     : revoke_one(m, &g->change, vm, g->results, &g->nics, ret_last);
}

/* The call ends without its change: its domains are put back as they were, now. */
static void grant_call_settle(Manager *m, GrantCall *g) {
        if (!g->settled)
                undo_nics(m, &g->nics);
        g->settled = true;
}

/* Commits the call's change; when it cannot be, its domains are put back as they were. */
static int grant_call_commit(Manager *m, GrantCall *g, sd_bus_error *error) {
        int r;

        r = manager_commit(m, &g->change, error);
        if (r < 0)
                grant_call_settle(m, g);
        g->settled = true;
        return r;
}

int manager_set_legacy_support(Manager *m, bool enable, uint64_t flags, char ***ret_granted,
        GrantResults *results, sd_bus_error *error) {
        _cleanup_(grant_call_done) GrantCall g = {};
        _cleanup_strv_free_ char **granted = NULL;
        int r;

        assert(m);

        grant_call_init(m, &g, results);
        g.change.legacy_support = enable;

        /* The network first: if it cannot be built (or removed), nothing changes. The VMs that
         * had access already get their ports now; the ones this call grants access to get
         * theirs when the change is committed. */
        r = enable ? manager_legacy_setup(m, m->vms, m->n_vms, error) : manager_legacy_teardown(m, error);
        if (r < 0)
                return r;

        /* On: every VM that exists now gets its legacy access, as on Azure Stack HCI; each that
         * cannot is named with the reason. Off with LEGACY_REMOVE_VMS: every VM loses it. */
        for (size_t i = 0; i < m->n_vms && (enable || (flags & LEGACY_REMOVE_VMS)); i++) {
                const GrantResult *last;

                r = grant_call_one(m, &g, m->vms[i], enable, &last);
                if (r >= 0 && last && last->outcome == GRANT_GRANTED && strv_extend(&granted, last->id) < 0)
                        r = -ENOMEM;
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = grant_call_commit(m, &g, error);
        if (r < 0) {
                /* The domains first (a NIC added back gets its port when the network is
                 * rebuilt), then the network the way the unchanged state says: m->legacy_support,
                 * not the opposite of enable, since turning it on while on (or off while off) is
                 * allowed and must not take the network down when it fails. */
                grant_call_settle(m, &g);
                if (m->legacy_support)
                        (void)manager_legacy_setup(m, m->vms, m->n_vms, NULL);
                else
                        (void)manager_legacy_teardown(m, NULL);
                return r;
        }
        manager_legacy_check(m);
        if (ret_granted)
                *ret_granted = TAKE_PTR(granted);
        return 0;
}

int manager_set_vm_access(Manager *m, Vm *target, bool enable, GrantResults *results, sd_bus_error *error) {
        _cleanup_(grant_call_done) GrantCall g = {};
        int r;

        assert(m);

        grant_call_init(m, &g, results);
        for (size_t i = 0; i < m->n_vms; i++) {
                const GrantResult *last;

                if (target && m->vms[i] != target)
                        continue;
                r = grant_call_one(m, &g, m->vms[i], enable, &last);
                if (r < 0)
                        return r;
                /* One VM asked for: its refusal is the answer, and nothing changes. */
                if (target && last && last->outcome == GRANT_REFUSED)
                        return sd_bus_error_set(error, last->error_name, last->message);
                if (target && last && last->outcome == GRANT_FAILED && enable)
                        return sd_bus_error_set(error, last->error_name, last->message);
        }

        r = grant_call_commit(m, &g, error);
        if (r < 0)
                return r;
        manager_legacy_check(m);
        return 0;
}
