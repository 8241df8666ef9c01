/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "imds-bus.h"
#include "log.h"
#include "time-util.h"

#define ATTEST_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct BusCall BusCall;
typedef struct Batch Batch;

/* How long to leave the direct socket alone after it failed, before trying it again. */
#define DIRECT_RETRY_USEC (30 * USEC_PER_SEC)
/* A direct connection still authenticating this long after connect() is not used for new calls:
 * the service accepted (or its socket's backlog did) but does not answer (stopped, its loop
 * stuck). sd-bus applies no call timeout before authentication ends, only its own 90 s. */
#define DIRECT_READY_USEC (1 * USEC_PER_SEC)

struct ImdsBusBackend {
        sd_event *event;
        char *service_socket;      /* the service's direct socket; NULL = the system bus only */
        sd_bus *direct;            /* peer-to-peer connection to azshci-attestd on it */
        bool direct_answered;      /* the service has answered on this direct connection */
        usec_t direct_since;       /* CLOCK_MONOTONIC of its connect() */
        usec_t direct_retry_after; /* CLOCK_MONOTONIC */
        sd_bus *system;            /* the system bus, when the direct socket is not there */
        bool logged_path;
        unsigned batch_max;     /* 1: one call per request */
        bool no_batch;          /* the service does not know AttestBatch: one call per request */
        sd_event_source *flush; /* sends what was queued during this turn of the loop */
        BusCall *queued, *queued_tail;
        unsigned n_queued;
};

/* A request from attest() until its done(): queued until the loop turns (so that the requests
 * that arrive together leave together), then sent alone (AttestForVersion, slot) or as one of
 * an AttestBatch (batch). */
struct BusCall {
        ImdsBusBackend *backend;
        sd_bus_slot *slot;
        Batch *batch;
        unsigned index; /* in batch */
        bool direct;
        sd_event_source *timeout; /* sent alone: ATTEST_TIMEOUT_USEC */
        ImdsAttestDone done;
        void *userdata;
        BusCall *prev, *next;                               /* in the queue */
        const char *transport, *peer, *nonce, *api_version; /* in strings */
        char strings[];
};

struct Batch {
        ImdsBusBackend *backend;
        sd_bus_slot *slot;
        sd_event_source *timeout; /* ATTEST_TIMEOUT_USEC */
        bool direct;
        bool dispatching; /* in on_batch_reply(): a cancel must not free the batch */
        unsigned n, n_live;
        BusCall *calls[]; /* NULL: cancelled */
};

static int on_flush(sd_event_source *s, void *userdata);

int imds_bus_backend_new(sd_event *event, const char *service_socket, unsigned batch_max,
        ImdsBusBackend **ret) {
        _cleanup_(imds_bus_backend_freep) ImdsBusBackend *b = NULL;
        int r;

        assert(event);
        assert(ret);

        b = calloc(1, sizeof(ImdsBusBackend));
        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(event);
        b->batch_max = MIN(MAX(batch_max, 1U), ATTEST_BATCH_MAX);
        r = sd_event_add_defer(event, &b->flush, on_flush, b);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(b->flush, SD_EVENT_OFF);
        (void)sd_event_source_set_description(b->flush, "attest-flush");
        if (!isempty(service_socket)) {
                b->service_socket = strdup(service_socket);
                if (!b->service_socket)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(b);
        return 0;
}

ImdsBusBackend *imds_bus_backend_free(ImdsBusBackend *b) {
        if (!b)
                return NULL;
        /* The HTTP server went first and cancelled every call: the queue is empty. */
        assert(!b->queued);
        sd_event_source_disable_unref(b->flush);
        /* Not flushed: every call was cancelled, and a connection still authenticating (the
         * service stopped) would block the flush for sd-bus's 90 s authentication timeout. */
        sd_bus_close_unref(b->direct);
        sd_bus_close_unref(b->system);
        sd_event_unref(b->event);
        free(b->service_socket);
        return mfree(b);
}

/* A peer-to-peer D-Bus connection on the service's socket: no dbus-daemon between us. The
 * service checks who we are (SO_PEERCRED) when it accepts. */
static int connect_direct(ImdsBusBackend *b) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int r;

        if (strlen(b->service_socket) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, b->service_socket);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, SUN_LEN(&sa)) < 0 && errno != EINPROGRESS)
                return -errno;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_fd(bus, fd, fd);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        (void)sd_bus_set_description(bus, "attestd-direct");
        r = sd_bus_attach_event(bus, b->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0) /* no flush when the loop exits: see imds_bus_backend_free() */
                r = sd_bus_set_close_on_exit(bus, false);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;

        b->direct = TAKE_PTR(bus);
        b->direct_answered = false;
        b->direct_since = now_usec(CLOCK_MONOTONIC);
        return 0;
}

