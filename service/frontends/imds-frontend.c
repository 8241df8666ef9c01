/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "bus-names.h"
#include "daemon-options.h"
#include "imds-bus.h"
#include "imds-frontend.h"
#include "log.h"
#include "time-util.h"

/* ------------------------------------------------------------------ options */

typedef struct Arguments {
        const char *listen;
        const char *interface;
        const char *service_socket;
        unsigned batch_max;
        ImdsHttpOptions http;
        unsigned idle_exit_sec;
} Arguments;

static void help(const void *userdata) {
        const ImdsTransportDef *t = userdata;

        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "%s\n"
               "Serves GET /metadata/attested/document and GET /metadata/versions (the Azure IMDS\n"
               "contract) and asks azshci-attestd for each document: directly on its socket, else\n"
               "on the system bus. Holds no key.\n"
               "Normally started by systemd through its .socket unit (socket activation).\n"
               "\n"
               "Options:\n"
               "      --listen=ADDR            Listen on ADDR instead of an inherited socket\n"
               "                               (for running by hand): %s\n"
               "      --service-socket=PATH    azshci-attestd's socket for the frontends (default:\n"
               "                               %s); when it is missing or refuses us, the\n"
               "                               system bus is used. Empty: the system bus only\n"
               "      --batch-max=N            Requests waiting at once that go to the service in\n"
               "                               one AttestBatch call, at most (default: %u, the\n"
               "                               most; 1 = one AttestForVersion call each)\n",
                t->program, t->description, t->listen_help, FRONTEND_SOCKET, ATTEST_BATCH_MAX);
        if (t->http)
                printf("      --interface=IFNAME       The legacy bridge: a connection is served only when\n"
                       "                               the port its mark names is a port of IFNAME\n"
                       "                               (default: any port the mark names)\n"
                       "      --max-connections-per-ip=N  Open connections per source address\n"
                       "                               (default: %u = no limit: a guest can send from\n"
                       "                               another's address; the per-VM limit holds)\n",
                        IMDS_DEFAULT_MAX_PER_IP);
        printf("      --rate=N                 Document requests per second and VM (default: %u;\n"
               "                               0 = unlimited); more get 429\n"
               "      --burst=N                Requests a VM may make at once (default: %u)\n"
               "      --idle-timeout=SEC       When socket-activated, exit after SEC seconds without\n"
               "                               a connection (default: %u; 0 = never)\n"
               "      --connection-timeout=SEC Drop clients idle for SEC seconds (default: %u)\n"
               "      --request-timeout=SEC    Drop clients that have not sent a complete request SEC\n"
               "                               seconds after connecting or after the previous\n"
               "                               response, however slowly they trickle (default: %u)\n"
               "      --max-connections=N      Open connections in all (default: %u)\n"
               "      --max-connections-per-vm=N  Open connections per VM (by %s); more\n"
               "                               are closed at once (default: %u; 0 = no limit)\n"
               "  -l, --log-level=LEVEL        debug, info, notice, warning or err (default: info)\n"
               "  -h, --help                   Show this help and exit\n"
               "      --version                Show the version and exit\n"
               "\n"
               "Environment:\n"
               "  DBUS_SYSTEM_BUS_ADDRESS  the bus azshci-attestd is on, instead of the system bus\n"
               "  LISTEN_FDS, LISTEN_PID   one inherited listening socket (sd_listen_fds(3))\n"
               "\n"
               "See docs/frontends.md.\n",
                IMDS_DEFAULT_RATE, IMDS_DEFAULT_BURST, IMDS_DEFAULT_IDLE_EXIT_SEC,
                IMDS_DEFAULT_CONNECTION_TIMEOUT, IMDS_DEFAULT_REQUEST_TIMEOUT, IMDS_DEFAULT_MAX_CONNECTIONS,
                t->http ? "bridge port" : "CID", IMDS_DEFAULT_MAX_PER_PEER);
}

static int parse_unsigned(const char *opt, const char *s, unsigned min, unsigned max, unsigned *ret) {
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || s[0] == '-' || v < min || v > max)
                return log_error_errno(-EINVAL, "--%s wants a number from %u to %u, not '%s'.", opt, min,
                        max, s);
        *ret = (unsigned)v;
        return 0;
}

