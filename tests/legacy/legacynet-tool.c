/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Test driver for the legacy network module. It works in the network namespace it is started
 * in (the test runs it with "ip netns exec"), so the real host network is never touched.
 *
 *   legacynet-tool [--bridge NAME] [--table NAME] enable | disable
 *   legacynet-tool [...] attach IFNAME MAC | detach IFNAME
 *   legacynet-tool [...] status [IFNAME=MAC ...]     exit 0: no drift, 3: drift
 *   legacynet-tool [...] absent                      exit 0: no bridge and no tables
 *   legacynet-tool nft COMMAND                        libnftables, output on stdout
 *   legacynet-tool serve ADDRESS PORT REPLY READYFILE TCP server answering REPLY, forever;
 *                                                     REPLY "@port": the name of the bridge
 *                                                     port the connection came in through
 *                                                     (peer-port.h, as azshci-imdsd finds it),
 *                                                     or "unidentified"
 *   legacynet-tool connect ADDRESS PORT TIMEOUT_MS    prints the server's reply; exit 0 on one
 *   legacynet-tool ping ADDRESS TIMEOUT_MS            ICMP echo; exit 0 on a reply
 *   legacynet-tool sniff IFNAME SOURCE MS READYFILE   counts the IPv4 frames from SOURCE that
 *                                                     arrive on IFNAME (whatever their MAC)
 *                                                     for MS milliseconds; prints the count
 *   legacynet-tool arp IFNAME request|reply ETHSRC SHA SPA THA TPA
 *                                                     sends one ARP frame as given (broadcast
 *                                                     for a request, to THA for a reply)
 */

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "legacy-net-status.h"
#include "legacy-net.h"
#include "nft-rules.h"
#include "peer-port.h"
#include "strv.h"

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_addr(const char *a, const char *p, struct sockaddr_in *ret) {
        *ret = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(p))};
        return inet_pton(AF_INET, a, &ret->sin_addr) == 1 ? 0 : -EINVAL;
}

static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p = {.fd = fd, .events = events};
                uint64_t n = now_ms();
                int r;

                if (n >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int)(deadline - n));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

static int do_serve(char **argv) {
        struct sockaddr_in sa;
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        if (parse_addr(argv[0], argv[1], &sa) < 0)
                return 2;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                fprintf(stderr, "serve %s:%s: %m\n", argv[0], argv[1]);
                return 1;
        }
        {
                _cleanup_fclose_ FILE *f = fopen(argv[3], "we");
                if (!f)
                        return 1;
        }
        for (;;) {
                _cleanup_close_ int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                const char *reply = argv[2];
                char port[IF_NAMESIZE];

                if (c < 0)
                        continue;
                if (streq(reply, "@port")) {
                        _cleanup_(peer_port_freep) PeerPort *p = NULL;

                        reply = peer_port_new(&p) >= 0 && peer_port_identify(p, c, NULL, port) >= 0
                                        ? port
                                        : "unidentified";
                }
                (void)!write(c, reply, strlen(reply));
                (void)!write(c, "\n", 1);
        }
}

static int do_sniff(char **argv) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP)};
        uint64_t deadline = now_ms() + (uint64_t)atoi(argv[2]);
        struct in_addr source;
        unsigned count = 0;

        if (inet_pton(AF_INET, argv[1], &source) != 1)
                return 2;
        ll.sll_ifindex = (int)if_nametoindex(argv[0]);
        fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
        if (ll.sll_ifindex == 0 || fd < 0 || bind(fd, (struct sockaddr *)&ll, sizeof ll) < 0) {
                fprintf(stderr, "sniff %s: %m\n", argv[0]);
                return 1;
        }
        {
                _cleanup_fclose_ FILE *f = fopen(argv[3], "we");
                if (!f)
                        return 1;
        }
        while (wait_fd(fd, POLLIN, deadline) >= 0) {
                uint8_t buf[2048];
                const struct iphdr *ip = (const void *)buf;
                ssize_t n = recv(fd, buf, sizeof buf, 0);

                if (n >= (ssize_t)sizeof(*ip) && ip->saddr == source.s_addr)
                        count++;
        }
        printf("%u\n", count);
        return 0;
}

