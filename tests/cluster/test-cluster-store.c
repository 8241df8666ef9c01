/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cluster store (cluster-store.h) against three real etcd members (Debian's etcd, started
 * here on loopback ports): two stores converge on a change either makes, see each other's
 * status and see a stopped one Disconnected after its lease; concurrent compare-and-swap
 * changes end in one state both agree on; a store whose member is gone fails over to the
 * others; without quorum changes are refused and nothing is applied; a watch that resumes
 * from a compacted revision reads everything again (and raises a reapply request made
 * meanwhile); records of the wrong shape or not text do not stop the store and are replaced by
 * changes; the watch moves off a member that hangs; a fourth, https-only member with
 * client-certificate authentication is reached with the TLS options and only with them (an
 * http:// member beside them is refused). Each test uses its own key prefix. */

#include <glib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "cluster-store.h"
#include "strv.h"

#define N_MEMBERS 3
#define TTL       2
#define ID1       "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"
#define ID2       "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

static sd_event *event;
static char *tmpdir;
static GPid members[N_MEMBERS];
static char *client_urls[N_MEMBERS + 1];
static char *initial_cluster;
static unsigned base_port;

/* In the child, before etcd runs: it dies with the test, also when a failed assertion aborts
 * the test before it could stop its members. */
static void die_with_parent(gpointer userdata) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void member_start(unsigned i) {
        g_autofree char *name = g_strdup_printf("m%u", i);
        g_autofree char *dir = g_strdup_printf("%s/%s", tmpdir, name);
        g_autofree char *peer = g_strdup_printf("http://127.0.0.1:%u", base_port + 2 * i + 1);
        g_autofree char *log = g_strdup_printf("%s/%s.log", tmpdir, name);
        g_autoptr(GError) error = NULL;
        char *argv[] = {
                (char *)"/bin/sh",
                (char *)"-c",
                g_strdup_printf(
                        "exec etcd --name %s --data-dir %s --listen-client-urls %s --advertise-client-urls %s "
                        "--listen-peer-urls %s --initial-advertise-peer-urls %s --initial-cluster %s "
                        "--initial-cluster-state new --heartbeat-interval 50 --election-timeout 500 "
                        ">>%s 2>&1",
                        name, dir, client_urls[i], client_urls[i], peer, peer, initial_cluster, log),
                NULL,
        };

        g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL,
                &members[i], &error));
        g_free(argv[2]);
}