static int connect_system(ImdsBusBackend *b) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_debug_errno(r, "Cannot connect to the system bus: %m");
        (void)sd_bus_set_description(bus, "attestd");
        r = sd_bus_attach_event(bus, b->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_set_close_on_exit(bus, false);
        if (r < 0)
                return r;
        b->system = TAKE_PTR(bus);
        return 0;
}

static void direct_failed(ImdsBusBackend *b, int error, const char *why) {
        log_full_errno(b->logged_path ? LOG_WARNING : LOG_INFO, error,
                "Direct connection to the service on %s %s (%m); using the system bus for the next %u s.",
                b->service_socket, why, (unsigned)(DIRECT_RETRY_USEC / USEC_PER_SEC));
        b->direct_retry_after = now_usec(CLOCK_MONOTONIC) + DIRECT_RETRY_USEC;
        b->logged_path = false;
}

/* Lets go of a connection that broke. Not closed: the calls still pending on it hold their own
 * references, get their error replies (NoReply) from it, and it goes with the last of them.
 * Closing it would drop them without a callback and leave their guests waiting for ever. */
static sd_bus *connection_drop(sd_bus *bus) {
        return sd_bus_unref(bus);
}

/* The connection for the next call: the direct one whenever the service's socket takes us,
 * else the system bus. Calls already sent finish on the connection they went out on. */
static int backend_pick(ImdsBusBackend *b, sd_bus **ret, bool *ret_direct) {
        int r;

        if (b->direct && sd_bus_is_open(b->direct) <= 0) {
                if (!b->direct_answered)
                        /* Closed before the service ever answered: refused (wrong user?) or
                         * the service died at once. Do not hammer it. */
                        direct_failed(b, -ECONNRESET, "was closed before any answer");
                b->direct = connection_drop(b->direct);
        }
        if (b->direct && sd_bus_is_ready(b->direct) <= 0 &&
                now_usec(CLOCK_MONOTONIC) >= b->direct_since + DIRECT_READY_USEC) {
                direct_failed(b, -ETIMEDOUT, "did not complete the authentication within 1 s");
                b->direct = connection_drop(b->direct);
        }
        if (!b->direct && b->service_socket && now_usec(CLOCK_MONOTONIC) >= b->direct_retry_after) {
                r = connect_direct(b);
                if (r < 0)
                        direct_failed(b, r, "failed");
        }
        if (b->direct) {
                *ret = b->direct;
                *ret_direct = true;
                return 0;
        }

        if (b->system && sd_bus_is_open(b->system) <= 0)
                b->system = connection_drop(b->system);
        if (!b->system) {
                r = connect_system(b);
                if (r < 0)
                        return r;
        }
        if (!b->logged_path) {
                log_info("Asking the service over the system bus.");
                b->logged_path = true;
        }
        *ret = b->system;
        *ret_direct = false;
        return 0;
}

/* Any answer from the service itself proves the direct connection works; a local error (the
 * connection closed, the call timed out) does not. */
static void note_answer(ImdsBusBackend *b, bool direct, sd_bus_message *m) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (direct && sd_bus_message_get_sender(m) == NULL && !b->direct_answered &&
                (!e || !sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED,
                               "org.freedesktop.DBus.Error.Timeout"))) {
                b->direct_answered = true;
                if (!b->logged_path) {
                        log_info("Asking the service directly on %s.", b->service_socket);
                        b->logged_path = true;
                }
        }
}

static void queue_remove(ImdsBusBackend *b, BusCall *call) {
        if (call->prev)
                call->prev->next = call->next;
        else
                b->queued = call->next;
        if (call->next)
                call->next->prev = call->prev;
        else
                b->queued_tail = call->prev;
        call->prev = call->next = NULL;
        b->n_queued--;
}

