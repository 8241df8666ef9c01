/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <stdio.h>

#include "log.h"
#include "polkit.h"

/* CheckAuthorizationFlags: AllowUserInteraction. */
#define POLKIT_CHECK_ALLOW_USER_INTERACTION 1U

typedef struct PolkitQuery PolkitQuery;

struct PolkitQuery {
        PolkitRegistry *registry;
        sd_bus_message *request;
        sd_bus_slot *slot;       /* the pending CheckAuthorization */
        sd_bus_slot *match_slot; /* NameOwnerChanged of the caller */
        char *action;
        char *sender;
        char cancel_id[32];
        uid_t uid;
        polkit_continuation_t continuation;
        void *userdata;
        PolkitQuery *prev, *next;
};

struct PolkitRegistry {
        PolkitQuery *queries;
        uint64_t next_id; /* for the cancellation ids */
};

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;

        if (q->registry)
                LIST_REMOVE(q->registry->queries, q);
        sd_bus_slot_unref(q->slot);
        sd_bus_slot_unref(q->match_slot);
        sd_bus_message_unref(q->request);
        free(q->action);
        free(q->sender);
        return mfree(q);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitQuery *, polkit_query_free);

/* Asks polkit to drop the check (and close the agent's dialog), then forgets the query
 * without running its continuation and without replying: the caller is gone, or we are. */
static void polkit_query_cancel(PolkitQuery *q, const char *why) {
        int r;

        assert(q);

        log_info("Cancelling the authorization check %s for %s by %s: %s", q->cancel_id, q->action,
                q->sender, why);
        r = sd_bus_call_method_async(sd_bus_message_get_bus(q->request), NULL, "org.freedesktop.PolicyKit1",
                "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority",
                "CancelCheckAuthorization", NULL, NULL, "s", q->cancel_id);
        if (r < 0)
                log_debug_errno(r, "Could not ask polkit to cancel %s, ignoring: %m", q->cancel_id);
        polkit_query_free(q);
}

int polkit_registry_new(PolkitRegistry **ret) {
        assert(ret);

        *ret = calloc(1, sizeof(PolkitRegistry));
        return *ret ? 0 : -ENOMEM;
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *r) {
        if (!r)
                return NULL;
        while (r->queries)
                polkit_query_cancel(r->queries, "the service stops");
        return mfree(r);
}

usec_t polkit_check_timeout_usec(bool interactive) {
        return interactive ? POLKIT_TIMEOUT_INTERACTIVE_USEC : POLKIT_TIMEOUT_USEC;
}

int polkit_check_failed(const char *name, const char *message, const char *action, sd_bus_error *error) {
        assert(action);

        /* Our own timeout (sd-bus says NoReply) or the bus's: nobody said yes in time. */
        if (name && (streq(name, SD_BUS_ERROR_NO_REPLY) || streq(name, SD_BUS_ERROR_TIMEOUT)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                        "Authorization was not given in time for %s.", action);
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Authorization service unavailable: %s",
                strna(message));
}

int polkit_admit(size_t pending_total, size_t pending_caller, sd_bus_error *error) {
        if (pending_caller >= POLKIT_QUERIES_PER_CALLER_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                        "Too many authorization requests pending for this user (at most %u); "
                        "answer or cancel one first.",
                        POLKIT_QUERIES_PER_CALLER_MAX);
        if (pending_total >= POLKIT_QUERIES_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                        "Too many authorization requests pending (at most %u); try again later.",
                        POLKIT_QUERIES_MAX);
        return 0;
}

static int reply_from_continuation(sd_bus_message *request, int r, sd_bus_error *error) {
        if (r >= 0)
                return r;
        if (sd_bus_error_is_set(error))
                return sd_bus_reply_method_error(request, error);
        return sd_bus_reply_method_errno(request, r, NULL);
}

