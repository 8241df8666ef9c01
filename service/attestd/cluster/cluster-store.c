/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cluster-store.h"
#include "etcd-client.h"
#include "etcd-json.h"
#include "log.h"
#include "strv.h"

#define CAS_ATTEMPTS      3
#define LEADER_RETRY_USEC (500 * USEC_PER_MSEC)

typedef struct Grant {
        char *vm_id;
        bool legacy_access;
        int64_t mod_revision;
} Grant;

typedef struct Reapply {
        char *server;
        int64_t mod_revision;
} Reapply;

typedef struct Write Write;

struct ClusterStore {
        sd_event *event;
        EtcdClient *etcd;
        char *prefix, *server_name;
        char *range_key, *range_end, *settings_key, *status_key, *member_key, *ca_key;
        unsigned ttl;
        cluster_changed_t changed;
        void *userdata;

        /* The view. */
        bool loaded;
        int64_t revision; /* the last revision the range read or the watch gave */
        bool has_settings;
        ClusterSettings settings;
        int64_t settings_revision;
        Grant *grants;
        size_t n_grants;
        ClusterServerView *servers;
        size_t n_servers;
        int64_t *status_revisions; /* indexed like servers */
        Reapply *reapplies;        /* the reapply key of each server that has one */
        size_t n_reapplies;
        bool has_ca;
        ClusterCaRecord ca;
        int64_t ca_revision;

        /* The connection. */
        bool started;
        bool reachable;
        bool need_range; /* the view must be read again (start, compaction) */
        bool member_written;
        int64_t lease;
        EtcdCall *lease_call, *range_call, *watch_call, *status_call, *member_call;
        sd_event_source *tick;
        sd_event_source *watch_defer; /* handles queued watch messages outside curl's callbacks */
        char **watch_queue;
        char *status_json;
        bool status_dirty;
        Write *writes;
};

struct Write {
        ClusterStore *store;
        char **keys, **values;
        size_t n;
        unsigned attempts;
        EtcdCall *call;
        sd_event_source *retry; /* the next attempt after etcd changed its leader */
        cluster_done_t done;
        void *userdata;
        Write *next, *prev;
};

static void store_kick(ClusterStore *s);

static void notify(ClusterStore *s, unsigned what) {
        if (what != 0 && s->changed)
                s->changed(s, what, s->userdata);
}

static void set_reachable(ClusterStore *s, bool b) {
        if (s->reachable == b)
                return;
        s->reachable = b;
        log_full(b ? LOG_INFO : LOG_WARNING, "Cluster store %s.", b ? "reachable" : "unreachable");
        notify(s, CLUSTER_CHANGED_REACHABLE);
}

/* --- the view --- */

static void server_view_done(ClusterServerView *v) {
        free(v->name);
        cluster_server_record_done(&v->status);
}

static void view_clear(ClusterStore *s) {
        for (size_t i = 0; i < s->n_grants; i++)
                free(s->grants[i].vm_id);
        free(s->grants);
        s->grants = NULL;
        s->n_grants = 0;
        for (size_t i = 0; i < s->n_servers; i++)
                server_view_done(&s->servers[i]);
        free(s->servers);
        free(s->status_revisions);
        s->servers = NULL;
        s->status_revisions = NULL;
        s->n_servers = 0;
        for (size_t i = 0; i < s->n_reapplies; i++)
                free(s->reapplies[i].server);
        free(s->reapplies);
        s->reapplies = NULL;
        s->n_reapplies = 0;
        s->has_settings = false;
        s->settings = (ClusterSettings){};
        s->settings_revision = 0;
        cluster_ca_record_done(&s->ca);
        s->has_ca = false;
        s->ca_revision = 0;
}

static Grant *find_grant(ClusterStore *s, const char *vm_id) {
        for (size_t i = 0; i < s->n_grants; i++)
                if (streq(s->grants[i].vm_id, vm_id))
                        return &s->grants[i];
        return NULL;
}

static Reapply *find_reapply(ClusterStore *s, const char *server) {
        for (size_t i = 0; i < s->n_reapplies; i++)
                if (streq(s->reapplies[i].server, server))
                        return &s->reapplies[i];
        return NULL;
}

