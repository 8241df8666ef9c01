/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <limits.h>
#include <stdarg.h>
#include <strings.h>

#include <json-glib/json-glib.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "document-verify.h"
#include "document.h"
#include "json-util.h"
#include "strv.h"
#include "validate.h"
#include "x509-util.h"

/* Parses text into an object; NULL when it is not valid JSON or not an object. Through
 * json_parser_load(), which keeps json-glib from the inputs it leaks on: the body comes from the
 * network. */
static JsonObject *parse_object(JsonParser *parser, const char *text) {
        JsonNode *root;

        if (json_parser_load(parser, "document", text, NULL) < 0)
                return NULL;
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
                return NULL;
        return json_node_get_object(root);
}

static const char *const document_check_table[_DOCUMENT_CHECK_MAX] = {
        [DOCUMENT_CHECK_OK] = "ok",
        [DOCUMENT_CHECK_FORMAT] = "format",
        [DOCUMENT_CHECK_SIGNATURE] = "signature",
        [DOCUMENT_CHECK_CHAIN] = "chain",
        [DOCUMENT_CHECK_NAME] = "name",
        [DOCUMENT_CHECK_NONCE] = "nonce",
        [DOCUMENT_CHECK_VM_ID] = "vmId",
        [DOCUMENT_CHECK_TIME] = "time",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(document_check, DocumentCheck);

DocumentInfo *document_info_free(DocumentInfo *info) {
        if (!info)
                return NULL;
        free(info->payload);
        free(info->license_type);
        free(info->nonce);
        free(info->plan_name);
        free(info->plan_product);
        free(info->plan_publisher);
        free(info->sku);
        free(info->subscription_id);
        free(info->created_on);
        free(info->expires_on);
        free(info->vm_id);
        free(info->signer_subject);
        free(info->signer_issuer);
        strv_free(info->signer_dns_names);
        return mfree(info);
}

bool dns_name_under_domain(const char *name, const char *domain) {
        size_t n, d;

        if (isempty(name) || isempty(domain))
                return false;
        while (*domain == '.')
                domain++;
        n = strlen(name);
        d = strlen(domain);
        /* A trailing dot (absolute name) is the same name. */
        if (n > 0 && name[n - 1] == '.')
                n--;
        if (d > 0 && domain[d - 1] == '.')
                d--;
        if (d == 0 || n < d)
                return false;
        if (strncasecmp(name + n - d, domain, d) != 0)
                return false;
        if (n == d)
                return true;
        /* "x.D" or "*.D": a non-empty label before the dot. */
        return n >= d + 2 && name[n - d - 1] == '.';
}

typedef struct Failure {
        DocumentCheck check;
        char **error;
} Failure;

static int fail(Failure *f, DocumentCheck check, int error, bool with_openssl, const char *format, ...)
        _printf_(5, 6);

static int fail(Failure *f, DocumentCheck check, int error, bool with_openssl, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        f->check = check;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (with_openssl)
                return openssl_error(f->error, error, "%s", strempty(msg));
        return x509_error(f->error, error, "%s", strempty(msg));
}

/* A string member, or NULL when absent; -EBADMSG when present with another type. */
static int get_string(JsonObject *o, const char *name, char **ret) {
        JsonNode *n;

        *ret = NULL;
        if (!o)
                return 0;
        n = json_object_get_member(o, name);
        if (!n)
                return 0;
        if (!json_node_is_string(n))
                return -EBADMSG;
        *ret = strdup(json_node_get_string(n));
        return *ret ? 0 : -ENOMEM;
}

static int get_object(JsonObject *o, const char *name, JsonObject **ret) {
        JsonNode *n;

        *ret = NULL;
        n = json_object_get_member(o, name);
        if (!n)
                return 0;
        if (!JSON_NODE_HOLDS_OBJECT(n))
                return -EBADMSG;
        *ret = json_node_get_object(n);
        return 0;
}

static int parse_payload(DocumentInfo *info) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        JsonObject *o, *plan, *ts;
        int r;

        parser = json_parser_new_immutable();
        if (!parser)
                return -ENOMEM;
        o = parse_object(parser, info->payload);
        if (!o)
                return -EBADMSG;

        if ((r = get_object(o, "plan", &plan)) < 0 || (r = get_object(o, "timeStamp", &ts)) < 0 ||
                (r = get_string(o, "licenseType", &info->license_type)) < 0 ||
                (r = get_string(o, "nonce", &info->nonce)) < 0 ||
                (r = get_string(plan, "name", &info->plan_name)) < 0 ||
                (r = get_string(plan, "product", &info->plan_product)) < 0 ||
                (r = get_string(plan, "publisher", &info->plan_publisher)) < 0 ||
                (r = get_string(o, "sku", &info->sku)) < 0 ||
                (r = get_string(o, "subscriptionId", &info->subscription_id)) < 0 ||
                (r = get_string(ts, "createdOn", &info->created_on)) < 0 ||
                (r = get_string(ts, "expiresOn", &info->expires_on)) < 0 ||
                (r = get_string(o, "vmId", &info->vm_id)) < 0)
                return r;

        if (info->created_on && document_parse_time(info->created_on, &info->created) < 0)
                info->created = 0;
        if (info->expires_on && document_parse_time(info->expires_on, &info->expires) < 0)
                info->expires = 0;
        return 0;
}

