/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* This server's view of the cluster's records: see cluster-view.h. */

#include "cluster-view.h"
#include "log.h"

static void server_view_done(ClusterServerView *s) {
        free(s->name);
        cluster_server_record_done(&s->status);
}

void cluster_view_clear(ClusterView *v) {
        assert(v);

        for (size_t i = 0; i < v->n_grants; i++)
                free(v->grants[i].vm_id);
        v->grants = mfree(v->grants);
        v->n_grants = 0;
        for (size_t i = 0; i < v->n_servers; i++)
                server_view_done(&v->servers[i]);
        v->servers = mfree(v->servers);
        v->status_revisions = mfree(v->status_revisions);
        v->n_servers = 0;
        for (size_t i = 0; i < v->n_reapplies; i++)
                free(v->reapplies[i].server);
        v->reapplies = mfree(v->reapplies);
        v->n_reapplies = 0;
        v->has_settings = false;
        v->settings = (ClusterSettings){};
        v->settings_revision = 0;
        cluster_ca_record_done(&v->ca);
        v->has_ca = false;
        v->ca_revision = 0;
}

ClusterViewGrant *cluster_view_find_grant(ClusterView *v, const char *vm_id) {
        assert(v);
        for (size_t i = 0; i < v->n_grants; i++)
                if (streq(v->grants[i].vm_id, vm_id))
                        return &v->grants[i];
        return NULL;
}

static ClusterViewReapply *find_reapply(ClusterView *v, const char *server) {
        for (size_t i = 0; i < v->n_reapplies; i++)
                if (streq(v->reapplies[i].server, server))
                        return &v->reapplies[i];
        return NULL;
}

static ssize_t find_server(ClusterView *v, const char *name) {
        for (size_t i = 0; i < v->n_servers; i++)
                if (streq(v->servers[i].name, name))
                        return (ssize_t)i;
        return -1;
}

/* The index of server name, added (in name order) when the view has none yet; -ENOMEM. */
static ssize_t ensure_server(ClusterView *v, const char *name) {
        ClusterServerView *a;
        int64_t *revs;
        ssize_t i = find_server(v, name);
        size_t at = 0;
        char *copy;

        if (i >= 0)
                return i;
        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        a = realloc(v->servers, (v->n_servers + 1) * sizeof(*a));
        if (!a) {
                free(copy);
                return -ENOMEM;
        }
        v->servers = a;
        revs = realloc(v->status_revisions, (v->n_servers + 1) * sizeof(*revs));
        if (!revs) {
                free(copy);
                return -ENOMEM;
        }
        v->status_revisions = revs;
        while (at < v->n_servers && strcmp(v->servers[at].name, name) < 0)
                at++;
        memmove(v->servers + at + 1, v->servers + at, (v->n_servers - at) * sizeof(*a));
        memmove(v->status_revisions + at + 1, v->status_revisions + at, (v->n_servers - at) * sizeof(*revs));
        v->servers[at] = (ClusterServerView){.name = copy};
        v->status_revisions[at] = 0;
        v->n_servers++;
        return (ssize_t)at;
}

static void drop_server_if_empty(ClusterView *v, size_t i) {
        if (v->servers[i].member || v->servers[i].has_status)
                return;
        server_view_done(&v->servers[i]);
        memmove(v->servers + i, v->servers + i + 1, (v->n_servers - i - 1) * sizeof(*v->servers));
        memmove(v->status_revisions + i, v->status_revisions + i + 1,
                (v->n_servers - i - 1) * sizeof(*v->status_revisions));
        v->n_servers--;
}

static unsigned apply_settings(ClusterView *v, const char *value, int64_t mod_revision) {
        _cleanup_free_ char *error = NULL;
        ClusterSettings n = {};

        if (!value) {
                v->settings_revision = 0;
                if (!v->has_settings)
                        return 0;
                v->has_settings = false;
                return CLUSTER_CHANGED_SETTINGS;
        }
        if (mod_revision <= v->settings_revision)
                return 0;
        /* Its revision is kept even when it is bad, so that a change replaces it by
         * compare-and-swap; the settings stay the last good ones. */
        v->settings_revision = mod_revision;
        if (cluster_settings_from_json(value, &n, &error) < 0) {
                log_warning("Ignoring bad cluster settings at revision %" PRIi64 ": %s", mod_revision,
                        error);
                return 0;
        }
        if (v->has_settings && v->settings.legacy_support == n.legacy_support)
                return 0;
        v->has_settings = true;
        v->settings = n;
        return CLUSTER_CHANGED_SETTINGS;
}

