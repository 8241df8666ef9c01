/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "hash-index.h"
#include "log.h"
#include "manager-cluster-ca.h"
#include "manager-cluster.h"
#include "manager-cluster-grants.h"
#include "manager-bus.h"
#include "manager-change.h"
#include "manager-devices.h"
#include "manager-grants.h"
#include "manager-inventory.h"
#include "manager-legacy.h"
#include "server-bus.h"
#include "validate.h"
#include "manager.h"
#include "strv.h"

/* What a bus call waiting for etcd is answered with once etcd took the change. */
typedef enum ReplyKind {
        REPLY_EMPTY,   /* EnableLegacy, SetVMAccess */
        REPLY_RESULTS, /* a(ssss): what this server did (EnableLegacyEx, SetVMAccessEx) */
        REPLY_FIX,     /* s: FixVM EnableVMLegacyAccess's text, or the VM's refusal */
} ReplyKind;

/* A bus call waiting for etcd. */
typedef struct PendingCall {
        Manager *manager;
        sd_bus_message *msg;
        char *what; /* "Switching legacy OS support on", for the error message */
        ReplyKind reply;
        char *vm_id; /* REPLY_FIX: the VM FixVM named */
        /* SetVMAccessEx: the VMs it names and what converge did to those of this server while
         * the call waited (in m->cluster_grant_calls), the latest entry per VM. */
        char **vm_ids;
        HashIndex targets; /* of vm_ids */
        HashIndex got;     /* GrantResult by id */
        bool enable;
        struct PendingCall *prev, *next;
} PendingCall;

static const void *string_key(const void *value) {
        return value;
}

static const void *result_key(const void *value) {
        return ((const GrantResult *)value)->id;
}

static void pending_free(PendingCall *p) {
        if (!p)
                return;
        LIST_REMOVE(p->manager->cluster_grant_calls, p);
        sd_bus_message_unref(p->msg);
        free(p->what);
        free(p->vm_id);
        for (size_t i = 0; i < p->got.n_buckets; i++)
                grant_result_free(p->got.values[i]);
        hash_index_done(&p->got);
        hash_index_done(&p->targets);
        strv_free(p->vm_ids);
        free(p);
}

static int pending_new(Manager *m, sd_bus_message *msg, const char *what, ReplyKind reply,
        PendingCall **ret) {
        PendingCall *p;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->manager = m;
        hash_index_init(&p->targets, &hash_index_string_type, string_key);
        hash_index_init(&p->got, &hash_index_string_type, result_key);
        p->msg = sd_bus_message_ref(msg);
        p->reply = reply;
        p->what = strdup(what);
        if (!p->what) {
                pending_free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

bool manager_clustered(Manager *m) {
        assert(m);
        return m->cluster;
}

const char *manager_cluster_store_state(Manager *m) {
        assert(m);
        if (!m->cluster)
                return "Standalone";
        return cluster_store_reachable(m->cluster) ? "Reachable" : "Unreachable";
}

static void set_cluster_error(Manager *m, char *error) {
        if (streq_ptr(error, m->cluster_error)) {
                free(error);
                return;
        }
        free_and_replace_string(&m->cluster_error, error);
        if (error)
                log_warning("Cluster: %s", error);
        (void)server_emit_changed(m, STRV_MAKE("Error"));
}

/* --- this server's status --- */

static void publish_status(Manager *m) {
        _cleanup_free_ char *error = manager_server_error(m);
        int r;

        if (!error) {
                log_oom();
                return;
        }
        r = cluster_store_publish_status(m->cluster,
                &(ClusterServerRecord){
                        .state = (char *)server_state_to_string(m->server_state),
                        .last_sync = m->last_sync,
                        .certificate_expiry = m->certificate_expiry,
                        .legacy_applied = m->legacy_support && !m->legacy_error,
                        .error = error,
                });
        if (r < 0)
                log_warning_errno(r, "Cannot publish this server's status: %m");
}

/* --- the other servers on the bus --- */

int manager_cluster_server_paths(Manager *m, char ***ret) {
        _cleanup_strv_free_ char **paths = NULL;
        const ClusterServerView *v;
        size_t n;

        assert(m);
        assert(ret);

        if (m->cluster) {
                v = cluster_store_servers(m->cluster, &n);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *path = NULL;

                        if (streq(v[i].name, m->server_name))
                                continue;
                        if (sd_bus_path_encode(BUS_PATH_SERVER_PREFIX, v[i].name, &path) < 0 ||
                                strv_extend(&paths, path) < 0)
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(paths);
        return 0;
}

const ClusterServerView *manager_cluster_find_server(Manager *m, const char *path) {
        const ClusterServerView *v;
        _cleanup_free_ char *name = NULL;
        size_t n;

        assert(m);
        assert(path);

        if (!m->cluster || sd_bus_path_decode(path, BUS_PATH_SERVER_PREFIX, &name) <= 0 ||
                streq(name, m->server_name))
                return NULL;
        v = cluster_store_servers(m->cluster, &n);
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].name, name))
                        return &v[i];
        return NULL;
}

