/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The HTTP contract of the guest frontends (docs/frontends.md, the IMDS contract): turns what
 * a request looked like into a decision — answer now with a status and an exact JSON body, or
 * ask the service for a document with this nonce and api-version. Pure: no sockets, no bus,
 * no allocation that a caller has to track beyond ImdsDecision. Takes untrusted input (any
 * bytes in every string): it is a fuzz target. */

#define IMDS_URI_MAX         2048U /* longer request targets get 414 */
#define IMDS_HEADERS_MAX     8192U /* more header bytes (names + values) get 431 */
#define IMDS_NONCE_MAX       32U
#define IMDS_API_VERSION_MAX 10U /* YYYY-MM-DD */
#define IMDS_RETRY_AFTER_SEC 5U  /* Retry-After of 503 answers */

#define IMDS_CONTENT_TYPE "application/json; charset=utf-8"

#define IMDS_PATH_DOCUMENT "/metadata/attested/document"
#define IMDS_PATH_VERSIONS "/metadata/versions"

/* What the transport saw of the request. */
typedef struct ImdsRequest {
        const char *method;   /* "GET", ... */
        const char *uri;      /* the raw request target, "path[?query]", not unescaped */
        size_t headers_size;  /* sum of the lengths of every header name and value */
        const char *metadata; /* the value of the (first) Metadata header; NULL = absent */
        unsigned n_metadata;  /* how many Metadata headers were sent */
        bool forwarded_for;   /* an X-Forwarded-For header is present */
        bool forwarded;       /* a Forwarded header (RFC 7239) is present */
} ImdsRequest;

/* Accounts one request header (any name and value, as received) in req: its size, Metadata,
 * X-Forwarded-For and Forwarded. Header names compare case-insensitively. */
void imds_request_add_header(ImdsRequest *req, const char *name, const char *value);

typedef enum ImdsAction {
        IMDS_ACTION_REPLY,  /* answer now: status, body, allow_get, retry_after */
        IMDS_ACTION_ATTEST, /* ask the service: nonce ("" = none given), api_version */
} ImdsAction;

/* An answer: status, exact body, and the extra headers it needs. */
typedef struct ImdsReply {
        unsigned status;
        const char *body;     /* static, or ImdsDecision.body_buf */
        bool allow_get;       /* add "Allow: GET" (405) */
        unsigned retry_after; /* seconds for "Retry-After"; 0 = no header */
} ImdsReply;

typedef struct ImdsDecision {
        ImdsAction action;
        ImdsReply reply;
        char nonce[IMDS_NONCE_MAX + 1];
        char api_version[IMDS_API_VERSION_MAX + 1];
        char body_buf[1024]; /* for bodies built per request (the versions list) */
} ImdsDecision;

/* Decides; never fails (every input gets an answer). */
void imds_request_decide(const ImdsRequest *req, ImdsDecision *ret);

/* The answer to a failed Attest/AttestForVersion call: error_name is the D-Bus error name,
 * or NULL when the call could not be made or got no reply at all (the service is
 * unreachable). One table maps every error (see imds-request.c). */
void imds_reply_for_bus_error(const char *error_name, ImdsReply *ret);

/* Fixed answers the transports need outside the request decision. */
void imds_reply_unidentified(ImdsReply *ret);                       /* 403: no VM identity for the peer */
void imds_reply_rate_limited(unsigned retry_after, ImdsReply *ret); /* 429 */
void imds_reply_internal_error(ImdsReply *ret);                     /* 500 */
void imds_reply_shutting_down(ImdsReply *ret);                      /* 503 */

/* The body of GET /metadata/versions: {"apiVersions":[...]} (oldest first). */
const char *imds_versions_body(char *buf, size_t size);

/* Percent-decodes src[0..len) into buf (size bytes incl. NUL), '+' as space. -EINVAL on bad
 * escapes or NUL bytes, -ENOBUFS when it does not fit. */
int imds_url_decode(const char *src, size_t len, char *buf, size_t size);