static ssize_t find_server(ClusterStore *s, const char *name) {
        for (size_t i = 0; i < s->n_servers; i++)
                if (streq(s->servers[i].name, name))
                        return (ssize_t)i;
        return -1;
}

static int add_server(ClusterStore *s, const char *name, size_t *ret_index) {
        ClusterServerView *v;
        int64_t *revs;
        size_t at = 0;
        char *copy;

        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        v = realloc(s->servers, (s->n_servers + 1) * sizeof(*v));
        if (!v) {
                free(copy);
                return -ENOMEM;
        }
        s->servers = v;
        revs = realloc(s->status_revisions, (s->n_servers + 1) * sizeof(*revs));
        if (!revs) {
                free(copy);
                return -ENOMEM;
        }
        s->status_revisions = revs;
        while (at < s->n_servers && strcmp(s->servers[at].name, name) < 0)
                at++;
        memmove(s->servers + at + 1, s->servers + at, (s->n_servers - at) * sizeof(*v));
        memmove(s->status_revisions + at + 1, s->status_revisions + at, (s->n_servers - at) * sizeof(*revs));
        s->servers[at] = (ClusterServerView){.name = copy};
        s->status_revisions[at] = 0;
        s->n_servers++;
        *ret_index = at;
        return 0;
}

static void drop_server_if_empty(ClusterStore *s, size_t i) {
        if (s->servers[i].member || s->servers[i].has_status)
                return;
        server_view_done(&s->servers[i]);
        memmove(s->servers + i, s->servers + i + 1, (s->n_servers - i - 1) * sizeof(*s->servers));
        memmove(s->status_revisions + i, s->status_revisions + i + 1,
                (s->n_servers - i - 1) * sizeof(*s->status_revisions));
        s->n_servers--;
}

/* Applies one key's new value (value NULL: deleted) at mod_revision, unless the view already
 * holds a newer one. Returns the ClusterChangeFlags it caused. */
