/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "document.h"
#include "imds-versions.h"
#include "log.h"
#include "manager-sign.h"
#include "manager.h"
#include "validate.h"
#include "vsock-peer.h"

/* Attest, AttestForVersion and AttestBatch: each request checked and its payload built in the
 * loop, signed by the pool of signing threads (m->signers), so that the bus loop never signs;
 * the reply goes from the loop when the signature is done. */

typedef struct AttestBatch AttestBatch;

typedef struct SignJob {
        sd_bus_message *request; /* NULL for a request of a batch */
        AttestBatch *batch;
        size_t index; /* in the batch */
        SigningIdentity *identity;
        char *payload;
        bool embed_chain;
        char *body;
        int error;
} SignJob;

/* One AttestBatch call: its requests are signed as separate jobs; the reply goes when the last
 * one is done. */
typedef struct AttestBatchResult {
        char *document; /* NULL: failed */
        char *error_name, *error_message;
} AttestBatchResult;

struct AttestBatch {
        sd_bus_message *request;
        size_t n, n_pending;
        AttestBatchResult results[];
};

static AttestBatch *attest_batch_free(AttestBatch *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++) {
                free(b->results[i].document);
                free(b->results[i].error_name);
                free(b->results[i].error_message);
        }
        sd_bus_message_unref(b->request);
        return mfree(b);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(AttestBatch *, attest_batch_free);

static void sign_job_free(SignJob *j) {
        sd_bus_message_unref(j->request);
        signing_identity_unref(j->identity);
        free(j->payload);
        free(j->body);
        free(j);
}

static void sign_work(void *userdata) {
        SignJob *j = userdata;

        j->error = document_sign(j->identity, j->payload, j->embed_chain, &j->body);
}

/* Replies with the document. sd_bus_message_append() would check the whole body for valid UTF-8
 * byte by byte (about a tenth of the loop's time per document): the body is our own base64 in
 * ASCII JSON, so it is copied in as it is. */
static int reply_document(sd_bus_message *request, const char *body) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        size_t len = strlen(body);
        char *space;
        int r;

        /* As sd_bus_reply_method_return() does: nothing for a caller that asked for no reply,
         * -ENOTCONN once the caller's connection is gone. */
        if (!sd_bus_message_get_expect_reply(request))
                return 0;
        if (sd_bus_is_open(sd_bus_message_get_bus(request)) <= 0)
                return -ENOTCONN;

        r = sd_bus_message_new_method_return(request, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_string_space(reply, len, &space);
        if (r < 0)
                return r;
        memcpy(space, body, len);
        return sd_bus_message_send(reply);
}

static int batch_set_error(AttestBatch *b, size_t i, const char *name, const char *message) {
        b->results[i].error_name = strdup(name);
        b->results[i].error_message = strdup(message ?: name);
        return b->results[i].error_name && b->results[i].error_message ? 0 : -ENOMEM;
}

/* The reply to AttestBatch: one (document, error name, error message) per request, in order. */
static int reply_batch(AttestBatch *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!sd_bus_message_get_expect_reply(b->request))
                return 0;
        if (sd_bus_is_open(sd_bus_message_get_bus(b->request)) <= 0)
                return -ENOTCONN;

        r = sd_bus_message_new_method_return(b->request, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ayss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->n; i++) {
                const AttestBatchResult *res = b->results + i;
                size_t len = res->document ? strlen(res->document) : 0;
                char *space;

                r = sd_bus_message_open_container(reply, 'r', "ayss");
                if (r < 0)
                        return r;
                /* Bytes, not a string: neither end checks 1.8 KB of our own ASCII for valid
                 * UTF-8 (perf: a tenth of the frontend's time when it was a string). */
                r = sd_bus_message_append_array_space(reply, 'y', len, (void **)&space);
                if (r < 0)
                        return r;
                if (len > 0)
                        memcpy(space, res->document, len);
                r = sd_bus_message_append(reply, "ss", strempty(res->error_name),
                        strempty(res->error_message));
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_send(reply);
}

static void batch_job_done(SignJob *j) {
        AttestBatch *b = j->batch;
        int r;

        if (j->error < 0) {
                char message[128];

                log_error_errno(j->error, "Failed to sign a document: %m");
                (void)snprintf(message, sizeof message, "Signing failed: %s", strerror(-j->error));
                (void)batch_set_error(b, j->index, SD_BUS_ERROR_FAILED, message);
        } else
                b->results[j->index].document = TAKE_PTR(j->body);

        assert(b->n_pending > 0);
        if (--b->n_pending > 0)
                return;
        r = reply_batch(b);
        if (r < 0)
                log_debug_errno(r, "Failed to send the documents of a batch: %m");
        attest_batch_free(b);
}

