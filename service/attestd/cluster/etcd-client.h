/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

/* An etcd v3 client over the JSON gateway (POST /v3/…), with libcurl on the sd-event loop
 * (curl-event.h): nothing blocks. Calls go to one endpoint at a time; when it cannot be
 * reached the call moves on to the next one, so one lost member does not stop the client.
 * etcd-json.h builds the bodies and parses the replies. */

typedef struct EtcdClient EtcdClient;
typedef struct EtcdCall EtcdCall;

typedef struct EtcdClientOptions {
        char *const *endpoints; /* "http(s)://host:port", at least one */
        const char *ca_file;    /* PEM CA to verify the members over https, NULL = system */
        const char *cert_file;  /* PEM client certificate and key for etcd's client auth */
        const char *key_file;
        usec_t timeout; /* per unary call; 0 = 3 s */
} EtcdClientOptions;

/* The end of a call. error < 0: it failed (-EHOSTUNREACH no member reachable, -ETIMEDOUT, -EIO
 * an HTTP error whose body is passed, -EPIPE a stream that ended), message says why; body is
 * the reply text (also for HTTP errors, to parse the gateway's {"error":…}), or NULL. The call
 * is freed after the callback returns. */
typedef void (
        *etcd_reply_t)(EtcdClient *c, int error, const char *message, const char *body, void *userdata);
/* One message of a stream (one line of JSON). */
typedef void (*etcd_message_t)(EtcdClient *c, const char *message, void *userdata);

int etcd_client_new(sd_event *event, const EtcdClientOptions *options, EtcdClient **ret);
/* Cancels every call in progress without calling back. */
EtcdClient *etcd_client_free(EtcdClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdClient *, etcd_client_free);

/* POSTs body to path (e.g. "/v3/kv/range"). ret_call may be NULL. */
int etcd_client_call(EtcdClient *c, const char *path, const char *body, etcd_reply_t reply, void *userdata,
        EtcdCall **ret_call);
/* The same for a streaming call (/v3/watch): message for each line, end when it stops. No
 * overall timeout; it is sent with etcd's require-leader metadata (Grpc-Metadata-hasleader),
 * so a member that loses the leader ends it. */
int etcd_client_stream(EtcdClient *c, const char *path, const char *body, etcd_message_t message,
        etcd_reply_t end, void *userdata, EtcdCall **ret_call);
/* Whether call goes to the endpoint the next call would try first: false once another call
 * failed over away from its endpoint (that member did not answer). */
bool etcd_call_on_current_endpoint(EtcdCall *call);
/* Stops a call without calling back. */
void etcd_call_cancel(EtcdCall *call);