static int read_signer(X509 *signer, DocumentInfo *info) {
        _cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *names = NULL;
        int r;

        info->signer_subject = x509_name_oneline(X509_get_subject_name(signer));
        info->signer_issuer = x509_name_oneline(X509_get_issuer_name(signer));
        if (!info->signer_subject || !info->signer_issuer)
                return -ENOMEM;
        (void)certificate_not_after_usec(signer, &info->signer_not_after);

        names = X509_get_ext_d2i(signer, NID_subject_alt_name, NULL, NULL);
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
                const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
                const unsigned char *data;
                _cleanup_free_ char *s = NULL;
                int len;

                if (gn->type != GEN_DNS)
                        continue;
                data = ASN1_STRING_get0_data(gn->d.dNSName);
                len = ASN1_STRING_length(gn->d.dNSName);
                if (len <= 0 || memchr(data, 0, (size_t)len))
                        continue; /* an embedded NUL can never match a domain */
                s = strndup((const char *)data, (size_t)len);
                if (!s)
                        return -ENOMEM;
                r = strv_extend(&info->signer_dns_names, s);
                if (r < 0)
                        return r;
        }
        ERR_clear_error();
        return 0;
}

static int verify_chain(X509 *signer, STACK_OF(X509) * untrusted, const DocumentVerifyOptions *opts,
        usec_t now, Failure *f) {
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = NULL;
        int err;

        if (!opts->trust)
                return fail(f, DOCUMENT_CHECK_CHAIN, -ENOKEY, false, "no trusted root certificate given");

        ctx = X509_STORE_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (X509_STORE_CTX_init(ctx, opts->trust, signer, untrusted) != 1)
                return fail(f, DOCUMENT_CHECK_CHAIN, -ENOMEM, true, "cannot set up chain verification");

        /* Azure's signing certificates are TLS certificates (serverAuth/clientAuth), not S/MIME
         * ones: accept any extended key usage, but insist on digitalSignature below. */
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
        if (opts->ignore_time)
                X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_NO_CHECK_TIME);
        else
                X509_STORE_CTX_set_time(ctx, 0, (time_t)(now / USEC_PER_SEC));

        if (X509_verify_cert(ctx) != 1) {
                err = X509_STORE_CTX_get_error(ctx);
                return fail(f, DOCUMENT_CHECK_CHAIN, -ENOKEY, false,
                        "the signing certificate is not trusted: %s (at depth %d)",
                        X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(ctx));
        }
        ERR_clear_error();
        return 0;
}

/* Steps 1 and 2: the response body and the PKCS#7 structure in it: SignedData, attached data,
 * exactly one signer. */
