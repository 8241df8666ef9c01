/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

/* The HTTP server of both guest frontends: libmicrohttpd driven by an sd-event loop (no MHD
 * threads: its epoll fd is an sd-event io source and a timer follows MHD_get_timeout()).
 * Every request goes through imds_request_decide(); document requests are rate-limited per
 * peer, identified by the transport's identify() from the accepted socket, and answered by an
 * asynchronous backend call (AttestForVersion on the bus) while the connection is suspended,
 * so one slow signature never blocks other clients. */

typedef struct ImdsHttp ImdsHttp;

/* Called exactly once per started call, from the event loop, unless cancelled first. error < 0:
 * the call could not be completed (no reply: the service is unreachable); else error_name set
 * = the service answered with that D-Bus error; else document = the response body. */
typedef void (*ImdsAttestDone)(void *userdata, int error, const char *error_name, const char *document);

typedef struct ImdsBackend {
        /* Starts AttestForVersion(transport, peer, nonce, api_version). Never calls done before it
         * returns. On success *ret_handle identifies the call for cancel(). */
        int (*attest)(void *data, const char *transport, const char *peer, const char *nonce,
                const char *api_version, ImdsAttestDone done, void *userdata, void **ret_handle);
        void (*cancel)(void *data, void *handle);
        void *data;
} ImdsBackend;

/* The peer's identity (AttestForVersion's peer argument) from the accepted connection: its fd
 * and the address accept() returned for it. Returns 0 and a new string, or a negative errno
 * when the peer cannot be identified (the request gets 403). */
typedef int (
        *ImdsIdentify)(void *data, int fd, const struct sockaddr *addr, socklen_t addrlen, char **ret_peer);

typedef struct ImdsHttpOptions {
        const char *transport; /* "http" or "vsock" */
        ImdsIdentify identify;
        void *identify_data;
        ImdsBackend backend;
        unsigned rate;  /* document requests per second and peer; 0 = unlimited */
        unsigned burst; /* at least 1 */
        unsigned max_connections;
        unsigned max_connections_per_ip;   /* 0 = no limit (the default; vsock: always 0). A
                                            * guest can send from another's address (the
                                            * firewall binds MACs, not IPs): the per-peer limit
                                            * is the one that holds */
        unsigned max_connections_per_peer; /* per identified peer (MAC, CID; all unidentified
                                            * peers share one count): more are closed at
                                            * once; 0 = no limit */
        unsigned connection_timeout_sec;   /* idle clients are dropped after this long without
                                            * traffic (MHD's inactivity timeout); 0 = default */
        unsigned request_timeout_sec;      /* a connection must deliver a complete request
                                            * within this long from accept (or from the end of
                                            * its previous response), however it trickles;
                                            * 0 = default */
        size_t connection_memory;          /* MHD per-connection memory (request line + headers) */
        usec_t idle_exit;                  /* exit the event loop after this long without a
                                            * connection; 0 = never */
} ImdsHttpOptions;

#define IMDS_DEFAULT_RATE               5U
#define IMDS_DEFAULT_BURST              5U
#define IMDS_DEFAULT_MAX_CONNECTIONS    256U
#define IMDS_DEFAULT_MAX_PER_IP         0U
#define IMDS_DEFAULT_MAX_PER_PEER       4U
#define IMDS_DEFAULT_CONNECTION_TIMEOUT 10U
#define IMDS_DEFAULT_REQUEST_TIMEOUT    10U
#define IMDS_DEFAULT_CONNECTION_MEMORY  (32U * 1024U)
#define IMDS_DEFAULT_IDLE_EXIT_SEC      60U
#define IMDS_RATELIMIT_MAX_KEYS         65536U

/* listen_fd: a listening stream socket the server takes over (MHD closes it when the server is
 * freed, but never shutdown()s it: it may be shared with systemd), or -1 for none (connections only through
 * imds_http_add_connection()). */
int imds_http_new(sd_event *event, int listen_fd, const ImdsHttpOptions *options, ImdsHttp **ret);
/* Answers in-flight requests' backend calls are cancelled, connections closed. */
ImdsHttp *imds_http_free(ImdsHttp *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImdsHttp *, imds_http_free);

/* Internal API for tests: serve an already connected socket as if accept() had returned it
 * with peer address addr. Production code never calls this: the frontends' peer identity
 * always comes from the kernel through accept(). Takes ownership of fd (also on failure). */
int imds_http_add_connection(ImdsHttp *s, int fd, const struct sockaddr *addr, socklen_t addrlen);

unsigned imds_http_n_connections(const ImdsHttp *s);
/* Open connections of one peer identity (NULL: the unidentified ones), as counted for
 * max_connections_per_peer. */
unsigned imds_http_n_peer_connections(const ImdsHttp *s, const char *peer);