static int parse_mac(const char *s, uint8_t ret[static ETH_ALEN]) {
        return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", ret, ret + 1, ret + 2, ret + 3, ret + 4,
                       ret + 5) == 6
                       ? 0
                       : -EINVAL;
}

static int do_arp(char **argv) {
        _cleanup_close_ int fd = -EBADF;
        struct __attribute__((packed)) {
                struct ether_header eth;
                struct arphdr arp;
                uint8_t sha[ETH_ALEN], spa[4], tha[ETH_ALEN], tpa[4];
        } frame = {};
        struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_halen = ETH_ALEN};
        bool request = streq(argv[1], "request");

        if ((!request && !streq(argv[1], "reply")) || parse_mac(argv[2], frame.eth.ether_shost) < 0 ||
                parse_mac(argv[3], frame.sha) < 0 || inet_pton(AF_INET, argv[4], frame.spa) != 1 ||
                parse_mac(argv[5], frame.tha) < 0 || inet_pton(AF_INET, argv[6], frame.tpa) != 1)
                return 2;
        if (request)
                memset(frame.eth.ether_dhost, 0xff, ETH_ALEN);
        else
                memcpy(frame.eth.ether_dhost, frame.tha, ETH_ALEN);
        frame.eth.ether_type = htons(ETHERTYPE_ARP);
        frame.arp = (struct arphdr){.ar_hrd = htons(ARPHRD_ETHER),
                .ar_pro = htons(ETHERTYPE_IP),
                .ar_hln = ETH_ALEN,
                .ar_pln = 4,
                .ar_op = htons(request ? ARPOP_REQUEST : ARPOP_REPLY)};
        ll.sll_ifindex = (int)if_nametoindex(argv[0]);
        memcpy(ll.sll_addr, frame.eth.ether_dhost, ETH_ALEN);
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (ll.sll_ifindex == 0 || fd < 0 ||
                sendto(fd, &frame, sizeof frame, 0, (struct sockaddr *)&ll, sizeof ll) !=
                        (ssize_t)sizeof frame) {
                fprintf(stderr, "arp %s: %m\n", argv[0]);
                return 1;
        }
        return 0;
}

static int do_connect(char **argv) {
        struct sockaddr_in sa;
        _cleanup_close_ int fd = -EBADF;
        uint64_t deadline = now_ms() + (uint64_t)atoi(argv[2]);
        char buf[256];
        size_t n = 0;
        int err = 0;
        socklen_t len = sizeof(err);

        if (parse_addr(argv[0], argv[1], &sa) < 0)
                return 2;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return 1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                fprintf(stderr, "connect: %m\n");
                return 1;
        }
        if (wait_fd(fd, POLLOUT, deadline) < 0) {
                fprintf(stderr, "connect %s:%s: timed out\n", argv[0], argv[1]);
                return 1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
                fprintf(stderr, "connect %s:%s: %s\n", argv[0], argv[1], strerror(err));
                return 1;
        }
        while (n < sizeof(buf) - 1) {
                ssize_t k;

                if (wait_fd(fd, POLLIN, deadline) < 0)
                        break;
                k = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t)k;
        }
        buf[n] = 0;
        if (n == 0) {
                fprintf(stderr, "connect %s:%s: no reply\n", argv[0], argv[1]);
                return 1;
        }
        fputs(buf, stdout);
        return 0;
}

static uint16_t icmp_checksum(const void *data, size_t len) {
        const uint8_t *p = data;
        uint32_t sum = 0;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t)(p[i] << 8 | p[i + 1]);
        if (len & 1)
                sum += (uint32_t)(p[len - 1] << 8);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return htons((uint16_t)~sum);
}