static unsigned view_apply(ClusterStore *s, const char *key, const char *value, int64_t mod_revision) {
        _cleanup_free_ char *name = NULL, *error = NULL;
        ClusterKeyKind kind;
        int r;

        r = cluster_key_parse(s->prefix, key, &kind, &name);
        if (r < 0) {
                log_debug("Ignoring unknown cluster key %s.", key);
                return 0;
        }

        switch (kind) {
        case CLUSTER_KEY_SETTINGS: {
                ClusterSettings n = {};

                if (value && mod_revision <= s->settings_revision)
                        return 0;
                if (!value) {
                        if (!s->has_settings)
                                return 0;
                        s->has_settings = false;
                        s->settings_revision = 0;
                        return CLUSTER_CHANGED_SETTINGS;
                }
                r = cluster_settings_from_json(value, &n, &error);
                if (r < 0) {
                        log_warning("Ignoring bad cluster settings at revision %" PRIi64 ": %s",
                                mod_revision, error);
                        return 0;
                }
                s->settings_revision = mod_revision;
                if (s->has_settings && s->settings.legacy_support == n.legacy_support)
                        return 0;
                s->has_settings = true;
                s->settings = n;
                return CLUSTER_CHANGED_SETTINGS;
        }

        case CLUSTER_KEY_CA: {
                ClusterCaRecord n = {};

                if (!value) {
                        if (!s->has_ca)
                                return 0;
                        cluster_ca_record_done(&s->ca);
                        s->has_ca = false;
                        s->ca_revision = 0;
                        return CLUSTER_CHANGED_CA;
                }
                if (mod_revision <= s->ca_revision)
                        return 0;
                r = cluster_ca_record_from_json(value, &n, &error);
                if (r < 0) {
                        log_warning("Ignoring a bad cluster CA record at revision %" PRIi64 ": %s",
                                mod_revision, error);
                        return 0;
                }
                s->ca_revision = mod_revision;
                cluster_ca_record_done(&s->ca);
                s->ca = n;
                s->has_ca = true;
                return CLUSTER_CHANGED_CA;
        }

        case CLUSTER_KEY_GRANT: {
                Grant *g = find_grant(s, name);
                ClusterGrant n = {};

                if (!value) {
                        if (!g)
                                return 0;
                        free(g->vm_id);
                        *g = s->grants[--s->n_grants];
                        return CLUSTER_CHANGED_GRANTS;
                }
                if (g && mod_revision <= g->mod_revision)
                        return 0;
                r = cluster_grant_from_json(value, &n, &error);
                if (r < 0) {
                        log_warning("Ignoring bad grant of VM %s: %s", name, error);
                        return 0;
                }
                if (!g) {
                        Grant *a = realloc(s->grants, (s->n_grants + 1) * sizeof(*a));
                        if (!a)
                                return log_oom(), 0;
                        s->grants = a;
                        g = &s->grants[s->n_grants++];
                        *g = (Grant){.vm_id = TAKE_PTR(name), .legacy_access = !n.legacy_access};
                }
                g->mod_revision = mod_revision;
                if (g->legacy_access == n.legacy_access)
                        return 0;
                g->legacy_access = n.legacy_access;
                return CLUSTER_CHANGED_GRANTS;
        }

        case CLUSTER_KEY_REAPPLY: {
                Reapply *a = find_reapply(s, name);

                if (!value) {
                        if (a) {
                                free(a->server);
                                *a = s->reapplies[--s->n_reapplies];
                        }
                        return 0;
                }
                if (a && mod_revision <= a->mod_revision)
                        return 0;
                if (!a) {
                        Reapply *n = realloc(s->reapplies, (s->n_reapplies + 1) * sizeof(*n));
                        if (!n)
                                return log_oom(), 0;
                        s->reapplies = n;
                        a = &s->reapplies[s->n_reapplies++];
                        *a = (Reapply){.server = TAKE_PTR(name)};
                }
                a->mod_revision = mod_revision;
                /* A request for this server, made while it follows the cluster. */
                return s->loaded && streq(a->server, s->server_name) ? CLUSTER_CHANGED_REAPPLY : 0;
        }

        case CLUSTER_KEY_SERVER:
        case CLUSTER_KEY_MEMBER: {
                ssize_t i = find_server(s, name);
                size_t at;

                if (!value) {
                        if (i < 0)
                                return 0;
                        if (kind == CLUSTER_KEY_MEMBER)
                                s->servers[i].member = false;
                        else {
                                s->servers[i].has_status = false;
                                s->status_revisions[i] = 0;
                        }
                        drop_server_if_empty(s, (size_t)i);
                        return CLUSTER_CHANGED_SERVERS;
                }
                if (kind == CLUSTER_KEY_SERVER) {
                        _cleanup_(cluster_server_record_done) ClusterServerRecord rec = {};

                        if (i >= 0 && mod_revision <= s->status_revisions[i])
                                return 0;
                        r = cluster_server_record_from_json(value, &rec, &error);
                        if (r < 0) {
                                log_warning("Ignoring bad status record of server %s: %s", name, error);
                                return 0;
                        }
                        if (i < 0) {
                                if (add_server(s, name, &at) < 0)
                                        return log_oom(), 0;
                                i = (ssize_t)at;
                        }
                        cluster_server_record_done(&s->servers[i].status);
                        s->servers[i].status = rec;
                        rec = (ClusterServerRecord){};
                        s->servers[i].has_status = true;
                        s->status_revisions[i] = mod_revision;
                        return CLUSTER_CHANGED_SERVERS;
                }
                if (i >= 0 && s->servers[i].member)
                        return 0;
                if (i < 0) {
                        if (add_server(s, name, &at) < 0)
                                return log_oom(), 0;
                        i = (ssize_t)at;
                }
                s->servers[i].member = true;
                return CLUSTER_CHANGED_SERVERS;
        }

        default:
                return 0;
        }
}

/* --- reading: range and watch --- */

static void on_range(EtcdClient *c, int error, const char *message, const char *body, void *userdata) {
        _cleanup_(etcd_kv_list_done) EtcdKvList l = {};
        _cleanup_free_ char *perror = NULL;
        ClusterStore *s = userdata;
        int r;

        s->range_call = NULL;
        if (error < 0 && !body) {
                log_warning("Reading the cluster store failed: %s", message);
                return;
        }
        r = etcd_parse_range(body, &l, &perror);
        if (r < 0) {
                log_warning("Reading the cluster store failed: %s", perror ?: message);
                return;
        }

        /* The whole view again: anything not in the reply is gone. A reapply request already
         * there is not a new one. */
        view_clear(s);
        s->loaded = false;
        for (size_t i = 0; i < l.n_kvs; i++)
                (void)view_apply(s, l.kvs[i].key, l.kvs[i].value, l.kvs[i].mod_revision);
        s->revision = l.revision;
        s->loaded = true;
        s->need_range = false;
        log_info("Cluster store read at revision %" PRIi64 ": %zu servers, %zu VM grants.", s->revision,
                s->n_servers, s->n_grants);
        if (s->watch_call) {
                etcd_call_cancel(s->watch_call);
                s->watch_call = NULL;
        }
        notify(s, CLUSTER_CHANGED_SETTINGS | CLUSTER_CHANGED_GRANTS | CLUSTER_CHANGED_SERVERS |
                          CLUSTER_CHANGED_CA);
        store_kick(s);
}