/* Announces servers that appeared or went, and the changes of the others (when the store said
 * they changed). */
static void sync_server_objects(Manager *m) {
        _cleanup_strv_free_ char **now = NULL;

        if (manager_cluster_server_paths(m, &now) < 0) {
                log_oom();
                return;
        }
        if (m->bus) {
                STRV_FOREACH (p, m->cluster_server_paths)
                        if (!strv_contains(now, *p))
                                (void)sd_bus_emit_interfaces_removed(m->bus, *p, BUS_INTERFACE_SERVER, NULL);
                STRV_FOREACH (p, now)
                        if (!strv_contains(m->cluster_server_paths, *p))
                                (void)sd_bus_emit_interfaces_added(m->bus, *p, BUS_INTERFACE_SERVER, NULL);
                        else if (m->cluster_servers_changed)
                                (void)sd_bus_emit_properties_changed_strv(m->bus, *p, BUS_INTERFACE_SERVER,
                                        STRV_MAKE("State", "LastSync", "CertificateExpiry",
                                                "LegacyOsSupport", "Error"));
        }
        strv_free(m->cluster_server_paths);
        m->cluster_server_paths = TAKE_PTR(now);
        m->cluster_servers_changed = false;
}

/* --- convergence --- */

static void on_grants_written(ClusterStore *s, int error, const char *message, void *userdata) {
        if (error < 0)
                log_warning("Cluster: could not record the legacy access this server granted: %s", message);
}

/* The cluster's legacy switch, when this server's differs: what it did to each VM goes to
 * results (may be NULL), what failed to *problem. */
static void converge_legacy(Manager *m, GrantResults *results, char **problem) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **granted = NULL;
        ClusterSettings cs;
        int r;

        if (!cluster_store_get_settings(m->cluster, &cs) || cs.legacy_support == m->legacy_support ||
                m->cluster_legacy_failed)
                return;

        log_info("Cluster: legacy OS support is %s for the cluster; applying it here.",
                cs.legacy_support ? "on" : "off");
        r = manager_set_legacy_support(m, cs.legacy_support, 0, &granted, results, &error);
        m->cluster_legacy_failed = r < 0;
        if (r < 0) {
                if (asprintf(problem, "switching legacy OS support %s failed: %s",
                            cs.legacy_support ? "on" : "off", error.message ?: strerror(-r)) < 0)
                        *problem = NULL;
        } else if (granted) {
                r = cluster_store_set_grants(m->cluster, granted, true, on_grants_written, m);
                if (r < 0)
                        log_warning_errno(r, "Cluster: cannot record the legacy access granted here: %m");
        }
}

/* What converge did to VMs goes to every SetVMAccessEx call waiting that names them: the latest
 * entry per VM. */
static void tell_grant_calls(Manager *m, const GrantResults *done) {
        for (PendingCall *p = m->cluster_grant_calls; p; p = p->next)
                for (size_t i = 0; i < done->n; i++) {
                        const GrantResult *e = &done->items[i];
                        GrantResult *n;

                        if (!hash_index_get(&p->targets, e->id))
                                continue;
                        n = grant_result_new(e);
                        if (!n) {
                                log_oom();
                                continue;
                        }
                        grant_result_free(hash_index_remove(&p->got, n->id));
                        if (hash_index_put(&p->got, n) < 0) {
                                grant_result_free(n);
                                log_oom();
                        }
                }
}

/* Makes this server what the cluster says: the legacy switch, the grants of its VMs, a
 * reapply request. Idempotent; runs from a defer source after every change, and directly
 * before a cluster-wide change is answered (what switching the legacy switch did to each VM then
 * goes to results, which may be NULL; what the grants did to each VM goes to the SetVMAccessEx
 * calls waiting). */