static void sign_done(void *userdata) {
        SignJob *j = userdata;
        int r;

        if (j->batch)
                batch_job_done(j);
        else if (j->error < 0) {
                log_error_errno(j->error, "Failed to sign a document: %m");
                (void)sd_bus_reply_method_errorf(j->request, SD_BUS_ERROR_FAILED, "Signing failed: %s",
                        strerror(-j->error));
        } else {
                r = reply_document(j->request, j->body);
                if (r < 0)
                        log_debug_errno(r, "Failed to send a document: %m");
        }
        sign_job_free(j);
}

static int find_peer_vm(Manager *m, const char *transport, const char *peer, Vm **ret, sd_bus_error *error) {
        Vm *vm = NULL;

        if (streq(transport, "vsock")) {
                uint32_t cid;

                if (vsock_peer_parse(peer, &cid) < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "Peer of a vsock request must be a guest CID in decimal, not '%s'.", peer);
                vm = manager_find_vm_by_cid(m, cid);
        } else {
                /* The legacy bridge port the request came in through (the frontend reads it from
                 * the connection's port mark): the VM whose LegacyInterface it is. */
                if (!ifname_is_valid(peer))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "Peer of an http request must be the interface name of a legacy bridge port, not '%s'.",
                                peer);
                vm = manager_find_vm_by_legacy_interface(m, peer);
        }

        if (!vm)
                return sd_bus_error_setf(error, BUS_ERROR_UNKNOWN_VM, "No VM is registered for %s peer %s.",
                        transport, peer);
        *ret = vm;
        return 0;
}

/* Checks one request and builds its payload: a job ready to be signed, or an error. */
static int attest_prepare(Manager *m, const char *transport, const char *peer, const char *nonce,
        const char *api_version, SignJob **ret, sd_bus_error *error) {
        char created_nonce[DOCUMENT_NONCE_MAX], buf[32];
        SignJob *j;
        usec_t now;
        Vm *vm = NULL;
        int r;

        if (!streq(transport, "vsock") && !streq(transport, "http"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "Transport must be \"vsock\" or \"http\", not \"%s\".", transport);
        if (!nonce_is_valid(nonce))
                return sd_bus_error_set(error, BUS_ERROR_INVALID_NONCE,
                        "The nonce must be at most 32 characters of A-Z, a-z, 0-9, '_' and '-'.");
        if (api_version && !imds_api_version_is_supported(api_version))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unsupported api-version '%s'.",
                        api_version);

        r = find_peer_vm(m, transport, peer, &vm, error);
        if (r < 0)
                return r;
        /* A libvirt domain is identified by its CID or tap only while it runs (the inventory
         * takes them from the running domain): a record of one that is not running answers
         * for nobody, whatever keys it still holds. VMs registered by hand keep their rules. */
        if (vm->source == VM_SOURCE_LIBVIRT && vm->power_state != VM_POWER_RUNNING)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                        "VM '%s' is a libvirt domain that is %s: only a running domain is served.", vm->name,
                        vm_power_state_to_string(vm->power_state));

        if (streq(transport, "vsock") && !vm->guest_service_interface)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                        "VM '%s' may not use the vsock path: its guest service interface is off.", vm->name);
        if (streq(transport, "http") && !m->legacy_support)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                        "VM '%s' may not use the legacy path: legacy OS support is off.", vm->name);
        if (streq(transport, "http") && !vm->legacy_access)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                        "VM '%s' has not been given legacy access.", vm->name);

        now = now_usec(CLOCK_REALTIME);
        if (m->identity && now >= m->identity->not_after && m->server_state == SERVER_ACTIVE)
                manager_refresh(m); /* expired since the last look */

        if (!m->config.enabled)
                return sd_bus_error_set(error, BUS_ERROR_NOT_CONFIGURED,
                        "Attestation is turned off in the configuration.");
        if (!m->identity)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_CONFIGURED,
                        "Server %s holds no signing certificate yet: it has not synced with its issuer.",
                        m->server_name);
        if (now >= m->identity->not_after)
                return sd_bus_error_setf(error, BUS_ERROR_EXPIRED,
                        "The signing certificate of server %s expired at %s: sync to renew it.",
                        m->server_name, format_timestamp_utc(buf, sizeof buf, m->identity->not_after));

        if (isempty(nonce))
                nonce = document_default_nonce(now, created_nonce);

        DocumentFields f = {
                .vm_id = vm->id,
                .nonce = nonce,
                .subscription_id = m->config.subscription_id,
                .sku = vm->sku,
                .license_type = vm->license_type,
                .api_version = api_version,
                .created = now,
                .expires = MIN(now + m->config.document_validity_minutes * USEC_PER_MINUTE,
                        m->identity->not_after),
        };

        j = calloc(1, sizeof(SignJob));
        if (!j)
                return -ENOMEM;
        r = document_build_payload(&f, &j->payload);
        if (r < 0) {
                sign_job_free(j);
                return r;
        }
        j->identity = signing_identity_ref(m->identity);
        j->embed_chain = m->config.embed_chain;
        *ret = j;
        return 0;
}