static void on_watch_message(EtcdClient *c, const char *message, void *userdata) {
        ClusterStore *s = userdata;

        /* Called from inside curl: queue it, handle it from the loop. */
        if (strv_extend(&s->watch_queue, message) < 0) {
                log_oom();
                s->need_range = true;
        }
        (void)sd_event_source_set_enabled(s->watch_defer, SD_EVENT_ONESHOT);
}

static void on_watch_end(EtcdClient *c, int error, const char *message, const char *body, void *userdata) {
        ClusterStore *s = userdata;

        s->watch_call = NULL;
        log_warning("The cluster store watch ended: %s", message ?: "closed");
        /* handled by the next tick */
}

static int on_watch_defer(sd_event_source *source, void *userdata) {
        ClusterStore *s = userdata;
        _cleanup_strv_free_ char **queue = TAKE_PTR(s->watch_queue);
        unsigned what = 0;

        STRV_FOREACH (m, queue) {
                _cleanup_(etcd_watch_message_done) EtcdWatchMessage w = {};
                _cleanup_free_ char *error = NULL;

                if (etcd_parse_watch(*m, &w, &error) < 0) {
                        log_warning("Bad message on the cluster store watch: %s", error);
                        s->need_range = true;
                        continue;
                }
                if (w.compact_revision > 0 || w.canceled) {
                        log_notice("The cluster store watch was cancelled (%s); reading everything again.",
                                w.compact_revision > 0 ? "revision compacted" : strempty(w.cancel_reason));
                        s->need_range = true;
                        continue;
                }
                for (size_t i = 0; i < w.events.n_kvs; i++) {
                        EtcdKv *kv = &w.events.kvs[i];

                        what |= view_apply(s, kv->key, w.types[i] == ETCD_EVENT_DELETE ? NULL : kv->value,
                                kv->mod_revision);
                        s->revision = MAX(s->revision, kv->mod_revision);
                }
        }
        if (s->need_range && s->watch_call) {
                etcd_call_cancel(s->watch_call);
                s->watch_call = NULL;
        }
        notify(s, what);
        store_kick(s);
        return 0;
}

/* --- the lease and this server's records --- */

static void on_lease(EtcdClient *c, int error, const char *message, const char *body, void *userdata) {
        _cleanup_free_ char *perror = NULL;
        ClusterStore *s = userdata;
        int64_t id, ttl;
        int r;

        s->lease_call = NULL;
        r = error < 0 && !body ? error : etcd_parse_lease(body, &id, &ttl, &perror);
        if (r < 0) {
                log_debug("Cluster lease: %s", perror ?: message);
                set_reachable(s, false);
                return;
        }
        if (ttl <= 0) {
                log_notice("This server's cluster lease expired; taking a new one.");
                s->lease = 0;
                s->status_dirty = true;
        } else if (s->lease != id) {
                s->lease = id;
                s->status_dirty = true; /* the record must live under the new lease */
        }
        set_reachable(s, true);
        store_kick(s);
}

static void on_status_put(EtcdClient *c, int error, const char *message, const char *body, void *userdata) {
        _cleanup_free_ char *perror = NULL;
        ClusterStore *s = userdata;
        int64_t rev;
        int r;

        s->status_call = NULL;
        r = error < 0 && !body ? error : etcd_parse_put(body, &rev, &perror);
        if (r < 0) {
                log_debug("Publishing this server's status failed: %s", perror ?: message);
                s->status_dirty = true;
                if (perror && strstr(perror, "lease not found"))
                        s->lease = 0;
                return;
        }
        store_kick(s);
}