static int polkit_reply_handler(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(polkit_query_freep) PolkitQuery *q = userdata;
        int authorized = 0, challenge = 0, r;
        sd_bus_message *request = q->request;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                /* No polkit, polkit failed, or no answer in time: deny, never allow by default. */
                log_warning("Authorization check for %s failed, denying: %s (%s)", q->action, e->message,
                        e->name);
                (void)polkit_check_failed(e->name, e->message, q->action, &error);
                return sd_bus_reply_method_error(request, &error);
        }

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                log_warning_errno(r, "Malformed reply from polkit for %s, denying: %m", q->action);
                return sd_bus_reply_method_errorf(request, SD_BUS_ERROR_ACCESS_DENIED,
                        "Malformed answer from the authorization service.");
        }

        if (!authorized) {
                if (challenge && !sd_bus_message_get_allow_interactive_authorization(request))
                        return sd_bus_reply_method_errorf(request,
                                SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                "Interactive authentication required for %s.", q->action);
                return sd_bus_reply_method_errorf(request, SD_BUS_ERROR_ACCESS_DENIED,
                        "Not authorized to perform %s.", q->action);
        }

        r = sd_bus_message_rewind(request, true);
        if (r < 0)
                return sd_bus_reply_method_errno(request, r, NULL);

        r = q->continuation(request, q->userdata, &error);
        return reply_from_continuation(request, r, &error);
}

static int polkit_caller_gone(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !isempty(new_owner))
                return 0;
        polkit_query_cancel(q, "the caller left the bus");
        return 0;
}

static void polkit_registry_count(const PolkitRegistry *registry, uid_t uid, size_t *ret_total,
        size_t *ret_caller) {
        size_t total = 0, caller = 0;

        for (const PolkitQuery *q = registry->queries; q; q = q->next) {
                total++;
                if (q->uid == uid)
                        caller++;
        }
        *ret_total = total;
        *ret_caller = caller;
}

/* Queues CheckAuthorization for q's sender and watches the sender: two calls on the bus. */
static int polkit_query_start(PolkitQuery *q, bool interactive) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_free_ char *match = NULL;
        sd_bus *bus = sd_bus_message_get_bus(q->request);
        int r;

        if (asprintf(&match,
                    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                    "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                    q->sender) < 0)
                return -ENOMEM;
        r = sd_bus_add_match_async(bus, &q->match_slot, match, polkit_caller_gone, NULL, q);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority",
                "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", q->sender,
                q->action, 0, interactive ? POLKIT_CHECK_ALLOW_USER_INTERACTION : 0, q->cancel_id);
        if (r < 0)
                return r;

        return sd_bus_call_async(bus, &q->slot, call, polkit_reply_handler, q,
                polkit_check_timeout_usec(interactive));
}

int polkit_authorize_async(PolkitRegistry *registry, sd_bus_message *m, const char *action,
        polkit_continuation_t continuation, void *userdata, sd_bus_error *error) {

        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(polkit_query_freep) PolkitQuery *q = NULL;
        size_t pending_total, pending_caller;
        const char *sender;
        uid_t uid;
        int r;

        assert(registry);
        assert(m);
        assert(action);
        assert(continuation);

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;

        if (uid == 0 || uid == geteuid()) {
                r = sd_bus_message_rewind(m, true);
                if (r < 0)
                        return r;
                return continuation(m, userdata, error);
        }

        sender = sd_bus_message_get_sender(m);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Caller has no bus name.");

        /* Each pending check holds one of the replies dbus-daemon lets us wait for at once:
         * refuse the surplus before asking polkit, so one user cannot use them all up. */
        polkit_registry_count(registry, uid, &pending_total, &pending_caller);
        r = polkit_admit(pending_total, pending_caller, error);
        if (r < 0) {
                log_notice("Refusing an authorization check for %s by %s (uid %u): %s", action, sender,
                        (unsigned)uid, error->message);
                return r;
        }

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->request = sd_bus_message_ref(m);
        q->continuation = continuation;
        q->userdata = userdata;
        q->uid = uid;
        q->action = strdup(action);
        q->sender = strdup(sender);
        if (!q->action || !q->sender)
                return -ENOMEM;
        (void)snprintf(q->cancel_id, sizeof(q->cancel_id), "azshci-%" PRIu64, ++registry->next_id);

        r = polkit_query_start(q, sd_bus_message_get_allow_interactive_authorization(m));
        if (r < 0)
                return r;

        q->registry = registry;
        LIST_PREPEND(registry->queries, q);
        q = NULL; /* the registry owns it now */
        return 1;
}
