/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The issuer of a peer in a cluster whose CA is the embedded CA of one server (cluster.caServer,
 * docs/trust-model.md "Cluster"): an enrolment is the CMP issuer's (IR with the enrolment secret,
 * KUR signed with the current certificate) against the URL and root the CA server published in
 * etcd. The manager hands both in from the event loop (issuer_cluster_set_ca()) while an
 * enrolment may be running in the worker thread, so they sit behind a mutex and every
 * enrolment works on its own copy. The root is kept as <state>/ca.pem, the file verifiers
 * trust, as on the CA server itself.
 *
 * Whoever can write etcd can put another root there: a root is taken only when it is one
 * self-signed CA:TRUE certificate and its SHA-256 fingerprint is the pinned one, that of
 * cluster.caFingerprint when set, else the one this server took first (trust on first use,
 * kept in <state>/cluster-root.sha256). A different root is refused with a clear error and
 * leaves ca.pem as it was. */

#include <pthread.h>

#include "fileio.h"
#include "issuer.h"
#include "log.h"
#include "x509-util.h"

#define ROOT_FILE_MAX (1024U * 1024U)
#define PIN_FILE      "cluster-root.sha256"

typedef struct ClusterIssuer {
        Issuer issuer;
        pthread_mutex_t lock;
        char *ca_server;
        char *url; /* NULL until the CA server published it */
        char *root_path;
        char *pin_path;
        char *fingerprint; /* cluster.caFingerprint, or NULL: trust on first use */
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
        free(c->pin_path);
        free(c->fingerprint);
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

int issuer_cluster_new(const char *state_dir, const char *ca_server, const char *fingerprint,
        const char *reference, const char *secret_file, unsigned timeout_sec, Issuer **ret) {
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
        c->fingerprint = fingerprint ? strdup(fingerprint) : NULL;
        if (!c->ca_server || !c->reference || !c->secret_file || (fingerprint && !c->fingerprint) ||
                asprintf(&c->root_path, "%s/ca.pem", state_dir) < 0 ||
                asprintf(&c->pin_path, "%s/" PIN_FILE, state_dir) < 0) {
                cluster_free(&c->issuer);
                return -ENOMEM;
        }
        *ret = &c->issuer;
        return 0;
}

/* The SHA-256 fingerprint of pem when it is exactly one self-signed CA:TRUE certificate. */
static int root_fingerprint(const char *pem, char ret[static SHA256_FINGERPRINT_SIZE], char **ret_error) {
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        X509 *cert;
        int r;

        r = pem_decode_certificates(pem, strlen(pem), &certs);
        if (r < 0)
                return x509_error(ret_error, r, "no PEM certificate");
        if (sk_X509_num(certs) != 1)
                return x509_error(ret_error, -EBADMSG, "%d certificates", sk_X509_num(certs));
        cert = sk_X509_value(certs, 0);
        if (!(X509_get_extension_flags(cert) & EXFLAG_CA))
                return x509_error(ret_error, -EBADMSG, "not a CA certificate (basicConstraints CA:TRUE)");
        key = X509_get_pubkey(cert);
        if (!key || X509_check_issued(cert, cert) != X509_V_OK || X509_verify(cert, key) != 1)
                return openssl_error(ret_error, -EBADMSG, "not self-signed");
        return certificate_fingerprint(cert, ret);
}

/* Whether the root of fingerprint fp may be taken: the configured pin, else the first one. */
static int root_pinned(ClusterIssuer *c, const char *fp, char **ret_error) {
        _cleanup_free_ char *pin = NULL;
        int r;

        if (c->fingerprint) {
                if (!streq(fp, c->fingerprint))
                        return x509_error(ret_error, -EPERM,
                                "the cluster store's root (SHA-256 %s) is not the one cluster.caFingerprint "
                                "pins (%s); refusing it",
                                fp, c->fingerprint);
                return 0;
        }
        r = read_full_file(c->pin_path, ROOT_FILE_MAX, &pin, NULL);
        if (r == -ENOENT) {
                r = write_file_atomic(c->pin_path, fp, strlen(fp), 0644);
                if (r < 0)
                        return x509_error(ret_error, r, "%s: %s", c->pin_path, strerror(-r));
                log_info("Cluster CA: trusting the cluster's root (SHA-256 %s) from now on (%s).", fp,
                        c->pin_path);
                return 0;
        }
        if (r < 0)
                return x509_error(ret_error, r, "%s: %s", c->pin_path, strerror(-r));
        pin[strcspn(pin, "\r\n")] = '\0';
        if (!streq(pin, fp))
                return x509_error(ret_error, -EPERM,
                        "the cluster store's root (SHA-256 %s) is not the root this server trusts (SHA-256 "
                        "%s, %s); refusing it. If the cluster's CA was replaced on purpose, delete that file "
                        "or set cluster.caFingerprint",
                        fp, pin, c->pin_path);
        return 0;
}

int issuer_cluster_set_ca(Issuer *issuer, const char *url, const char *root_pem, char **ret_error) {
        ClusterIssuer *c = (ClusterIssuer *)issuer;
        _cleanup_free_ char *cur = NULL, *copy = NULL, *error = NULL;
        char fp[SHA256_FINGERPRINT_SIZE];
        bool changed;
        int r;

        assert(issuer);
        assert(issuer->ops == &cluster_issuer_ops);
        assert(url);
        assert(root_pem);

        copy = strdup(url);
        if (!copy)
                return -ENOMEM;
        r = root_fingerprint(root_pem, fp, &error);
        if (r < 0)
                return x509_error(ret_error, r,
                        "the cluster store's root is not one self-signed CA certificate (%s); refusing it",
                        error);
        r = root_pinned(c, fp, ret_error);
        if (r < 0)
                return r;
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