static int parse_argv(const ImdsTransportDef *t, int argc, char *argv[], Arguments *a) {
        enum {
                ARG_LISTEN = 0x100,
                ARG_INTERFACE,
                ARG_RATE,
                ARG_BURST,
                ARG_IDLE,
                ARG_CONN_TIMEOUT,
                ARG_MAX_CONN,
                ARG_MAX_PER_IP,
                ARG_MAX_PER_VM,
                ARG_REQUEST_TIMEOUT,
                ARG_SERVICE_SOCKET,
                ARG_BATCH_MAX,
        };
        static const struct option options[] = {
                {"listen", required_argument, NULL, ARG_LISTEN},
                {"interface", required_argument, NULL, ARG_INTERFACE},
                {"rate", required_argument, NULL, ARG_RATE},
                {"burst", required_argument, NULL, ARG_BURST},
                {"idle-timeout", required_argument, NULL, ARG_IDLE},
                {"connection-timeout", required_argument, NULL, ARG_CONN_TIMEOUT},
                {"max-connections", required_argument, NULL, ARG_MAX_CONN},
                {"max-connections-per-ip", required_argument, NULL, ARG_MAX_PER_IP},
                {"max-connections-per-vm", required_argument, NULL, ARG_MAX_PER_VM},
                {"request-timeout", required_argument, NULL, ARG_REQUEST_TIMEOUT},
                {"service-socket", required_argument, NULL, ARG_SERVICE_SOCKET},
                {"batch-max", required_argument, NULL, ARG_BATCH_MAX},
                DAEMON_OPTIONS,
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "l:h", options, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case ARG_LISTEN:
                        a->listen = optarg;
                        break;
                case ARG_INTERFACE:
                        if (!t->http)
                                return log_error_errno(-EINVAL,
                                        "--interface is for the HTTP frontend only.");
                        a->interface = optarg;
                        break;
                case ARG_RATE:
                        r = parse_unsigned("rate", optarg, 0, 1000000, &a->http.rate);
                        break;
                case ARG_BURST:
                        r = parse_unsigned("burst", optarg, 1, 1000000, &a->http.burst);
                        break;
                case ARG_IDLE:
                        r = parse_unsigned("idle-timeout", optarg, 0, 86400 * 365, &a->idle_exit_sec);
                        break;
                case ARG_CONN_TIMEOUT:
                        r = parse_unsigned("connection-timeout", optarg, 1, 3600,
                                &a->http.connection_timeout_sec);
                        break;
                case ARG_MAX_CONN:
                        r = parse_unsigned("max-connections", optarg, 1, 1000000, &a->http.max_connections);
                        break;
                case ARG_MAX_PER_IP:
                        if (!t->http)
                                return log_error_errno(-EINVAL,
                                        "--max-connections-per-ip is for the HTTP frontend only.");
                        r = parse_unsigned("max-connections-per-ip", optarg, 0, 1000000,
                                &a->http.max_connections_per_ip);
                        break;
                case ARG_MAX_PER_VM:
                        r = parse_unsigned("max-connections-per-vm", optarg, 0, 1000000,
                                &a->http.max_connections_per_peer);
                        break;
                case ARG_REQUEST_TIMEOUT:
                        r = parse_unsigned("request-timeout", optarg, 1, 3600, &a->http.request_timeout_sec);
                        break;
                case ARG_SERVICE_SOCKET:
                        if (!isempty(optarg) && optarg[0] != '/')
                                return log_error_errno(-EINVAL,
                                        "--service-socket wants an absolute path (or nothing), not '%s'.",
                                        optarg);
                        a->service_socket = optarg;
                        break;
                case ARG_BATCH_MAX:
                        r = parse_unsigned("batch-max", optarg, 1, ATTEST_BATCH_MAX, &a->batch_max);
                        break;
                default:
                        r = daemon_option(c, t->program, help, t);
                        if (r <= 0)
                                return r;
                }
                if (r < 0)
                        return r;
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no positional arguments.", t->program);
        return 1;
}

/* ------------------------------------------------------------------ sockets */

static int listen_on(const ImdsTransportDef *t, const char *address) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_storage sa = {};
        socklen_t len = 0;
        int r, one = 1;

        r = t->parse_listen(address, &sa, &len);
        if (r < 0)
                return log_error_errno(r, "Invalid --listen address '%s': %s", address, t->listen_help);
        fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Cannot create a socket for %s: %m", address);
        if (sa.ss_family != AF_VSOCK)
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sa, len) < 0)
                return log_error_errno(negative_errno(), "Cannot bind to %s: %m", address);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(negative_errno(), "Cannot listen on %s: %m", address);
        return TAKE_FD(fd);
}