static void queue_append(ImdsBusBackend *b, BusCall *call) {
        call->prev = b->queued_tail;
        call->next = NULL;
        if (b->queued_tail)
                b->queued_tail->next = call;
        else
                b->queued = call;
        b->queued_tail = call;
        b->n_queued++;
        (void)sd_event_source_set_enabled(b->flush, SD_EVENT_ONESHOT);
}

static void call_free(BusCall *call) {
        sd_event_source_disable_unref(call->timeout);
        free(call);
}

static void call_fail(BusCall *call, int error) {
        call->done(call->userdata, error, NULL, NULL);
        call_free(call);
}

/* A call (or batch) got no answer in time: its reply slot goes. When it went out on the direct
 * connection and that never became ready (the service accepted but does not speak), the next
 * calls take the system bus. */
static void call_timed_out(ImdsBusBackend *b, sd_bus_slot **slot) {
        sd_bus *bus = sd_bus_slot_get_bus(*slot);

        log_debug("A call to the service got no answer within %u s.",
                (unsigned)(ATTEST_TIMEOUT_USEC / USEC_PER_SEC));
        if (bus && bus == b->direct && sd_bus_is_ready(bus) <= 0) {
                direct_failed(b, -ETIMEDOUT, "never completed the authentication");
                b->direct = connection_drop(b->direct);
        }
        /* Last: the slot may hold the last reference to bus. */
        *slot = sd_bus_slot_unref(*slot);
}

/* sd-bus times a call out only on a connection that is running: one still authenticating
 * waits for its 90 s authentication timeout. This timer bounds every call (and batch) by
 * ATTEST_TIMEOUT_USEC whatever the connection's state. */
static int arm_timeout(ImdsBusBackend *b, sd_event_source **ret, sd_event_time_handler_t handler,
        void *userdata) {
        int r;

        r = sd_event_add_time_relative(b->event, ret, CLOCK_MONOTONIC, ATTEST_TIMEOUT_USEC,
                250 * USEC_PER_MSEC, handler, userdata);
        if (r < 0)
                return log_debug_errno(r, "Cannot arm the call timeout: %m");
        (void)sd_event_source_set_description(*ret, "attest-timeout");
        return 0;
}

static int on_call_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        BusCall *call = userdata;

        call_timed_out(call->backend, &call->slot);
        call_fail(call, -ETIMEDOUT);
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BusCall *call = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *document = NULL;
        int r = 0;

        call->slot = sd_bus_slot_unref(call->slot);
        note_answer(call->backend, call->direct, m);
        if (sd_bus_message_is_method_error(m, NULL))
                call->done(call->userdata, 0, e && e->name ? e->name : SD_BUS_ERROR_FAILED, NULL);
        else {
                r = sd_bus_message_read(m, "s", &document);
                call->done(call->userdata, r < 0 ? r : 0, NULL, r < 0 ? NULL : document);
        }
        call_free(call);
        return 0;
}

/* A connection that broke since the last call: the next call starts over. */
static void send_failed(ImdsBusBackend *b, bool direct) {
        if (direct)
                b->direct = connection_drop(b->direct);
        else
                b->system = connection_drop(b->system);
}

static void send_single(ImdsBusBackend *b, BusCall *call) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus *bus;
        int r;

        r = backend_pick(b, &bus, &call->direct);
        if (r < 0)
                return call_fail(call, r);
        /* A direct connection has no bus to route by name. */
        r = sd_bus_message_new_method_call(bus, &m, call->direct ? NULL : BUS_NAME, BUS_PATH, BUS_INTERFACE,
                "AttestForVersion");
        if (r >= 0)
                r = sd_bus_message_append(m, "ssss", call->transport, call->peer, call->nonce,
                        call->api_version);
        if (r >= 0)
                r = sd_bus_call_async(bus, &call->slot, m, on_reply, call, ATTEST_TIMEOUT_USEC);
        if (r < 0) {
                send_failed(b, call->direct);
                return call_fail(call, r);
        }
        (void)arm_timeout(b, &call->timeout, on_call_timeout, call);
        log_debug("AttestForVersion(%s, %s, %s, %s) sent %s.", call->transport, call->peer, call->nonce,
                call->api_version, call->direct ? "on the direct socket" : "on the bus");
}

