/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* HTTP load client for the legacy frontend (azshci-imdsd): keep-alive connections, one per
 * source address (each address is a simulated VM with its own MAC, set up by bench.py),
 * sequential GET /metadata/attested/document requests on each with a fresh nonce. Every
 * answer must be 200 and carry its own request's nonce in the signed content.
 *
 *   bench-http --target IP:PORT --sources IP[@DEVICE][,...] --requests N [--api-version V]
 *              [--rate R] [--any-document]
 *
 * Closed loop by default: each connection sends its next request as soon as the previous answer
 * is in (the throughput at saturation). With --rate, open loop: request i is due at
 * start + i / R s whatever the answers do, sent on a connection that is free (or as soon as one
 * is), and its latency counts from when it was due, so that time spent waiting for a free
 * connection is not hidden (no coordinated omission). --any-document accepts any 200 answer (the
 * static responder of bench-static has no nonce in its document).
 *
 * Prints "calls=N errors=E seconds=S rate=R p50_ms=X p99_ms=Y p999_ms=Z max_ms=M connections=C
 * offered=O" (O = --rate, 0 for closed loop). */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench-document.h"

#define BUF_SIZE (64 * 1024)

typedef struct Conn {
        int fd;
        struct sockaddr_in src;
        char device[IF_NAMESIZE];
        char req[512];
        size_t req_len, req_sent;
        char *buf;
        size_t len;
        char nonce[33];
        uint64_t start;
        bool busy;
        bool waiting_out; /* EPOLLOUT is armed: connecting, or a request partly sent */
} Conn;

static struct sockaddr_in target;
static const char *api_version = "2018-10-01";
static unsigned n_requests, issued, done, errors;
static uint64_t *latency;
static char first_error[512];
static bool any_document;

/* Open loop (--rate): when request i is due, the free connections, the timer for the next one. */
static double offered_rate;
static uint64_t start_usec;
static struct Conn **idle;
static unsigned n_idle;
static int timer_fd = -EBADF;
static uint64_t timer_armed_for;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000U + (uint64_t)ts.tv_nsec / 1000U;
}

static void record_error(const char *what, unsigned request) {
        errors++;
        if (!first_error[0])
                snprintf(first_error, sizeof first_error, "%s (request %u)", what, request);
}

static int conn_open(Conn *c, int ep) {
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        /* A simulated VM is an address on its own interface (a macvlan with the VM's MAC):
         * bind to the device too, so that the packets leave through it whatever the routes. */
        if (c->device[0] && setsockopt(c->fd, SOL_SOCKET, SO_BINDTODEVICE, c->device, strlen(c->device)) < 0)
                return -errno;
        if (bind(c->fd, (struct sockaddr *)&c->src, sizeof c->src) < 0)
                return -errno;
        if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS)
                return -errno;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                return -errno;
        c->len = 0;
        c->waiting_out = true;
        return 0;
}

static uint64_t due_at(unsigned i) {
        return start_usec + (uint64_t)((double)i * 1e6 / offered_rate);
}

static void conn_next(Conn *c) {
        uint64_t now = now_usec();

        if (issued >= n_requests || (offered_rate > 0 && due_at(issued) > now)) {
                c->busy = false;
                if (offered_rate > 0 && issued < n_requests)
                        idle[n_idle++] = c;
                return;
        }
        unsigned i = issued++;
        snprintf(c->nonce, sizeof c->nonce, "h%u-%08lx", i, (unsigned long)random());
        c->req_len = (size_t)snprintf(c->req, sizeof c->req,
                "GET /metadata/attested/document?api-version=%s&nonce=%s HTTP/1.1\r\n"
                "Host: 169.254.169.253\r\nMetadata: true\r\nUser-Agent: azshci-bench\r\n\r\n",
                api_version, c->nonce);
        c->req_sent = 0;
        c->len = 0;
        c->busy = true;
        c->start = offered_rate > 0 ? due_at(i) : now;
}

/* Sends what is left of the request at once (the socket is nearly always writable): the load
 * client's own system calls count against the CPUs the benchmark shares with the service. Waits
 * for EPOLLOUT only while a request is partly sent. */
static int conn_send(Conn *c, int ep) {
        ssize_t w = send(c->fd, c->req + c->req_sent, c->req_len - c->req_sent, MSG_NOSIGNAL);

        if (w < 0 && errno != EAGAIN)
                return -errno;
        if (w > 0)
                c->req_sent += (size_t)w;
        bool want_out = c->req_sent < c->req_len;
        if (want_out != c->waiting_out) {
                struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
                        return -errno;
                c->waiting_out = want_out;
        }
        return 0;
}

