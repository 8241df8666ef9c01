/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <linux/vm_sockets.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "imds-http.h"
#include "imds-request.h"
#include "log-throttle.h"
#include "log.h"
#include "mhd-event.h"
#include "ratelimit.h"

typedef struct ImdsRequestCtx ImdsRequestCtx;
typedef struct ImdsConn ImdsConn;

/* Rejections beyond the per-peer limit are logged at notice level at most this often (the
 * rest at debug level): a guest opening connections in a loop must not flood the journal. */
/* What a peer's connections or requests make the frontend log (over its limit, not
 * identified) is logged at info or notice level at most this often, the rest at debug level. */
#define NOTICE_INTERVAL_USEC (10 * USEC_PER_SEC)

struct ImdsHttp {
        sd_event *event;
        MhdEvent *mhd;
        sd_event_source *idle;
        ImdsHttpOptions options;
        usec_t request_timeout;
        RateLimit *ratelimit;
        unsigned n_connections;
        ImdsConn *connections;           /* every open connection with its state */
        ImdsRequestCtx *in_flight;       /* requests with a backend call running (suspended) */
        bool stopping;                   /* in imds_http_free(): no new backend calls */
        unsigned n_draining;             /* "shutting down" replies not yet sent */
        LogThrottle limit_notice;        /* "over its connection limit" */
        LogThrottle unidentified_notice; /* "cannot identify the peer" */
};

/* Per connection (MHD's socket context), from accept() to close: the peer's identity, looked
 * up once at accept (the same identity is counted for the per-peer limit and used for every
 * request of the connection), and the request deadline. */
struct ImdsConn {
        ImdsHttp *server;
        int fd;
        char *peer; /* NULL: not identified (error < 0) */
        int error;
        bool counted;              /* false: over the per-peer limit, being closed */
        sd_event_source *deadline; /* armed while a request is awaited */
        ImdsConn *prev, *next;
};

/* Per request (MHD's request context, created by the URI log callback). */
struct ImdsRequestCtx {
        ImdsHttp *server;
        struct MHD_Connection *connection;
        char *uri;
        bool started;
        void *call; /* backend handle while a call runs */
        bool have_reply;
        bool draining; /* counted in n_draining until its reply went out */
        ImdsReply reply;
        char *document; /* the body of a 200 answer */
        ImdsRequestCtx *prev, *next;
};

static void in_flight_remove(ImdsHttp *s, ImdsRequestCtx *c) {
        LIST_REMOVE(s->in_flight, c);
}

static void request_ctx_free(ImdsRequestCtx *c) {
        if (!c)
                return;
        if (c->call) {
                c->server->options.backend.cancel(c->server->options.backend.data, c->call);
                c->call = NULL;
                in_flight_remove(c->server, c);
        }
        if (c->draining)
                c->server->n_draining--;
        free(c->uri);
        free(c->document);
        free(c);
}

static void server_run(ImdsHttp *s);

static int update_idle(ImdsHttp *s) {
        if (!s->idle)
                return 0;
        if (s->n_connections > 0)
                return sd_event_source_set_enabled(s->idle, SD_EVENT_OFF);
        (void)sd_event_source_set_time_relative(s->idle, s->options.idle_exit);
        return sd_event_source_set_enabled(s->idle, SD_EVENT_ONESHOT);
}

static int on_idle(sd_event_source *es, uint64_t usec, void *userdata) {
        ImdsHttp *s = userdata;

        if (s->n_connections > 0)
                return 0;
        log_info("No connection for %" PRIu64 " s, exiting (socket activation starts us again).",
                s->options.idle_exit / USEC_PER_SEC);
        return sd_event_exit(s->event, 0);
}

static socklen_t sockaddr_len(const struct sockaddr *sa) {
        if (!sa)
                return 0;
        switch (sa->sa_family) {
        case AF_INET:
                return sizeof(struct sockaddr_in);
        case AF_INET6:
                return sizeof(struct sockaddr_in6);
        case AF_VSOCK:
                return sizeof(struct sockaddr_vm);
        default:
                return 0;
        }
}

