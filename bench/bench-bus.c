/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Load and timing client for the service on the system bus ($DBUS_SYSTEM_BUS_ADDRESS), for
 * bench/run.sh and the valgrind test in tests/faults. Many asynchronous calls in flight on one
 * connection, like a frontend under load.
 *
 *   bench-bus attest --calls N [--inflight K] [--transport vsock|http] --peers FIRST:COUNT
 *                    [--port] [--api-version V] [--direct SOCKET]
 *       Attest (or AttestForVersion) N times, each with a fresh nonce, round robin over the
 *       peers: vsock CIDs FIRST..FIRST+COUNT-1, or with --port the legacy ports of VMs FIRST..
 *       (see vm_port(): the peer of the http transport is the bridge port). Every reply must
 *       carry its own nonce in the signed content. Prints "calls=N errors=E seconds=S rate=R
 *       p50_ms=X p99_ms=Y max_ms=Z over_20ms=K". With --direct, on a peer-to-peer connection to
 *       the service's frontend socket instead of the bus (what the frontends do).
 *   bench-bus register --vms N [--first F] [--inflight K]
 *       RegisterVM for VMs F..F+N-1 (the ids, CIDs and MACs of tests/lib/vmdata.py, and
 *       LegacyInterface vm_port()).
 *   bench-bus unregister --vms N [--first F] [--inflight K]
 *   bench-bus import --vms N [--first F] [--batch K]
 *       The same VMs as register, with ImportVMs calls of K VMs each (default 10000), one
 *       after the other: "vms=N calls=C seconds=S rate=R max_call_ms=M".
 *   bench-bus managed-objects   GetManagedObjects once: "objects=N seconds=S bytes=B"
 *   bench-bus enable-legacy true|false   EnableLegacy once (the service re-evaluates every VM
 *       before it replies): "seconds=S"
 *   bench-bus sync              Sync once: "seconds=S"
 *
 * Exit status 0 when every call succeeded. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "bench-document.h"

#include "macro.h"

#define BUS_NAME  "org.azshci.Attestation1"
#define BUS_PATH  "/org/azshci/Attestation1"
#define BUS_IFACE "org.azshci.Attestation1"

typedef struct Load Load;

typedef struct Call {
        Load *load;
        uint64_t start, end;
        char nonce[33];
} Call;

struct Load {
        sd_bus *bus;
        Call *calls;
        unsigned n_calls, issued, done, inflight, max_inflight, errors;
        const char *transport, *api_version, *verb;
        const char *destination; /* BUS_NAME, NULL on a direct connection */
        unsigned first, count;
        bool port;
        char first_error[256];
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000U + (uint64_t)ts.tv_nsec / 1000U;
}

static void vm_id(unsigned n, char buf[static 37]) {
        snprintf(buf, 37, "6a1b2c3d-4e5f-4000-8000-%012x", n);
}

static void vm_mac(unsigned n, char buf[static 18]) {
        snprintf(buf, 18, "52:54:00:00:%02x:%02x", (n >> 8) & 0xff, n & 0xff);
}

/* The host side of VM n's legacy NIC (vm_port() in tests/lib/vmdata.py). */
static void vm_port(unsigned n, char buf[static 16]) {
        snprintf(buf, 16, "azv%u", n);
}

static void record_error(Load *l, const sd_bus_error *e, const char *what) {
        l->errors++;
        if (!l->first_error[0])
                snprintf(l->first_error, sizeof l->first_error, "%s: %s", e && e->name ? e->name : what,
                        e && e->message ? e->message : "");
}

static int attest_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        Load *l = c->load;
        const char *doc;

        c->end = now_usec();
        l->inflight--;
        l->done++;
        if (sd_bus_message_is_method_error(m, NULL)) {
                record_error(l, sd_bus_message_get_error(m), "error");
                return 0;
        }
        if (sd_bus_message_read(m, "s", &doc) < 0) {
                record_error(l, NULL, "unreadable reply");
                return 0;
        }
        if (!document_has_nonce(doc, strlen(doc), c->nonce))
                record_error(l, NULL, "a document without its own request's nonce");
        return 0;
}

static int issue_attest(Load *l) {
        unsigned i = l->issued++;
        Call *c = l->calls + i;
        char peer[32];
        int r;

        c->load = l;
        if (l->port)
                vm_port(l->first + i % l->count, peer);
        else
                snprintf(peer, sizeof peer, "%u", l->first + i % l->count);
        snprintf(c->nonce, sizeof c->nonce, "b%u-%08lx", i, (unsigned long)random());
        c->start = now_usec();
        if (l->api_version)
                r = sd_bus_call_method_async(l->bus, NULL, l->destination, BUS_PATH, BUS_IFACE,
                        "AttestForVersion", attest_reply, c, "ssss", l->transport, peer, c->nonce,
                        l->api_version);
        else
                r = sd_bus_call_method_async(l->bus, NULL, l->destination, BUS_PATH, BUS_IFACE, "Attest",
                        attest_reply, c, "sss", l->transport, peer, c->nonce);
        if (r < 0)
                return r;
        l->inflight++;
        return 0;
}