static Batch *batch_free(Batch *batch) {
        sd_event_source_disable_unref(batch->timeout);
        sd_bus_slot_unref(batch->slot);
        return mfree(batch);
}

/* Every request of the batch still waiting gets error, then the batch goes. */
static void batch_fail(Batch *batch, int error) {
        /* done() runs the HTTP server, which may cancel other calls of this batch. */
        batch->dispatching = true;
        for (unsigned i = 0; i < batch->n; i++) {
                BusCall *call = TAKE_PTR(batch->calls[i]);
                if (call)
                        call_fail(call, error);
        }
        batch_free(batch);
}

static int on_batch_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Batch *batch = userdata;

        call_timed_out(batch->backend, &batch->slot);
        batch_fail(batch, -ETIMEDOUT);
        return 0;
}

/* One (ayss) of an AttestBatch reply: 0 when there is none left. */
static int read_result(sd_bus_message *m, const void **ret_bytes, size_t *ret_size,
        const char **ret_error_name, const char **ret_error_message) {
        int r;

        r = sd_bus_message_enter_container(m, 'r', "ayss");
        if (r <= 0)
                return r == 0 ? -EBADMSG : r; /* fewer results than requests */
        r = sd_bus_message_read_array(m, 'y', ret_bytes, ret_size);
        if (r >= 0)
                r = sd_bus_message_read(m, "ss", ret_error_name, ret_error_message);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

/* Each request of the batch gets its own result: its document, or its own error. */
static void batch_deliver(Batch *batch, sd_bus_message *m) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r = 0;

        if (!e)
                r = sd_bus_message_enter_container(m, 'a', "(ayss)");
        for (unsigned i = 0; i < batch->n; i++) {
                const char *error_name = NULL, *error_message = NULL;
                _cleanup_free_ char *document = NULL;
                const void *bytes = NULL;
                size_t size = 0;
                BusCall *call;

                if (!e && r >= 0)
                        r = read_result(m, &bytes, &size, &error_name, &error_message);
                /* The document's bytes as the string done() takes. */
                if (r > 0 && size > 0 && !(document = strndup(bytes, size)))
                        r = -ENOMEM;
                call = batch->calls[i];
                if (!call)
                        continue; /* cancelled */
                batch->calls[i] = NULL;
                batch->n_live--;
                if (e)
                        call->done(call->userdata, 0, e->name ?: SD_BUS_ERROR_FAILED, NULL);
                else if (r < 0)
                        call->done(call->userdata, r, NULL, NULL);
                else if (!isempty(document))
                        call->done(call->userdata, 0, NULL, document);
                else {
                        if (!isempty(error_name))
                                log_debug("AttestForVersion(%s, %s, %s, %s) in a batch failed: %s: %s",
                                        call->transport, call->peer, call->nonce, call->api_version,
                                        error_name, strna(error_message));
                        call->done(call->userdata, 0, isempty(error_name) ? SD_BUS_ERROR_FAILED : error_name,
                                NULL);
                }
                call_free(call);
        }
}

static int on_batch_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Batch *batch = userdata;
        ImdsBusBackend *b = batch->backend;

        note_answer(b, batch->direct, m);
        if (sd_bus_message_is_method_error(m, SD_BUS_ERROR_UNKNOWN_METHOD) ||
                sd_bus_message_is_method_error(m, SD_BUS_ERROR_ACCESS_DENIED)) {
                /* A service (or a bus policy) from before AttestBatch: ask one request at a time
                 * from now on; each then gets its own answer. */
                log_info(
                        "The service does not take AttestBatch (%s): one AttestForVersion call per request.",
                        sd_bus_message_get_error(m)->name);
                b->no_batch = true;
                for (unsigned i = 0; i < batch->n; i++)
                        if (batch->calls[i]) {
                                batch->calls[i]->batch = NULL;
                                queue_append(b, TAKE_PTR(batch->calls[i]));
                        }
                batch->n_live = 0;
        } else {
                /* done() runs the HTTP server, which may cancel other calls of this batch. */
                batch->dispatching = true;
                batch_deliver(batch, m);
        }
        batch_free(batch);
        return 0;
}