static int do_ping(char **argv) {
        struct sockaddr_in sa;
        _cleanup_close_ int fd = -EBADF;
        uint64_t deadline = now_ms() + (uint64_t)atoi(argv[1]);
        struct icmphdr h = {.type = ICMP_ECHO, .un.echo.id = htons(0x4153), .un.echo.sequence = htons(1)};

        if (parse_addr(argv[0], "0", &sa) < 0)
                return 2;
        fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (fd < 0)
                return 1;
        h.checksum = icmp_checksum(&h, sizeof(h));
        if (sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "ping: %m\n");
                return 1;
        }
        for (;;) {
                uint8_t buf[1500];
                const struct iphdr *ip = (const void *)buf;
                const struct icmphdr *r;
                ssize_t n;

                if (wait_fd(fd, POLLIN, deadline) < 0) {
                        fprintf(stderr, "ping %s: no reply\n", argv[0]);
                        return 1;
                }
                n = recv(fd, buf, sizeof(buf), 0);
                if (n < (ssize_t)sizeof(struct iphdr))
                        continue;
                if (n < (ssize_t)(ip->ihl * 4 + sizeof(struct icmphdr)))
                        continue;
                r = (const void *)(buf + ip->ihl * 4);
                if (ip->saddr == sa.sin_addr.s_addr && r->type == ICMP_ECHOREPLY &&
                        r->un.echo.id == h.un.echo.id) {
                        printf("reply from %s\n", argv[0]);
                        return 0;
                }
        }
}

static int usage(void) {
        fputs("usage: legacynet-tool [--bridge NAME] [--table NAME] COMMAND ...\n", stderr);
        return 2;
}

int main(int argc, char **argv) {
        LegacyNetConfig c = {};
        _cleanup_free_ char *error = NULL;
        const char *cmd;
        int r;

        argv++, argc--;
        while (argc >= 2 && (streq(argv[0], "--bridge") || streq(argv[0], "--table"))) {
                if (streq(argv[0], "--bridge"))
                        c.bridge = argv[1];
                else
                        c.table = argv[1];
                argv += 2, argc -= 2;
        }
        if (argc < 1)
                return usage();
        cmd = argv[0];
        argv++, argc--;

        if (streq(cmd, "enable") && argc == 0)
                r = legacy_net_enable(&c, &error);
        else if (streq(cmd, "disable") && argc == 0)
                r = legacy_net_disable(&c, &error);
        else if (streq(cmd, "attach") && argc == 2)
                r = legacy_net_attach_port(&c, argv[0], argv[1], &error);
        else if (streq(cmd, "attach-tap") && argc == 2)
                r = legacy_net_attach_tap(&c, argv[0], argv[1], &error);
        else if (streq(cmd, "detach") && argc == 1)
                r = legacy_net_detach_port(&c, argv[0], &error);
        else if (streq(cmd, "status") || streq(cmd, "absent")) {
                _cleanup_(legacy_net_status_done) LegacyNetStatus s = {};
                _cleanup_free_ LegacyNetPort *ports = NULL;
                _cleanup_free_ char *text = NULL;
                _cleanup_strv_free_ char **parts = NULL;

                ports = calloc((size_t)argc + 1, sizeof(LegacyNetPort));
                if (!ports)
                        return 1;
                for (int i = 0; i < argc; i++) {
                        char *eq = strchr(argv[i], '=');
                        if (!eq)
                                return usage();
                        *eq = 0;
                        ports[i] = (LegacyNetPort){.ifname = argv[i], .mac = eq + 1};
                }
                r = legacy_net_status(&c, streq(cmd, "status") && argc > 0 ? ports : NULL, (size_t)argc, &s);
                if (r < 0) {
                        fprintf(stderr, "status: %s\n", strerror(-r));
                        return 1;
                }
                text = legacy_net_status_format(&s);
                if (!text)
                        return 1;
                fputs(text, stdout);
                if (streq(cmd, "absent"))
                        return !s.bridge_present && !s.table_present ? 0 : 1;
                return legacy_net_status_ok(&s) ? 0 : 3;
        } else if (streq(cmd, "nft") && argc == 1) {
                _cleanup_free_ char *out = NULL;

                r = nft_rules_run(argv[0], false, &out, &error);
                if (r >= 0)
                        fputs(out, stdout);
        } else if (streq(cmd, "serve") && argc == 4)
                return do_serve(argv);
        else if (streq(cmd, "connect") && argc == 3)
                return do_connect(argv);
        else if (streq(cmd, "ping") && argc == 2)
                return do_ping(argv);
        else if (streq(cmd, "sniff") && argc == 4)
                return do_sniff(argv);
        else if (streq(cmd, "arp") && argc == 7)
                return do_arp(argv);
        else
                return usage();

        if (r < 0) {
                fprintf(stderr, "%s: %s (%s)\n", cmd, strna(error), strerror(-r));
                return 1;
        }
        return 0;
}