/* Returns 1 when a whole response was consumed, 0 when more is needed, <0 on a bad response. */
static int conn_parse(Conn *c, bool *ret_close) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        unsigned status;
        size_t head, clen = 0;

        if (!end)
                return c->len >= BUF_SIZE ? -EMSGSIZE : 0;
        head = (size_t)(end - c->buf) + 4;
        if (sscanf(c->buf, "HTTP/1.%*c %u", &status) != 1)
                return -EBADMSG;
        *ret_close = false;
        for (char *line = strstr(c->buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
                if (strncasecmp(line, "Content-Length:", 15) == 0)
                        clen = strtoul(line + 15, NULL, 10);
                else if (strncasecmp(line, "Connection:", 11) == 0 && strstr(line, "close") &&
                         strstr(line, "close") < strstr(line, "\r\n"))
                        *ret_close = true;
        }
        if (c->len < head + clen)
                return c->len >= BUF_SIZE ? -EMSGSIZE : 0;

        latency[done++] = now_usec() - c->start;
        if (status != 200) {
                char text[200];
                snprintf(text, sizeof text, "HTTP %u: %.*s", status, (int)(clen < 150 ? clen : 150),
                        c->buf + head);
                record_error(text, done);
        } else if (!any_document && !document_has_nonce(c->buf + head, clen, c->nonce))
                record_error("a document without its own request's nonce", done);
        memmove(c->buf, c->buf + head + clen, c->len - head - clen);
        c->len -= head + clen;
        return 1;
}

/* Open loop: starts the requests that are due on free connections, and arms the timer for the
 * next one that is not due yet. */