static int simple_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        Load *l = c->load;

        c->end = now_usec();
        l->inflight--;
        l->done++;
        if (sd_bus_message_is_method_error(m, NULL))
                record_error(l, sd_bus_message_get_error(m), "error");
        return 0;
}

/* The a{sv} of VM n (as in tests/lib/vmdata.py). */
static int append_vm_registration(sd_bus_message *m, unsigned n) {
        char id[37], mac[18], port[16], name[32];

        vm_id(n, id);
        vm_mac(n, mac);
        vm_port(n, port);
        snprintf(name, sizeof name, "vm%u", n);
        return sd_bus_message_append(m, "a{sv}", 11, "Id", "s", id, "Name", "s", name, "Generation", "u",
                (uint32_t)2, "PowerState", "s", "Running", "GuestServiceInterface", "b", 1, "DataExchange",
                "b", 1, "OsName", "s", "Windows Server 2022 Datacenter: Azure Edition", "OsVersion", "s",
                "10.0.20348.2402", "VsockCid", "u", (uint32_t)(100 + n), "LegacyMac", "s", mac,
                "LegacyInterface", "s", port);
}

static int issue_register(Load *l) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        unsigned i = l->issued++, n = l->first + i;
        Call *c = l->calls + i;
        char id[37];
        int r;

        c->load = l;
        vm_id(n, id);
        if (streq(l->verb, "unregister"))
                r = sd_bus_message_new_method_call(l->bus, &m, BUS_NAME, BUS_PATH, BUS_IFACE,
                        "UnregisterVM");
        else
                r = sd_bus_message_new_method_call(l->bus, &m, BUS_NAME, BUS_PATH, BUS_IFACE, "RegisterVM");
        if (r < 0)
                return r;
        if (streq(l->verb, "unregister"))
                r = sd_bus_message_append(m, "s", id);
        else
                r = append_vm_registration(m, n);
        if (r < 0)
                return r;
        c->start = now_usec();
        r = sd_bus_call_async(l->bus, NULL, m, simple_reply, c, 0);
        if (r < 0)
                return r;
        l->inflight++;
        return 0;
}

/* ImportVMs of VMs first..first+n-1, batch at a time; each reply must list one path per VM. */
static int run_import(sd_bus *bus, unsigned first, unsigned n, unsigned batch) {
        uint64_t start, end, slowest = 0;
        unsigned calls = 0;
        int r;

        start = now_usec();
        for (unsigned done = 0; done < n; calls++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                unsigned k = MIN(batch, n - done), paths = 0;
                uint64_t t;

                r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_IFACE, "ImportVMs");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "a{sv}");
                for (unsigned i = 0; r >= 0 && i < k; i++)
                        r = append_vm_registration(m, first + done + i);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0) {
                        fprintf(stderr, "building ImportVMs: %s\n", strerror(-r));
                        return r;
                }
                t = now_usec();
                r = sd_bus_call(bus, m, 600 * UINT64_C(1000000), &error, &reply);
                t = now_usec() - t;
                if (r < 0) {
                        fprintf(stderr, "ImportVMs of VMs %u..%u: %s\n", first + done, first + done + k - 1,
                                error.message ?: strerror(-r));
                        return r;
                }
                slowest = MAX(slowest, t);
                r = sd_bus_message_enter_container(reply, 'a', "o");
                while (r >= 0 && (r = sd_bus_message_skip(reply, "o")) > 0)
                        paths++;
                if (r < 0 || paths != k) {
                        fprintf(stderr, "ImportVMs replied %u paths for %u VMs\n", paths, k);
                        return -EIO;
                }
                done += k;
        }
        end = now_usec();
        printf("vms=%u calls=%u seconds=%.3f rate=%.1f max_call_ms=%.1f\n", n, calls, (end - start) / 1e6,
                n / ((end - start) / 1e6), slowest / 1e3);
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int run_load(Load *l, int (*issue)(Load *l)) {
        uint64_t start, end, *lat;
        int r;

        l->calls = calloc(l->n_calls, sizeof(Call));
        if (!l->calls)
                return -ENOMEM;
        start = now_usec();
        while (l->done < l->n_calls) {
                while (l->inflight < l->max_inflight && l->issued < l->n_calls) {
                        r = issue(l);
                        if (r < 0) {
                                fprintf(stderr, "sending call %u: %s\n", l->issued, strerror(-r));
                                return r;
                        }
                }
                r = sd_bus_process(l->bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "bus: %s\n", strerror(-r));
                        return r;
                }
                if (r > 0)
                        continue;
                r = sd_bus_wait(l->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "bus wait: %s\n", strerror(-r));
                        return r;
                }
        }
        end = now_usec();

        lat = calloc(l->n_calls, sizeof(uint64_t));
        if (!lat)
                return -ENOMEM;
        for (unsigned i = 0; i < l->n_calls; i++)
                lat[i] = l->calls[i].end - l->calls[i].start;
        qsort(lat, l->n_calls, sizeof(uint64_t), cmp_u64);
        double secs = (double)(end - start) / 1e6;
        unsigned over_20ms = 0;
        for (unsigned i = 0; i < l->n_calls; i++)
                over_20ms += lat[i] > 20 * 1000;
        printf("calls=%u errors=%u seconds=%.3f rate=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f over_20ms=%u "
               "inflight=%u\n",
                l->n_calls, l->errors, secs, l->n_calls / secs, lat[l->n_calls / 2] / 1e3,
                lat[(size_t)((l->n_calls - 1) * 0.99)] / 1e3, lat[l->n_calls - 1] / 1e3, over_20ms,
                l->max_inflight);
        if (l->errors)
                fprintf(stderr, "%u of %u calls failed; first: %s\n", l->errors, l->n_calls, l->first_error);
        free(lat);
        free(l->calls);
        return l->errors ? -EIO : 0;
}

