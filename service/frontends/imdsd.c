/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshci-imdsd: the legacy OS support frontend. HTTP over TCP at 169.254.169.253:80 on the
 * legacy bridge; the VM is identified by the bridge port its connection came in through: the
 * port mark the legacy firewall put on the SYN, carried by the accepted socket (peer-port.h). */

#include <arpa/inet.h>
#include <netinet/in.h>

#include "imds-frontend.h"
#include "log-throttle.h"
#include "log.h"
#include "peer-port.h"
#include "time-util.h"

/* A connection that cannot be identified is logged at info level at most this often, the rest
 * at debug level: anything that reaches the address without a port mark (the host itself, a
 * port the service did not attach) may connect in a loop, and must not flood the journal. */
#define UNIDENTIFIED_NOTICE_INTERVAL_USEC (10 * USEC_PER_SEC)

typedef struct Imdsd {
        PeerPort *peer_port;
        LogThrottle unidentified_notice;
} Imdsd;

static int parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        _cleanup_free_ char *host = NULL;
        const char *colon, *port_s;
        unsigned long port;
        char *end;

        if (s[0] == '[') { /* [IPv6]:PORT */
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                host = strndup(s + 1, (size_t)(close - s - 1));
                port_s = close + 2;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                host = strndup(s, (size_t)(colon - s));
                port_s = colon + 1;
        }
        if (!host)
                return -ENOMEM;
        errno = 0;
        port = strtoul(port_s, &end, 10);
        if (errno != 0 || end == port_s || *end || port > 65535)
                return -EINVAL;

        *ret = (struct sockaddr_storage){};
        if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ret)->sin_addr) == 1) {
                ((struct sockaddr_in *)ret)->sin_family = AF_INET;
                ((struct sockaddr_in *)ret)->sin_port = htons((uint16_t)port);
                *ret_len = sizeof(struct sockaddr_in);
                return 0;
        }
        if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ret)->sin6_addr) == 1) {
                ((struct sockaddr_in6 *)ret)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *)ret)->sin6_port = htons((uint16_t)port);
                *ret_len = sizeof(struct sockaddr_in6);
                return 0;
        }
        return -EINVAL;
}

static bool family_ok(int family) {
        return family == AF_INET || family == AF_INET6;
}

static int setup(ImdsTransportContext *ctx) {
        _cleanup_free_ Imdsd *d = NULL;
        int r;

        d = calloc(1, sizeof(Imdsd));
        if (!d)
                return log_oom();
        d->unidentified_notice = LOG_THROTTLE_INIT(UNIDENTIFIED_NOTICE_INTERVAL_USEC);
        r = peer_port_new(&d->peer_port);
        if (r < 0)
                return log_error_errno(r, "Cannot open an rtnetlink socket: %m");
        ctx->userdata = TAKE_PTR(d);
        return 0;
}

static void teardown(ImdsTransportContext *ctx) {
        Imdsd *d = ctx->userdata;

        if (d)
                peer_port_free(d->peer_port);
        ctx->userdata = mfree(d);
}

static void log_unidentified(Imdsd *d, const char *address, int error) {
        unsigned held;

        if (log_throttle_pass(&d->unidentified_notice, now_usec(CLOCK_MONOTONIC), &held))
                log_info("Cannot identify the VM of a connection from %s: %s.%s", address,
                        peer_port_strerror(error),
                        held > 0 ? " (More since the last such message, at debug level.)" : "");
        else
                log_debug("Cannot identify the VM of a connection from %s: %s.", address,
                        peer_port_strerror(error));
}

/* The peer's identity is the name of the bridge port its packets came in through, from the
 * mark the kernel gave its SYN: never an address, nor anything else the client sent. */
static int identify(void *data, int fd, const struct sockaddr *addr, socklen_t addrlen, char **ret_peer) {
        ImdsTransportContext *ctx = data;
        Imdsd *d = ctx->userdata;
        char port[IF_NAMESIZE], a[INET6_ADDRSTRLEN] = "?";
        int r;

        r = peer_port_identify(d->peer_port, fd, ctx->interface, port);
        if (r < 0) {
                if (addr->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in))
                        (void)inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, a, sizeof a);
                else if (addr->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6))
                        (void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, a,
                                sizeof a);
                log_unidentified(d, a, r);
                return r;
        }
        *ret_peer = strdup(port);
        return *ret_peer ? 0 : -ENOMEM;
}

static const ImdsTransportDef transport = {
        .program = "azshci-imdsd",
        .transport = "http",
        .description = "The HTTP (legacy OS support) frontend of the azshci attestation service. A VM is\n"
                       "identified by the legacy bridge port its connection came in through (the port\n"
                       "mark the legacy firewall puts on its packets; needs net.ipv4.tcp_fwmark_accept=1).",
        .listen_help = "IPV4:PORT or [IPV6]:PORT",
        .http = true,
        .parse_listen = parse_listen,
        .family_ok = family_ok,
        .identify = identify,
        .setup = setup,
        .teardown = teardown,
};

int main(int argc, char *argv[]) {
        return imds_frontend_main(&transport, argc, argv);
}