static void member_stop(unsigned i) {
        int status;

        g_assert_cmpint(members[i], >, 0);
        g_assert_cmpint(kill(members[i], SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(members[i], &status, 0), ==, members[i]);
        members[i] = 0;
}

typedef struct Seen {
        unsigned changes;
} Seen;

static void on_changed(ClusterStore *s, unsigned what, void *userdata) {
        Seen *seen = userdata;
        if (seen)
                seen->changes |= what;
}

static ClusterStore *store_new(const char *prefix, const char *name, char *const *endpoints, Seen *seen) {
        ClusterStore *s = NULL;

        g_assert_cmpint(cluster_store_new(event,
                                &(ClusterStoreOptions){
                                        .endpoints = endpoints,
                                        .prefix = prefix,
                                        .server_name = name,
                                        .lease_ttl_sec = TTL,
                                        .timeout = 2 * USEC_PER_SEC,
                                },
                                on_changed, seen, &s),
                ==, 0);
        g_assert_cmpint(cluster_store_start(s), ==, 0);
        return s;
}

/* Runs the loop until pred holds, failing the test after timeout_sec. */
#define RUN_UNTIL(pred, timeout_sec)                                                             \
        do {                                                                                     \
                gint64 _deadline = g_get_monotonic_time() + (timeout_sec)*G_USEC_PER_SEC;        \
                while (!(pred)) {                                                                \
                        if (g_get_monotonic_time() > _deadline)                                  \
                                g_error("timed out after %ds waiting for: %s (etcd logs in %s)", \
                                        (timeout_sec), #pred, tmpdir);                           \
                        g_assert_cmpint(sd_event_run(event, 50 * USEC_PER_MSEC), >=, 0);         \
                }                                                                                \
        } while (0)

typedef struct Done {
        bool called;
        int error;
        char *message;
} Done;

static void on_done(ClusterStore *s, int error, const char *message, void *userdata) {
        Done *d = userdata;
        d->called = true;
        d->error = error;
        d->message = g_strdup(message);
}

/* A change right after a member was killed: while the other two elect a leader (longer than the
 * 2 s call timeout on a loaded machine) the change may time out without being applied; it is
 * sent again then, at most three times. Any other error fails the test. */
static void set_legacy_after_kill(ClusterStore *s, bool on) {
        for (int attempt = 0;; attempt++) {
                Done d = {};

                g_assert_cmpint(cluster_store_set_legacy(s, on, on_done, &d), ==, 0);
                RUN_UNTIL(d.called, 15);
                g_free(d.message);
                if (d.error == 0)
                        return;
                g_assert_cmpint(d.error, ==, -ETIMEDOUT);
                g_assert_cmpint(attempt, <, 2);
                RUN_UNTIL(cluster_store_reachable(s), 30);
        }
}

static int legacy_of(ClusterStore *s) {
        ClusterSettings cs;
        return cluster_store_get_settings(s, &cs) ? cs.legacy_support : -1;
}

static const char *state_of(ClusterStore *s, const char *name) {
        size_t n;
        const ClusterServerView *v = cluster_store_servers(s, &n);

        for (size_t i = 0; i < n; i++)
                if (streq(v[i].name, name))
                        return cluster_server_view_state(&v[i]);
        return "absent";
}

static void publish(ClusterStore *s, const char *state) {
        g_assert_cmpint(cluster_store_publish_status(s, &(ClusterServerRecord){.state = (char *)state}), ==,
                0);
}

static void test_converge(void) {
        Seen seen_b = {};
        Done d = {};
        ClusterStore *a = store_new("/t/converge", "a", client_urls, NULL);
        ClusterStore *b = store_new("/t/converge", "b", client_urls, &seen_b);
        ClusterGrant g;

        RUN_UNTIL(cluster_store_loaded(a) && cluster_store_reachable(a) && cluster_store_loaded(b), 20);
        g_assert_cmpint(legacy_of(b), ==, -1);

        g_assert_cmpint(cluster_store_set_legacy(a, true, on_done, &d), ==, 0);
        RUN_UNTIL(d.called, 5);
        g_assert_cmpint(d.error, ==, 0);
        g_assert_cmpint(legacy_of(a), ==, 1); /* the writer's view follows at once */
        RUN_UNTIL(legacy_of(b) == 1, 5);
        g_assert_true(seen_b.changes & CLUSTER_CHANGED_SETTINGS);

        d = (Done){};
        g_assert_cmpint(cluster_store_set_grants(b, STRV_MAKE(ID1, ID2), true, on_done, &d), ==, 0);
        RUN_UNTIL(d.called, 5);
        g_assert_cmpint(d.error, ==, 0);
        RUN_UNTIL(cluster_store_get_grant(a, ID2, &g) == 0, 5);
        g_assert_true(g.legacy_access);
        g_assert_cmpint(cluster_store_get_grant(a, ID1, &g), ==, 0);
        g_assert_true(g.legacy_access);

        /* A reapply request reaches the server it names, and only that one. */
        seen_b.changes = 0;
        d = (Done){};
        g_assert_cmpint(cluster_store_request_reapply(a, "b", on_done, &d), ==, 0);
        RUN_UNTIL(d.called && (seen_b.changes & CLUSTER_CHANGED_REAPPLY), 5);
        g_assert_cmpint(d.error, ==, 0);
        g_free(d.message);
        d = (Done){};
        seen_b.changes = 0;
        g_assert_cmpint(cluster_store_request_reapply(b, "a", on_done, &d), ==, 0);
        RUN_UNTIL(d.called, 5);
        g_assert_cmpint(d.error, ==, 0);
        g_assert_false(seen_b.changes & CLUSTER_CHANGED_REAPPLY);

        /* Statuses under leases: both see both; a store that stops is Disconnected after its TTL. */
        publish(a, "Active");
        publish(b, "Expired");
        RUN_UNTIL(streq(state_of(a, "b"), "Expired") && streq(state_of(b, "a"), "Active"), 5);
        cluster_store_free(b);
        g_assert_cmpstr(state_of(a, "b"), ==, "Expired");
        RUN_UNTIL(streq(state_of(a, "b"), CLUSTER_STATE_DISCONNECTED), TTL + 4);
        /* … and Active again when it comes back. */
        b = store_new("/t/converge", "b", client_urls, NULL);
        publish(b, "Active");
        RUN_UNTIL(streq(state_of(a, "b"), "Active"), 10);
        /* a late joiner reads what was set before it came (its read may end after its status
         * was written) */
        RUN_UNTIL(legacy_of(b) == 1, 5);

        cluster_store_free(a);
        cluster_store_free(b);
        g_free(d.message);
}

static void test_concurrent(void) {
        ClusterStore *a = store_new("/t/concurrent", "a", client_urls, NULL);
        ClusterStore *b = store_new("/t/concurrent", "b", client_urls, NULL);

        RUN_UNTIL(cluster_store_reachable(a) && cluster_store_loaded(a) && cluster_store_reachable(b) &&
                          cluster_store_loaded(b),
                20);
        for (unsigned round = 0; round < 5; round++) {
                Done da = {}, db = {};

                g_assert_cmpint(cluster_store_set_legacy(a, true, on_done, &da), ==, 0);
                g_assert_cmpint(cluster_store_set_legacy(b, false, on_done, &db), ==, 0);
                RUN_UNTIL(da.called && db.called, 10);
                g_assert_cmpint(da.error, ==, 0);
                g_assert_cmpint(db.error, ==, 0);
                /* Both applied in some order: the last one wins, and both views agree on it. */
                RUN_UNTIL(legacy_of(a) >= 0 && legacy_of(a) == legacy_of(b), 5);
                g_free(da.message);
                g_free(db.message);
        }
        cluster_store_free(a);
        cluster_store_free(b);
}

static void test_quorum(void) {
        Seen seen = {};
        Done d = {};
        ClusterStore *a = store_new("/t/quorum", "a", client_urls, &seen);
        ClusterStore *b = store_new("/t/quorum", "b", STRV_MAKE(client_urls[2]), NULL);

        RUN_UNTIL(cluster_store_reachable(a) && cluster_store_loaded(a) && cluster_store_loaded(b), 20);

        /* One member gone (a's first endpoint): a fails over; quorum holds, changes work. */
        member_stop(0);
        set_legacy_after_kill(a, true);
        RUN_UNTIL(legacy_of(b) == 1, 5);

        /* Two gone: no quorum. The store says unreachable, refuses changes, keeps its view. */
        member_stop(1);
        RUN_UNTIL(!cluster_store_reachable(a), 3 * TTL + 5);
        g_assert_true(seen.changes & CLUSTER_CHANGED_REACHABLE);
        g_assert_cmpint(legacy_of(a), ==, 1);
        g_assert_cmpint(cluster_store_set_legacy(a, false, on_done, &d), ==, -ENOTCONN);
        /* b still talks to the last member, which answers but cannot commit: refused too. */
        if (cluster_store_reachable(b)) {
                d = (Done){};
                g_assert_cmpint(cluster_store_set_legacy(b, false, on_done, &d), ==, 0);
                RUN_UNTIL(d.called, 10);
                g_assert_cmpint(d.error, <, 0);
                g_free(d.message);
        }

        /* Back: both converge, and nothing of the refused change was applied. */
        member_start(0);
        member_start(1);
        RUN_UNTIL(cluster_store_reachable(a) && cluster_store_reachable(b), 30);
        g_assert_cmpint(legacy_of(a), ==, 1);
        g_assert_cmpint(legacy_of(b), ==, 1);
        d = (Done){};
        g_assert_cmpint(cluster_store_set_legacy(b, false, on_done, &d), ==, 0);
        RUN_UNTIL(d.called, 10);
        g_assert_cmpint(d.error, ==, 0);
        RUN_UNTIL(legacy_of(a) == 0, 10);

        cluster_store_free(a);
        cluster_store_free(b);
        g_free(d.message);
}

static void test_compacted(void) {
        Seen seen_b = {};
        Done d = {};
        ClusterStore *a = store_new("/t/compact", "a", STRV_MAKE(client_urls[0], client_urls[1]), NULL);
        ClusterStore *b = store_new("/t/compact", "b", STRV_MAKE(client_urls[2]), &seen_b);
        g_autofree char *out = NULL;
        g_autofree char *cmd = NULL;
        int status;

        RUN_UNTIL(cluster_store_reachable(a) && cluster_store_loaded(a) && cluster_store_reachable(b) &&
                          cluster_store_loaded(b),
                20);
        member_stop(2); /* b loses its only member */
        for (int i = 0; i < 3; i++)
                set_legacy_after_kill(a, i % 2 == 0);
        /* a reapply request for b while b is away: b must still see it, from its new read */
        g_assert_cmpint(cluster_store_request_reapply(a, "b", on_done, &d), ==, 0);
        RUN_UNTIL(d.called, 10);
        g_assert_cmpint(d.error, ==, 0);
        seen_b.changes = 0;
        /* compact everything up to now, so b's watch cannot resume */
        cmd = g_strdup_printf(
                "sh -c 'rev=$(ETCDCTL_API=3 etcdctl --endpoints=%s endpoint status -w fields | "
                "sed -n \"s/^\\\"Revision\\\" : //p\"); ETCDCTL_API=3 etcdctl --endpoints=%s compact "
                "$rev'",
                client_urls[0], client_urls[0]);
        g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, &status, NULL));
        g_assert_cmpint(status, ==, 0);
        g_assert_nonnull(strstr(out, "compacted revision"));
        member_start(2);
        RUN_UNTIL(legacy_of(b) == 1, 30);
        RUN_UNTIL(seen_b.changes & CLUSTER_CHANGED_REAPPLY, 5);

        cluster_store_free(a);
        cluster_store_free(b);
        g_free(d.message);
}

