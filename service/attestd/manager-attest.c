/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <sys/random.h>

#include "bus-names.h"
#include "document.h"
#include "fault.h"
#include "log.h"
#include "manager-attest.h"
#include "manager-bus.h"
#include "manager-cluster-ca.h"
#include "manager-state.h"
#include "server-bus.h"
#include "validate.h"
#include "x509-util.h"

/* The attestation half of the manager: the keystore and issuer, Sync (enrolment in a worker
 * thread, automatic renewal with backoff) and the pool of signing threads that Attest
 * (manager-sign.c) hands its documents to, so that the bus loop never signs. */

#define SYNC_RETRY_MIN_USEC (30 * USEC_PER_SEC)
#define SYNC_RETRY_MAX_USEC USEC_PER_HOUR

/* --- Sync --- */

typedef struct SyncJob {
        Manager *manager;
        sd_bus_message **waiters; /* callers waiting for this sync's result */
        size_t n_waiters;

        /* Inputs, owned by the job (the worker never touches the manager). */
        Keystore *keystore;
        Issuer *issuer;
        KeyType key_type;
        SigningIdentity *current; /* for renewal (KUR) and for re-certifying the same key */
        bool rotate_key;
        char *subject;
        unsigned validity_days, max_validity_days;

        /* Results. */
        SigningIdentity *result;
        char *error;
} SyncJob;

static SyncJob *sync_job_free(SyncJob *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n_waiters; i++)
                sd_bus_message_unref(j->waiters[i]);
        free(j->waiters);
        signing_identity_unref(j->current);
        signing_identity_unref(j->result);
        free(j->subject);
        free(j->error);
        return mfree(j);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SyncJob *, sync_job_free);

static int sync_job_add_waiter(SyncJob *j, sd_bus_message *m) {
        sd_bus_message **a;

        if (!m)
                return 0;
        a = reallocarray(j->waiters, j->n_waiters + 1, sizeof(sd_bus_message *));
        if (!a)
                return -ENOMEM;
        j->waiters = a;
        j->waiters[j->n_waiters++] = sd_bus_message_ref(m);
        return 0;
}

/* Runs in the enrolment thread. */
static void sync_work(void *userdata) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        SyncJob *j = userdata;
        bool renew;
        int r;

        renew = j->current && j->current->not_after > now_usec(CLOCK_REALTIME);

        if (!j->rotate_key && j->current) {
                key = j->current->key;
                EVP_PKEY_up_ref(key);
        } else {
                r = keystore_generate_key(j->keystore, j->key_type, &key);
                if (r < 0) {
                        (void)asprintf(&j->error, "Failed to generate a %s key: %s",
                                key_type_to_string(j->key_type), strerror(-r));
                        return;
                }
        }

        IssuerRequest req = {
                .key = key,
                .subject_cn = j->subject,
                .san_dns = j->subject,
                .validity_days = j->validity_days,
                .current_key = renew ? j->current->key : NULL,
                .current_cert = renew ? j->current->cert : NULL,
        };
        r = issuer_enroll(j->issuer, &req, &cert, &chain, &j->error);
        if (r < 0) {
                if (!j->error)
                        (void)asprintf(&j->error, "Enrolment failed: %s", strerror(-r));
                return;
        }

        /* Whatever the issuer says, the service decides what it signs with. */
        r = certificate_check_acceptable(cert, key, j->max_validity_days, time(NULL), &j->error);
        if (r < 0)
                return;

        r = signing_identity_new(key, cert, chain, &id);
        if (r < 0) {
                (void)asprintf(&j->error, "Issued certificate unusable: %s", strerror(-r));
                return;
        }

        r = keystore_store(j->keystore, id);
        if (r < 0) {
                (void)asprintf(&j->error, "Failed to store the new key and certificate: %s", strerror(-r));
                return;
        }
        fault_point("sync-stored");

        j->result = TAKE_PTR(id);
}

static void manager_schedule_sync(Manager *m);

static void manager_set_identity(Manager *m, SigningIdentity *id) {
        signing_identity_unref(m->identity);
        m->identity = id;
        m->certificate_expiry = id ? id->not_after : 0;
}