/* Makes MHD close a connection: after shutdown() the socket reads EOF, which MHD handles as the
 * client going away (it closes the socket and reports the connection closed) the next time it
 * runs; the epoll event that shutdown() raises makes sure it runs. MHD has no call to close a
 * connection from outside a request. */
static void conn_drop(int fd) {
        if (fd >= 0)
                (void)shutdown(fd, SHUT_RDWR);
}

static int on_deadline(sd_event_source *es, uint64_t usec, void *userdata) {
        ImdsConn *c = userdata;
        ImdsHttp *s = c->server;

        log_info("A %s connection (peer %s) did not deliver a complete request within %" PRIu64
                 " s: closing it.",
                s->options.transport, c->peer ?: "unidentified", s->request_timeout / USEC_PER_SEC);
        conn_drop(c->fd);
        return 0;
}

/* Arms the request deadline from now (accept, or the end of the previous response). */
static void conn_arm_deadline(ImdsConn *c) {
        if (!c || !c->deadline)
                return;
        (void)sd_event_source_set_time_relative(c->deadline, c->server->request_timeout);
        (void)sd_event_source_set_enabled(c->deadline, SD_EVENT_ONESHOT);
}

static void conn_disarm_deadline(ImdsConn *c) {
        if (c && c->deadline)
                (void)sd_event_source_set_enabled(c->deadline, SD_EVENT_OFF);
}

unsigned imds_http_n_peer_connections(const ImdsHttp *s, const char *peer) {
        unsigned n = 0;

        assert(s);
        /* Linear: at most --max-connections entries, each compared once per accept. */
        for (const ImdsConn *c = s->connections; c; c = c->next)
                if (c->counted && streq_ptr(c->peer, peer))
                        n++;
        return n;
}

static void log_limit(ImdsHttp *s, const char *peer) {
        unsigned held;

        if (log_throttle_pass(&s->limit_notice, now_usec(CLOCK_MONOTONIC), &held))
                log_notice("%s peer %s already has %u connections (the per-peer limit): closing new ones%s.",
                        s->options.transport, peer ?: "unidentified", s->options.max_connections_per_peer,
                        held > 0 ? " (more rejections since the last notice)" : "");
        else
                log_debug("%s peer %s is over its connection limit: closing the new connection.",
                        s->options.transport, peer ?: "unidentified");
}

static ImdsConn *conn_free(ImdsConn *c) {
        ImdsHttp *s;

        if (!c)
                return NULL;
        s = c->server;
        LIST_REMOVE(s->connections, c);
        sd_event_source_disable_unref(c->deadline);
        free(c->peer);
        return mfree(c);
}

/* A new connection: identify its peer, enforce the per-peer limit, arm the request deadline.
 * Returns NULL only when out of memory; the connection is then closed at once. */
static ImdsConn *conn_new(ImdsHttp *s, struct MHD_Connection *connection) {
        const union MHD_ConnectionInfo *ci;
        const struct sockaddr *sa;
        ImdsConn *c;
        int r;

        ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof(ImdsConn));
        if (!c) {
                conn_drop(ci ? ci->connect_fd : -1);
                return NULL;
        }
        c->server = s;
        c->fd = ci ? ci->connect_fd : -1;
        LIST_PREPEND(s->connections, c);

        ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        sa = ci ? ci->client_addr : NULL;
        c->error = sa ? s->options.identify(s->options.identify_data, c->fd, sa, sockaddr_len(sa), &c->peer)
                      : -EADDRNOTAVAIL;
        if (c->error < 0) {
                c->peer = NULL;
                /* At debug level: every connection of an unidentifiable flood gets here. The
                 * 403 for a document request is logged at info level. */
                log_debug_errno(c->error, "Cannot identify the peer of a %s connection: %m",
                        s->options.transport);
        }

        if (s->options.max_connections_per_peer > 0 &&
                imds_http_n_peer_connections(s, c->peer) >= s->options.max_connections_per_peer) {
                log_limit(s, c->peer);
                conn_drop(c->fd);
                return c;
        }
        c->counted = true;

        r = sd_event_add_time_relative(s->event, &c->deadline, CLOCK_MONOTONIC, s->request_timeout,
                10 * USEC_PER_MSEC, on_deadline, c);
        if (r < 0) {
                log_warning_errno(r, "Cannot arm the request deadline of a %s connection, closing it: %m",
                        s->options.transport);
                conn_drop(c->fd);
        }
        return c;
}

