/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "fault.h"
#include "inventory-domains.h"
#include "log.h"
#include "manager-change.h"
#include "manager.h"
#include "strv.h"
#include "time-util.h"
#include "virt-dlopen.h"
#include "virt-domain.h"

static const char *last_error(void) {
        return sym_virGetLastErrorMessage();
}

static bool last_error_is_no_domain(void) {
        return sym_virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
}

static GuestAgentEntry *agent_find(InventoryDomains *p, const char *id) {
        for (size_t i = 0; i < p->n_agents; i++)
                if (streq(p->agents[i].id, id))
                        return &p->agents[i];
        return NULL;
}

/* The domain's entry, added empty when it has none. */
static int agent_get(InventoryDomains *p, const char *id, GuestAgentEntry **ret) {
        GuestAgentEntry *e = agent_find(p, id);

        if (!e) {
                GuestAgentEntry *a = reallocarray(p->agents, p->n_agents + 1, sizeof(GuestAgentEntry));

                if (!a)
                        return -ENOMEM;
                p->agents = a;
                e = &p->agents[p->n_agents++];
                *e = (GuestAgentEntry){};
                snprintf(e->id, sizeof(e->id), "%s", id);
        }
        *ret = e;
        return 0;
}

static void agent_forget(InventoryDomains *p, const char *id) {
        GuestAgentEntry *e = agent_find(p, id);

        if (!e)
                return;
        virt_guest_os_done(&e->os);
        *e = p->agents[--p->n_agents];
}

/* The agent did not answer: not asked again for a while (it would cost the loop the timeout
 * again on every event). */
static int backoff_start(InventoryDomains *p, const char *id) {
        GuestAgentEntry *e;
        int r;

        r = agent_get(p, id, &e);
        if (r < 0)
                return r;
        e->retry_after = now_usec(CLOCK_MONOTONIC) + INVENTORY_AGENT_BACKOFF_USEC;
        return 0;
}