/* Runs in the event loop when the enrolment thread is done. */
static void sync_done(void *userdata) {
        _cleanup_(sync_job_freep) SyncJob *j = userdata;
        Manager *m = j->manager;
        bool ok = j->result;
        char buf[32];

        assert(m->sync_job == j);
        m->sync_job = NULL;

        if (j->result) {
                manager_set_identity(m, TAKE_PTR(j->result));
                m->last_sync = now_usec(CLOCK_REALTIME);
                m->sync_failures = 0;
                m->server_error = mfree(m->server_error);
                (void)manager_save_state(m);

                log_info("Sync succeeded: new %s signing certificate valid until %s.",
                        key_type_to_string(m->config.key_type),
                        format_timestamp_utc(buf, sizeof buf, m->certificate_expiry));

                (void)manager_emit_changed(m, STRV_MAKE("LastSync", "CertificateExpiry"));
                (void)server_emit_changed(m, STRV_MAKE("LastSync", "CertificateExpiry", "Error"));
        } else {
                m->sync_failures++;
                (void)free_and_strdup(&m->server_error, j->error ?: "Sync failed.");
                log_error("Sync failed (attempt %u): %s", m->sync_failures, strna(j->error));
                (void)server_emit_changed(m, STRV_MAKE("Error"));
        }

        manager_refresh(m);
        manager_schedule_sync(m);

        for (size_t i = 0; i < j->n_waiters; i++) {
                if (ok)
                        (void)sd_bus_reply_method_return(j->waiters[i], NULL);
                else
                        (void)sd_bus_reply_method_errorf(j->waiters[i], BUS_ERROR_SYNC_FAILED, "%s",
                                m->server_error);
        }
}

int manager_server_dns_name(Manager *m, const char *server_name, char **ret) {
        _cleanup_free_ char *label = NULL;

        assert(m);
        assert(server_name);
        assert(ret);

        label = strdup(server_name);

        if (!label)
                return -ENOMEM;
        for (char *p = label; *p; p++) {
                *p = (char)tolower((unsigned char)*p);
                if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", *p))
                        *p = '-';
        }
        if (strlen(label) > 63)
                label[63] = 0;
        if (asprintf(ret, "%s.%s", label, m->config.metadata_domain) < 0)
                return -ENOMEM;
        return 0;
}

static int manager_start_sync(Manager *m, sd_bus_message *waiter) {
        _cleanup_(sync_job_freep) SyncJob *j = NULL;
        int r;

        assert(m);

        if (m->sync_job)
                /* One enrolment at a time: later callers get the result of the running one. */
                return sync_job_add_waiter(m->sync_job, waiter);

        j = calloc(1, sizeof(SyncJob));
        if (!j)
                return -ENOMEM;
        *j = (SyncJob){
                .manager = m,
                .keystore = m->keystore,
                .issuer = m->issuer,
                .key_type = m->config.key_type,
                .current = m->identity ? signing_identity_ref(m->identity) : NULL,
                .rotate_key = m->config.rotate_key_on_sync,
                .validity_days = m->config.certificate_validity_days,
                .max_validity_days = m->config.certificate_max_validity_days,
        };
        r = manager_server_dns_name(m, m->server_name, &j->subject);
        if (r < 0)
                return r;
        r = sync_job_add_waiter(j, waiter);
        if (r < 0)
                return r;

        r = workqueue_submit(m->enroller, sync_work, sync_done, j);
        if (r < 0)
                return r;

        log_info("Sync started with the %s issuer.", m->issuer->ops->name);
        m->sync_job = TAKE_PTR(j);
        return 0;
}

int manager_sync(Manager *manager, sd_bus_message *msg, sd_bus_error *error) {
        int r;

        assert(manager);

        if (!manager->config.enabled)
                return sd_bus_error_set(error, BUS_ERROR_NOT_CONFIGURED,
                        "Attestation is turned off in the configuration (\"enabled\": false).");

        r = manager_start_sync(manager, msg);
        if (r < 0)
                return r;
        return 1; /* the reply comes when the enrolment is done */
}

/* --- Scheduling --- */

static usec_t random_jitter(usec_t max) {
        uint64_t x = 0;

        if (max == 0 || getrandom(&x, sizeof x, GRND_NONBLOCK) != sizeof x)
                return 0;
        return x % max;
}

/* When the next automatic sync is due, in CLOCK_REALTIME µs, as seen at now. */
static usec_t manager_next_sync(Manager *m, usec_t now) {
        SigningIdentity *id = m->identity;
        usec_t next, half;

        if (m->sync_failures > 0) {
                /* Capped exponential backoff with jitter, so that a cluster does not hammer
                 * its CA in lockstep after an outage. */
                usec_t delay = SYNC_RETRY_MIN_USEC << MIN(m->sync_failures - 1, 16U);
                delay = MIN(delay, SYNC_RETRY_MAX_USEC);
                return now + delay / 2 + random_jitter(delay / 2);
        }

        if (!id || id->not_after <= now)
                return now;

        next = (m->last_sync ?: id->not_before) + m->config.sync_interval_hours * USEC_PER_HOUR;
        /* Renew early once less than half of the validity is left. */
        half = id->not_before + (id->not_after - id->not_before) / 2;
        return MIN(next, half);
}

