/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "cmp-server.h"
#include "macro.h"

/* The cluster CA's CMP responder over HTTP (RFC 6712: POST of application/pkixcmp to
 * CMP_HTTP_PATH): libmicrohttpd driven by the service's sd-event loop (no MHD threads: its
 * epoll fd is an io source, a timer follows MHD_get_timeout()). Listens on exactly the
 * address of cluster.caListen. Other paths get 404, other methods 405, another Content-Type
 * 415, a Content-Length above CMP_HTTP_BODY_MAX 413, all answered from the headers before any
 * of the body is read (the connection is closed after the answer); a chunked body that grows
 * above CMP_HTTP_BODY_MAX closes the connection; what is not a CMP message gets 400. */

#define CMP_HTTP_PATH     "/cmp"
#define CMP_HTTP_BODY_MAX (64U * 1024U)

typedef struct CmpHttp CmpHttp;

/* server is borrowed and must outlive the listener. */
int cmp_http_new(sd_event *event, const struct sockaddr *addr, socklen_t addrlen, CmpServer *server,
        CmpHttp **ret, char **ret_error);
CmpHttp *cmp_http_free(CmpHttp *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(CmpHttp *, cmp_http_free);
