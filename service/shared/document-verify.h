/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509_vfy.h>

#include "macro.h"
#include "string-util.h"
#include "time-util.h"

/* Verification of an IMDS attested-document response body, as a consumer does it: the
 * PKCS#7 signature, the signer's chain to a trusted root, its SAN against the metadata
 * domain, the nonce and vmId, and the document's validity window. Takes an untrusted buffer
 * (any bytes: it is a fuzz target) and never aborts on bad input. */

#define DOCUMENT_BODY_MAX   (256U * 1024U)
#define DOCUMENT_CLOCK_SKEW (5 * USEC_PER_MINUTE)

typedef struct DocumentVerifyOptions {
        X509_STORE *trust;           /* the trusted roots; required unless skip_chain */
        const char *nonce;           /* NULL = not checked */
        const char *vm_id;           /* NULL = not checked (compared case-insensitively) */
        const char *metadata_domain; /* NULL = not checked; else a SAN dNSName = D or *.D / x.D */
        bool skip_chain;             /* INSECURE: the signature only proves the embedded cert */
        bool ignore_time;            /* INSECURE: no document or certificate time checks */
        usec_t now;                  /* 0 = the current time */
} DocumentVerifyOptions;

/* Which check failed; also the exit code of "azshci-attest verify" (0 = valid, 1 = usage
 * or I/O error). */
typedef enum DocumentCheck {
        DOCUMENT_CHECK_OK = 0,
        DOCUMENT_CHECK_FORMAT =
                2, /* not a {"encoding":"pkcs7","signature":...} body, bad PKCS#7 or payload */
        DOCUMENT_CHECK_SIGNATURE = 3, /* the signature does not verify */
        DOCUMENT_CHECK_CHAIN = 4,     /* the signer does not chain to a trusted root */
        DOCUMENT_CHECK_NAME = 5,      /* the signer's SAN is not under the metadata domain */
        DOCUMENT_CHECK_NONCE = 6,
        DOCUMENT_CHECK_VM_ID = 7,
        DOCUMENT_CHECK_TIME = 8, /* not yet valid, expired, or missing timeStamp */
        _DOCUMENT_CHECK_MAX,
        _DOCUMENT_CHECK_INVALID = -EINVAL,
} DocumentCheck;

DECLARE_STRING_TABLE_LOOKUP_TO_STRING(document_check, DocumentCheck);

typedef struct DocumentInfo {
        char *payload;      /* the signed content, exactly as signed */
        char *license_type; /* NULL when absent, like the fields below */
        char *nonce;
        char *plan_name, *plan_product, *plan_publisher;
        char *sku;
        char *subscription_id;
        char *created_on, *expires_on; /* as written */
        usec_t created, expires;       /* 0 when absent or unparsable */
        char *vm_id;
        char *signer_subject;
        char *signer_issuer;
        char **signer_dns_names;
        usec_t signer_not_after;
        unsigned n_certificates; /* embedded in the PKCS#7 */
        bool chain_verified;
        bool time_verified;
} DocumentInfo;

DocumentInfo *document_info_free(DocumentInfo *info);
DEFINE_TRIVIAL_CLEANUP_FUNC(DocumentInfo *, document_info_free);

/* Returns 0 and fills *ret_info (if not NULL) when every requested check passed. On failure
 * returns a negative errno (-EBADMSG format, -EKEYREJECTED signature, -ENOKEY chain,
 * -EADDRNOTAVAIL name, -EBADE nonce or vmId, -EKEYEXPIRED time, -ENOMEM), sets *ret_check to
 * the failed check and *ret_error to a one-line reason. *ret_info is also filled on a failed
 * check once the payload could be read (so a caller may show what it rejected). */
int document_verify(const void *body, size_t size, const DocumentVerifyOptions *opts,
        DocumentInfo **ret_info, DocumentCheck *ret_check, char **ret_error);

/* Whether name (a SAN dNSName, possibly "*.x") is domain or a name under it. */
bool dns_name_under_domain(const char *name, const char *domain) _pure_;
