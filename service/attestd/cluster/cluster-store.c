/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Long file: one object. The reads (range, watch, lease, status) and the writes (the CAS
 * transactions and their retries) share the store's view, revision and reachability, and a
 * write's answer updates the view as a watch message does; a split would export the store's
 * internals. */

#include "cluster-store.h"
#include "etcd-client.h"
#include "etcd-json.h"
#include "log.h"
#include "strv.h"

#define CAS_ATTEMPTS      3
#define LEADER_RETRY_USEC (500 * USEC_PER_MSEC)

typedef struct Write Write;

struct ClusterStore {
        sd_event *event;
        EtcdClient *etcd;
        char *prefix, *server_name;
        char *range_key, *range_end, *settings_key, *status_key, *member_key, *ca_key;
        unsigned ttl;
        cluster_changed_t changed;
        void *userdata;

        ClusterView view;
        int64_t revision; /* the last revision the range read or the watch gave */

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

/* --- reading: range and watch --- */

static void on_range(EtcdClient *c, int error, const char *message, const char *body, void *userdata) {
        _cleanup_(etcd_kv_list_done) EtcdKvList l = {};
        _cleanup_free_ char *perror = NULL;
        ClusterStore *s = userdata;
        unsigned what = CLUSTER_CHANGED_SETTINGS | CLUSTER_CHANGED_GRANTS | CLUSTER_CHANGED_SERVERS |
                        CLUSTER_CHANGED_CA;
        bool was_loaded;
        int64_t reapply;
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

        /* The whole view again: anything not in the reply is gone. A reapply request for this
         * server already there at the first read is not a new one; one newer than the view held
         * (made while the watch was away, say, and its revisions compacted since) is. */
        was_loaded = s->view.loaded;
        reapply = cluster_view_reapply_revision(&s->view);
        cluster_view_clear(&s->view);
        s->view.loaded = false;
        for (size_t i = 0; i < l.n_kvs; i++)
                (void)cluster_view_apply(&s->view, l.kvs[i].key, l.kvs[i].value, l.kvs[i].mod_revision);
        s->revision = l.revision;
        s->view.loaded = true;
        s->need_range = false;
        if (was_loaded && cluster_view_reapply_revision(&s->view) > reapply)
                what |= CLUSTER_CHANGED_REAPPLY;
        log_info("Cluster store read at revision %" PRIi64 ": %zu servers, %zu VM grants.", s->revision,
                s->view.n_servers, s->view.n_grants);
        if (s->watch_call) {
                etcd_call_cancel(s->watch_call);
                s->watch_call = NULL;
        }
        notify(s, what);
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

                        what |= cluster_view_apply(&s->view, kv->key,
                                w.types[i] == ETCD_EVENT_DELETE ? NULL : kv->value, kv->mod_revision);
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

        /* A watch on a member that hangs (stopped, overloaded) gets no events and no error: when
         * the calls of this tick (the lease renewal at least) failed over away from its member,
         * it moves too, resuming from the last revision seen. */
        if (s->watch_call && !etcd_call_on_current_endpoint(s->watch_call)) {
                log_notice(
                        "The cluster store watch's etcd member stopped answering; watching through another one.");
                etcd_call_cancel(s->watch_call);
                s->watch_call = NULL;
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
        LIST_REMOVE(s->writes, w);
        if (w->call)
                etcd_call_cancel(w->call);
        sd_event_source_disable_unref(w->retry);
        strv_free(w->keys);
        strv_free(w->values);
        free(w);
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
                        what |= cluster_view_apply(&s->view, w->keys[i], w->values[i], revision);
                notify(s, what);
                return write_finish(w, 0, NULL);
        }

        /* Another server changed these keys meanwhile: take their values and try again. */
        for (size_t i = 0; i < w->n; i++) {
                bool found = false;

                for (size_t j = 0; j < current.n_kvs; j++)
                        if (streq(current.kvs[j].key, w->keys[i])) {
                                what |= cluster_view_apply(&s->view, current.kvs[j].key,
                                        current.kvs[j].value, current.kvs[j].mod_revision);
                                found = true;
                        }
                if (!found)
                        what |= cluster_view_apply(&s->view, w->keys[i], NULL, 0);
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
                        .mod_revision = cluster_view_revision_of(&s->view, w->keys[i]),
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

        if (!s->view.loaded || !s->reachable) {
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
        LIST_PREPEND(s->writes, w);

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
        s->view.prefix = s->prefix;
        s->view.server_name = s->server_name;
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
        cluster_view_clear(&s->view);
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
        return s->view.loaded;
}

bool cluster_store_get_settings(ClusterStore *s, ClusterSettings *ret) {
        assert(s);
        assert(ret);
        if (!s->view.has_settings)
                return false;
        *ret = s->view.settings;
        return true;
}

int cluster_store_get_grant(ClusterStore *s, const char *vm_id, ClusterGrant *ret) {
        ClusterViewGrant *g;

        assert(s);
        assert(vm_id);
        assert(ret);

        g = cluster_view_find_grant(&s->view, vm_id);
        if (!g || g->bad)
                return -ENOENT;
        *ret = (ClusterGrant){.legacy_access = g->legacy_access};
        return 0;
}

int cluster_store_grant_ids(ClusterStore *s, char ***ret) {
        _cleanup_strv_free_ char **ids = NULL;

        assert(s);
        assert(ret);

        for (size_t i = 0; i < s->view.n_grants; i++)
                if (!s->view.grants[i].bad && strv_extend(&ids, s->view.grants[i].vm_id) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(ids);
        return 0;
}

const ClusterServerView *cluster_store_servers(ClusterStore *s, size_t *ret_n) {
        assert(s);
        assert(ret_n);
        *ret_n = s->view.n_servers;
        return s->view.servers;
}

const ClusterCaRecord *cluster_store_get_ca(ClusterStore *s) {
        assert(s);
        return s->view.has_ca ? &s->view.ca : NULL;
}