static void converge(Manager *m, GrantResults *results) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(grant_results_done) GrantResults vms = {};
        _cleanup_free_ char *problem = NULL, *vm_problem = NULL, *ca_problem = NULL;
        int r;

        if (!cluster_store_loaded(m->cluster))
                return;

        converge_legacy(m, results, &problem);
        manager_cluster_converge_vms(m, m->cluster_grant_calls ? &vms : NULL, &vm_problem);
        tell_grant_calls(m, &vms);
        if (!problem)
                problem = TAKE_PTR(vm_problem);

        if (m->cluster_reapply) {
                m->cluster_reapply = false;
                log_info("Cluster: re-applying legacy OS support (%s) as requested.",
                        m->legacy_support ? "on" : "off");
                r = m->legacy_support ? manager_legacy_setup(m, m->vms, m->n_vms, &error)
                                      : manager_legacy_teardown(m, &error);
                if (r < 0 && !problem &&
                        asprintf(&problem, "re-applying legacy OS support failed: %s",
                                error.message ?: strerror(-r)) < 0)
                        problem = NULL;
                manager_legacy_check(m);
        }

        /* The cluster CA's record too (a root this server refuses shows in Error). */
        ca_problem = manager_cluster_ca_converge(m);
        if (!problem)
                problem = TAKE_PTR(ca_problem);
        set_cluster_error(m, TAKE_PTR(problem));
        sync_server_objects(m);
        publish_status(m);
}

static int on_converge(sd_event_source *s, void *userdata) {
        converge(userdata, NULL);
        return 0;
}

void manager_cluster_changed(Manager *m) {
        assert(m);
        if (m->cluster_converge)
                (void)sd_event_source_set_enabled(m->cluster_converge, SD_EVENT_ONESHOT);
}

static void on_store_changed(ClusterStore *s, unsigned what, void *userdata) {
        Manager *m = userdata;

        if (what & CLUSTER_CHANGED_REACHABLE)
                (void)manager_emit_changed(m, STRV_MAKE("ClusterStore"));
        if (what & CLUSTER_CHANGED_REAPPLY)
                m->cluster_reapply = true;
        if (what & CLUSTER_CHANGED_SERVERS)
                m->cluster_servers_changed = true;
        if (what & (CLUSTER_CHANGED_REAPPLY | CLUSTER_CHANGED_SETTINGS))
                m->cluster_legacy_failed = false; /* try again */
        manager_cluster_changed(m);
}

/* --- cluster-wide changes --- */

static int reply_unavailable(sd_bus_error *error, const char *what, const char *why) {
        return sd_bus_error_setf(error, BUS_ERROR_NO_CLUSTER,
                "%s: the cluster store (etcd) %s; nothing was changed.", what, why);
}

static int reply_results(sd_bus_message *msg, const GrantResults *results) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = grant_results_append(results, reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

static int reply_fix(Manager *m, PendingCall *p, const GrantResults *results) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL;
        Vm *vm = manager_find_vm_by_id(m, p->vm_id);
        int r;

        r = manager_fix_legacy_message(results, vm, p->vm_id, vm ? vm->name : p->vm_id, &text, &e);
        if (r < 0)
                return sd_bus_error_is_set(&e) ? sd_bus_reply_method_error(p->msg, &e)
                                               : sd_bus_reply_method_errno(p->msg, r, NULL);
        return sd_bus_reply_method_return(p->msg, "s", text);
}

/* SetVMAccessEx's reply: each VM it names, those of this server in inventory order with what
 * converge did to them while the call waited (none when nothing needed a change, as on one
 * server), then the others, whose grant the cluster store holds for the server that runs them. */
static int reply_grants(Manager *m, PendingCall *p) {
        _cleanup_(grant_results_done) GrantResults out = {};
        const GrantResult *e;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < m->n_vms; i++)
                if ((e = hash_index_get(&p->got, m->vms[i]->id)))
                        r = grant_results_add_entry(&out, e);
        STRV_FOREACH (id, p->vm_ids)
                if (r >= 0 && !manager_find_vm_by_id(m, *id))
                        r = grant_results_add_entry(&out,
                                &(GrantResult){
                                        .id = *id,
                                        .name = *id,
                                        .outcome = GRANT_RECORDED,
                                        .message =
                                                p->enable
                                                        ? (char *)"the cluster store holds the grant; the "
                                                                  "server that runs the VM applies it"
                                                        : (char *)"the cluster store holds the revocation; "
                                                                  "the server that runs the VM applies it",
                                });
        if (r < 0)
                return sd_bus_reply_method_errno(p->msg, r, NULL);
        return reply_results(p->msg, &out);
}