static int on_sync_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        usec_t now = now_usec(CLOCK_REALTIME);

        /* The certificate may just have expired: show it. */
        manager_refresh(m);

        /* One reading of the clock for the question "is it due?": asking the clock twice could
         * find it never due and re-arm the timer at once, for ever. */
        if (m->config.automatic_sync && now >= manager_next_sync(m, now)) {
                int r = manager_start_sync(m, NULL);
                if (r < 0)
                        log_error_errno(r, "Failed to start an automatic sync: %m");
        }
        if (!m->sync_job)
                manager_schedule_sync(m);
        return 0;
}

static void manager_schedule_sync(Manager *m) {
        usec_t next, now = now_usec(CLOCK_REALTIME);
        int r;

        if (!m->config.enabled || !m->event)
                return;

        next = m->config.automatic_sync ? manager_next_sync(m, now) : USEC_INFINITY;
        /* Also wake up when the certificate expires, to turn the server Expired on time. */
        if (m->identity && m->identity->not_after > now)
                next = MIN(next, m->identity->not_after);
        if (next == USEC_INFINITY)
                return;

        if (m->sync_timer) {
                r = sd_event_source_set_time(m->sync_timer, next);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->sync_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(m->event, &m->sync_timer, CLOCK_REALTIME, next, USEC_PER_SEC,
                        on_sync_timer, m);
        if (r < 0)
                log_error_errno(r, "Failed to schedule the next sync: %m");
}

int manager_get_trust_anchor(Manager *m, char **ret_pem) {
        assert(m);
        assert(ret_pem);

        return issuer_get_trust_anchor(m->issuer, ret_pem);
}

/* --- Life cycle --- */

int manager_attestation_init(Manager *m) {
        _cleanup_free_ char *keystore_dir = NULL, *error = NULL;
        SigningIdentity *id = NULL;
        bool cluster_peer = false;
        char buf[32];
        int r;

        assert(m);

        if (asprintf(&keystore_dir, "%s/keystore", m->config.state_directory) < 0)
                return log_oom();
        r = keystore_file_open(keystore_dir, &m->keystore);
        if (r < 0)
                return log_error_errno(r, "Failed to open the keystore %s: %m", keystore_dir);

        if (m->config.issuer_type == ISSUER_CMP)
                r = issuer_cmp_new(&m->config.cmp, &m->issuer, &error);
        else {
                /* A peer of a cluster CA enrols with the CA server; anyone else is its own CA. */
                r = manager_cluster_ca_peer_issuer(m, &m->issuer);
                cluster_peer = r > 0;
                if (r == 0)
                        r = issuer_local_new(m->config.state_directory, m->config.key_type, &m->issuer,
                                &error);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to set up the %s issuer: %s",
                        issuer_type_to_string(m->config.issuer_type), strna(error));

        r = keystore_load(m->keystore, &id);
        if (r == -ENOENT)
                log_info("No signing certificate yet.");
        else if (r < 0)
                log_error_errno(r,
                        "Failed to load the signing key and certificate, a sync will replace them: %m");
        else {
                manager_set_identity(m, id);
                log_info("Loaded the signing certificate, valid until %s.",
                        format_timestamp_utc(buf, sizeof buf, id->not_after));
        }

        r = workqueue_new(m->event, m->config.signing_threads, "signer", &m->signers);
        if (r < 0)
                return log_error_errno(r, "Failed to start the signing threads: %m");
        r = workqueue_new(m->event, 1, "enroller", &m->enroller);
        if (r < 0)
                return log_error_errno(r, "Failed to start the enrolment thread: %m");

        /* Sync at once when there is no valid certificate; else when due. A peer of a cluster
         * CA without a certificate waits for the CA's address from the cluster store instead
         * (manager-cluster-ca.c starts that sync): it could only fail before. */
        if (!cluster_peer || m->identity)
                manager_schedule_sync(m);
        return 0;
}

void manager_attestation_done(Manager *m) {
        assert(m);

        /* Joins the workers; their completions run now, while the manager still exists. */
        m->enroller = workqueue_free(m->enroller);
        m->signers = workqueue_free(m->signers);
        m->sync_timer = sd_event_source_disable_unref(m->sync_timer);
        manager_set_identity(m, NULL);
        m->issuer = issuer_free(m->issuer);
        m->keystore = keystore_free(m->keystore);
}

ServerState manager_compute_server_state(Manager *m) {
        assert(m);

        if (!m->config.enabled)
                return SERVER_INACTIVE;
        if (m->identity && now_usec(CLOCK_REALTIME) < m->identity->not_after)
                return SERVER_ACTIVE;
        if (m->server_error)
                return SERVER_ERROR;
        return m->identity ? SERVER_EXPIRED : SERVER_INACTIVE;
}
