/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <limits.h>
#include <stdio_ext.h>
#include <time.h>

#include <openssl/evp.h>

#include "document.h"
#include "json-util.h"
#include "x509-util.h"

const char *document_format_time(usec_t t, char *buf) {
        char tmp[128];
        struct tm tm;
        time_t sec;

        assert(buf);

        buf[0] = 0;
        sec = (time_t)(t / USEC_PER_SEC);
        if (!gmtime_r(&sec, &tm))
                return buf;
        /* Not strftime("%y"): the two-digit year is deliberate here (Azure's format). */
        if (snprintf(tmp, sizeof tmp, "%02d/%02d/%02d %02d:%02d:%02d -0000", tm.tm_mon + 1, tm.tm_mday,
                    tm.tm_year % 100, tm.tm_hour, tm.tm_min, tm.tm_sec) < DOCUMENT_TIME_MAX)
                strcpy(buf, tmp);
        return buf;
}

int document_parse_time(const char *s, usec_t *ret) {
        unsigned mon, mday, year, hour, min, sec;
        struct tm tm = {};
        int n = -1;
        time_t t;

        assert(s);
        assert(ret);

        /* Fixed width: "MM/DD/YY HH:MM:SS -0000" is 23 characters. */
        if (strlen(s) != 23)
                return -EINVAL;
        for (size_t i = 0; i < 23; i++) {
                bool digit = !strchr("/ :-", "00/00/00 00:00:00 -0000"[i]);
                if (digit != (s[i] >= '0' && s[i] <= '9'))
                        return -EINVAL;
                if (!digit && s[i] != "00/00/00 00:00:00 -0000"[i])
                        return -EINVAL;
        }
        if (!streq(s + 17, " -0000"))
                return -EINVAL;
        if (sscanf(s, "%2u/%2u/%2u %2u:%2u:%2u%n", &mon, &mday, &year, &hour, &min, &sec, &n) != 6 ||
                n != 17)
                return -EINVAL;
        if (mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;

        tm.tm_year = (int)year + 100;
        tm.tm_mon = (int)mon - 1;
        tm.tm_mday = (int)mday;
        tm.tm_hour = (int)hour;
        tm.tm_min = (int)min;
        tm.tm_sec = (int)sec;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        /* Reject dates that timegm() normalised (e.g. 02/30). */
        if (tm.tm_mday != (int)mday || tm.tm_mon != (int)mon - 1)
                return -EINVAL;
        *ret = (usec_t)t * USEC_PER_SEC;
        return 0;
}

const char *document_default_nonce(usec_t t, char *buf) {
        struct tm tm;
        time_t sec;

        assert(buf);

        sec = (time_t)(t / USEC_PER_SEC);
        if (!gmtime_r(&sec, &tm) || strftime(buf, DOCUMENT_NONCE_MAX, "%Y%m%d-%H%M%S", &tm) == 0)
                buf[0] = 0;
        return buf;
}

static bool api_at_least(const char *api_version, const char *since) {
        /* "YYYY-MM-DD" compares correctly as a string. NULL is the newest. */
        return !api_version || strcmp(api_version, since) >= 0;
}

static void write_member(FILE *f, const char *name, const char *value, bool first) {
        if (!first)
                fputc(',', f);
        fputc('"', f);
        fputs(name, f);
        fputs("\":", f);
        json_write_string(f, value);
}

/* Written by hand into one buffer: this runs for every document, and a JsonBuilder tree plus a
 * JsonGenerator cost more than the rest of the request's bookkeeping. Compact, keys in
 * alphabetical order, as Azure writes them. */
int document_build_payload(const DocumentFields *f, char **ret_json) {
        char created[DOCUMENT_TIME_MAX], expires[DOCUMENT_TIME_MAX];
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        bool licensed, failed;
        FILE *out;

        assert(f);
        assert(ret_json);

        if (!f->vm_id || !f->nonce)
                return -EINVAL;
        if (f->expires < f->created)
                return -EINVAL;
        if (isempty(document_format_time(f->created, created)) ||
                isempty(document_format_time(f->expires, expires)))
                return -ERANGE;

        out = open_memstream(&buf, &size);
        if (!out)
                return -ENOMEM;
        (void)__fsetlocking(out, FSETLOCKING_BYCALLER);

        fputc('{', out);
        licensed = !isempty(f->license_type) && api_at_least(f->api_version, DOCUMENT_API_LICENSE_TYPE);
        if (licensed)
                write_member(out, "licenseType", f->license_type, true);
        write_member(out, "nonce", f->nonce, !licensed);

        fputs(",\"plan\":{", out);
        write_member(out, "name", strempty(f->plan_name), true);
        write_member(out, "product", strempty(f->plan_product), false);
        write_member(out, "publisher", strempty(f->plan_publisher), false);
        fputc('}', out);

        if (api_at_least(f->api_version, DOCUMENT_API_SKU))
                write_member(out, "sku", strempty(f->sku), false);
        if (api_at_least(f->api_version, DOCUMENT_API_SUBSCRIPTION_ID))
                write_member(out, "subscriptionId", strempty(f->subscription_id), false);

        fputs(",\"timeStamp\":{", out);
        write_member(out, "createdOn", created, true);
        write_member(out, "expiresOn", expires, false);
        fputc('}', out);

        write_member(out, "vmId", f->vm_id, false);
        fputc('}', out);

        failed = ferror(out) != 0;
        if (fclose(out) != 0 || failed)
                return -ENOMEM;
        *ret_json = TAKE_PTR(buf);
        return 0;
}

/* Assembled from the identity's template (signed-data.h) rather than by PKCS7_sign(): the same
 * bytes, and for ECDSA P-256 the generic PKCS#7 machinery cost about as much as the signature
 * itself. The DER goes into the body as base64 without an intermediate copy. */
int document_sign(SigningIdentity *id, const char *payload, bool embed_chain, char **ret_body) {
        static const char prefix[] = "{\"encoding\":\"pkcs7\",\"signature\":\"", suffix[] = "\"}";
        uint8_t signature[SIGNED_DATA_SIGNATURE_MAX];
        _cleanup_free_ uint8_t *der = NULL;
        size_t len, signature_size, der_size;
        char *body, *p;
        int r;

        assert(id);
        assert(payload);
        assert(ret_body);

        len = strlen(payload);
        if (len > INT_MAX)
                return -EFBIG;

        r = signing_identity_sign(id, payload, len, signature, &signature_size);
        if (r < 0)
                return r;

        der_size = signed_data_size(id->signed_data, len, embed_chain, signature_size);
        if (der_size == 0 || der_size > INT_MAX / 4 * 3 - 3)
                return -EFBIG;
        der = malloc(der_size);
        if (!der)
                return -ENOMEM;
        (void)signed_data_write(id->signed_data, payload, len, embed_chain, signature, signature_size, der);

        body = malloc(sizeof prefix - 1 + (der_size + 2) / 3 * 4 + sizeof suffix);
        if (!body)
                return -ENOMEM;
        p = mempcpy(body, prefix, sizeof prefix - 1);
        p += EVP_EncodeBlock((unsigned char *)p, der, (int)der_size);
        memcpy(p, suffix, sizeof suffix);

        *ret_body = body;
        return 0;
}