static void on_change_done(ClusterStore *s, int error, const char *message, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        PendingCall *p = userdata;
        Manager *m = p->manager;

        if (error < 0) {
                _cleanup_free_ char *why = NULL;

                if (asprintf(&why, "did not take the change (%s)", message ?: strerror(-error)) < 0)
                        why = NULL;
                reply_unavailable(&e, p->what, why ?: "did not take the change");
                log_warning("%s", e.message);
                (void)sd_bus_reply_method_error(p->msg, &e);
        } else {
                _cleanup_(grant_results_done) GrantResults results = {};

                /* This server first, before the caller hears back. A grant call hears what its
                 * VMs got (through m->cluster_grant_calls), not what the legacy switch did. */
                converge(m, p->vm_ids ? NULL : &results);
                if (p->reply == REPLY_RESULTS && p->vm_ids)
                        (void)reply_grants(m, p);
                else if (p->reply == REPLY_RESULTS)
                        (void)reply_results(p->msg, &results);
                else if (p->reply == REPLY_FIX)
                        (void)reply_fix(m, p, &results);
                else
                        (void)sd_bus_reply_method_return(p->msg, NULL);
        }
        pending_free(p);
}

/* vm_id: FixVM's VM; vm_ids: the VMs a SetVMAccessEx names (the call hears what converge does to
 * them meanwhile). */
static int start_change(Manager *m, sd_bus_message *msg, const char *what, ReplyKind reply,
        const char *vm_id, char *const *vm_ids, sd_bus_error *error,
        int (*start)(Manager *m, PendingCall *p, const void *arg), const void *arg) {
        PendingCall *p = NULL;
        int r;

        r = pending_new(m, msg, what, reply, &p);
        if (r < 0)
                return r;
        if (vm_id) {
                p->vm_id = strdup(vm_id);
                if (!p->vm_id) {
                        pending_free(p);
                        return -ENOMEM;
                }
        }
        if (vm_ids && reply == REPLY_RESULTS) {
                p->vm_ids = strv_copy(vm_ids);
                r = p->vm_ids ? 0 : -ENOMEM;
                STRV_FOREACH (id, p->vm_ids)
                        if (r >= 0)
                                r = hash_index_put(&p->targets, *id);
                if (r < 0) {
                        pending_free(p);
                        return r;
                }
                LIST_PREPEND(m->cluster_grant_calls, p);
        }
        r = start(m, p, arg);
        if (r < 0) {
                pending_free(p);
                if (r == -ENOTCONN)
                        return reply_unavailable(error, what, "is unreachable or has no quorum");
                return sd_bus_error_set_errnof(error, r, "%s: %m", what);
        }
        return 1; /* answered later */
}

static int start_legacy(Manager *m, PendingCall *p, const void *arg) {
        return cluster_store_set_legacy(m->cluster, *(const bool *)arg, on_change_done, p);
}

int manager_cluster_enable_legacy(Manager *m, sd_bus_message *msg, bool enable, bool with_results,
        sd_bus_error *error) {
        assert(m);
        assert(m->cluster);
        return start_change(m, msg,
                enable ? "Switching legacy OS support on" : "Switching legacy OS support off",
                with_results ? REPLY_RESULTS : REPLY_EMPTY, NULL, NULL, error, start_legacy, &enable);
}

typedef struct GrantArgs {
        char *const *vm_ids;
        bool enable;
} GrantArgs;

static int start_grants(Manager *m, PendingCall *p, const void *arg) {
        const GrantArgs *a = arg;

        p->enable = a->enable;
        return cluster_store_set_grants(m->cluster, a->vm_ids, a->enable, on_change_done, p);
}

/* The VM ids a SetVMAccess name stands for in a cluster. */
static int grant_ids_for_name(Manager *m, const char *name, char ***ret) {
        _cleanup_strv_free_ char **ids = NULL;
        int r;

        if (streq(name, "*")) {
                r = cluster_store_grant_ids(m->cluster, &ids);
                for (size_t i = 0; r >= 0 && i < m->n_vms; i++)
                        r = strv_extend_unique(&ids, m->vms[i]->id);
        } else {
                _cleanup_free_ char *id = NULL;
                Vm *vm = manager_find_vm(m, name);

                if (vm) {
                        id = strdup(vm->id);
                        r = id ? 0 : -ENOMEM;
                } else
                        r = uuid_normalize(name, &id);
                if (r >= 0)
                        r = strv_extend(&ids, id);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ids);
        return 0;
}