static void run_ok(const char *cmd) {
        g_autofree char *err = NULL;
        int status;

        g_assert_true(g_spawn_command_line_sync(cmd, NULL, &err, &status, NULL));
        if (status != 0)
                g_error("%s failed: %s", cmd, err);
}

/* Puts key (any bytes, size n) = value through member 0's gateway, past the service (curl
 * retries while the member is not up yet or has no leader, for at most 30 s). */
static void put_raw(const char *key, size_t n, const char *value) {
        g_autofree char *k = g_base64_encode((const guchar *)key, n);
        g_autofree char *v = g_base64_encode((const guchar *)value, strlen(value));
        g_autofree char *cmd = g_strdup_printf(
                "curl -sSf -o /dev/null --retry 30 --retry-connrefused --retry-max-time 30 -X POST -d '{\"key\":\"%s\",\"value\":\"%s\"}' %s/v3/kv/put",
                k, v, client_urls[0]);

        run_ok(cmd);
}

/* Records the service did not write: a foreign key that is not text (NUL byte), settings and a
 * grant of the wrong shape. The store still loads and follows the good records; a change
 * replaces a bad record (its revision is kept for the compare-and-swap). */
static void test_bad_records(void) {
        static const char nul_key[] = "/t/bad/a\0b", nul_key2[] = "/t/bad/c\0d";
        _cleanup_strv_free_ char **ids = NULL;
        ClusterStore *a;
        ClusterGrant g;
        Done d = {};

        put_raw(nul_key, sizeof(nul_key) - 1, "x");
        put_raw("/t/bad/settings", strlen("/t/bad/settings"), "not json");
        put_raw("/t/bad/grants/" ID1, strlen("/t/bad/grants/" ID1), "{\"legacyAccess\":\"yes\"}");
        a = store_new("/t/bad", "a", client_urls, NULL);
        RUN_UNTIL(cluster_store_loaded(a) && cluster_store_reachable(a), 20);
        g_assert_cmpint(legacy_of(a), ==, -1);
        g_assert_cmpint(cluster_store_get_grant(a, ID1, &g), ==, -ENOENT);
        g_assert_cmpint(cluster_store_grant_ids(a, &ids), ==, 0);
        g_assert_null(ids);

        g_assert_cmpint(cluster_store_set_legacy(a, true, on_done, &d), ==, 0);
        RUN_UNTIL(d.called, 10);
        g_assert_cmpstr(d.message, ==, NULL);
        g_assert_cmpint(d.error, ==, 0);
        g_assert_cmpint(legacy_of(a), ==, 1);
        d = (Done){};
        g_assert_cmpint(cluster_store_set_grants(a, STRV_MAKE(ID1), true, on_done, &d), ==, 0);
        RUN_UNTIL(d.called, 10);
        g_assert_cmpint(d.error, ==, 0);
        g_assert_cmpint(cluster_store_get_grant(a, ID1, &g), ==, 0);
        g_assert_true(g.legacy_access);

        /* The watch goes on past another such key. */
        put_raw(nul_key2, sizeof(nul_key2) - 1, "y");
        put_raw("/t/bad/settings", strlen("/t/bad/settings"), "{\"legacySupport\":false}");
        RUN_UNTIL(legacy_of(a) == 0, 10);

        cluster_store_free(a);
        g_free(d.message);
}