static void on_member_put(EtcdClient *c, int error, const char *message, const char *body, void *userdata) {
        _cleanup_free_ char *perror = NULL;
        ClusterStore *s = userdata;
        int64_t rev;

        s->member_call = NULL;
        if ((error < 0 && !body) || etcd_parse_put(body, &rev, &perror) < 0)
                return;
        s->member_written = true;
}

static void store_kick(ClusterStore *s) {
        _cleanup_free_ char *body = NULL;
        int r;

        if (!s->started)
                return;

        if (!s->lease_call) {
                r = s->lease == 0 ? etcd_build_lease_grant(s->ttl, &body)
                                  : etcd_build_lease_keepalive(s->lease, &body);
                if (r >= 0)
                        r = etcd_client_call(s->etcd,
                                s->lease == 0 ? "/v3/lease/grant" : "/v3/lease/keepalive", body, on_lease, s,
                                &s->lease_call);
                if (r < 0)
                        log_warning_errno(r, "Cannot renew the cluster lease: %m");
                body = mfree(body);
        }

        if (s->need_range && !s->range_call) {
                r = etcd_build_range(s->range_key, s->range_end, &body);
                if (r >= 0)
                        r = etcd_client_call(s->etcd, "/v3/kv/range", body, on_range, s, &s->range_call);
                if (r < 0)
                        log_warning_errno(r, "Cannot read the cluster store: %m");
                body = mfree(body);
        }

        if (!s->need_range && !s->range_call && !s->watch_call) {
                r = etcd_build_watch_create(s->range_key, s->range_end, s->revision + 1, &body);
                if (r >= 0)
                        r = etcd_client_stream(s->etcd, "/v3/watch", body, on_watch_message, on_watch_end, s,
                                &s->watch_call);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch the cluster store: %m");
                body = mfree(body);
        }

        if (!s->member_written && !s->member_call) {
                _cleanup_free_ char *value = NULL;

                r = cluster_member_to_json(now_usec(CLOCK_REALTIME), &value);
                if (r >= 0)
                        r = etcd_build_put(s->member_key, value, 0, &body);
                if (r >= 0)
                        r = etcd_client_call(s->etcd, "/v3/kv/put", body, on_member_put, s, &s->member_call);
                if (r < 0)
                        log_warning_errno(r, "Cannot register this server in the cluster: %m");
                body = mfree(body);
        }

        if (s->status_dirty && s->status_json && s->lease != 0 && !s->status_call) {
                r = etcd_build_put(s->status_key, s->status_json, s->lease, &body);
                if (r >= 0)
                        r = etcd_client_call(s->etcd, "/v3/kv/put", body, on_status_put, s, &s->status_call);
                if (r < 0)
                        log_warning_errno(r, "Cannot publish this server's status: %m");
                else
                        s->status_dirty = false;
        }
}

static int on_tick(sd_event_source *source, uint64_t usec, void *userdata) {
        ClusterStore *s = userdata;
        int r;

        store_kick(s);
        r = sd_event_source_set_time_relative(source, s->ttl * USEC_PER_SEC / 3);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(source, SD_EVENT_ON);
}

/* --- writing --- */

static void write_free(Write *w) {
        ClusterStore *s;

        if (!w)
                return;
        s = w->store;
        if (w->prev)
                w->prev->next = w->next;
        else
                s->writes = w->next;
        if (w->next)
                w->next->prev = w->prev;
        if (w->call)
                etcd_call_cancel(w->call);
        sd_event_source_disable_unref(w->retry);
        strv_free(w->keys);
        strv_free(w->values);
        free(w);
}

static int64_t view_revision_of(ClusterStore *s, const char *key) {
        _cleanup_free_ char *name = NULL;
        ClusterKeyKind kind;
        Grant *g;

        if (cluster_key_parse(s->prefix, key, &kind, &name) < 0)
                return 0;
        switch (kind) {
        case CLUSTER_KEY_SETTINGS:
                return s->has_settings ? s->settings_revision : 0;
        case CLUSTER_KEY_GRANT:
                g = find_grant(s, name);
                return g ? g->mod_revision : 0;
        case CLUSTER_KEY_REAPPLY: {
                Reapply *a = find_reapply(s, name);
                return a ? a->mod_revision : 0;
        }
        default:
                return 0;
        }
}

