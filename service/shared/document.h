/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "signing-identity.h"
#include "time-util.h"

/* IMDS-compatible attested documents (docs/imds-contract.md): the signed
 * JSON content and its PKCS#7 envelope. Pure functions, safe to call from several threads at
 * once (also with the same SigningIdentity). */

typedef struct DocumentFields {
        const char *vm_id;
        const char *nonce;           /* already validated; see document_default_nonce() */
        const char *subscription_id; /* NULL = "" */
        const char *sku;             /* NULL = "" */
        const char *license_type;    /* NULL or "" = not set: the field is left out */
        const char *plan_name;       /* NULL = "" */
        const char *plan_product;
        const char *plan_publisher;
        const char *api_version; /* "YYYY-MM-DD"; NULL = the newest: every field */
        usec_t created;
        usec_t expires;
} DocumentFields;

/* The api-versions that added fields (older requests get only the fields that existed). */
#define DOCUMENT_API_SUBSCRIPTION_ID "2019-04-30"
#define DOCUMENT_API_SKU             "2019-11-01"
#define DOCUMENT_API_LICENSE_TYPE    "2020-09-01"

/* The signed content: compact JSON, keys in alphabetical order, e.g.
 * {"nonce":"...","plan":{"name":"","product":"","publisher":""},"subscriptionId":"...",
 *  "timeStamp":{"createdOn":"02/21/20 14:53:22 -0000","expiresOn":"..."},"vmId":"..."} */
int document_build_payload(const DocumentFields *f, char **ret_json);

/* "MM/DD/YY HH:MM:SS -0000" in UTC; buf must hold DOCUMENT_TIME_MAX bytes. */
#define DOCUMENT_TIME_MAX 32
const char *document_format_time(usec_t t, char *buf);
/* Parses that format (years 00-99 are 2000-2099); -EINVAL if it does not match exactly. */
int document_parse_time(const char *s, usec_t *ret);

/* The nonce used when the request has none: the UTC time as "YYYYMMDD-HHMMSS". */
#define DOCUMENT_NONCE_MAX 33
const char *document_default_nonce(usec_t t, char *buf);

/* Signs payload into the IMDS response body {"encoding":"pkcs7","signature":"<base64>"}:
 * PKCS#7 SignedData, content attached, one signer by issuer and serial, no signed attributes,
 * SHA-256, the signer's certificate embedded, plus id->chain when embed_chain. */
int document_sign(SigningIdentity *id, const char *payload, bool embed_chain, char **ret_body);