/* The member a store watches through hangs (SIGSTOP: its port still accepts connections, nothing
 * answers): the store's next calls fail over, and its watch follows them, so a change made
 * through another member reaches it while that member is still stopped. */
static void test_hung_member(void) {
        ClusterStore *a = store_new("/t/hung", "a", client_urls, NULL);
        ClusterStore *b = store_new("/t/hung", "b", STRV_MAKE(client_urls[1], client_urls[2]), NULL);

        RUN_UNTIL(cluster_store_reachable(a) && cluster_store_loaded(a) && cluster_store_reachable(b) &&
                          cluster_store_loaded(b),
                20);
        g_assert_cmpint(kill(members[0], SIGSTOP), ==, 0);
        set_legacy_after_kill(b, true);
        /* a's lease renewal times out (2 s) on the stopped member, then the watch moves */
        RUN_UNTIL(legacy_of(a) == 1, 3 * 2 + TTL + 5);
        g_assert_cmpint(kill(members[0], SIGCONT), ==, 0);

        cluster_store_free(a);
        cluster_store_free(b);
}

/* A started store of the https-only member at url under /t/tls, trusting ca, with the client
 * certificate crt and its key (NULL: none). */
static ClusterStore *tls_store(char *url, const char *ca, const char *crt, const char *key,
        const char *name) {
        ClusterStore *s = NULL;

        g_assert_cmpint(cluster_store_new(event,
                                &(ClusterStoreOptions){
                                        .endpoints = STRV_MAKE(url),
                                        .ca_file = ca,
                                        .cert_file = crt,
                                        .key_file = key,
                                        .prefix = "/t/tls",
                                        .server_name = name,
                                        .lease_ttl_sec = TTL,
                                },
                                NULL, NULL, &s),
                ==, 0);
        g_assert_cmpint(cluster_store_start(s), ==, 0);
        return s;
}

