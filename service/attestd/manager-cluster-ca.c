/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <sys/stat.h>

#include "cluster-store.h"
#include "cmp-http.h"
#include "cmp-server.h"
#include "log.h"
#include "manager-attest.h"
#include "manager-cluster-ca.h"
#include "manager.h"
#include "strv.h"
#include "validate.h"

static bool is_ca_server(Manager *m) {
        return m->cluster && m->config.cluster.ca_server &&
               streq(m->config.cluster.ca_server, m->server_name);
}

int manager_cluster_ca_peer_issuer(Manager *m, Issuer **ret) {
        const ClusterConfig *c = &m->config.cluster;
        int r;

        assert(m);
        assert(ret);

        if (strv_length(c->endpoints) == 0 || !c->ca_server || streq(c->ca_server, m->server_name))
                return 0;
        r = issuer_cluster_new(m->config.state_directory, c->ca_server, c->ca_fingerprint, m->server_name,
                c->ca_secret_file, m->config.cmp.timeout_sec, ret);
        if (r < 0)
                return r;
        return 1;
}

/* Whoever reads the enrolment secret can enrol a key in any server's name: it must be a file
 * only its owner (the service user) can read, as an SSH key. */
static int check_secret_file(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return log_error_errno(negative_errno(),
                        "Cluster CA: cannot use the enrolment secret %s: %m", path);
        if (!S_ISREG(st.st_mode) || (st.st_mode & 0077) != 0 || st.st_uid != geteuid())
                return log_error_errno(-EPERM,
                        "Cluster CA: the enrolment secret %s must be a regular file of uid %u with mode 0600 "
                        "or 0400 (it is uid %u, mode %04o)",
                        path, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return 0;
}

static int ca_record(Manager *m, ClusterCaRecord *ret) {
        _cleanup_(cluster_ca_record_done) ClusterCaRecord rec = {};
        int r;

        rec.server = strdup(m->server_name);
        if (!rec.server || asprintf(&rec.url, "http://%s%s", m->config.cluster.ca_listen, CMP_HTTP_PATH) < 0)
                return -ENOMEM;
        r = issuer_get_trust_anchor(m->issuer, &rec.root);
        if (r < 0)
                return r;
        *ret = rec;
        rec = (ClusterCaRecord){};
        return 0;
}

/* A peer renews (KUR) only while the cluster has a server of that name: its member key, which
 * an administrator deletes to remove the server (docs/cluster.md). The CA server's last view of
 * the store counts; before the first read, nobody renews (peers then fall back to an IR). */
static bool renewal_allowed(const char *dns_name, void *userdata) {
        Manager *m = userdata;
        const ClusterServerView *v;
        size_t n;

        if (!cluster_store_loaded(m->cluster))
                return false;
        v = cluster_store_servers(m->cluster, &n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *name = NULL;

                if (v[i].member && manager_server_dns_name(m, v[i].name, &name) >= 0 &&
                        streq(name, dns_name))
                        return true;
        }
        return false;
}

int manager_cluster_ca_init(Manager *m) {
        const ClusterConfig *c = &m->config.cluster;
        _cleanup_free_ char *error = NULL;
        struct sockaddr_storage ss;
        socklen_t len;
        int r;

        assert(m);

        if (!m->cluster || !c->ca_server)
                return 0;
        r = check_secret_file(c->ca_secret_file);
        if (r < 0)
                return r;
        if (!is_ca_server(m)) {
                log_info("Cluster CA: server '%s' issues this server's certificates.", c->ca_server);
                return 0;
        }

        r = cluster_ca_listen_parse(c->ca_listen, &ss, &len);
        if (r < 0)
                return log_error_errno(r, "Cluster CA: bad cluster.caListen \"%s\".", c->ca_listen);
        r = cmp_server_new(
                &(CmpServerOptions){
                        .ca = m->issuer,
                        .secret_file = c->ca_secret_file,
                        .metadata_domain = m->config.metadata_domain,
                        .validity_days = m->config.certificate_validity_days,
                        .renewal_allowed = renewal_allowed,
                        .userdata = m,
                },
                &m->cluster_ca, &error);
        if (r >= 0)
                r = cmp_http_new(m->event, (struct sockaddr *)&ss, len, m->cluster_ca, &m->cluster_ca_http,
                        &error);
        if (r < 0)
                return log_error_errno(r, "Cluster CA: cannot answer CMP on %s: %s", c->ca_listen,
                        error ?: strerror(-r));
        log_info("Cluster CA: this server is the cluster's CA; peers enrol at http://%s%s.", c->ca_listen,
                CMP_HTTP_PATH);
        return 0;
}

void manager_cluster_ca_done(Manager *m) {
        assert(m);
        m->cluster_ca_http = cmp_http_free(m->cluster_ca_http);
        m->cluster_ca = cmp_server_free(m->cluster_ca);
}

static void on_ca_published(ClusterStore *s, int error, const char *message, void *userdata) {
        Manager *m = userdata;

        m->cluster_ca_publishing = false;
        if (error < 0)
                log_warning("Cluster CA: could not publish the CA record: %s", message);
        else
                log_info("Cluster CA: published the CA's URL and root certificate.");
}

static void publish(Manager *m) {
        _cleanup_(cluster_ca_record_done) ClusterCaRecord rec = {};
        const ClusterCaRecord *cur;
        int r;

        if (m->cluster_ca_publishing || !cluster_store_reachable(m->cluster))
                return;
        r = ca_record(m, &rec);
        if (r < 0) {
                log_warning_errno(r, "Cluster CA: cannot build the CA record: %m");
                return;
        }
        cur = cluster_store_get_ca(m->cluster);
        if (cur && streq(cur->server, rec.server) && streq(cur->url, rec.url) && streq(cur->root, rec.root))
                return;
        r = cluster_store_publish_ca(m->cluster, &rec, on_ca_published, m);
        if (r < 0)
                log_warning_errno(r, "Cluster CA: cannot publish the CA record: %m");
        else
                m->cluster_ca_publishing = true;
}

static char *follow(Manager *m) {
        const ClusterCaRecord *rec = cluster_store_get_ca(m->cluster);
        _cleanup_free_ char *error = NULL;
        char *problem = NULL;
        int r;

        if (!rec)
                return NULL;
        if (!streq(rec->server, m->config.cluster.ca_server)) {
                log_warning("Cluster CA: the cluster store names '%s' as the CA server, this server's "
                            "configuration '%s'; ignoring the record.",
                        rec->server, m->config.cluster.ca_server);
                return NULL;
        }
        r = issuer_cluster_set_ca(m->issuer, rec->url, rec->root, &error);
        if (r < 0) {
                /* set_cluster_error() logs it when it changes. */
                if (asprintf(&problem, "cluster CA: %s", error ?: strerror(-r)) < 0)
                        return NULL;
                return problem;
        }
        if (r == 0)
                return NULL;
        log_info("Cluster CA: server '%s' issues certificates at %s.", rec->server, rec->url);
        if (!m->identity || m->identity->not_after <= now_usec(CLOCK_REALTIME)) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                r = manager_sync(m, NULL, &e);
                if (r < 0)
                        log_warning("Cluster CA: cannot start a sync: %s", e.message ?: strerror(-r));
        }
        return NULL;
}

char *manager_cluster_ca_converge(Manager *m) {
        assert(m);

        if (!m->cluster || !m->config.cluster.ca_server || !cluster_store_loaded(m->cluster))
                return NULL;
        if (is_ca_server(m)) {
                publish(m);
                return NULL;
        }
        return follow(m);
}
