/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <microhttpd.h>

#include <openssl/crypto.h>

#include "cmp-http.h"
#include "log.h"
#include "mhd-dlopen.h"
#include "mhd-event.h"
#include "x509-util.h"

#define CONNECTIONS_MAX        32U
#define CONNECTIONS_PER_IP_MAX 8U
#define CONNECTION_TIMEOUT_SEC 10U

struct CmpHttp {
        MhdEvent *mhd;
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
                 * (MHD_queue_response() refuses it): stop reading by closing the connection. */
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

static const struct MHD_OptionItem options[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTIONS_MAX, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, CONNECTIONS_PER_IP_MAX, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_SEC, NULL},
        {MHD_OPTION_END, 0, NULL},
};

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
        h->server = server;

        r = listen_on(addr, addrlen, &fd);
        if (r < 0)
                return x509_error(ret_error, r, "cannot listen: %s", strerror(-r));
        /* fd belongs to mhd_event_new() from here on, also when it fails to start (it must not
         * be closed twice, maybe as an fd another thread, the enrolment worker, has just been
         * given). */
        r = mhd_event_new(event, fd, 0, on_request, h, options, "Cluster CA", &h->mhd);
        if (r == -EIO)
                return x509_error(ret_error, r, "cannot start the HTTP server");
        if (r < 0)
                return r;

        *ret = TAKE_PTR(h);
        return 0;
}

CmpHttp *cmp_http_free(CmpHttp *h) {
        if (!h)
                return NULL;
        mhd_event_free(h->mhd);
        return mfree(h);
}