/* Sends the first n queued calls as one AttestBatch. */
static void send_batch(ImdsBusBackend *b, unsigned n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Batch *batch;
        sd_bus *bus = NULL;
        bool direct = false;
        int r;

        batch = calloc(1, sizeof(Batch) + n * sizeof(BusCall *));
        if (!batch) {
                /* done() may cancel other queued calls: take them one at a time. */
                for (unsigned i = 0; i < n && b->queued; i++) {
                        BusCall *call = b->queued;
                        queue_remove(b, call);
                        call_fail(call, -ENOMEM);
                }
                return;
        }
        *batch = (Batch){.backend = b, .n = n, .n_live = n};
        for (unsigned i = 0; i < n; i++) {
                BusCall *call = b->queued;

                queue_remove(b, call);
                call->batch = batch;
                call->index = i;
                batch->calls[i] = call;
        }

        r = backend_pick(b, &bus, &direct);
        if (r < 0)
                bus = NULL;
        else {
                batch->direct = direct;
                r = sd_bus_message_new_method_call(bus, &m, direct ? NULL : BUS_NAME, BUS_PATH,
                        BUS_INTERFACE, "AttestBatch");
        }
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ssss)");
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                BusCall *call = batch->calls[i];

                call->direct = direct;
                r = sd_bus_message_append(m, "(ssss)", call->transport, call->peer, call->nonce,
                        call->api_version);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_call_async(bus, &batch->slot, m, on_batch_reply, batch, ATTEST_TIMEOUT_USEC);
        if (r < 0) {
                if (bus)
                        send_failed(b, direct);
                return batch_fail(batch, r);
        }
        (void)arm_timeout(b, &batch->timeout, on_batch_timeout, batch);
        log_debug("AttestBatch of %u requests sent %s.", n, direct ? "on the direct socket" : "on the bus");
}

/* Once per turn of the loop that queued calls: whatever arrived together leaves in one message
 * (several per message only when more than one is waiting, so a lone request waits for no
 * other). */
static int on_flush(sd_event_source *s, void *userdata) {
        ImdsBusBackend *b = userdata;

        while (b->queued) {
                if (b->n_queued == 1 || b->no_batch || b->batch_max == 1) {
                        BusCall *call = b->queued;

                        queue_remove(b, call);
                        send_single(b, call);
                } else
                        send_batch(b, MIN(b->n_queued, b->batch_max));
        }
        return 0;
}

static int bus_attest(void *data, const char *transport, const char *peer, const char *nonce,
        const char *api_version, ImdsAttestDone done, void *userdata, void **ret_handle) {
        size_t lt = strlen(transport) + 1, lp = strlen(peer) + 1, ln = strlen(nonce) + 1,
               la = strlen(api_version) + 1;
        ImdsBusBackend *b = data;
        BusCall *call;

        /* Sent when the loop turns, after the caller's strings are gone: copied, in one block. */
        call = malloc(sizeof(BusCall) + lt + lp + ln + la);
        if (!call)
                return -ENOMEM;
        *call = (BusCall){.backend = b, .done = done, .userdata = userdata};
        call->transport = memcpy(call->strings, transport, lt);
        call->peer = memcpy(call->strings + lt, peer, lp);
        call->nonce = memcpy(call->strings + lt + lp, nonce, ln);
        call->api_version = memcpy(call->strings + lt + lp + ln, api_version, la);
        queue_append(b, call);
        *ret_handle = call;
        return 0;
}

static void bus_cancel(void *data, void *handle) {
        ImdsBusBackend *b = data;
        BusCall *call = handle;
        Batch *batch;

        if (!call)
                return;
        batch = call->batch;
        if (batch) {
                batch->calls[call->index] = NULL;
                /* The last request of a batch gone: nobody waits for its reply any more. */
                if (--batch->n_live == 0 && !batch->dispatching)
                        batch_free(batch);
        } else if (call->slot)
                sd_bus_slot_unref(call->slot);
        else
                queue_remove(b, call);
        call_free(call);
}

void imds_bus_backend_fill(ImdsBusBackend *b, ImdsBackend *ret) {
        assert(b);
        assert(ret);
        *ret = (ImdsBackend){.attest = bus_attest, .cancel = bus_cancel, .data = b};
}
