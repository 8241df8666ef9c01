/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The issuer of a peer in a cluster whose CA is the embedded CA of one server (cluster.caServer,
 * docs/trust-model.md "Cluster"): an enrolment is the CMP issuer's (IR with the enrolment secret,
 * KUR signed with the current certificate) against the URL and root the CA server published in
 * etcd. The manager hands both in from the event loop (issuer_cluster_set_ca()) while an
 * enrolment may be running in the worker thread, so they sit behind a mutex and every
 * enrolment works on its own copy. The root is kept as <state>/ca.pem, the file verifiers
 * trust, as on the CA server itself. */

#include <pthread.h>

#include "fileio.h"
#include "issuer.h"
#include "x509-util.h"

#define ROOT_FILE_MAX (1024U * 1024U)

typedef struct ClusterIssuer {
        Issuer issuer;
        pthread_mutex_t lock;
        char *ca_server;
        char *url; /* NULL until the CA server published it */
        char *root_path;
        char *reference;
        char *secret_file;
        unsigned timeout_sec;
} ClusterIssuer;

static int cluster_enroll(Issuer *issuer, const IssuerRequest *req, X509 **ret_cert,
        STACK_OF(X509) * *ret_chain, char **ret_error) {
        ClusterIssuer *c = (ClusterIssuer *)issuer;
        _cleanup_(issuer_freep) Issuer *cmp = NULL;
        _cleanup_free_ char *url = NULL, *error = NULL;
        int r;

        pthread_mutex_lock(&c->lock);
        url = c->url ? strdup(c->url) : NULL;
        pthread_mutex_unlock(&c->lock);
        if (!url)
                return x509_error(ret_error, -EHOSTUNREACH,
                        "Cluster CA on server '%s': its address is not known yet (the CA server has not "
                        "published it in the cluster store, or the store is unreachable)",
                        c->ca_server);

        r = issuer_cmp_new(
                &(CmpConfig){
                        .server = url,
                        .trust_anchor = c->root_path,
                        .reference = c->reference,
                        .secret_file = c->secret_file,
                        .timeout_sec = c->timeout_sec,
                },
                &cmp, &error);
        if (r >= 0)
                r = issuer_enroll(cmp, req, ret_cert, ret_chain, &error);
        if (r < 0)
                return x509_error(ret_error, r, "Cluster CA on server '%s': %s", c->ca_server,
                        error ?: strerror(-r));
        return 0;
}

static int cluster_get_trust_anchor(Issuer *issuer, char **ret_pem) {
        ClusterIssuer *c = (ClusterIssuer *)issuer;

        assert(ret_pem);
        return read_full_file(c->root_path, ROOT_FILE_MAX, ret_pem, NULL);
}

static void cluster_free(Issuer *issuer) {
        ClusterIssuer *c = (ClusterIssuer *)issuer;

        pthread_mutex_destroy(&c->lock);
        free(c->ca_server);
        free(c->url);
        free(c->root_path);
        free(c->reference);
        free(c->secret_file);
        free(c);
}

static const IssuerOps cluster_issuer_ops = {
        .name = "cluster CA",
        .enroll = cluster_enroll,
        .get_trust_anchor = cluster_get_trust_anchor,
        .free = cluster_free,
};

int issuer_cluster_new(const char *state_dir, const char *ca_server, const char *reference,
        const char *secret_file, unsigned timeout_sec, Issuer **ret) {
        ClusterIssuer *c;

        assert(state_dir);
        assert(ca_server);
        assert(reference);
        assert(secret_file);
        assert(ret);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->issuer.ops = &cluster_issuer_ops;
        pthread_mutex_init(&c->lock, NULL);
        c->timeout_sec = timeout_sec;
        c->ca_server = strdup(ca_server);
        c->reference = strdup(reference);
        c->secret_file = strdup(secret_file);
        if (!c->ca_server || !c->reference || !c->secret_file ||
                asprintf(&c->root_path, "%s/ca.pem", state_dir) < 0) {
                cluster_free(&c->issuer);
                return -ENOMEM;
        }
        *ret = &c->issuer;
        return 0;
}

int issuer_cluster_set_ca(Issuer *issuer, const char *url, const char *root_pem, char **ret_error) {
        ClusterIssuer *c = (ClusterIssuer *)issuer;
        _cleanup_free_ char *cur = NULL, *copy = NULL;
        bool changed;
        int r;

        assert(issuer);
        assert(issuer->ops == &cluster_issuer_ops);
        assert(url);
        assert(root_pem);

        copy = strdup(url);
        if (!copy)
                return -ENOMEM;
        /* Rewrite the root only when it differs, so readers never see a needless change. */
        changed = read_full_file(c->root_path, ROOT_FILE_MAX, &cur, NULL) < 0 || !streq(cur, root_pem);
        if (changed) {
                r = write_file_atomic(c->root_path, root_pem, strlen(root_pem), 0644);
                if (r < 0)
                        return x509_error(ret_error, r, "%s: %s", c->root_path, strerror(-r));
        }

        pthread_mutex_lock(&c->lock);
        changed = changed || !streq_ptr(c->url, copy);
        free_and_replace_string(&c->url, TAKE_PTR(copy));
        pthread_mutex_unlock(&c->lock);
        return changed;
}