/* The cluster CA record (docs/trust-model.md, "Cluster"): its shape is checked here, what its
 * root is worth by the peer's issuer (issuer-cluster.c). */
static unsigned apply_ca(ClusterView *v, const char *value, int64_t mod_revision) {
        _cleanup_free_ char *error = NULL;
        ClusterCaRecord n = {};

        if (!value) {
                if (!v->has_ca && v->ca_revision == 0)
                        return 0;
                cluster_ca_record_done(&v->ca);
                v->has_ca = false;
                v->ca_revision = 0;
                return CLUSTER_CHANGED_CA;
        }
        if (mod_revision <= v->ca_revision)
                return 0;
        /* Its revision is kept even when it is bad: the CA server replaces it by compare-and-swap. */
        v->ca_revision = mod_revision;
        cluster_ca_record_done(&v->ca);
        v->has_ca = false;
        if (cluster_ca_record_from_json(value, &n, &error) < 0)
                log_warning("Ignoring a bad cluster CA record at revision %" PRIi64 ": %s", mod_revision,
                        error);
        else {
                v->ca = n;
                v->has_ca = true;
        }
        return CLUSTER_CHANGED_CA;
}

static unsigned apply_grant(ClusterView *v, char **name, const char *value, int64_t mod_revision) {
        ClusterViewGrant *g = cluster_view_find_grant(v, *name);
        _cleanup_free_ char *error = NULL;
        ClusterGrant n = {};
        bool was_bad;
        int r;

        if (!value) {
                if (!g)
                        return 0;
                was_bad = g->bad;
                free(g->vm_id);
                *g = v->grants[--v->n_grants];
                return was_bad ? 0 : CLUSTER_CHANGED_GRANTS;
        }
        if (g && mod_revision <= g->mod_revision)
                return 0;
        r = cluster_grant_from_json(value, &n, &error);
        if (r < 0)
                log_warning("Ignoring bad grant of VM %s at revision %" PRIi64 ": %s", *name, mod_revision,
                        error);
        if (!g) {
                ClusterViewGrant *a = realloc(v->grants, (v->n_grants + 1) * sizeof(*a));
                if (!a)
                        return log_oom(), 0;
                v->grants = a;
                g = &v->grants[v->n_grants++];
                *g = (ClusterViewGrant){.vm_id = TAKE_PTR(*name), .bad = true};
        }
        /* Its revision is kept even when it is bad, so that a change replaces it by
         * compare-and-swap; the grant stays the last good one (none if it never had one). */
        g->mod_revision = mod_revision;
        if (r < 0 || (!g->bad && g->legacy_access == n.legacy_access))
                return 0;
        g->bad = false;
        g->legacy_access = n.legacy_access;
        return CLUSTER_CHANGED_GRANTS;
}

static unsigned apply_reapply(ClusterView *v, char **name, const char *value, int64_t mod_revision) {
        ClusterViewReapply *a = find_reapply(v, *name);

        if (!value) {
                if (a) {
                        free(a->server);
                        *a = v->reapplies[--v->n_reapplies];
                }
                return 0;
        }
        if (a && mod_revision <= a->mod_revision)
                return 0;
        if (!a) {
                ClusterViewReapply *n = realloc(v->reapplies, (v->n_reapplies + 1) * sizeof(*n));
                if (!n)
                        return log_oom(), 0;
                v->reapplies = n;
                a = &v->reapplies[v->n_reapplies++];
                *a = (ClusterViewReapply){.server = TAKE_PTR(*name)};
        }
        a->mod_revision = mod_revision;
        /* A request for this server, made while it follows the cluster. */
        return v->loaded && streq(a->server, v->server_name) ? CLUSTER_CHANGED_REAPPLY : 0;
}