static void notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
        enum MHD_ConnectionNotificationCode toe) {
        ImdsHttp *s = cls;

        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                s->n_connections++;
                *socket_context = conn_new(s, connection);
        } else {
                assert(s->n_connections > 0);
                s->n_connections--;
                *socket_context = conn_free(*socket_context);
        }
        (void)update_idle(s);
}

static ImdsConn *connection_conn(struct MHD_Connection *connection) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return ci ? ci->socket_context : NULL;
}

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *connection) {
        ImdsRequestCtx *c = calloc(1, sizeof(ImdsRequestCtx));

        if (!c)
                return NULL;
        c->server = cls;
        c->connection = connection;
        /* Bounded by the connection memory limit. */
        c->uri = strdup(uri);
        if (!c->uri)
                return mfree(c);
        return c;
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
        enum MHD_RequestTerminationCode toe) {
        request_ctx_free(*con_cls);
        *con_cls = NULL;
        /* Keep-alive: the next request must be complete within the deadline too. (A connection
         * that is closing now is freed before the deadline could fire.) */
        conn_arm_deadline(connection_conn(connection));
}

/* Queues reply with body (NULL: reply->body). With take, body is a malloc()ed string that the
 * response frees: a document is not copied again. */
static enum MHD_Result queue_reply_full(struct MHD_Connection *connection, const ImdsReply *reply,
        char *body, bool take) {
        struct MHD_Response *resp;
        enum MHD_Result r;
        char buf[16];

        if (!body)
                body = (char *)reply->body;
        resp = MHD_create_response_from_buffer(strlen(body), body,
                take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
        if (!resp) {
                if (take)
                        free(body);
                return MHD_NO;
        }
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, IMDS_CONTENT_TYPE) != MHD_YES ||
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
                (reply->allow_get &&
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET") != MHD_YES)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        if (reply->retry_after > 0) {
                snprintf(buf, sizeof buf, "%u", reply->retry_after);
                if (MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, buf) != MHD_YES) {
                        MHD_destroy_response(resp);
                        return MHD_NO;
                }
        }
        r = MHD_queue_response(connection, reply->status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result queue_reply(struct MHD_Connection *connection, const ImdsReply *reply,
        const char *body) {
        return queue_reply_full(connection, reply, (char *)body, false);
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        imds_request_add_header(cls, key, value);
        return MHD_YES;
}

/* The peer identity of the connection, looked up when it was accepted. */
static int connection_peer(struct MHD_Connection *connection, const char **ret) {
        ImdsConn *c = connection_conn(connection);

        if (!c)
                return -ENOMEM;
        if (c->error < 0)
                return c->error;
        *ret = c->peer;
        return 0;
}

static void attest_done(void *userdata, int error, const char *error_name, const char *document) {
        ImdsRequestCtx *c = userdata;
        ImdsHttp *s = c->server;

        c->call = NULL;
        in_flight_remove(s, c);
        c->have_reply = true;
        if (error >= 0 && !error_name && document && (c->document = strdup(document)))
                c->reply = (ImdsReply){.status = 200};
        else if (error >= 0 && !error_name && document)
                imds_reply_internal_error(&c->reply);
        else {
                imds_reply_for_bus_error(error < 0 ? NULL : error_name, &c->reply);
                log_debug("Attest failed (%s): HTTP %u.", error < 0 ? strerror(-error) : error_name,
                        c->reply.status);
        }
        MHD_resume_connection(c->connection);
        server_run(s);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
        const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
        void **con_cls) {
        ImdsHttp *s = cls;
        ImdsRequestCtx *c = *con_cls;
        ImdsRequest req = {};
        ImdsDecision d;
        ImdsReply reply;
        const char *peer;
        usec_t wait = 0;
        int r;

        /* The request line and headers are complete: the request deadline is met. */
        conn_disarm_deadline(connection_conn(connection));

        if (!c) { /* the URI logger ran out of memory */
                imds_reply_internal_error(&reply);
                return queue_reply(connection, &reply, NULL);
        }
        if (c->have_reply && c->reply.status == 200) /* resumed after the backend answered */
                return queue_reply_full(connection, &c->reply, TAKE_PTR(c->document), true);
        if (c->have_reply)
                return queue_reply(connection, &c->reply, NULL);
        if (c->call) /* still waiting: MHD does not call a suspended connection, but be safe */
                return MHD_YES;
        if (!c->started) {
                c->started = true;
                /* Answer once the request is complete, so that the connection may stay open
                 * (keep-alive); but a request with a body is answered at once (nothing here
                 * takes a body) and MHD then closes the connection. */
                if (!MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                            MHD_HTTP_HEADER_CONTENT_LENGTH) &&
                        !MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                MHD_HTTP_HEADER_TRANSFER_ENCODING))
                        return MHD_YES;
        } else if (*upload_data_size > 0) {
                *upload_data_size = 0; /* a body after all: discard it */
                return MHD_YES;
        }

        req.method = method;
        req.uri = c->uri;
        (void)MHD_get_connection_values(connection, MHD_HEADER_KIND, scan_header, &req);
        imds_request_decide(&req, &d);
        if (d.action == IMDS_ACTION_REPLY) {
                log_debug("%s %.128s: HTTP %u.", method, c->uri, d.reply.status);
                return queue_reply(connection, &d.reply, d.reply.body);
        }

        r = connection_peer(connection, &peer);
        if (r == -ENOMEM) {
                imds_reply_internal_error(&reply);
                return queue_reply(connection, &reply, NULL);
        }
        if (r < 0) {
                unsigned held;

                if (log_throttle_pass(&s->unidentified_notice, now_usec(CLOCK_MONOTONIC), &held))
                        log_info_errno(r,
                                "Refusing a document request: cannot identify the peer of the %s connection: "
                                "%m%s",
                                s->options.transport,
                                held > 0 ? " (more since the last such message, at debug level)" : "");
                else
                        log_debug_errno(r, "Refusing a document request: cannot identify the peer: %m");
                imds_reply_unidentified(&reply);
                return queue_reply(connection, &reply, NULL);
        }

        r = ratelimit_check(s->ratelimit, peer, now_usec(CLOCK_MONOTONIC), &wait);
        if (r < 0) {
                imds_reply_internal_error(&reply);
                return queue_reply(connection, &reply, NULL);
        }
        if (r == 0) {
                log_debug("Rate limit of %s peer %s hit.", s->options.transport, peer);
                imds_reply_rate_limited((unsigned)((wait + USEC_PER_SEC - 1) / USEC_PER_SEC), &reply);
                return queue_reply(connection, &reply, NULL);
        }

        if (s->stopping) { /* a request that came in while the replies in flight drain */
                imds_reply_shutting_down(&reply);
                return queue_reply(connection, &reply, NULL);
        }
        r = s->options.backend.attest(s->options.backend.data, s->options.transport, peer, d.nonce,
                d.api_version, attest_done, c, &c->call);
        if (r < 0) {
                log_debug_errno(r, "Cannot call the service: %m");
                imds_reply_for_bus_error(NULL, &reply);
                return queue_reply(connection, &reply, NULL);
        }
        LIST_PREPEND(s->in_flight, c);
        MHD_suspend_connection(connection);
        return MHD_YES;
}