static int typed_string(virTypedParameterPtr params, int n, const char *name, char **ret) {
        const char *v = NULL;

        if (sym_virTypedParamsGetString(params, n, name, &v) <= 0 || !v) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

/* Asks the guest agent for its OS info and remembers it. A guest that does not answer keeps
 * what it reported before. The call is synchronous on the only loop: the domain's agent timeout
 * (libvirt's, shared with its other clients) is set short first, since libvirt's default waits
 * for ever on an agent that answers guest-sync and nothing else. */
static int refresh_guest_os(InventoryDomains *p, virDomainPtr dom, const char *id) {
        _cleanup_(virt_guest_os_done) VirtGuestOs os = {};
        virTypedParameterPtr params = NULL;
        GuestAgentEntry *e;
        int n = 0, r;

        if (sym_virDomainAgentSetResponseTimeout(dom, INVENTORY_AGENT_TIMEOUT_SEC, 0) < 0) {
                log_info("Domain %s: cannot bound the guest agent's answer, not asking it: %s", id,
                        last_error());
                return backoff_start(p, id);
        }
        if (sym_virDomainGetGuestInfo(dom, VIR_DOMAIN_GUEST_INFO_OS, &params, &n, 0) < 0) {
                log_info("Domain %s: the guest agent gave no OS info (asked again in %d min, or when it "
                         "reconnects): %s",
                        id, (int)(INVENTORY_AGENT_BACKOFF_USEC / USEC_PER_MINUTE), last_error());
                return backoff_start(p, id);
        }
        r = typed_string(params, n, "os.id", &os.id);
        if (r >= 0)
                r = typed_string(params, n, "os.name", &os.name);
        if (r >= 0)
                r = typed_string(params, n, "os.pretty-name", &os.pretty_name);
        if (r >= 0)
                r = typed_string(params, n, "os.version-id", &os.version_id);
        if (r >= 0)
                r = typed_string(params, n, "os.kernel-release", &os.kernel_release);
        if (r >= 0)
                r = typed_string(params, n, "os.kernel-version", &os.kernel_version);
        sym_virTypedParamsFree(params, n);
        if (r < 0)
                return r;
        /* libvirt 9.0 reports an agent timeout as success without any OS field: no answer. */
        if (!os.id && !os.name && !os.pretty_name && !os.version_id && !os.kernel_release &&
                !os.kernel_version) {
                log_info("Domain %s: the guest agent gave no OS info (asked again in %d min, or when it "
                         "reconnects): nothing reported in time.",
                        id, (int)(INVENTORY_AGENT_BACKOFF_USEC / USEC_PER_MINUTE));
                return backoff_start(p, id);
        }
        r = agent_get(p, id, &e);
        if (r < 0)
                return r;
        virt_guest_os_done(&e->os);
        e->os = os;
        os = (VirtGuestOs){};
        e->has_os = true;
        e->retry_after = 0;
        return 0;
}

/* The VM a domain maps to, or NULL in *ret when the domain is gone. */
int inventory_domains_read_vm(InventoryDomains *p, virDomainPtr dom, VirtAgentAsk ask, Vm **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *xml = NULL;
        char id[VIR_UUID_STRING_BUFLEN];
        GuestAgentEntry *e;
        int state, reason, r;

        *ret = NULL;
        if (sym_virDomainGetUUIDString(dom, id) < 0)
                return -EIO;
        if (sym_virDomainGetState(dom, &state, &reason, 0) < 0 || !(xml = sym_virDomainGetXMLDesc(dom, 0))) {
                if (last_error_is_no_domain())
                        return 0;
                log_warning("Domain %s: %s", id, last_error());
                return -EIO;
        }

        if (state == VIR_DOMAIN_RUNNING && sym_virDomainAgentSetResponseTimeout &&
                virt_domain_agent_connected(xml) > 0) {
                e = agent_find(p, id);
                if (virt_agent_should_ask(ask, e && e->has_os, e ? e->retry_after : 0,
                            now_usec(CLOCK_MONOTONIC))) {
                        r = refresh_guest_os(p, dom, id);
                        if (r < 0)
                                return r;
                }
        }
        e = agent_find(p, id); /* again: a query may have added it */

        r = virt_domain_to_vm(xml, virt_domain_power_state(state), e && e->has_os ? &e->os : NULL, ret,
                &warnings, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning("Domain %s cannot be a VM: %s", id, error.message);
                return -EINVAL;
        }
        STRV_FOREACH (w, warnings)
                log_notice("Domain '%s' (%s): %s", (*ret)->name, id, *w);
        (*ret)->source = VM_SOURCE_LIBVIRT;
        return 0;
}

/* Whether two VMs have the same facts: nothing to commit. */
static bool vm_same(const Vm *a, const Vm *b) {
        _cleanup_strv_free_ char **changed = NULL;

        if (a->source != b->source || vm_changed_properties(a, b, &changed) < 0)
                return false;
        return !changed;
}

/* The keys that identify a guest: its CID and its legacy port (the tap and the MAC bound to it). */
static bool key_identifies(VmKey k) {
        return k == VM_KEY_VSOCK_CID || k == VM_KEY_LEGACY_MAC || k == VM_KEY_LEGACY_INTERFACE;
}

static void forget_identity(Vm *vm) {
        vm->vsock_cid = 0;
        vm->legacy_interface = mfree(vm->legacy_interface);
        vm->legacy_mac = mfree(vm->legacy_mac);
}

static void forget_key(Vm *vm, VmKey k) {
        if (k == VM_KEY_VSOCK_CID)
                vm->vsock_cid = 0;
        else if (k == VM_KEY_LEGACY_INTERFACE)
                vm->legacy_interface = mfree(vm->legacy_interface);
        else if (k == VM_KEY_LEGACY_MAC)
                vm->legacy_mac = mfree(vm->legacy_mac);
}

/* vm shares keys that identify a guest with other VMs: nobody can tell which of them a request
 * with that CID or through that port comes from, so none is identified by them until the clash
 * is gone. Stages each other VM without its identity keys, and takes vm's away. */
static int stage_identity_clashes(InventoryDomains *p, Change *c, Vm *vm, const Vm *old) {
        Manager *m = p->manager;
        bool clashed = false;
        VmKey key;
        Vm *other, *copy;
        int r;

        while ((other = vm_indexes_find_clash(&m->index, vm, old, &key)) && key_identifies(key)) {
                log_warning(
                        "Domain '%s' (%s): its %s is also VM '%s''s: neither is identified by its CID or "
                        "legacy port until that is resolved.",
                        vm->name, vm->id, vm_key_to_string(key), other->name);
                r = change_replace_vm(m, c, other, &copy);
                if (r < 0)
                        return r;
                forget_identity(copy);
                forget_key(vm, key);
                clashed = true;
        }
        if (clashed)
                forget_identity(vm);
        return 0;
}

/* A domain whose new facts cannot be taken keeps its record, but not what identifies a guest:
 * those facts may be stale. */
static int forget_stale_identity(InventoryDomains *p, Vm *old) {
        _cleanup_(change_done) Change c = {};
        Vm *copy;
        int r;

        if (old->vsock_cid == 0 && !old->legacy_interface && !old->legacy_mac)
                return 0;
        change_init(p->manager, &c);
        r = change_replace_vm(p->manager, &c, old, &copy);
        if (r < 0)
                return r;
        forget_identity(copy);
        return manager_commit(p->manager, &c, NULL);
}

/* Puts the VM of a domain into a change: a replacement for the VM of the same id (keeping
 * its admin state), or an addition. Takes ownership of vm. A clash over a CID or legacy port
 * takes them from both VMs (stage_identity_clashes). Returns 0 when staged, 1 when there is
 * nothing to do, -EEXIST when vm clashes with another VM over its id or name (logged; its old
 * record, if any, keeps no identity keys). */
static int stage_vm(InventoryDomains *p, Change *c, Vm *vm) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(vm_freep) Vm *owned = vm;
        Manager *m = p->manager;
        Vm *old, *copy;
        int r;

        old = manager_find_vm_by_id(m, vm->id);
        if (old) {
                r = vm_copy_admin_state(vm, old);
                if (r < 0)
                        return r;
                if (vm_same(old, vm))
                        return 1;
                /* Whoever defines a domain chooses its UUID: a domain named like another VM's id
                 * takes its record, but not the access an admin granted to that other VM. */
                if (old->source != VM_SOURCE_LIBVIRT) {
                        log_warning(
                                "VM '%s' (%s) was registered by hand; libvirt's domain '%s' has it now%s.",
                                old->name, old->id, vm->name,
                                old->legacy_access ? ", without the legacy access granted to it" : "");
                        vm->legacy_access = false;
                }
        }
        r = stage_identity_clashes(p, c, vm, old);
        if (r < 0)
                return r;
        r = manager_check_unique(m, vm, old, &error);
        if (r < 0) {
                log_warning("Domain '%s' (%s) is not in the inventory: %s", vm->name, vm->id, error.message);
                if (old) {
                        r = forget_stale_identity(p, old);
                        if (r == -ENOMEM)
                                return r;
                }
                return -EEXIST;
        }
        if (!old)
                return change_add_vm(c, TAKE_PTR(owned));

        r = change_replace_vm(m, c, old, &copy);
        if (r < 0)
                return r;
        /* The change holds a copy of old: give it the new facts. */
        vm_swap(copy, vm);
        return 0;
}