static int write_send(Write *w);
static void write_finish(Write *w, int error, const char *message);

static int on_write_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        Write *w = userdata;
        int r;

        w->retry = sd_event_source_disable_unref(w->retry);
        r = write_send(w);
        if (r < 0)
                write_finish(w, r, "cannot send the change to etcd");
        return 0;
}

static void write_finish(Write *w, int error, const char *message) {
        ClusterStore *s = w->store;
        cluster_done_t done = w->done;
        void *userdata = w->userdata;

        w->call = NULL;
        write_free(w);
        if (done)
                done(s, error, message, userdata);
}

static void on_txn(EtcdClient *c, int error, const char *message, const char *body, void *userdata) {
        _cleanup_(etcd_kv_list_done) EtcdKvList current = {};
        _cleanup_free_ char *perror = NULL;
        Write *w = userdata;
        ClusterStore *s = w->store;
        unsigned what = 0;
        int64_t revision;
        bool ok;
        int r;

        w->call = NULL;
        if (error < 0 && !body) {
                if (error == -EHOSTUNREACH || error == -ETIMEDOUT)
                        set_reachable(s, false);
                return write_finish(w, error, message);
        }
        r = etcd_parse_txn_cas(body, &ok, &revision, &current, &perror);
        if (r < 0 && perror && (strstr(perror, "leader changed") || strstr(perror, "no leader")) &&
                ++w->attempts < CAS_ATTEMPTS) {
                /* An election is under way (a member was lost): the change was not applied; try
                 * again when it should be over. */
                r = sd_event_add_time_relative(s->event, &w->retry, CLOCK_MONOTONIC, LEADER_RETRY_USEC, 0,
                        on_write_retry, w);
                if (r >= 0)
                        return;
        }
        if (r < 0)
                return write_finish(w, r, perror);

        if (ok) {
                for (size_t i = 0; i < w->n; i++)
                        what |= view_apply(s, w->keys[i], w->values[i], revision);
                notify(s, what);
                return write_finish(w, 0, NULL);
        }

        /* Another server changed these keys meanwhile: take their values and try again. */
        for (size_t i = 0; i < w->n; i++) {
                bool found = false;

                for (size_t j = 0; j < current.n_kvs; j++)
                        if (streq(current.kvs[j].key, w->keys[i])) {
                                what |= view_apply(s, current.kvs[j].key, current.kvs[j].value,
                                        current.kvs[j].mod_revision);
                                found = true;
                        }
                if (!found)
                        what |= view_apply(s, w->keys[i], NULL, 0);
        }
        notify(s, what);
        if (++w->attempts >= CAS_ATTEMPTS)
                return write_finish(w, -EAGAIN,
                        "the cluster settings kept changing under this change; try again");
        r = write_send(w);
        if (r < 0)
                return write_finish(w, r, "cannot send the change to etcd");
}

static int write_send(Write *w) {
        ClusterStore *s = w->store;
        _cleanup_free_ EtcdCas *ops = NULL;
        _cleanup_free_ char *body = NULL;
        int r;

        ops = calloc(w->n, sizeof(*ops));
        if (!ops)
                return -ENOMEM;
        for (size_t i = 0; i < w->n; i++)
                ops[i] = (EtcdCas){
                        .key = w->keys[i],
                        .mod_revision = view_revision_of(s, w->keys[i]),
                        .value = w->values[i],
                };
        r = etcd_build_txn_cas(ops, w->n, &body);
        if (r < 0)
                return r;
        return etcd_client_call(s->etcd, "/v3/kv/txn", body, on_txn, w, &w->call);
}

/* Starts a write of keys → values; takes both lists, also on failure. */
static int write_start(ClusterStore *s, char **keys, char **values, cluster_done_t done, void *userdata) {
        Write *w;
        int r;

        if (!s->loaded || !s->reachable) {
                strv_free(keys);
                strv_free(values);
                return -ENOTCONN;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                strv_free(keys);
                strv_free(values);
                return -ENOMEM;
        }
        *w = (Write){.store = s,
                .keys = keys,
                .values = values,
                .n = strv_length(keys),
                .done = done,
                .userdata = userdata};
        w->next = s->writes;
        if (s->writes)
                s->writes->prev = w;
        s->writes = w;

        r = write_send(w);
        if (r < 0) {
                w->done = NULL;
                write_free(w);
                return r;
        }
        return 0;
}

