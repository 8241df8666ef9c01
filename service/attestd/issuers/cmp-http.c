/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <microhttpd.h>
#include <stdarg.h>

#include <openssl/crypto.h>

#include "cmp-http.h"
#include "log.h"
#include "mhd-dlopen.h"
#include "time-util.h"
#include "x509-util.h"

#define CONNECTIONS_MAX        32U
#define CONNECTIONS_PER_IP_MAX 8U
#define CONNECTION_TIMEOUT_SEC 10U

struct CmpHttp {
        sd_event *event;
        struct MHD_Daemon *daemon;
        sd_event_source *io, *timer;
        CmpServer *server;
};

/* One request's body. */
typedef struct Body {
        uint8_t *data;
        size_t size;
} Body;

static enum MHD_Result reply(struct MHD_Connection *connection, unsigned status, const void *data,
        size_t size) {
        struct MHD_Response *resp;
        enum MHD_Result r;

        resp = sym_MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        if (sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                    status == MHD_HTTP_OK ? "application/pkixcmp" : "text/plain") != MHD_YES) {
                sym_MHD_destroy_response(resp);
                return MHD_NO;
        }
        r = sym_MHD_queue_response(connection, status, resp);
        sym_MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result reply_status(struct MHD_Connection *connection, unsigned status) {
        const char *text = status == MHD_HTTP_NOT_FOUND                ? "not found\n"
                           : status == MHD_HTTP_METHOD_NOT_ALLOWED     ? "only POST\n"
                           : status == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE ? "application/pkixcmp only\n"
                           : status == MHD_HTTP_CONTENT_TOO_LARGE      ? "request too large\n"
                           : status == MHD_HTTP_BAD_REQUEST            ? "not a CMP message\n"
                                                                       : "internal error\n";
        return reply(connection, status, text, strlen(text));
}

/* The status a request gets from its headers alone, or 0. */
static unsigned check_request(struct MHD_Connection *connection, const char *url, const char *method) {
        const char *type, *length;

        if (!streq(url, CMP_HTTP_PATH))
                return MHD_HTTP_NOT_FOUND;
        if (!streq(method, MHD_HTTP_METHOD_POST))
                return MHD_HTTP_METHOD_NOT_ALLOWED;
        type = sym_MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!type || strncasecmp(type, "application/pkixcmp", 19) != 0)
                return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
        /* MHD has checked that it is a number. */
        length =
                sym_MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > CMP_HTTP_BODY_MAX)
                return MHD_HTTP_CONTENT_TOO_LARGE;
        return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
        const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
        void **con_cls) {
        CmpHttp *h = cls;
        Body *b = *con_cls;
        _cleanup_free_ void *rsp = NULL;
        size_t rsp_size = 0;
        enum MHD_Result ret;
        int r;

        if (!b) {
                unsigned status = check_request(connection, url, method);

                /* Refused from its headers: answered at once, before any of the body is read;
                 * MHD then reads no more of it and closes the connection after the answer. */
                if (status != 0)
                        return reply_status(connection, status);
                b = calloc(1, sizeof(*b));
                if (!b)
                        return MHD_NO;
                *con_cls = b;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                uint8_t *n;

                /* Only a chunked body gets here above the limit (a longer Content-Length was
                 * refused above). MHD 0.9.75 queues no response in the middle of a body
                 * (sym_MHD_queue_response() refuses it): stop reading by closing the connection. */
                if (b->size + *upload_data_size > CMP_HTTP_BODY_MAX) {
                        log_debug("Cluster CA: request body above %u bytes, closing the connection.",
                                CMP_HTTP_BODY_MAX);
                        return MHD_NO;
                }
                n = realloc(b->data, b->size + *upload_data_size);
                if (!n)
                        return MHD_NO;
                memcpy(n + b->size, upload_data, *upload_data_size);
                b->data = n;
                b->size += *upload_data_size;
                *upload_data_size = 0;
                return MHD_YES;
        }

        r = cmp_server_handle(h->server, b->data, b->size, &rsp, &rsp_size);
        if (r < 0) {
                log_debug_errno(r, "Cluster CA: cannot answer a request: %m");
                return reply_status(connection,
                        r == -EBADMSG ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR);
        }
        ret = reply(connection, MHD_HTTP_OK, rsp, rsp_size);
        OPENSSL_free(TAKE_PTR(rsp));
        return ret;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
        enum MHD_RequestTerminationCode toe) {
        Body *b = *con_cls;

        if (b) {
                free(b->data);
                free(b);
                *con_cls = NULL;
        }
}