int manager_cluster_set_vm_access(Manager *m, sd_bus_message *msg, const char *name, bool enable,
        bool with_results, sd_bus_error *error) {
        _cleanup_strv_free_ char **vm_ids = NULL;
        int r;

        assert(m);
        assert(m->cluster);
        assert(name);

        r = grant_ids_for_name(m, name, &vm_ids);
        if (r < 0)
                return r;
        if (strv_length(vm_ids) == 0)
                return with_results ? reply_results(msg, NULL) : sd_bus_reply_method_return(msg, NULL);
        return start_change(m, msg, enable ? "Granting legacy access" : "Revoking legacy access",
                with_results ? REPLY_RESULTS : REPLY_EMPTY, NULL, vm_ids, error, start_grants,
                &(GrantArgs){vm_ids, enable});
}

int manager_cluster_fix_vm_access(Manager *m, sd_bus_message *msg, const Vm *vm, sd_bus_error *error) {
        char *vm_ids[] = {vm->id, NULL};

        assert(m);
        assert(m->cluster);
        assert(vm);

        /* The refusal SetVMAccess gives here, before the grant is recorded for the cluster. */
        if (!vm->legacy_access && vm_needs_power_off_for_legacy(vm))
                return grant_refuse_power_off(vm, error);
        return start_change(m, msg, "Granting legacy access", REPLY_FIX, vm->id, NULL, error, start_grants,
                &(GrantArgs){vm_ids, true});
}

static int start_reapply(Manager *m, PendingCall *p, const void *arg) {
        return cluster_store_request_reapply(m->cluster, arg, on_change_done, p);
}

int manager_cluster_reapply(Manager *m, sd_bus_message *msg, const char *server, sd_bus_error *error) {
        _cleanup_free_ char *what = NULL;
        const ClusterServerView *v;
        bool known = false;
        size_t n;

        assert(m);

        if (!m->cluster)
                return sd_bus_error_set(error, BUS_ERROR_NOT_CLUSTERED,
                        "This server is not part of a cluster (no \"cluster\" section in its "
                        "configuration): use EnableLegacy.");
        v = cluster_store_servers(m->cluster, &n);
        for (size_t i = 0; i < n; i++)
                known = known || streq(v[i].name, server);
        if (!known)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_SERVER,
                        "No server '%s' is known in this cluster.", server);
        if (asprintf(&what, "Re-applying legacy OS support on '%s'", server) < 0)
                return -ENOMEM;
        return start_change(m, msg, what, REPLY_EMPTY, NULL, NULL, error, start_reapply, server);
}

/* --- setup --- */

int manager_cluster_init(Manager *m) {
        const ClusterConfig *c = &m->config.cluster;
        int r;

        assert(m);

        if (strv_length(c->endpoints) == 0)
                return 0; /* standalone */

        r = cluster_store_new(m->event,
                &(ClusterStoreOptions){
                        .endpoints = c->endpoints,
                        .ca_file = c->ca_file,
                        .cert_file = c->cert_file,
                        .key_file = c->key_file,
                        .prefix = c->prefix,
                        .server_name = m->server_name,
                        .lease_ttl_sec = c->lease_ttl_sec,
                        .timeout = c->timeout_sec * USEC_PER_SEC,
                },
                on_store_changed, m, &m->cluster);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the cluster store: %m");

        r = sd_event_add_defer(m->event, &m->cluster_converge, on_converge, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up cluster convergence: %m");
        (void)sd_event_source_set_enabled(m->cluster_converge, SD_EVENT_OFF);
        (void)sd_event_source_set_description(m->cluster_converge, "cluster-converge");

        r = manager_cluster_ca_init(m);
        if (r < 0)
                return r;
        r = cluster_store_start(m->cluster);
        if (r < 0)
                return log_error_errno(r, "Failed to start the cluster store: %m");
        publish_status(m);
        log_info("Cluster mode: server '%s', prefix %s, %zu etcd endpoint(s).", m->server_name, c->prefix,
                strv_length(c->endpoints));
        if (m->config.issuer_type == ISSUER_LOCAL && !c->ca_server)
                log_warning(
                        "Cluster mode with the embedded issuer and no cluster.caServer: this server signs "
                        "under its own root, so guests must trust every server's root. For one cluster "
                        "root, name a CA server (docs/trust-model.md, \"Cluster\").");
        return 0;
}

void manager_cluster_done(Manager *m) {
        assert(m);
        manager_cluster_ca_done(m);
        m->cluster = cluster_store_free(m->cluster); /* answers the calls still waiting */
        m->cluster_converge = sd_event_source_disable_unref(m->cluster_converge);
        m->cluster_server_paths = strv_free(m->cluster_server_paths);
        m->cluster_error = mfree(m->cluster_error);
}