int cluster_store_set_legacy(ClusterStore *s, bool legacy_support, cluster_done_t done, void *userdata) {
        _cleanup_strv_free_ char **keys = NULL, **values = NULL;
        _cleanup_free_ char *value = NULL;
        int r;

        assert(s);

        r = cluster_settings_to_json(&(ClusterSettings){.legacy_support = legacy_support}, &value);
        if (r < 0)
                return r;
        if (strv_extend(&keys, s->settings_key) < 0 || strv_extend(&values, value) < 0)
                return -ENOMEM;
        return write_start(s, TAKE_PTR(keys), TAKE_PTR(values), done, userdata);
}

int cluster_store_set_grants(ClusterStore *s, char *const *vm_ids, bool legacy_access, cluster_done_t done,
        void *userdata) {
        _cleanup_strv_free_ char **keys = NULL, **values = NULL;
        _cleanup_free_ char *value = NULL;
        int r;

        assert(s);

        if (strv_length(vm_ids) == 0)
                return -EINVAL;
        r = cluster_grant_to_json(&(ClusterGrant){.legacy_access = legacy_access}, &value);
        if (r < 0)
                return r;
        STRV_FOREACH (id, vm_ids) {
                _cleanup_free_ char *key = NULL;

                r = cluster_key_grant(s->prefix, *id, &key);
                if (r < 0)
                        return r;
                if (strv_extend(&keys, key) < 0 || strv_extend(&values, value) < 0)
                        return -ENOMEM;
        }
        return write_start(s, TAKE_PTR(keys), TAKE_PTR(values), done, userdata);
}

int cluster_store_request_reapply(ClusterStore *s, const char *server, cluster_done_t done, void *userdata) {
        _cleanup_strv_free_ char **keys = NULL, **values = NULL;
        _cleanup_free_ char *key = NULL, *value = NULL;
        int r;

        assert(s);

        r = cluster_key_reapply(s->prefix, server, &key);
        if (r < 0)
                return r;
        r = cluster_reapply_to_json(now_usec(CLOCK_REALTIME), &value);
        if (r < 0)
                return r;
        if (strv_extend(&keys, key) < 0 || strv_extend(&values, value) < 0)
                return -ENOMEM;
        return write_start(s, TAKE_PTR(keys), TAKE_PTR(values), done, userdata);
}

int cluster_store_publish_ca(ClusterStore *s, const ClusterCaRecord *ca, cluster_done_t done,
        void *userdata) {
        _cleanup_strv_free_ char **keys = NULL, **values = NULL;
        _cleanup_free_ char *value = NULL;
        int r;

        assert(s);
        assert(ca);

        r = cluster_ca_record_to_json(ca, &value);
        if (r < 0)
                return r;
        if (strv_extend(&keys, s->ca_key) < 0 || strv_extend(&values, value) < 0)
                return -ENOMEM;
        return write_start(s, TAKE_PTR(keys), TAKE_PTR(values), done, userdata);
}

int cluster_store_publish_status(ClusterStore *s, const ClusterServerRecord *status) {
        _cleanup_free_ char *json = NULL;
        int r;

        assert(s);
        assert(status);

        r = cluster_server_record_to_json(status, &json);
        if (r < 0)
                return r;
        if (streq_ptr(json, s->status_json))
                return 0;
        free_and_replace_string(&s->status_json, TAKE_PTR(json));
        s->status_dirty = true;
        store_kick(s);
        return 0;
}

/* --- the object --- */

