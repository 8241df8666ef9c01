/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "inventory-libvirt.h"
#include "log.h"
#include "manager-inventory.h"
#include "manager.h"
#include "strv.h"
#include "time-util.h"
#include "virt-dlopen.h"
#include "virt-domain.h"
#include "virt-event.h"
#include "xml-dlopen.h"

#define RECONNECT_MIN_USEC (1 * USEC_PER_SEC)
#define RECONNECT_MAX_USEC (30 * USEC_PER_SEC)
/* How often a connected guest agent is asked again for its OS info (a guest that installs an
 * update reports its new build without any event). */
#define AGENT_REFRESH_USEC (5 * USEC_PER_MINUTE)
/* libvirt's keepalive: a daemon that stops answering is given up after 5 s × 3 missed probes. */
#define KEEPALIVE_INTERVAL 5
#define KEEPALIVE_COUNT    3

/* The last OS info each domain's agent reported, by domain UUID. Kept while the agent is
 * away, so that OsName/OsVersion stay what was last observed. */
typedef struct GuestOsEntry {
        char id[VIR_UUID_STRING_BUFLEN];
        VirtGuestOs os;
} GuestOsEntry;

struct InventoryLibvirt {
        Manager *manager;
        char *uri;
        virConnectPtr conn;
        int callbacks[5];
        size_t n_callbacks;
        bool close_registered;

        char *stale_reason;         /* NULL while connected and reconciled */
        sd_event_source *lost;      /* handles a closed connection outside libvirt's callback */
        sd_event_source *reconnect; /* the next connection attempt */
        usec_t reconnect_delay;
        sd_event_source *agent_refresh; /* asks connected agents for their OS info again */

        GuestOsEntry *os;
        size_t n_os;
};

static void on_libvirt_error(void *userdata, virErrorPtr error) {
        (void)userdata;
        /* libvirt would print every error on stderr; the provider logs what matters itself. */
        log_debug("libvirt: %s", error && error->message ? error->message : "unknown error");
}

static const char *last_error(void) {
        return sym_virGetLastErrorMessage();
}

static bool last_error_is_no_domain(void) {
        return sym_virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
}

static void set_stale(InventoryLibvirt *p, const char *reason) {
        bool was = p->stale_reason;

        if (reason)
                log_warning("libvirt inventory (%s) is stale: %s", p->uri, reason);
        (void)free_and_strdup(&p->stale_reason, reason);
        if (was != !!reason)
                manager_inventory_stale_changed(p->manager);
}

static GuestOsEntry *os_find(InventoryLibvirt *p, const char *id) {
        for (size_t i = 0; i < p->n_os; i++)
                if (streq(p->os[i].id, id))
                        return &p->os[i];
        return NULL;
}

