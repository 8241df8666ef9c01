/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshci-imdsd: the legacy OS support frontend. HTTP over TCP at 169.254.169.253:80 on the
 * legacy bridge; the VM is identified by its NIC's MAC address, looked up for the
 * connection's source address in the kernel's neighbour table on the ingress interface. */

#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "imds-frontend.h"
#include "log.h"
#include "peer-mac.h"

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
        PeerMac *p = NULL;
        int r;

        r = peer_mac_new(&p);
        if (r < 0)
                return log_error_errno(r, "Cannot open an rtnetlink socket: %m");
        ctx->userdata = p;
        return 0;
}

static void teardown(ImdsTransportContext *ctx) {
        ctx->userdata = peer_mac_free(ctx->userdata);
}

/* The peer's identity is the MAC the kernel resolved for its address on the ingress
 * interface: never anything the client sent. */
static int identify(void *data, int fd, const struct sockaddr *addr, socklen_t addrlen, char **ret_peer) {
        ImdsTransportContext *ctx = data;
        char mac[PEER_MAC_STRLEN];
        int ifindex = 0, r;

        if (ctx->interface) {
                /* Looked up every time: the bridge is recreated by a repair (legacy off/on). */
                ifindex = (int)if_nametoindex(ctx->interface);
                if (ifindex == 0)
                        return -ENODEV;
        }
        ifindex = peer_mac_ingress_ifindex(ctx->userdata, fd, addr, addrlen, ifindex);
        if (ifindex < 0)
                return ifindex;
        r = peer_mac_lookup(ctx->userdata, addr, addrlen, ifindex, mac);
        if (r < 0)
                return r;
        *ret_peer = strdup(mac);
        return *ret_peer ? 0 : -ENOMEM;
}

static const ImdsTransportDef transport = {
        .program = "azshci-imdsd",
        .transport = "http",
        .description = "The HTTP (legacy OS support) frontend of the azshci attestation service. A VM is\n"
                       "identified by the MAC address the kernel's neighbour table holds for the\n"
                       "connection's source address on the ingress interface.",
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