int cluster_store_new(sd_event *event, const ClusterStoreOptions *o, cluster_changed_t changed,
        void *userdata, ClusterStore **ret) {
        _cleanup_(cluster_store_freep) ClusterStore *s = NULL;
        int r;

        assert(event);
        assert(o);
        assert(ret);

        if (!cluster_prefix_is_valid(o->prefix) || !cluster_server_name_is_valid(o->server_name) ||
                o->lease_ttl_sec < 2)
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->changed = changed;
        s->userdata = userdata;
        s->ttl = o->lease_ttl_sec;
        s->need_range = true;
        s->prefix = strdup(o->prefix);
        s->server_name = strdup(o->server_name);
        if (!s->prefix || !s->server_name)
                return -ENOMEM;
        if (cluster_key_all(s->prefix, &s->range_key) < 0 ||
                etcd_prefix_range_end(s->range_key, &s->range_end) < 0 ||
                cluster_key_settings(s->prefix, &s->settings_key) < 0 ||
                cluster_key_server(s->prefix, s->server_name, &s->status_key) < 0 ||
                cluster_key_member(s->prefix, s->server_name, &s->member_key) < 0 ||
                cluster_key_ca(s->prefix, &s->ca_key) < 0)
                return -ENOMEM;

        r = etcd_client_new(event,
                &(EtcdClientOptions){
                        .endpoints = o->endpoints,
                        .ca_file = o->ca_file,
                        .cert_file = o->cert_file,
                        .key_file = o->key_file,
                        .timeout = o->timeout,
                },
                &s->etcd);
        if (r < 0)
                return r;

        r = sd_event_add_defer(event, &s->watch_defer, on_watch_defer, s);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(s->watch_defer, SD_EVENT_OFF);
        (void)sd_event_source_set_description(s->watch_defer, "cluster-watch");

        *ret = TAKE_PTR(s);
        return 0;
}

int cluster_store_start(ClusterStore *s) {
        int r;

        assert(s);

        if (s->started)
                return 0;
        r = sd_event_add_time_relative(s->event, &s->tick, CLOCK_MONOTONIC, s->ttl * USEC_PER_SEC / 3, 0,
                on_tick, s);
        if (r < 0)
                return r;
        (void)sd_event_source_set_description(s->tick, "cluster-tick");
        s->started = true;
        store_kick(s);
        return 0;
}

ClusterStore *cluster_store_free(ClusterStore *s) {
        if (!s)
                return NULL;
        while (s->writes)
                write_finish(s->writes, -ECANCELED, "the service is stopping");
        etcd_call_cancel(s->lease_call);
        etcd_call_cancel(s->range_call);
        etcd_call_cancel(s->watch_call);
        etcd_call_cancel(s->status_call);
        etcd_call_cancel(s->member_call);
        etcd_client_free(s->etcd);
        sd_event_source_disable_unref(s->tick);
        sd_event_source_disable_unref(s->watch_defer);
        sd_event_unref(s->event);
        view_clear(s);
        strv_free(s->watch_queue);
        free(s->status_json);
        free(s->prefix);
        free(s->server_name);
        free(s->range_key);
        free(s->range_end);
        free(s->settings_key);
        free(s->status_key);
        free(s->member_key);
        free(s->ca_key);
        free(s);
        return NULL;
}

bool cluster_store_reachable(ClusterStore *s) {
        assert(s);
        return s->reachable;
}

bool cluster_store_loaded(ClusterStore *s) {
        assert(s);
        return s->loaded;
}

bool cluster_store_get_settings(ClusterStore *s, ClusterSettings *ret) {
        assert(s);
        assert(ret);
        if (!s->has_settings)
                return false;
        *ret = s->settings;
        return true;
}

int cluster_store_get_grant(ClusterStore *s, const char *vm_id, ClusterGrant *ret) {
        Grant *g;

        assert(s);
        assert(vm_id);
        assert(ret);

        g = find_grant(s, vm_id);
        if (!g)
                return -ENOENT;
        *ret = (ClusterGrant){.legacy_access = g->legacy_access};
        return 0;
}

int cluster_store_grant_ids(ClusterStore *s, char ***ret) {
        _cleanup_strv_free_ char **ids = NULL;

        assert(s);
        assert(ret);

        for (size_t i = 0; i < s->n_grants; i++)
                if (strv_extend(&ids, s->grants[i].vm_id) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(ids);
        return 0;
}

const ClusterServerView *cluster_store_servers(ClusterStore *s, size_t *ret_n) {
        assert(s);
        assert(ret_n);
        *ret_n = s->n_servers;
        return s->servers;
}

const ClusterCaRecord *cluster_store_get_ca(ClusterStore *s) {
        assert(s);
        return s->has_ca ? &s->ca : NULL;
}

const char *cluster_server_view_state(const ClusterServerView *v) {
        assert(v);
        return v->has_status ? v->status.state : CLUSTER_STATE_DISCONNECTED;
}
