/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libvirt/libvirt.h>
#include <signal.h>
#include <libvirt/virterror.h>

#include "inventory-domains.h"
#include "inventory-libvirt.h"
#include "log.h"
#include "manager-inventory.h"
#include "manager.h"
#include "strv.h"
#include "time-util.h"
#include "virt-dlopen.h"
#include "virt-event.h"
#include "xml-dlopen.h"

#define RECONNECT_MIN_USEC (1 * USEC_PER_SEC)
#define RECONNECT_MAX_USEC (30 * USEC_PER_SEC)
/* How often a connected guest agent is asked again for its OS info (a guest that installs an
 * update reports its new build without any event). */
#define AGENT_REFRESH_USEC (5 * USEC_PER_MINUTE)
/* libvirt's keepalive: a probe every 5 s; the connection is closed when 3 more go unanswered
 * after the first (count + 1 intervals): a daemon that stops answering is given up after ~20 s. */
#define KEEPALIVE_INTERVAL 5
#define KEEPALIVE_COUNT    3

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

        InventoryDomains domains;
};

static void on_libvirt_error(void *userdata, virErrorPtr error) {
        (void)userdata;
        /* libvirt would print every error on stderr; the provider logs what matters itself. */
        log_debug("libvirt: %s", error && error->message ? error->message : "unknown error");
}

static const char *last_error(void) {
        return sym_virGetLastErrorMessage();
}

static void set_stale(InventoryLibvirt *p, const char *reason) {
        bool was = p->stale_reason;

        if (reason)
                log_warning("libvirt inventory (%s) is stale: %s", p->uri, reason);
        (void)free_and_strdup(&p->stale_reason, reason);
        if (was != !!reason)
                manager_inventory_stale_changed(p->manager);
}

static void on_domain_changed(virDomainPtr dom, InventoryLibvirt *p, VirtAgentAsk ask) {
        int r = inventory_domains_refresh(&p->domains, dom, ask);

        if (r == -ENOMEM)
                log_oom();
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        (void)conn;
        log_debug("libvirt: domain %s: lifecycle event %d/%d.", sym_virDomainGetName(dom), event, detail);
        on_domain_changed(dom, opaque, VIRT_AGENT_IF_UNKNOWN);
        return 0;
}

static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque) {
        (void)conn;
        log_debug("libvirt: domain %s: device %s added or removed.", sym_virDomainGetName(dom), alias);
        on_domain_changed(dom, opaque, VIRT_AGENT_IF_UNKNOWN);
}

static void on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque) {
        (void)conn;
        (void)reason;
        log_debug("libvirt: domain %s: guest agent %s.", sym_virDomainGetName(dom),
                state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED ? "connected"
                                                                                  : "disconnected");
        on_domain_changed(dom, opaque,
                state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED ? VIRT_AGENT_CONNECTED
                                                                                  : VIRT_AGENT_IF_UNKNOWN);
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque) {
        (void)conn;
        (void)type;
        log_debug("libvirt: domain %s: metadata %s changed.", sym_virDomainGetName(dom), strna(nsuri));
        on_domain_changed(dom, opaque, VIRT_AGENT_IF_UNKNOWN);
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
        r = inventory_domains_reconcile(&p->domains, p->conn);
        if (r < 0) {
                disconnect(p);
                set_stale(p, "the domain list could not be read.");
                return r;
        }
        log_info("libvirt inventory follows %s.", p->uri);
        p->reconnect_delay = 0;
        /* Closed during the reconcile (on_close set the reason): stale until on_lost reconnects. */
        if (!p->lost)
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
                on_domain_changed(dom, p, VIRT_AGENT_REFRESH);
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
        /* libvirt writes to its socket without MSG_NOSIGNAL and asks its users to ignore SIGPIPE: a
         * libvirtd gone in the middle of a call would otherwise kill the service (systemd's
         * IgnoreSIGPIPE= does it for the unit, not for a service started another way). */
        (void)signal(SIGPIPE, SIG_IGN);
        if (!sym_virDomainAgentSetResponseTimeout)
                log_notice("libvirt is older than 5.10 (no virDomainAgentSetResponseTimeout): guest agents "
                           "are not asked for OS info, since their answer could not be bounded.");

        p = calloc(1, sizeof(InventoryLibvirt));
        if (!p)
                return -ENOMEM;
        p->manager = m;
        p->domains.manager = m;
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
        inventory_domains_done(&p->domains);
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
        /* The drift check: never the agent (a stalled one would hold the loop), what is cached. */
        r = inventory_domains_refresh(&p->domains, dom, VIRT_AGENT_NEVER);
        sym_virDomainFree(dom);
        return r;
}

int inventory_libvirt_read_vm(InventoryLibvirt *p, virDomainPtr dom, Vm **ret) {
        assert(p);
        assert(dom);
        return inventory_domains_read_vm(&p->domains, dom, VIRT_AGENT_NEVER, ret);
}