/* A member that speaks only https and wants a client certificate (etcd --client-cert-auth):
 * the store reaches it with caFile/certFile/keyFile, and not without a client certificate. */
static void test_tls(void) {
        g_autofree char *d = g_strdup_printf("%s/tls", tmpdir);
        g_autofree char *ext = g_strdup_printf("%s/ext", d);
        g_autofree char *ca = g_strdup_printf("%s/ca.pem", d), *crt = g_strdup_printf("%s/client.pem", d);
        g_autofree char *key = g_strdup_printf("%s/client.key", d);
        g_autofree char *url = g_strdup_printf("https://127.0.0.1:%u", base_port + 8);
        g_autofree char *cmd = NULL;
        g_autoptr(GError) error = NULL;
        ClusterStore *a, *b;
        Done d1 = {};
        GPid pid;
        int status;

        g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
        cmd = g_strdup_printf(
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/ca.key "
                "-out %s -days 1 -subj /CN=etcd-test-ca -addext basicConstraints=critical,CA:TRUE "
                "-addext keyUsage=critical,keyCertSign",
                d, ca);
        run_ok(cmd);
        g_assert_true(g_file_set_contents(ext,
                "subjectAltName=IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth,clientAuth\n",
                -1, NULL));
        for (int i = 0; i < 2; i++) {
                const char *who = i == 0 ? "server" : "client";
                g_free(cmd);
                cmd = g_strdup_printf(
                        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
                        "%s/%s.key -out %s/%s.csr -subj /CN=%s",
                        d, who, d, who, who);
                run_ok(cmd);
                g_free(cmd);
                cmd = g_strdup_printf(
                        "openssl x509 -req -in %s/%s.csr -CA %s -CAkey %s/ca.key -CAcreateserial "
                        "-out %s/%s.pem -days 1 -extfile %s",
                        d, who, ca, d, d, who, ext);
                run_ok(cmd);
        }

        {
                g_autofree char *peer = g_strdup_printf("http://127.0.0.1:%u", base_port + 9);
                char *argv[] = {
                        (char *)"/bin/sh",
                        (char *)"-c",
                        g_strdup_printf(
                                "exec etcd --name t --data-dir %s/data --listen-client-urls %s "
                                "--advertise-client-urls %s --listen-peer-urls %s "
                                "--initial-advertise-peer-urls %s --initial-cluster t=%s "
                                "--cert-file %s/server.pem --key-file %s/server.key --client-cert-auth "
                                "--trusted-ca-file %s >>%s/etcd.log 2>&1",
                                d, url, url, peer, peer, peer, d, d, ca, d),
                        NULL,
                };
                g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent,
                        NULL, &pid, &error));
                g_free(argv[2]);
        }

        /* With TLS options a plain http:// member is refused outright (it would let whoever sits
         * on the path answer for the cluster), even next to an https one. */
        a = NULL;
        g_assert_cmpint(cluster_store_new(event,
                                &(ClusterStoreOptions){
                                        .endpoints = STRV_MAKE(client_urls[0], url),
                                        .ca_file = ca,
                                        .prefix = "/t/tls",
                                        .server_name = "a",
                                        .lease_ttl_sec = TTL,
                                },
                                NULL, NULL, &a),
                ==, -EINVAL);
        g_assert_null(a);

        a = tls_store(url, ca, crt, key, "a");
        b = tls_store(url, ca, NULL, NULL, "b"); /* no client certificate */

        RUN_UNTIL(cluster_store_reachable(a) && cluster_store_loaded(a), 20);
        g_assert_cmpint(cluster_store_set_legacy(a, true, on_done, &d1), ==, 0);
        RUN_UNTIL(d1.called, 5);
        g_assert_cmpint(d1.error, ==, 0);
        /* b (no client certificate) got nowhere meanwhile */
        g_assert_false(cluster_store_reachable(b));
        g_assert_false(cluster_store_loaded(b));
        g_assert_cmpint(cluster_store_set_legacy(b, false, on_done, &d1), ==, -ENOTCONN);

        cluster_store_free(a);
        cluster_store_free(b);
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_free(d1.message);
}