static int read_envelope(const void *body, size_t size, Failure *f, PKCS7 **ret) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        _cleanup_free_ unsigned char *der = NULL;
        _cleanup_free_ char *text = NULL;
        const unsigned char *p;
        const char *enc, *sig;
        size_t der_size;
        JsonObject *o;
        JsonNode *n;

        if (size > DOCUMENT_BODY_MAX)
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false, "document larger than %u bytes",
                        DOCUMENT_BODY_MAX);
        text = strndup(body, size);
        if (!text)
                return -ENOMEM;
        if (strlen(text) != size)
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false, "document contains a NUL byte");
        parser = json_parser_new_immutable();
        if (!parser)
                return -ENOMEM;
        o = parse_object(parser, text);
        if (!o)
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false, "document is not a JSON object");
        n = json_object_get_member(o, "encoding");
        enc = json_node_is_string(n) ? json_node_get_string(n) : NULL;
        if (!streq_ptr(enc, "pkcs7"))
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false, "document encoding is not \"pkcs7\"");
        n = json_object_get_member(o, "signature");
        sig = json_node_is_string(n) ? json_node_get_string(n) : NULL;
        if (!sig || base64_decode(sig, strlen(sig), &der, &der_size) < 0 || der_size == 0 ||
                der_size > LONG_MAX)
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false, "document signature is not base64");

        p = der;
        p7 = d2i_PKCS7(NULL, &p, (long)der_size);
        if (!p7)
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, true, "signature is not DER PKCS#7");
        if (!PKCS7_type_is_signed(p7) || !p7->d.sign || !p7->d.sign->contents ||
                !PKCS7_type_is_data(p7->d.sign->contents) || PKCS7_get_detached(p7))
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false,
                        "PKCS#7 is not SignedData with attached data");
        if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) != 1)
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false,
                        "PKCS#7 does not have exactly one signer");
        *ret = TAKE_PTR(p7);
        return 0;
}

static void sk_X509_shallow_freep(STACK_OF(X509) * *s) {
        sk_X509_free(*s);
}

/* Step 3: the signature over the content, by the embedded signer certificate; fills info with
 * the content and the signer, and returns the signer stack (free it with sk_X509_free()). */
static int read_signed_content(PKCS7 *p7, DocumentInfo *info, Failure *f, STACK_OF(X509) * *ret_signers) {
        _cleanup_(sk_X509_shallow_freep) STACK_OF(X509) *signers = NULL;
        _cleanup_(BIO_free_allp) BIO *out = NULL;
        char *data;
        long len;
        int r;

        out = BIO_new(BIO_s_mem());
        if (!out)
                return -ENOMEM;
        if (PKCS7_verify(p7, NULL, NULL, NULL, out, PKCS7_NOVERIFY | PKCS7_BINARY) != 1)
                return fail(f, DOCUMENT_CHECK_SIGNATURE, -EKEYREJECTED, true,
                        "signature verification failed");
        len = BIO_get_mem_data(out, &data);
        if (len < 0 || memchr(data, 0, (size_t)len))
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false, "signed content is not text");
        info->payload = strndup(data, (size_t)len);
        if (!info->payload)
                return -ENOMEM;

        signers = PKCS7_get0_signers(p7, NULL, 0);
        if (!sk_X509_value(signers, 0))
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, true, "signer certificate not found");
        r = read_signer(sk_X509_value(signers, 0), info);
        if (r < 0)
                return r;

        r = parse_payload(info);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(f, DOCUMENT_CHECK_FORMAT, -EBADMSG, false,
                        "signed content is not an attested-data JSON object");
        *ret_signers = TAKE_PTR(signers);
        return 0;
}