static void run(CmpHttp *h) {
        MHD_UNSIGNED_LONG_LONG timeout;

        if (sym_MHD_run(h->daemon) != MHD_YES)
                log_debug("Cluster CA: sym_MHD_run() failed.");
        if (sym_MHD_get_timeout(h->daemon, &timeout) != MHD_YES) {
                (void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time_relative(h->timer, (uint64_t)timeout * USEC_PER_MSEC);
        (void)sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        run(userdata);
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        run(userdata);
        return 0;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];

        (void)vsnprintf(buf, sizeof buf, fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("Cluster CA: libmicrohttpd: %s", buf);
}

static int listen_on(const struct sockaddr *addr, socklen_t addrlen, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, addr, addrlen) < 0 || listen(fd, 16) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int cmp_http_new(sd_event *event, const struct sockaddr *addr, socklen_t addrlen, CmpServer *server,
        CmpHttp **ret, char **ret_error) {
        _cleanup_(cmp_http_freep) CmpHttp *h = NULL;
        const union MHD_DaemonInfo *info;
        int fd = -EBADF, r;

        assert(event);
        assert(addr);
        assert(server);
        assert(ret);

        /* Loaded here, on the cluster's CA server only (mhd-dlopen.h). */
        r = dlopen_libmicrohttpd();
        if (r < 0)
                return x509_error(ret_error, r, "%s is not installed", LIBMICROHTTPD_SONAME);

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(event);
        h->server = server;

        r = listen_on(addr, addrlen, &fd);
        if (r < 0)
                return x509_error(ret_error, r, "cannot listen: %s", strerror(-r));
        /* MHD owns fd from here, also when it fails to start: libmicrohttpd 1.0 closes it on every
         * failure path (its commit bfa7c5a1, "fixed leaked listen socket when daemon start
         * failed"); 0.9.75 (Debian 12) closes it on most and leaks it on a few (its epoll set
         * cannot be set up, say). So it is never closed here: that would close it a second time
         * on the paths that did, maybe as an fd another thread (the enrolment worker) has just
         * been given. imds-http.c does the same. */
        h->daemon = sym_MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
                MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
                CONNECTIONS_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT, CONNECTIONS_PER_IP_MAX,
                MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_SEC, MHD_OPTION_END);
        if (!h->daemon)
                return x509_error(ret_error, -EIO, "cannot start the HTTP server");
        info = sym_MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        r = sd_event_add_io(event, &h->io, info->epoll_fd, EPOLLIN, on_io, h);
        if (r < 0)
                return r;
        (void)sd_event_source_set_description(h->io, "cluster-ca-http");
        r = sd_event_add_time_relative(event, &h->timer, CLOCK_MONOTONIC, 0, 0, on_timer, h);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        run(h);

        *ret = TAKE_PTR(h);
        return 0;
}

CmpHttp *cmp_http_free(CmpHttp *h) {
        if (!h)
                return NULL;
        /* The sources first (as systemd does): the io source watches MHD's epoll fd, which
         * sym_MHD_stop_daemon() closes. */
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        if (h->daemon)
                sym_MHD_stop_daemon(h->daemon);
        sd_event_unref(h->event);
        return mfree(h);
}