static int dispatch(int ep) {
        uint64_t now = now_usec();

        while (n_idle > 0 && issued < n_requests && due_at(issued) <= now) {
                Conn *k = idle[--n_idle];

                conn_next(k);
                /* Still connecting: EPOLLOUT sends it once connected. */
                if (!k->waiting_out && conn_send(k, ep) < 0)
                        return -EIO;
        }
        if (issued < n_requests && due_at(issued) > now && timer_armed_for != due_at(issued)) {
                uint64_t t = due_at(issued);
                struct itimerspec its = {.it_value = {.tv_sec = (time_t)(t / 1000000U),
                                                 .tv_nsec = (long)(t % 1000000U) * 1000}};

                if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                        return -errno;
                timer_armed_for = t;
        }
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {{"target", required_argument, NULL, 't'},
                {"sources", required_argument, NULL, 's'}, {"requests", required_argument, NULL, 'n'},
                {"api-version", required_argument, NULL, 'a'}, {"rate", required_argument, NULL, 'r'},
                {"any-document", no_argument, NULL, 'd'}, {}};
        char *sources = NULL;
        Conn *conns;
        unsigned n_conns = 0;
        int c, ep;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 't': {
                        char *colon = strrchr(optarg, ':');
                        if (!colon)
                                return 2;
                        *colon = 0;
                        target.sin_family = AF_INET;
                        target.sin_port = htons((uint16_t)atoi(colon + 1));
                        if (inet_pton(AF_INET, optarg, &target.sin_addr) != 1)
                                return 2;
                        break;
                }
                case 's':
                        sources = optarg;
                        break;
                case 'n':
                        n_requests = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'a':
                        api_version = optarg;
                        break;
                case 'r':
                        offered_rate = strtod(optarg, NULL);
                        break;
                case 'd':
                        any_document = true;
                        break;
                default:
                        fprintf(stderr, "Usage: %s --target IP:PORT --sources IP[,IP...] --requests N\n",
                                argv[0]);
                        return 2;
                }
        if (!sources || !target.sin_family || n_requests == 0) {
                fprintf(stderr, "Usage: %s --target IP:PORT --sources IP[,IP...] --requests N\n", argv[0]);
                return 2;
        }
        srandom((unsigned)now_usec());

        conns = calloc(strlen(sources) / 8 + 2, sizeof(Conn));
        latency = calloc(n_requests, sizeof(uint64_t));
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (!conns || !latency || ep < 0)
                return 1;
        for (char *s = strtok(sources, ","); s; s = strtok(NULL, ",")) {
                Conn *k = conns + n_conns++;
                char *at = strchr(s, '@');
                if (at) {
                        *at = 0;
                        snprintf(k->device, sizeof k->device, "%s", at + 1);
                }
                k->src.sin_family = AF_INET;
                if (inet_pton(AF_INET, s, &k->src.sin_addr) != 1) {
                        fprintf(stderr, "bad source address %s\n", s);
                        return 2;
                }
                k->buf = malloc(BUF_SIZE + 1);
                if (!k->buf)
                        return 1;
        }

        if (offered_rate > 0) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

                idle = calloc(n_conns, sizeof(Conn *));
                timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
                if (!idle || timer_fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, timer_fd, &ev) < 0)
                        return 1;
        }
        uint64_t start = start_usec = now_usec();
        for (unsigned i = 0; i < n_conns; i++) {
                int r = conn_open(conns + i, ep);
                if (r < 0) {
                        fprintf(stderr, "connecting from source %u: %s\n", i, strerror(-r));
                        return 1;
                }
                conn_next(conns + i);
        }

        while (done < n_requests) {
                struct epoll_event evs[64];
                int n = epoll_wait(ep, evs, 64, 30000);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        fprintf(stderr, "no progress for 30s (%u of %u done)\n", done, n_requests);
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        Conn *k = evs[i].data.ptr;
                        bool reopen = false;

                        if (!k) { /* the open-loop timer: dispatch() below starts what is due */
                                uint64_t expirations;
                                (void)read(timer_fd, &expirations, sizeof expirations);
                                timer_armed_for = 0;
                                continue;
                        }
                        if (!k->busy && k->waiting_out && (evs[i].events & EPOLLOUT)) {
                                /* Connected with nothing to send (open loop): stop EPOLLOUT. */
                                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
                                if (epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev) < 0)
                                        return 1;
                                k->waiting_out = false;
                        }
                        if (k->busy && k->req_sent < k->req_len && (evs[i].events & EPOLLOUT))
                                reopen = conn_send(k, ep) < 0;
                        if (!reopen && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                                ssize_t rd = recv(k->fd, k->buf + k->len, BUF_SIZE - k->len, 0);
                                if (rd > 0) {
                                        bool close_after = false;
                                        int r = 0;

                                        k->len += (size_t)rd;
                                        k->buf[k->len] = 0;
                                        while (k->busy && (r = conn_parse(k, &close_after)) > 0) {
                                                conn_next(k);
                                                if (close_after) {
                                                        reopen = true;
                                                        break;
                                                }
                                                if (k->busy && conn_send(k, ep) < 0) {
                                                        reopen = true;
                                                        break;
                                                }
                                        }
                                        if (k->busy && r < 0) {
                                                record_error(strerror(-r), done);
                                                reopen = true;
                                        }
                                } else if (rd == 0 || errno != EAGAIN)
                                        reopen = true;
                        }
                        if (reopen) {
                                close(k->fd);
                                for (unsigned j = 0; j < n_idle; j++)
                                        if (idle[j] == k) /* conn_next() below files it again */
                                                idle[j] = idle[--n_idle];
                                if (k->busy) {
                                        if (k->req_sent > 0 && k->len == 0 && k->req_sent == k->req_len) {
                                                /* The server closed while we waited: count it. */
                                                latency[done++] = now_usec() - k->start;
                                                record_error("connection closed without an answer", done);
                                                conn_next(k);
                                        }
                                }
                                if (k->busy || issued < n_requests) {
                                        int r = conn_open(k, ep);
                                        if (r < 0) {
                                                fprintf(stderr, "reconnecting: %s\n", strerror(-r));
                                                return 1;
                                        }
                                        if (!k->busy)
                                                conn_next(k);
                                        k->req_sent = 0;
                                }
                        }
                }
                if (offered_rate > 0 && dispatch(ep) < 0) {
                        fprintf(stderr, "open loop: cannot send or arm the timer\n");
                        return 1;
                }
        }
        double secs = (double)(now_usec() - start) / 1e6;

        qsort(latency, n_requests, sizeof(uint64_t), cmp_u64);
        printf("calls=%u errors=%u seconds=%.3f rate=%.1f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f "
               "connections=%u offered=%.0f\n",
                n_requests, errors, secs, n_requests / secs, latency[n_requests / 2] / 1e3,
                latency[(size_t)((n_requests - 1) * 0.99)] / 1e3,
                latency[(size_t)((n_requests - 1) * 0.999)] / 1e3, latency[n_requests - 1] / 1e3, n_conns,
                offered_rate);
        if (errors)
                fprintf(stderr, "%u of %u requests failed; first: %s\n", errors, n_requests, first_error);
        return errors ? 1 : 0;
}