static int commit(InventoryDomains *p, Change *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = manager_commit(p->manager, c, &error);
        if (r < 0)
                log_error_errno(r, "Failed to apply libvirt's inventory: %s", error.message ?: strerror(-r));
        return r;
}

static int remove_vm(InventoryDomains *p, const char *id) {
        _cleanup_(change_done) Change c = {};
        Vm *old = manager_find_vm_by_id(p->manager, id);

        agent_forget(p, id);
        if (!old || old->source != VM_SOURCE_LIBVIRT)
                return 0;
        change_init(p->manager, &c);
        c.remove = old;
        return commit(p, &c);
}

/* Brings one domain's VM up to date (or removes it when the domain is gone). */
int inventory_domains_refresh(InventoryDomains *p, virDomainPtr dom, VirtAgentAsk ask) {
        _cleanup_(change_done) Change c = {};
        char id[VIR_UUID_STRING_BUFLEN];
        Vm *vm;
        int r;

        if (sym_virDomainGetUUIDString(dom, id) < 0)
                return -EIO;
        r = inventory_domains_read_vm(p, dom, ask, &vm);
        if (r < 0)
                return r;
        if (!vm)
                return remove_vm(p, id);
        change_init(p->manager, &c);
        r = stage_vm(p, &c, vm);
        if (r != 0)
                return r == 1 ? 0 : r;
        return commit(p, &c);
}