int main(int argc, char **argv) {
        GString *cluster = g_string_new(NULL);
        int r;

        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(sd_event_new(&event), >=, 0);
        tmpdir = g_dir_make_tmp("azshci-cluster-XXXXXX", NULL);
        g_assert_nonnull(tmpdir);
        /* Ports below the kernel's ephemeral range (ip_local_port_range, 32768 and up here), so
         * that no outgoing connection of this or another test holds one when a member binds it
         * (the TLS member starts last: a curl connection once held its port). */
        base_port = 20000 + (unsigned)(getpid() % 1200) * 10;
        for (unsigned i = 0; i < N_MEMBERS; i++) {
                client_urls[i] = g_strdup_printf("http://127.0.0.1:%u", base_port + 2 * i);
                g_string_append_printf(cluster, "%sm%u=http://127.0.0.1:%u", i ? "," : "", i,
                        base_port + 2 * i + 1);
        }
        initial_cluster = g_string_free(cluster, false);
        for (unsigned i = 0; i < N_MEMBERS; i++)
                member_start(i);

        g_test_add_func("/cluster-store/converge", test_converge);
        g_test_add_func("/cluster-store/concurrent", test_concurrent);
        g_test_add_func("/cluster-store/quorum", test_quorum);
        g_test_add_func("/cluster-store/compacted", test_compacted);
        g_test_add_func("/cluster-store/bad-records", test_bad_records);
        g_test_add_func("/cluster-store/hung-member", test_hung_member);
        g_test_add_func("/cluster-store/tls", test_tls);
        r = g_test_run();

        for (unsigned i = 0; i < N_MEMBERS; i++)
                if (members[i] > 0)
                        member_stop(i);
        if (r == 0) {
                g_autofree char *rm = g_strdup_printf("rm -rf %s", tmpdir);
                (void)!system(rm);
        } else
                g_printerr("etcd logs kept in %s\n", tmpdir);
        sd_event_unref(event);
        return r;
}
