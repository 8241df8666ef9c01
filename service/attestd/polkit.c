/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "log.h"
#include "polkit.h"

/* CheckAuthorizationFlags: AllowUserInteraction. */
#define POLKIT_CHECK_ALLOW_USER_INTERACTION 1U

/* How long polkit may take, including a person typing a password into an agent. */
#define POLKIT_TIMEOUT_USEC (UINT64_C(120) * 1000000)

typedef struct PolkitQuery PolkitQuery;

struct PolkitQuery {
        PolkitRegistry *registry;
        sd_bus_message *request;
        sd_bus_slot *slot;
        char *action;
        polkit_continuation_t continuation;
        void *userdata;
        PolkitQuery *prev, *next;
};

struct PolkitRegistry {
        PolkitQuery *queries;
};

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;

        if (q->registry)
                LIST_REMOVE(q->registry->queries, q);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        free(q->action);
        return mfree(q);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitQuery *, polkit_query_free);

int polkit_registry_new(PolkitRegistry **ret) {
        assert(ret);

        *ret = calloc(1, sizeof(PolkitRegistry));
        return *ret ? 0 : -ENOMEM;
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *r) {
        if (!r)
                return NULL;
        while (r->queries)
                polkit_query_free(r->queries);
        return mfree(r);
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

                /* No polkit, or polkit failed: deny, never allow by default. */
                log_warning("Authorization check for %s failed, denying: %s (%s)", q->action, e->message,
                        e->name);
                return sd_bus_reply_method_errorf(request, SD_BUS_ERROR_ACCESS_DENIED,
                        "Authorization service unavailable: %s", e->message);
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

int polkit_authorize_async(PolkitRegistry *registry, sd_bus_message *m, const char *action,
        polkit_continuation_t continuation, void *userdata, sd_bus_error *error) {

        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(polkit_query_freep) PolkitQuery *q = NULL;
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

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->request = sd_bus_message_ref(m);
        q->continuation = continuation;
        q->userdata = userdata;
        q->action = strdup(action);
        if (!q->action)
                return -ENOMEM;

        r = sd_bus_message_new_method_call(sd_bus_message_get_bus(m), &call, "org.freedesktop.PolicyKit1",
                "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority",
                "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender,
                action, 0,
                sd_bus_message_get_allow_interactive_authorization(m) ? POLKIT_CHECK_ALLOW_USER_INTERACTION
                                                                      : 0,
                "");
        if (r < 0)
                return r;

        r = sd_bus_call_async(sd_bus_message_get_bus(m), &q->slot, call, polkit_reply_handler, q,
                POLKIT_TIMEOUT_USEC);
        if (r < 0)
                return r;

        q->registry = registry;
        LIST_PREPEND(registry->queries, q);
        q = NULL; /* the registry owns it now */
        return 1;
}