static int compare_ids(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void vms_free(Vm **vms, size_t n) {
        for (size_t i = 0; vms && i < n; i++)
                vm_free(vms[i]);
        free(vms);
}

/* Updates the VMs of domains already in the inventory, one change each, twice: a clash in the
 * first round (a tap or CID moving from one domain to another) may be gone after it. */
static int reconcile_changed(InventoryDomains *p, Vm **vms, size_t n) {
        for (int round = 0; round < 2; round++) {
                size_t left = 0;

                for (size_t i = 0; i < n; i++) {
                        _cleanup_(change_done) Change c = {};
                        _cleanup_(vm_freep) Vm *keep = NULL;
                        int r;

                        if (round == 0) {
                                r = vm_copy(vms[i], &keep);
                                if (r < 0)
                                        return r;
                        }
                        change_init(p->manager, &c);
                        r = stage_vm(p, &c, TAKE_PTR(vms[i]));
                        if (r == -EEXIST) {
                                vms[left++] = TAKE_PTR(keep);
                                continue;
                        }
                        if (r < 0)
                                return r;
                        if (r == 0)
                                (void)commit(p, &c);
                }
                n = left;
        }
        return 0;
}

/* Adds the VMs of new domains at once (one state write for a thousand domains), leaving out
 * (logged) those that clash with the inventory or with each other. */
static int reconcile_new(InventoryDomains *p, Vm **vms, size_t n) {
        _cleanup_(vm_indexes_done) VmIndexes batch = {};
        _cleanup_(change_done) Change c = {};
        int r;

        vm_indexes_init(&batch);
        change_init(p->manager, &c);
        for (size_t i = 0; i < n; i++) {
                Vm *vm = TAKE_PTR(vms[i]), *other;
                VmKey key;

                other = vm_indexes_find_clash(&batch, vm, NULL, &key);
                if (other) {
                        log_warning(
                                "Domain '%s' (%s) is not in the inventory: its %s is also domain '%s''s.",
                                vm->name, vm->id, vm_key_to_string(key), other->name);
                        vm_free(vm);
                        continue;
                }
                r = stage_vm(p, &c, vm);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return r;
                r = vm_indexes_add(&batch, c.add[c.n_add - 1]);
                if (r < 0)
                        return r;
        }
        return c.n_add > 0 ? commit(p, &c) : 0;
}

/* The whole list: the VMs of domains gone removed first (so that their names, CIDs and MACs are
 * free for the others), then the changed ones updated, then the new ones added. */
int inventory_domains_reconcile(InventoryDomains *p, virConnectPtr conn) {
        _cleanup_strv_free_ char **seen = NULL, **gone = NULL;
        Vm **fresh = NULL, **changed = NULL;
        virDomainPtr *doms = NULL;
        Manager *m = p->manager;
        size_t n_seen = 0, n_fresh = 0, n_changed = 0;
        usec_t start = now_usec(CLOCK_MONOTONIC);
        int n, r = 0;

        n = sym_virConnectListAllDomains(conn, &doms, 0);
        if (n < 0) {
                log_warning("Failed to list libvirt's domains: %s", last_error());
                return -EIO;
        }
        fault_point("libvirt-listed");
        seen = calloc(n + 1, sizeof(char *));
        fresh = calloc(MAX(n, 1), sizeof(Vm *));
        changed = calloc(MAX(n, 1), sizeof(Vm *));
        if (!seen || !fresh || !changed) {
                r = -ENOMEM;
                goto finish;
        }

        for (int i = 0; i < n; i++) {
                char id[VIR_UUID_STRING_BUFLEN];
                Vm *vm;

                r = inventory_domains_read_vm(p, doms[i], VIRT_AGENT_IF_UNKNOWN, &vm);
                if (r == -ENOMEM)
                        goto finish;
                if (r == -EINVAL || (r >= 0 && !vm))
                        continue; /* cannot be a VM, or gone meanwhile */
                /* A domain that could not be read this time keeps its VM. */
                if (r < 0 && sym_virDomainGetUUIDString(doms[i], id) < 0)
                        continue;
                seen[n_seen] = strdup(r < 0 ? id : vm->id);
                if (!seen[n_seen]) {
                        vm_free(vm);
                        r = -ENOMEM;
                        goto finish;
                }
                n_seen++;
                if (r < 0)
                        continue;
                if (manager_find_vm_by_id(m, vm->id))
                        changed[n_changed++] = vm;
                else
                        fresh[n_fresh++] = vm;
        }
        qsort(seen, n_seen, sizeof(char *), compare_ids);

        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i]->source == VM_SOURCE_LIBVIRT &&
                        !bsearch(&m->vms[i]->id, seen, n_seen, sizeof(char *), compare_ids)) {
                        r = strv_extend(&gone, m->vms[i]->id);
                        if (r < 0)
                                goto finish;
                }
        STRV_FOREACH (id, gone)
                (void)remove_vm(p, *id);

        /* Both take the VMs they use out of the arrays; what is left is freed below. */
        r = reconcile_changed(p, changed, n_changed);
        if (r < 0)
                goto finish;
        r = reconcile_new(p, fresh, n_fresh);
        if (r < 0)
                goto finish;

        log_info("Reconciled %d libvirt domain(s) in %" PRIu64 " ms.", n,
                (now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_MSEC);

finish:
        vms_free(fresh, n_fresh);
        vms_free(changed, n_changed);
        for (int i = 0; i < n; i++)
                sym_virDomainFree(doms[i]);
        free(doms);
        return r;
}

void inventory_domains_done(InventoryDomains *p) {
        for (size_t i = 0; i < p->n_agents; i++)
                virt_guest_os_done(&p->agents[i].os);
        p->agents = mfree(p->agents);
        p->n_agents = 0;
}