static void server_run(ImdsHttp *s) {
        mhd_event_run(s->mhd);
}

int imds_http_new(sd_event *event, int listen_fd, const ImdsHttpOptions *o, ImdsHttp **ret) {
        _cleanup_(imds_http_freep) ImdsHttp *s = NULL;
        int r;

        assert(event);
        assert(o);
        assert(o->transport);
        assert(o->identify);
        assert(o->backend.attest && o->backend.cancel);
        assert(ret);

        s = calloc(1, sizeof(ImdsHttp));
        if (!s) {
                safe_close(listen_fd);
                return -ENOMEM;
        }
        s->event = sd_event_ref(event);
        s->limit_notice = LOG_THROTTLE_INIT(NOTICE_INTERVAL_USEC);
        s->unidentified_notice = LOG_THROTTLE_INIT(NOTICE_INTERVAL_USEC);
        s->options = *o;
        s->request_timeout = (usec_t)(o->request_timeout_sec ?: IMDS_DEFAULT_REQUEST_TIMEOUT) * USEC_PER_SEC;

        r = ratelimit_new(o->rate, MAX(o->burst, 1U), IMDS_RATELIMIT_MAX_KEYS, &s->ratelimit);
        if (r < 0) {
                safe_close(listen_fd);
                return r;
        }

        struct MHD_OptionItem opts[] = {
                {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_logger, s},
                {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)request_completed, s},
                {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, s},
                {MHD_OPTION_CONNECTION_LIMIT, o->max_connections ?: IMDS_DEFAULT_MAX_CONNECTIONS, NULL},
                {MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_sec ?: IMDS_DEFAULT_CONNECTION_TIMEOUT,
                        NULL},
                {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                        (intptr_t)(o->connection_memory ?: IMDS_DEFAULT_CONNECTION_MEMORY), NULL},
                {o->max_connections_per_ip > 0 ? MHD_OPTION_PER_IP_CONNECTION_LIMIT : MHD_OPTION_END,
                        o->max_connections_per_ip, NULL},
                {MHD_OPTION_END, 0, NULL},
        };

        /* MHD_USE_ITC: MHD then never shutdown()s the listening socket, which may be systemd's.
         * listen_fd belongs to mhd_event_new() from here on, also when it fails. */
        r = mhd_event_new(event, listen_fd, MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME, access_handler, s, opts,
                NULL, &s->mhd);
        if (r < 0)
                return r;
        if (o->idle_exit > 0) {
                r = sd_event_add_time_relative(event, &s->idle, CLOCK_MONOTONIC, o->idle_exit, 0, on_idle,
                        s);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(s);
        return 0;
}

