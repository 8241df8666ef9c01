/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The daemon's connection to the system bus: opening it, the read budget of the inventory
 * readers, and connecting again (with backoff) and taking the name back when the bus goes away. */

#include <systemd/sd-daemon.h>

#include "bus-names.h"
#include "direct-socket.h"
#include "log.h"
#include "manager-bus.h"
#include "manager-connect.h"
#include "ratelimit.h"

/* After losing the bus: the first attempt to reach it again, and the longest pause between
 * two attempts (doubling in between). */
#define BUS_RECONNECT_FIRST_USEC (100 * USEC_PER_MSEC)
#define BUS_RECONNECT_MAX_USEC   (5 * USEC_PER_SEC)

static int manager_bus_schedule_reconnect(Manager *m);

static int on_bus_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        /* sd-bus has already failed every call still waiting for an answer on this connection
         * (polkit checks then deny, their callers being gone with the bus anyway). */
        log_warning(
                "Lost the connection to the system bus: the admin API is unreachable until the "
                "service is back on a bus; guests are still served on the frontend socket. Reconnecting.");
        (void)sd_notify(false, "STATUS=Lost the system bus; reconnecting. Guests are still served.");

        if (sd_bus_message_get_bus(message) == m->bus) {
                (void)sd_bus_detach_event(m->bus);
                m->bus = sd_bus_close_unref(m->bus);
        }
        /* The delay carries on from the last loss until the name is ours again, so that a bus
         * that takes the connection and drops it every time is not hammered. */
        return manager_bus_schedule_reconnect(m);
}

/* Whole-inventory reads (GetManagedObjects) by users other than root and the service's: each
 * costs one unit per object, and each user may spend INVENTORY_READ_RATE units per second
 * (INVENTORY_READ_BURST at once). With 10,000 VMs that is three reads at once, then one
 * every 5 s: a reader that keeps asking cannot keep the service serialising the inventory
 * instead of signing guests' documents. Over the budget the call fails with LimitsExceeded. */
#define INVENTORY_READ_RATE  2000U
#define INVENTORY_READ_BURST 30000U

int manager_charge_inventory_read(Manager *m, sd_bus_message *message, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *member = strna(sd_bus_message_get_member(message));
        char key[16];
        usec_t wait;
        uid_t uid;
        int r;

        assert(m);
        assert(message);

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                /* Gone, or not answering: not served (a caller that hangs up at once could
                 * otherwise repeat the read at no cost). */
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                        "Cannot identify the caller of %s: %s", member, strerror(-r));
        if (uid == 0 || uid == geteuid() || !m->inventory_reads)
                return 0;

        (void)snprintf(key, sizeof key, "%u", (unsigned)uid);
        r = ratelimit_check_n(m->inventory_reads, key, (unsigned)MIN(m->n_vms + 1, (size_t)UINT_MAX),
                now_usec(CLOCK_MONOTONIC), &wait);
        if (r != 0) /* allowed (or out of memory: then rather serve than refuse) */
                return 0;

        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                "Too many inventory reads: user %u may read %u objects per second (%u at once); "
                "%s again in %" PRIu64 ".%01" PRIu64 " s.",
                (unsigned)uid, INVENTORY_READ_RATE, INVENTORY_READ_BURST, member, wait / USEC_PER_SEC,
                (wait % USEC_PER_SEC) / (USEC_PER_SEC / 10));
}

static int inventory_read_filter(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Manager *m = userdata;
        int r;

        if (!sd_bus_message_is_method_call(message, "org.freedesktop.DBus.ObjectManager",
                    "GetManagedObjects") ||
                !streq_ptr(sd_bus_message_get_path(message), BUS_PATH))
                return 0;
        if (!sd_bus_message_get_destination(message))
                return 0; /* a broadcast: sd-bus answers none */
        /* Refused here, not handed to sd-bus, which would build the whole inventory uncharged. */
        r = manager_charge_inventory_read(m, message, &error);
        if (r >= 0)
                return manager_reply_managed_objects(m, message);
        r = sd_bus_reply_method_error(message, &error);
        return r < 0 ? r : 1;
}