/* Step 4: the chain to a trusted root, and the key usage of the signer. */
static int check_signer(X509 *signer, STACK_OF(X509) * untrusted, const DocumentVerifyOptions *opts,
        usec_t now, Failure *f) {
        int r;

        r = verify_chain(signer, untrusted, opts, now, f);
        if (r < 0)
                return r;
        if (!(X509_get_key_usage(signer) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
                return fail(f, DOCUMENT_CHECK_CHAIN, -ENOKEY, false,
                        "the signing certificate's key usage does not allow signatures");
        return 0;
}

/* Step 5: the signer's name under the metadata domain. */
static int check_name(const DocumentInfo *info, const char *domain, Failure *f) {
        _cleanup_free_ char *names = NULL, *shown = NULL;

        STRV_FOREACH (s, info->signer_dns_names)
                if (dns_name_under_domain(*s, domain))
                        return 0;

        names = strv_join(info->signer_dns_names, ", ");
        if (!names || !(shown = escape_unprintable(names)))
                return -ENOMEM;
        return fail(f, DOCUMENT_CHECK_NAME, -EADDRNOTAVAIL, false,
                "the signing certificate's DNS names (%s) are not under %s", isempty(shown) ? "none" : shown,
                domain);
}

/* Step 6: the request's nonce and the VM. */
static int check_request(const DocumentInfo *info, const DocumentVerifyOptions *opts, Failure *f) {
        if (opts->nonce && !streq_ptr(info->nonce, opts->nonce)) {
                _cleanup_free_ char *shown = escape_unprintable(strna(info->nonce));
                if (!shown)
                        return -ENOMEM;
                return fail(f, DOCUMENT_CHECK_NONCE, -EBADE, false,
                        "nonce \"%s\" does not match the expected \"%s\"", shown, opts->nonce);
        }
        if (opts->vm_id && (!info->vm_id || strcasecmp(info->vm_id, opts->vm_id) != 0)) {
                _cleanup_free_ char *shown = escape_unprintable(strna(info->vm_id));
                if (!shown)
                        return -ENOMEM;
                return fail(f, DOCUMENT_CHECK_VM_ID, -EBADE, false,
                        "vmId \"%s\" does not match the expected \"%s\"", shown, opts->vm_id);
        }
        return 0;
}

/* Step 7: createdOn <= now < expiresOn, with some clock skew either way. */
static int check_time(const DocumentInfo *info, usec_t now, Failure *f) {
        char a[32];

        if (info->created == 0 || info->expires == 0)
                return fail(f, DOCUMENT_CHECK_TIME, -EKEYEXPIRED, false,
                        "document has no valid timeStamp.createdOn/expiresOn");
        if (info->created > now + DOCUMENT_CLOCK_SKEW)
                return fail(f, DOCUMENT_CHECK_TIME, -EKEYEXPIRED, false,
                        "document is not valid yet (created %s)",
                        format_timestamp_utc(a, sizeof a, info->created));
        if (now >= info->expires + DOCUMENT_CLOCK_SKEW)
                return fail(f, DOCUMENT_CHECK_TIME, -EKEYEXPIRED, false, "document expired at %s",
                        format_timestamp_utc(a, sizeof a, info->expires));
        return 0;
}

int document_verify(const void *body, size_t size, const DocumentVerifyOptions *opts,
        DocumentInfo **ret_info, DocumentCheck *ret_check, char **ret_error) {
        _cleanup_(document_info_freep) DocumentInfo *info = NULL;
        _cleanup_(sk_X509_shallow_freep) STACK_OF(X509) *signers = NULL;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        Failure f = {.check = DOCUMENT_CHECK_OK, .error = ret_error};
        usec_t now;
        int r;

        assert(body || size == 0);
        assert(opts);

        if (ret_check)
                *ret_check = DOCUMENT_CHECK_OK;
        if (ret_info)
                *ret_info = NULL;
        now = opts->now ?: now_usec(CLOCK_REALTIME);

        info = calloc(1, sizeof *info);
        if (!info)
                return -ENOMEM;

        /* A step either fails a check (f.check says which: the caller gets the reason and what
         * was read so far) or cannot run at all (out of memory: a plain error). */
        r = read_envelope(body, size, &f, &p7);
        if (r < 0)
                goto failed;
        info->n_certificates = (unsigned)MAX(sk_X509_num(p7->d.sign->cert), 0);

        r = read_signed_content(p7, info, &f, &signers);
        if (r < 0)
                goto failed;

        if (!opts->skip_chain) {
                r = check_signer(sk_X509_value(signers, 0), p7->d.sign->cert, opts, now, &f);
                if (r < 0)
                        goto finish; /* also when the chain cannot be set up */
                info->chain_verified = true;
        }

        if (opts->metadata_domain) {
                r = check_name(info, opts->metadata_domain, &f);
                if (r < 0)
                        goto failed;
        }
        r = check_request(info, opts, &f);
        if (r < 0)
                goto failed;
        if (!opts->ignore_time) {
                r = check_time(info, now, &f);
                if (r < 0)
                        goto failed;
                info->time_verified = true;
        }
        r = 0;
        goto finish;

failed:
        if (f.check == DOCUMENT_CHECK_OK)
                return r;
finish:
        ERR_clear_error();
        if (ret_check)
                *ret_check = f.check;
        if (ret_info && info->payload)
                *ret_info = TAKE_PTR(info);
        return r;
}