/* Sends the "shutting down" replies of the requests imds_http_free() resumed before MHD stops
 * (MHD_stop_daemon() closes every connection at once, written or not): MHD runs until each went
 * out (request_completed() freed its context) or DRAIN_USEC passed (a guest that does not read). */
#define DRAIN_USEC (1 * USEC_PER_SEC)

static void drain_replies(ImdsHttp *s) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + DRAIN_USEC;

        while (s->n_draining > 0) {
                usec_t now = now_usec(CLOCK_MONOTONIC);

                if (now >= end) {
                        log_debug("%u \"shutting down\" replies not sent within %" PRIu64 " ms.",
                                s->n_draining, DRAIN_USEC / USEC_PER_MSEC);
                        return;
                }
                if (MHD_run_wait(mhd_event_daemon(s->mhd), (int32_t)MAX((end - now) / USEC_PER_MSEC, 1U)) !=
                        MHD_YES)
                        return;
        }
}

ImdsHttp *imds_http_free(ImdsHttp *s) {
        if (!s)
                return NULL;
        /* MHD must not stop with suspended connections: cancel their calls, resume them with a
         * "shutting down" answer and let MHD send it. */
        s->stopping = true;
        while (s->in_flight) {
                ImdsRequestCtx *c = s->in_flight;

                s->options.backend.cancel(s->options.backend.data, c->call);
                c->call = NULL;
                in_flight_remove(s, c);
                c->have_reply = true;
                c->draining = true;
                s->n_draining++;
                imds_reply_shutting_down(&c->reply);
                MHD_resume_connection(c->connection);
        }
        if (s->mhd)
                drain_replies(s);
        /* Stopping MHD closes the open connections, and notify_connection() updates the idle
         * timer for each: it must be gone (NULL) by then, not just freed. */
        s->idle = sd_event_source_disable_unref(s->idle);
        mhd_event_free(s->mhd);
        ratelimit_free(s->ratelimit);
        sd_event_unref(s->event);
        return mfree(s);
}

int imds_http_add_connection(ImdsHttp *s, int fd, const struct sockaddr *addr, socklen_t addrlen) {
        assert(s);
        assert(fd >= 0);

        /* MHD closes fd itself when it fails. */
        if (MHD_add_connection(mhd_event_daemon(s->mhd), fd, addr, addrlen) != MHD_YES)
                return negative_errno();
        server_run(s);
        return 0;
}

unsigned imds_http_n_connections(const ImdsHttp *s) {
        assert(s);
        return s->n_connections;
}