/* A server's status record (kind SERVER) or member key (kind MEMBER). */
static unsigned apply_server(ClusterView *v, ClusterKeyKind kind, const char *name, const char *value,
        int64_t mod_revision) {
        _cleanup_(cluster_server_record_done) ClusterServerRecord rec = {};
        _cleanup_free_ char *error = NULL;
        ssize_t i = find_server(v, name);

        if (!value) {
                if (i < 0)
                        return 0;
                if (kind == CLUSTER_KEY_MEMBER)
                        v->servers[i].member = false;
                else {
                        v->servers[i].has_status = false;
                        v->status_revisions[i] = 0;
                }
                drop_server_if_empty(v, (size_t)i);
                return CLUSTER_CHANGED_SERVERS;
        }
        if (kind == CLUSTER_KEY_MEMBER) {
                if (i >= 0 && v->servers[i].member)
                        return 0;
                i = ensure_server(v, name);
                if (i < 0)
                        return log_oom(), 0;
                v->servers[i].member = true;
                return CLUSTER_CHANGED_SERVERS;
        }
        if (i >= 0 && mod_revision <= v->status_revisions[i])
                return 0;
        if (cluster_server_record_from_json(value, &rec, &error) < 0) {
                log_warning("Ignoring bad status record of server %s: %s", name, error);
                return 0;
        }
        i = ensure_server(v, name);
        if (i < 0)
                return log_oom(), 0;
        cluster_server_record_done(&v->servers[i].status);
        v->servers[i].status = rec;
        rec = (ClusterServerRecord){};
        v->servers[i].has_status = true;
        v->status_revisions[i] = mod_revision;
        return CLUSTER_CHANGED_SERVERS;
}

unsigned cluster_view_apply(ClusterView *v, const char *key, const char *value, int64_t mod_revision) {
        _cleanup_free_ char *name = NULL;
        ClusterKeyKind kind;

        assert(v);
        assert(key);

        if (cluster_key_parse(v->prefix, key, &kind, &name) < 0) {
                log_debug("Ignoring unknown cluster key %s.", key);
                return 0;
        }
        switch (kind) {
        case CLUSTER_KEY_SETTINGS:
                return apply_settings(v, value, mod_revision);
        case CLUSTER_KEY_CA:
                return apply_ca(v, value, mod_revision);
        case CLUSTER_KEY_GRANT:
                return apply_grant(v, &name, value, mod_revision);
        case CLUSTER_KEY_REAPPLY:
                return apply_reapply(v, &name, value, mod_revision);
        case CLUSTER_KEY_SERVER:
        case CLUSTER_KEY_MEMBER:
                return apply_server(v, kind, name, value, mod_revision);
        default:
                return 0;
        }
}

int64_t cluster_view_revision_of(ClusterView *v, const char *key) {
        _cleanup_free_ char *name = NULL;
        ClusterViewGrant *g;
        ClusterViewReapply *a;
        ClusterKeyKind kind;

        assert(v);
        assert(key);

        if (cluster_key_parse(v->prefix, key, &kind, &name) < 0)
                return 0;
        switch (kind) {
        case CLUSTER_KEY_SETTINGS:
                return v->settings_revision;
        case CLUSTER_KEY_GRANT:
                g = cluster_view_find_grant(v, name);
                return g ? g->mod_revision : 0;
        case CLUSTER_KEY_REAPPLY:
                a = find_reapply(v, name);
                return a ? a->mod_revision : 0;
        case CLUSTER_KEY_CA:
                return v->ca_revision;
        default:
                return 0;
        }
}

int64_t cluster_view_reapply_revision(ClusterView *v) {
        ClusterViewReapply *a;

        assert(v);
        a = find_reapply(v, v->server_name);
        return a ? a->mod_revision : 0;
}

const char *cluster_server_view_state(const ClusterServerView *v) {
        assert(v);
        return v->has_status ? v->status.state : CLUSTER_STATE_DISCONNECTED;
}