/* Refuses a call that would queue more than SIGN_QUEUE_MAX documents. */
static int check_queue(Manager *m, size_t n, sd_bus_error *error) {
        size_t pending = workqueue_pending(m->signers);

        if (pending + n > SIGN_QUEUE_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                        "The signing queue is full (%zu documents waiting, at most %u): try again shortly.",
                        pending, SIGN_QUEUE_MAX);
        return 0;
}

int manager_attest(Manager *m, sd_bus_message *msg, const char *transport, const char *peer,
        const char *nonce, const char *api_version, sd_bus_error *error) {
        SignJob *j = NULL;
        int r;

        assert(m);
        assert(msg);

        r = check_queue(m, 1, error);
        if (r < 0)
                return r;

        r = attest_prepare(m, transport, peer, nonce, api_version, &j, error);
        if (r < 0)
                return r;
        j->request = sd_bus_message_ref(msg);
        r = workqueue_submit(m->signers, sign_work, sign_done, j);
        if (r < 0) {
                sign_job_free(j);
                return r;
        }
        return 1;
}

int manager_attest_batch(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(attest_batch_freep) AttestBatch *b = NULL;
        size_t n = 0;
        int r;

        assert(m);
        assert(msg);

        /* Counted first: the results are allocated at once, and too long a batch is refused
         * before anything is signed. */
        r = sd_bus_message_enter_container(msg, 'a', "(ssss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_skip(msg, "(ssss)")) > 0)
                if (++n > ATTEST_BATCH_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "At most %u requests per AttestBatch call.", ATTEST_BATCH_MAX);
        if (r < 0)
                return r;
        r = check_queue(m, n, error);
        if (r < 0)
                return r;
        r = sd_bus_message_rewind(msg, false);
        if (r < 0)
                return r;

        b = calloc(1, sizeof(AttestBatch) + n * sizeof(AttestBatchResult));
        if (!b)
                return -ENOMEM;
        b->request = sd_bus_message_ref(msg);
        b->n = n;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                const char *transport, *peer, *nonce, *api_version;
                SignJob *j = NULL;

                /* Once a job is queued it holds the batch: from then on a failure is the
                 * request's, not the call's. */
                r = sd_bus_message_read(msg, "(ssss)", &transport, &peer, &nonce, &api_version);
                if (r >= 0)
                        r = attest_prepare(m, transport, peer, nonce, api_version, &j, &e);
                if (r < 0) {
                        if (!sd_bus_error_is_set(&e))
                                (void)sd_bus_error_set_errno(&e, r);
                        r = batch_set_error(b, i, e.name, e.message);
                        if (r < 0 && b->n_pending == 0)
                                return r;
                        continue;
                }
                j->batch = b;
                j->index = i;
                r = workqueue_submit(m->signers, sign_work, sign_done, j);
                if (r < 0) {
                        /* The jobs already queued hold the batch: it must stay. */
                        sign_job_free(j);
                        (void)batch_set_error(b, i, SD_BUS_ERROR_NO_MEMORY, "Out of memory.");
                        continue;
                }
                b->n_pending++;
        }

        if (b->n_pending > 0) {
                TAKE_PTR(b); /* the last job replies and frees it */
                return 1;
        }
        r = reply_batch(b);
        return r < 0 ? r : 1;
}