static int timed_call(sd_bus *bus, const char *what, const char *arg) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t start, end;
        int r;

        start = now_usec();
        if (streq(what, "managed-objects"))
                r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.ObjectManager",
                        "GetManagedObjects", &error, &reply, NULL);
        else if (streq(what, "enable-legacy"))
                r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_IFACE, "EnableLegacy", &error, &reply,
                        "b", arg && streq(arg, "true"));
        else
                r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_IFACE, "Sync", &error, &reply, NULL);
        end = now_usec();
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", what, error.message ?: strerror(-r));
                return r;
        }
        if (streq(what, "managed-objects")) {
                unsigned n = 0;

                r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_skip(reply, "{oa{sa{sv}}}")) > 0)
                        n++;
                printf("objects=%u seconds=%.3f\n", n, (end - start) / 1e6);
        } else
                printf("seconds=%.3f\n", (end - start) / 1e6);
        return 0;
}

static void usage(void) {
        fprintf(stderr,
                "Usage: bench-bus attest --calls N [--inflight K] [--transport T] --peers FIRST:COUNT [--port] "
                "[--api-version V]\n"
                "       bench-bus register|unregister --vms N [--first F] [--inflight K]\n"
                "       bench-bus import --vms N [--first F] [--batch K]\n"
                "       (attest also takes --direct SOCKET: the service's frontend socket)\n"
                "       bench-bus managed-objects | enable-legacy true|false | sync\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {{"calls", required_argument, NULL, 'n'},
                {"vms", required_argument, NULL, 'n'}, {"inflight", required_argument, NULL, 'k'},
                {"transport", required_argument, NULL, 't'}, {"peers", required_argument, NULL, 'p'},
                {"first", required_argument, NULL, 'f'}, {"port", no_argument, NULL, 'm'},
                {"api-version", required_argument, NULL, 'a'}, {"batch", required_argument, NULL, 'b'},
                {"direct", required_argument, NULL, 'd'}, {}};
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Load l = {.max_inflight = 64,
                .transport = "vsock",
                .first = 101,
                .count = 1,
                .destination = BUS_NAME};
        const char *direct = NULL;
        bool first_set = false;
        unsigned batch = 10000;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        l.n_calls = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'k':
                        l.max_inflight = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 't':
                        l.transport = optarg;
                        break;
                case 'p':
                        if (sscanf(optarg, "%u:%u", &l.first, &l.count) != 2 || l.count == 0) {
                                usage();
                                return 2;
                        }
                        break;
                case 'f':
                        first_set = true;
                        l.first = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'm':
                        l.port = true;
                        break;
                case 'a':
                        l.api_version = optarg;
                        break;
                case 'b':
                        batch = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'd':
                        direct = optarg;
                        break;
                default:
                        usage();
                        return 2;
                }
        if (optind >= argc) {
                usage();
                return 2;
        }
        l.verb = argv[optind];
        srandom((unsigned)now_usec());

        if (direct) {
                char address[256];

                snprintf(address, sizeof address, "unix:path=%s", direct);
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_start(bus);
                l.destination = NULL;
        } else
                r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "connecting to %s: %s\n", direct ?: "the system bus", strerror(-r));
                return 1;
        }
        l.bus = bus;

        if (streq(l.verb, "attest")) {
                if (l.n_calls == 0) {
                        usage();
                        return 2;
                }
                r = run_load(&l, issue_attest);
        } else if (streq(l.verb, "register") || streq(l.verb, "unregister")) {
                if (l.n_calls == 0) {
                        usage();
                        return 2;
                }
                if (!first_set)
                        l.first = 1;
                r = run_load(&l, issue_register);
        } else if (streq(l.verb, "import")) {
                if (l.n_calls == 0 || batch == 0) {
                        usage();
                        return 2;
                }
                r = run_import(bus, first_set ? l.first : 1, l.n_calls, batch);
        } else if (streq(l.verb, "managed-objects") || streq(l.verb, "sync"))
                r = timed_call(bus, l.verb, NULL);
        else if (streq(l.verb, "enable-legacy") && optind + 1 < argc)
                r = timed_call(bus, l.verb, argv[optind + 1]);
        else {
                usage();
                return 2;
        }
        return r < 0 ? 1 : 0;
}