static int inherited_socket(const ImdsTransportDef *t) {
        struct sockaddr_storage sa = {};
        socklen_t len = sizeof sa;
        int n, fd, flags;

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Invalid socket activation environment: %m");
        if (n == 0)
                return -ENOENT;
        if (n > 1)
                return log_error_errno(-EINVAL, "Got %d sockets from the service manager, expected one.", n);
        fd = SD_LISTEN_FDS_START;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                return log_error_errno(-EINVAL,
                        "The inherited file descriptor is not a listening stream socket.");
        if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
                return log_error_errno(negative_errno(), "getsockname() on the inherited socket failed: %m");
        if (!t->family_ok(sa.ss_family))
                return log_error_errno(-EAFNOSUPPORT,
                        "The inherited socket has address family %d, not one %s serves.", sa.ss_family,
                        t->program);
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return log_error_errno(negative_errno(),
                        "Cannot make the inherited socket non-blocking: %m");
        return fd;
}

/* ------------------------------------------------------------------ main */

static int run(const ImdsTransportDef *t, ImdsTransportContext *ctx, int argc, char *argv[]) {
        _cleanup_(imds_bus_backend_freep) ImdsBusBackend *backend = NULL;
        _cleanup_(imds_http_freep) ImdsHttp *http = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Arguments a = {
                .http =
                        {
                                .transport = t->transport,
                                .identify = t->identify,
                                .rate = IMDS_DEFAULT_RATE,
                                .burst = IMDS_DEFAULT_BURST,
                                .max_connections = IMDS_DEFAULT_MAX_CONNECTIONS,
                                .max_connections_per_ip = t->http ? IMDS_DEFAULT_MAX_PER_IP : 0,
                                .max_connections_per_peer = IMDS_DEFAULT_MAX_PER_PEER,
                                .connection_timeout_sec = IMDS_DEFAULT_CONNECTION_TIMEOUT,
                                .request_timeout_sec = IMDS_DEFAULT_REQUEST_TIMEOUT,
                                .connection_memory = IMDS_DEFAULT_CONNECTION_MEMORY,
                        },
                .idle_exit_sec = IMDS_DEFAULT_IDLE_EXIT_SEC,
                .service_socket = FRONTEND_SOCKET,
                .batch_max = ATTEST_BATCH_MAX,
        };
        sigset_t mask;
        int fd, r;

        r = parse_argv(t, argc, argv, &a);
        if (r <= 0)
                return r;

        if (a.interface && if_nametoindex(a.interface) == 0)
                /* Not fatal: the legacy bridge comes and goes with legacy OS support. */
                log_notice("Interface '%s' does not exist (yet); peers cannot be identified until it does.",
                        a.interface);
        ctx->interface = a.interface;

        if (t->setup) {
                r = t->setup(ctx);
                if (r < 0)
                        return r;
        }

        fd = inherited_socket(t);
        if (fd >= 0 && a.listen)
                return log_error_errno(-EINVAL, "--listen cannot be used with an inherited socket.");
        if (fd == -ENOENT) {
                if (!a.listen)
                        return log_error_errno(-EINVAL,
                                "No socket: start through the .socket unit or with --listen=ADDR.");
                fd = listen_on(t, a.listen);
                a.idle_exit_sec = 0; /* nobody would start us again */
        }
        if (fd < 0)
                return fd;

        r = sd_event_default(&event);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Cannot allocate the event loop: %m");
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void)signal(SIGPIPE, SIG_IGN);
        r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Cannot watch signals: %m");
        }

        r = imds_bus_backend_new(event, a.service_socket, a.batch_max, &backend);
        if (r < 0) {
                safe_close(fd);
                return log_oom();
        }
        imds_bus_backend_fill(backend, &a.http.backend);
        a.http.identify_data = ctx;
        a.http.idle_exit = (usec_t)a.idle_exit_sec * USEC_PER_SEC;

        /* The server owns fd from here on (also when it fails to start). */
        r = imds_http_new(event, fd, &a.http, &http);
        if (r < 0)
                return log_error_errno(r, "Cannot start the HTTP server: %m");

        log_info("%s serving %s attestation requests%s (rate %u/s, burst %u; %u connections, %u per VM; "
                 "request timeout %u s).",
                t->program, t->transport, a.listen ? " on --listen address" : " on the inherited socket",
                a.http.rate, a.http.burst, a.http.max_connections, a.http.max_connections_per_peer,
                a.http.request_timeout_sec);
        (void)sd_notify(false, "READY=1\nSTATUS=Serving attestation requests.");

        r = sd_event_loop(event);
        (void)sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

int imds_frontend_main(const ImdsTransportDef *t, int argc, char *argv[]) {
        ImdsTransportContext ctx = {};
        int r;

        assert(t);

        log_set_program_name(t->program);
        r = run(t, &ctx, argc, argv);
        if (t->teardown)
                t->teardown(&ctx);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