static void os_forget(InventoryLibvirt *p, const char *id) {
        GuestOsEntry *e = os_find(p, id);

        if (!e)
                return;
        virt_guest_os_done(&e->os);
        *e = p->os[--p->n_os];
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
 * what it reported before. */
static int refresh_guest_os(InventoryLibvirt *p, virDomainPtr dom, const char *id) {
        _cleanup_(virt_guest_os_done) VirtGuestOs os = {};
        virTypedParameterPtr params = NULL;
        GuestOsEntry *e;
        int n = 0, r;

        if (sym_virDomainGetGuestInfo(dom, VIR_DOMAIN_GUEST_INFO_OS, &params, &n, 0) < 0) {
                log_info("Domain %s: the guest agent gave no OS info: %s", id, last_error());
                return 0;
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

        e = os_find(p, id);
        if (!e) {
                GuestOsEntry *a = reallocarray(p->os, p->n_os + 1, sizeof(GuestOsEntry));

                if (!a)
                        return -ENOMEM;
                p->os = a;
                e = &p->os[p->n_os++];
                *e = (GuestOsEntry){};
                snprintf(e->id, sizeof(e->id), "%s", id);
        } else
                virt_guest_os_done(&e->os);
        e->os = os;
        os = (VirtGuestOs){};
        return 0;
}

/* The VM a domain maps to, or NULL in *ret when the domain is gone. ask_agent: query the
 * guest agent even if its OS info is known. */
static int domain_to_vm(InventoryLibvirt *p, virDomainPtr dom, bool ask_agent, Vm **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *xml = NULL;
        char id[VIR_UUID_STRING_BUFLEN];
        GuestOsEntry *e;
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

        if (state == VIR_DOMAIN_RUNNING && virt_domain_agent_connected(xml) > 0 &&
                (ask_agent || !os_find(p, id))) {
                r = refresh_guest_os(p, dom, id);
                if (r < 0)
                        return r;
        }
        e = os_find(p, id);

        r = virt_domain_to_vm(xml, virt_domain_power_state(state), e ? &e->os : NULL, ret, &warnings,
                &error);
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
static int stage_identity_clashes(InventoryLibvirt *p, Change *c, Vm *vm, const Vm *old) {
        Manager *m = p->manager;
        bool clashed = false;
        VmKey key;
        Vm *other, *copy;
        int r;

        while ((other = vm_indexes_find_clash(&m->index, vm, old, &key)) && key_identifies(key)) {
                log_warning(
                        "Domain '%s' (%s): its %s is also VM '%s''s: neither is identified by its CID or "
                        "legacy port until that is resolved.",
                        vm->name, vm->id, vm_key_to_property(key), other->name);
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
static int forget_stale_identity(InventoryLibvirt *p, Vm *old) {
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
static int stage_vm(InventoryLibvirt *p, Change *c, Vm *vm) {
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
                if (old->source != VM_SOURCE_LIBVIRT)
                        log_notice("VM '%s' (%s) was registered by hand; libvirt has it now.", old->name,
                                old->id);
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

static int commit(InventoryLibvirt *p, Change *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = manager_commit(p->manager, c, &error);
        if (r < 0)
                log_error_errno(r, "Failed to apply libvirt's inventory: %s", error.message ?: strerror(-r));
        return r;
}

static int remove_vm(InventoryLibvirt *p, const char *id) {
        _cleanup_(change_done) Change c = {};
        Vm *old = manager_find_vm_by_id(p->manager, id);

        os_forget(p, id);
        if (!old || old->source != VM_SOURCE_LIBVIRT)
                return 0;
        change_init(p->manager, &c);
        c.remove = old;
        return commit(p, &c);
}

/* Brings one domain's VM up to date (or removes it when the domain is gone). */
static int refresh_domain(InventoryLibvirt *p, virDomainPtr dom, bool ask_agent) {
        _cleanup_(change_done) Change c = {};
        char id[VIR_UUID_STRING_BUFLEN];
        Vm *vm;
        int r;

        if (sym_virDomainGetUUIDString(dom, id) < 0)
                return -EIO;
        r = domain_to_vm(p, dom, ask_agent, &vm);
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
static int reconcile_changed(InventoryLibvirt *p, Vm **vms, size_t n) {
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
static int reconcile_new(InventoryLibvirt *p, Vm **vms, size_t n) {
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
                                vm->name, vm->id, vm_key_to_property(key), other->name);
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
static int reconcile(InventoryLibvirt *p) {
        _cleanup_strv_free_ char **seen = NULL, **gone = NULL;
        Vm **fresh = NULL, **changed = NULL;
        virDomainPtr *doms = NULL;
        Manager *m = p->manager;
        size_t n_seen = 0, n_fresh = 0, n_changed = 0;
        usec_t start = now_usec(CLOCK_MONOTONIC);
        int n, r = 0;

        n = sym_virConnectListAllDomains(p->conn, &doms, 0);
        if (n < 0) {
                log_warning("Failed to list libvirt's domains: %s", last_error());
                return -EIO;
        }
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

                r = domain_to_vm(p, doms[i], false, &vm);
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

static void on_domain_changed(virDomainPtr dom, InventoryLibvirt *p, bool ask_agent) {
        int r = refresh_domain(p, dom, ask_agent);

        if (r == -ENOMEM)
                log_oom();
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        (void)conn;
        log_debug("libvirt: domain %s: lifecycle event %d/%d.", sym_virDomainGetName(dom), event, detail);
        on_domain_changed(dom, opaque, false);
        return 0;
}

static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque) {
        (void)conn;
        log_debug("libvirt: domain %s: device %s added or removed.", sym_virDomainGetName(dom), alias);
        on_domain_changed(dom, opaque, false);
}

static void on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque) {
        (void)conn;
        (void)reason;
        log_debug("libvirt: domain %s: guest agent %s.", sym_virDomainGetName(dom),
                state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED ? "connected"
                                                                                  : "disconnected");
        on_domain_changed(dom, opaque, state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED);
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque) {
        (void)conn;
        (void)type;
        log_debug("libvirt: domain %s: metadata %s changed.", sym_virDomainGetName(dom), strna(nsuri));
        on_domain_changed(dom, opaque, false);
}

static void disconnect(InventoryLibvirt *p);
static int schedule_reconnect(InventoryLibvirt *p);

static int on_lost(sd_event_source *s, void *userdata) {
        InventoryLibvirt *p = userdata;

        (void)s;
        p->lost = sd_event_source_disable_unref(p->lost);
        disconnect(p);
        (void)schedule_reconnect(p);
        return 0;
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        static const char *const reasons[] = {
                [VIR_CONNECT_CLOSE_REASON_ERROR] = "a connection error",
                [VIR_CONNECT_CLOSE_REASON_EOF] = "the daemon closed the connection",
                [VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "the daemon stopped answering keepalives",
                [VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by the client",
        };
        InventoryLibvirt *p = opaque;
        _cleanup_free_ char *why = NULL;

        (void)conn;
        if (asprintf(&why, "lost the connection: %s.",
                    reason >= 0 && (size_t)reason < ELEMENTSOF(reasons) ? reasons[reason]
                                                                        : "unknown reason") < 0)
                why = NULL;
        set_stale(p, why ?: "lost the connection.");
        /* Not from inside libvirt's callback: the connection is closed on the next iteration. */
        if (!p->lost && sd_event_add_defer(p->manager->event, &p->lost, on_lost, p) < 0)
                log_oom();
}

static void disconnect(InventoryLibvirt *p) {
        if (!p->conn)
                return;
        for (size_t i = 0; i < p->n_callbacks; i++)
                (void)sym_virConnectDomainEventDeregisterAny(p->conn, p->callbacks[i]);
        p->n_callbacks = 0;
        if (p->close_registered)
                (void)sym_virConnectUnregisterCloseCallback(p->conn, on_close);
        p->close_registered = false;
        (void)sym_virConnectClose(p->conn);
        p->conn = NULL;
}

static int connect_libvirt(InventoryLibvirt *p) {
        static const struct {
                int id;
                virConnectDomainEventGenericCallback cb;
        } events[] = {
                {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle)},
                {VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(on_device)},
                {VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(on_device)},
                {VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_agent)},
                {VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_metadata)},
        };
        _cleanup_free_ char *why = NULL;
        int r;

        assert(!p->conn);

        p->conn = sym_virConnectOpen(p->uri);
        if (!p->conn) {
                if (asprintf(&why, "cannot connect: %s", last_error()) < 0)
                        return -ENOMEM;
                set_stale(p, why);
                return -ECONNREFUSED;
        }
        if (sym_virConnectSetKeepAlive(p->conn, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT) < 0)
                log_notice("libvirt (%s): no keepalive: %s", p->uri, last_error());
        if (sym_virConnectRegisterCloseCallback(p->conn, on_close, p, NULL) >= 0)
                p->close_registered = true;
        for (size_t i = 0; i < ELEMENTSOF(events); i++) {
                int id = sym_virConnectDomainEventRegisterAny(p->conn, NULL, events[i].id, events[i].cb, p,
                        NULL);

                if (id < 0) {
                        if (asprintf(&why, "cannot subscribe to domain events: %s", last_error()) < 0)
                                return -ENOMEM;
                        disconnect(p);
                        set_stale(p, why);
                        return -EIO;
                }
                p->callbacks[p->n_callbacks++] = id;
        }

        /* Subscribed first, listed second: a change in between is seen twice, never missed. */
        r = reconcile(p);
        if (r < 0) {
                disconnect(p);
                set_stale(p, "the domain list could not be read.");
                return r;
        }
        log_info("libvirt inventory follows %s.", p->uri);
        p->reconnect_delay = 0;
        set_stale(p, NULL);
        return 0;
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        InventoryLibvirt *p = userdata;
        int r;

        (void)s;
        (void)usec;
        r = connect_libvirt(p);
        if (r == -ENOMEM)
                log_oom();
        if (r < 0)
                (void)schedule_reconnect(p);
        return 0;
}

static int schedule_reconnect(InventoryLibvirt *p) {
        int r;

        p->reconnect_delay = p->reconnect_delay == 0 ? RECONNECT_MIN_USEC
                                                     : MIN(p->reconnect_delay * 2, RECONNECT_MAX_USEC);
        log_info("Connecting to libvirt (%s) again in %" PRIu64 " s.", p->uri,
                p->reconnect_delay / USEC_PER_SEC);
        if (p->reconnect)
                return sd_event_source_set_time_relative(p->reconnect, p->reconnect_delay) < 0 ||
                                       sd_event_source_set_enabled(p->reconnect, SD_EVENT_ONESHOT) < 0
                               ? -EIO
                               : 0;
        r = sd_event_add_time_relative(p->manager->event, &p->reconnect, CLOCK_MONOTONIC, p->reconnect_delay,
                0, on_reconnect, p);
        if (r < 0)
                return log_error_errno(r, "Failed to schedule a reconnection to libvirt: %m");
        return 0;
}

static int on_agent_refresh(sd_event_source *s, uint64_t usec, void *userdata) {
        InventoryLibvirt *p = userdata;
        _cleanup_strv_free_ char **ids = NULL;

        (void)usec;
        (void)sd_event_source_set_time_relative(s, AGENT_REFRESH_USEC);
        if (!p->conn)
                return 0;
        /* The ids first: refreshing changes the manager's list. */
        for (size_t i = 0; i < p->manager->n_vms; i++) {
                Vm *vm = p->manager->vms[i];

                if (vm->source == VM_SOURCE_LIBVIRT && vm->data_exchange && strv_extend(&ids, vm->id) < 0)
                        return log_oom();
        }
        STRV_FOREACH (id, ids) {
                virDomainPtr dom = sym_virDomainLookupByUUIDString(p->conn, *id);

                if (!dom)
                        continue;
                on_domain_changed(dom, p, true);
                sym_virDomainFree(dom);
        }
        return 0;
}

int inventory_libvirt_new(Manager *m, const char *uri, InventoryLibvirt **ret) {
        _cleanup_(inventory_libvirt_freep) InventoryLibvirt *p = NULL;
        int r;

        assert(m);
        assert(ret);

        /* Loaded here, at start, only when the provider is configured (virt-dlopen.h). libxml2
         * first: opened after libvirt, which already loaded it as a dependency, glibc would queue
         * its old dependency list for a dlclose() that never comes (valgrind: definitely lost). */
        if (dlopen_libxml2() < 0 || dlopen_libvirt() < 0)
                return log_error_errno(-EOPNOTSUPP, "The libvirt inventory provider needs %s and %s.",
                        LIBVIRT_SONAME, LIBXML2_SONAME);
        r = virt_event_register(m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to hook libvirt into the event loop: %m");
        sym_virSetErrorFunc(NULL, on_libvirt_error);

        p = calloc(1, sizeof(InventoryLibvirt));
        if (!p)
                return -ENOMEM;
        p->manager = m;
        p->uri = strdup(uri ?: INVENTORY_LIBVIRT_DEFAULT_URI);
        p->stale_reason = strdup("not connected yet.");
        if (!p->uri || !p->stale_reason)
                return -ENOMEM;
        r = sd_event_add_time_relative(m->event, &p->agent_refresh, CLOCK_MONOTONIC, AGENT_REFRESH_USEC, 0,
                on_agent_refresh, p);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(p->agent_refresh, SD_EVENT_ON);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

InventoryLibvirt *inventory_libvirt_free(InventoryLibvirt *p) {
        if (!p)
                return NULL;
        disconnect(p);
        virt_event_release_pending();
        sd_event_source_disable_unref(p->lost);
        sd_event_source_disable_unref(p->reconnect);
        sd_event_source_disable_unref(p->agent_refresh);
        for (size_t i = 0; i < p->n_os; i++)
                virt_guest_os_done(&p->os[i].os);
        free(p->os);
        free(p->stale_reason);
        free(p->uri);
        return mfree(p);
}

int inventory_libvirt_start(InventoryLibvirt *p) {
        int r;

        assert(p);

        r = connect_libvirt(p);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return schedule_reconnect(p);
        return 0;
}

bool inventory_libvirt_stale(const InventoryLibvirt *p) {
        return !p || p->stale_reason;
}

const char *inventory_libvirt_stale_reason(const InventoryLibvirt *p) {
        return p ? p->stale_reason : NULL;
}

virConnectPtr inventory_libvirt_connection(InventoryLibvirt *p) {
        return p ? p->conn : NULL;
}

int inventory_libvirt_refresh_vm(InventoryLibvirt *p, const char *id) {
        virDomainPtr dom;
        int r;

        assert(p);
        assert(id);

        if (!p->conn)
                return 0;
        dom = sym_virDomainLookupByUUIDString(p->conn, id);
        if (!dom)
                return 0; /* gone: its lifecycle event removes it */
        r = refresh_domain(p, dom, false);
        sym_virDomainFree(dom);
        return r;
}

int inventory_libvirt_read_vm(InventoryLibvirt *p, virDomainPtr dom, Vm **ret) {
        assert(p);
        assert(dom);
        return domain_to_vm(p, dom, false, ret);
}
