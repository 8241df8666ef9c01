/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <limits.h>
#include <time.h>

#include <openssl/evp.h>

#include "document.h"
#include "json-util.h"
#include "x509-util.h"

static char *put_two_digits(char *p, int v) {
        *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        return p;
}

const char *document_format_time(usec_t t, char *buf) {
        struct tm tm;
        time_t sec;
        char *p = buf;

        assert(buf);

        buf[0] = 0;
        sec = (time_t)(t / USEC_PER_SEC);
        if (!gmtime_r(&sec, &tm))
                return buf;
        /* "%m/%d/%y %H:%M:%S -0000", written by hand: this runs twice for every document. The
         * two-digit year is deliberate here (Azure's format). */
        p = put_two_digits(p, tm.tm_mon + 1);
        *p++ = '/';
        p = put_two_digits(p, tm.tm_mday);
        *p++ = '/';
        p = put_two_digits(p, tm.tm_year % 100);
        *p++ = ' ';
        p = put_two_digits(p, tm.tm_hour);
        *p++ = ':';
        p = put_two_digits(p, tm.tm_min);
        *p++ = ':';
        p = put_two_digits(p, tm.tm_sec);
        strcpy(p, " -0000");
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

static char *put_member(char *p, const char *name, const char *value, bool first) {
        if (!first)
                *p++ = ',';
        *p++ = '"';
        p = stpcpy(p, name);
        *p++ = '"';
        *p++ = ':';
        return json_put_string(p, value);
}

/* Adds the most a string member's value takes to *size; false when that overflows. */
static bool add_string_size(size_t *size, const char *value) {
        size_t n = strlen(value);

        if (n > (SIZE_MAX - *size) / 6 - 2)
                return false;
        *size += JSON_STRING_SIZE_MAX(n);
        return true;
}

/* Written by hand into one buffer of the largest size it can take: this runs for every document,
 * and a JsonBuilder tree plus a JsonGenerator, or a memory stream, cost a noticeable part of an
 * ECDSA signature. Compact, keys in alphabetical order, as Azure writes them. */
int document_build_payload(const DocumentFields *f, char **ret_json) {
        /* Every key and punctuation mark, without the values. */
        static const char skeleton[] = "{\"licenseType\":,\"nonce\":,\"plan\":{\"name\":,\"product\":,"
                                       "\"publisher\":},\"sku\":,\"subscriptionId\":,\"timeStamp\":{"
                                       "\"createdOn\":,\"expiresOn\":},\"vmId\":}";
        char created[DOCUMENT_TIME_MAX], expires[DOCUMENT_TIME_MAX];
        const char *license = strempty(f->license_type), *plan_name = strempty(f->plan_name),
                   *plan_product = strempty(f->plan_product), *plan_publisher = strempty(f->plan_publisher),
                   *sku = strempty(f->sku), *subscription = strempty(f->subscription_id);
        size_t size = sizeof skeleton;
        bool licensed;
        char *buf, *p;

        assert(f);
        assert(ret_json);

        if (!f->vm_id || !f->nonce)
                return -EINVAL;
        if (f->expires < f->created)
                return -EINVAL;
        if (isempty(document_format_time(f->created, created)) ||
                isempty(document_format_time(f->expires, expires)))
                return -ERANGE;

        const char *values[] = {license, f->nonce, plan_name, plan_product, plan_publisher, sku,
                subscription, created, expires, f->vm_id};
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                if (!add_string_size(&size, values[i]))
                        return -ENOMEM;
        p = buf = malloc(size);
        if (!buf)
                return -ENOMEM;

        *p++ = '{';
        licensed = !isempty(license) && api_at_least(f->api_version, DOCUMENT_API_LICENSE_TYPE);
        if (licensed)
                p = put_member(p, "licenseType", license, true);
        p = put_member(p, "nonce", f->nonce, !licensed);

        p = stpcpy(p, ",\"plan\":{");
        p = put_member(p, "name", plan_name, true);
        p = put_member(p, "product", plan_product, false);
        p = put_member(p, "publisher", plan_publisher, false);
        *p++ = '}';

        if (api_at_least(f->api_version, DOCUMENT_API_SKU))
                p = put_member(p, "sku", sku, false);
        if (api_at_least(f->api_version, DOCUMENT_API_SUBSCRIPTION_ID))
                p = put_member(p, "subscriptionId", subscription, false);

        p = stpcpy(p, ",\"timeStamp\":{");
        p = put_member(p, "createdOn", created, true);
        p = put_member(p, "expiresOn", expires, false);
        *p++ = '}';

        p = put_member(p, "vmId", f->vm_id, false);
        *p++ = '}';
        *p = 0;
        assert((size_t)(p - buf) < size);

        *ret_json = buf;
        return 0;
}

/* Assembled from the identity's template (signed-data.h) rather than by PKCS7_sign(): the same
 * bytes, and for ECDSA P-256 the generic PKCS#7 machinery cost about as much as the signature
 * itself. The base64 goes straight into the body, without the DER in between. */
int document_sign(SigningIdentity *id, const char *payload, bool embed_chain, char **ret_body) {
        static const char prefix[] = "{\"encoding\":\"pkcs7\",\"signature\":\"", suffix[] = "\"}";
        uint8_t signature[SIGNED_DATA_SIGNATURE_MAX];
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
        body = malloc(sizeof prefix - 1 + SIGNED_DATA_BASE64_MAX(der_size) + sizeof suffix - 1);
        if (!body)
                return -ENOMEM;
        p = mempcpy(body, prefix, sizeof prefix - 1);
        p += signed_data_write_base64(id->signed_data, payload, len, embed_chain, signature, signature_size,
                p);
        memcpy(p, suffix, sizeof suffix);

        *ret_body = body;
        return 0;
}