/* A new connection to the system bus ($DBUS_SYSTEM_BUS_ADDRESS), with the objects exported and
 * attached to the event loop below everything that serves guests (FRONTEND_PRIORITY_BUS). The
 * name is not requested yet. */
static int manager_bus_open(Manager *m) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        assert(m);
        assert(!m->bus);

        r = sd_bus_open_system_with_description(&bus, "system");
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, m);
        if (r < 0)
                return r;
        if (!m->inventory_reads) {
                r = ratelimit_new(INVENTORY_READ_RATE, INVENTORY_READ_BURST, 4096, &m->inventory_reads);
                if (r < 0)
                        return r;
        }
        r = sd_bus_add_filter(bus, NULL, inventory_read_filter, m);
        if (r < 0)
                return r;

        m->bus = TAKE_PTR(bus);
        r = manager_add_bus_objects(m);
        if (r >= 0)
                r = sd_bus_attach_event(m->bus, m->event, FRONTEND_PRIORITY_BUS);
        if (r < 0) {
                m->bus = sd_bus_flush_close_unref(m->bus);
                return r;
        }
        return 0;
}

static int on_name_reacquired(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const sd_bus_error *e;
        uint32_t ret;
        int r;

        if (sd_bus_message_get_bus(reply) != m->bus)
                return 0; /* lost again meanwhile: on_bus_disconnected() took over */

        e = sd_bus_message_get_error(reply);
        if (e) {
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED))
                        return 0; /* the bus went away again before it answered */
                r = sd_bus_error_get_errno(e);
        } else {
                r = sd_bus_message_read(reply, "u", &ret);
                if (r >= 0)
                        /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER, _ALREADY_OWNER */
                        r = ret == 1 || ret == 4 ? 0 : -EEXIST;
        }
        if (r < 0) {
                /* Without its name nobody can manage the service: leave, so that the service
                 * manager starts a fresh one (Restart=on-failure). */
                log_error_errno(r, "Failed to take back the bus name %s on the new system bus: %s", BUS_NAME,
                        e              ? e->message
                        : r == -EEXIST ? "another process owns it"
                                       : strerror(-r));
                return sd_event_exit(m->event, r);
        }

        log_info("Back on the system bus as %s.", BUS_NAME);
        m->bus_reconnect_delay = 0;
        (void)sd_notifyf(false, "STATUS=Serving %zu VM(s); server %s is %s.", m->n_vms, m->server_name,
                server_state_to_string(m->server_state));
        return 0;
}

static int on_bus_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        r = manager_bus_open(m);
        if (r >= 0)
                r = sd_bus_request_name_async(m->bus, NULL, BUS_NAME, 0, on_name_reacquired, m);
        if (r < 0) {
                m->bus = sd_bus_flush_close_unref(m->bus);
                log_debug_errno(r, "The system bus is not back yet: %m");
                return manager_bus_schedule_reconnect(m);
        }

        log_info("Reconnected to the system bus, asking for %s again.", BUS_NAME);
        return 0;
}

static int manager_bus_schedule_reconnect(Manager *m) {
        int r;

        assert(m);

        m->bus_reconnect_delay = m->bus_reconnect_delay == 0
                                         ? BUS_RECONNECT_FIRST_USEC
                                         : MIN(m->bus_reconnect_delay * 2, BUS_RECONNECT_MAX_USEC);
        if (m->bus_reconnect) {
                r = sd_event_source_set_time_relative(m->bus_reconnect, m->bus_reconnect_delay);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->bus_reconnect, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, &m->bus_reconnect, CLOCK_MONOTONIC,
                        m->bus_reconnect_delay, 0, on_bus_reconnect, m);
        if (r < 0) {
                log_error_errno(r, "Cannot schedule reconnecting to the system bus: %m");
                return sd_event_exit(m->event, r);
        }
        return 0;
}

int manager_connect_bus(Manager *m) {
        int r;

        assert(m);

        r = manager_bus_open(m);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        /* Synchronously, so that READY=1 is only sent once the name is ours. */
        r = sd_bus_request_name(m->bus, BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire the bus name %s: %m", BUS_NAME);

        return 0;
}
