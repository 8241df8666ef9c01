/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <strings.h>

#include "bus-names.h"
#include "imds-request.h"
#include "imds-versions.h"
#include "macro.h"
#include "validate.h"

#define BODY_METADATA "{\"error\":\"Bad request: . Required metadata header not specified\"}"
#define BODY_API_VERSION_PREFIX                                                                  \
        "{\"error\":\"Bad request. api-version is invalid or was not specified in the request. " \
        "For more information refer to aka.ms/azureimds\",\"newest-versions\":["
#define BODY_FORWARDED_FOR \
        "{\"error\":\"Bad request: requests with an X-Forwarded-For header are not accepted\"}"
#define BODY_FORWARDED "{\"error\":\"Bad request: requests with a Forwarded header are not accepted\"}"
#define BODY_DUPLICATE "{\"error\":\"Bad request: duplicate query parameter\"}"
#define BODY_UNKNOWN   "{\"error\":\"Bad request: unknown query parameter\"}"
#define BODY_MALFORMED "{\"error\":\"Bad request: malformed query string\"}"
#define BODY_NONCE \
        "{\"error\":\"Bad request: nonce must be 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'\"}"
#define BODY_NOT_FOUND         "{\"error\":\"Not found\"}"
#define BODY_METHOD            "{\"error\":\"Method not allowed: only GET is supported\"}"
#define BODY_URI_TOO_LONG      "{\"error\":\"Request-URI too long\"}"
#define BODY_HEADERS_TOO_LARGE "{\"error\":\"Request header fields too large\"}"
#define BODY_TOO_MANY_REQUESTS "{\"error\":\"Too many requests: the rate limit of this VM was exceeded\"}"
#define BODY_UNIDENTIFIED      "{\"error\":\"Forbidden: the requesting VM could not be identified\"}"
#define BODY_UNKNOWN_VM        "{\"error\":\"Forbidden: this VM is not registered for attestation\"}"
#define BODY_ACCESS_DENIED     "{\"error\":\"Forbidden: this VM may not use attestation over this path\"}"
#define BODY_NOT_ACTIVE \
        "{\"error\":\"Service unavailable: attestation is not active on this host, retry later\"}"
#define BODY_EXPIRED \
        "{\"error\":\"Service unavailable: the host's signing certificate has expired, retry later\"}"
#define BODY_UNREACHABLE \
        "{\"error\":\"Service unavailable: the attestation service is not reachable, retry later\"}"
#define BODY_SHUTTING_DOWN "{\"error\":\"Service unavailable: shutting down, retry later\"}"
#define BODY_INTERNAL      "{\"error\":\"Internal error: the request could not be served, retry later\"}"

static void set_reply(ImdsDecision *d, unsigned status, const char *body) {
        d->action = IMDS_ACTION_REPLY;
        d->reply = (ImdsReply){.status = status, .body = body};
}

int imds_url_decode(const char *src, size_t len, char *buf, size_t size) {
        size_t j = 0;

        assert(src || len == 0);
        assert(buf);
        assert(size > 0);

        for (size_t i = 0; i < len; i++) {
                char c = src[i];

                if (c == '%') {
                        int hi, lo;

                        if (len - i < 3)
                                return -EINVAL;
                        hi = unhexchar(src[i + 1]);
                        lo = unhexchar(src[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (char)(hi << 4 | lo);
                        i += 2;
                } else if (c == '+')
                        c = ' ';
                if (c == '\0')
                        return -EINVAL;
                if (j + 1 >= size)
                        return -ENOBUFS;
                buf[j++] = c;
        }
        buf[j] = '\0';
        return 0;
}

/* Appends s to buf (size) at *pos; false when it does not fit. */
static bool append(char *buf, size_t size, size_t *pos, const char *s) {
        size_t n = strlen(s);

        if (*pos + n + 1 > size)
                return false;
        memcpy(buf + *pos, s, n + 1);
        *pos += n;
        return true;
}

const char *imds_versions_body(char *buf, size_t size) {
        size_t pos = 0;
        bool ok;

        assert(buf);
        assert(size > 0);

        buf[0] = '\0';
        ok = append(buf, size, &pos, "{\"apiVersions\":[");
        for (size_t i = 0; ok && imds_api_versions[i]; i++)
                ok = append(buf, size, &pos, i > 0 ? ",\"" : "\"") &&
                     append(buf, size, &pos, imds_api_versions[i]) && append(buf, size, &pos, "\"");
        ok = ok && append(buf, size, &pos, "]}");
        assert(ok); /* callers pass ImdsDecision.body_buf, which holds the whole list */
        return buf;
}

static const char *api_version_body(char *buf, size_t size) {
        size_t n = 0, pos = 0;
        bool ok;

        while (imds_api_versions[n])
                n++;
        buf[0] = '\0';
        ok = append(buf, size, &pos, BODY_API_VERSION_PREFIX);
        for (size_t i = 0; ok && i < MIN(n, (size_t)3); i++)
                ok = append(buf, size, &pos, i > 0 ? ",\"" : "\"") &&
                     append(buf, size, &pos, imds_api_versions[n - 1 - i]) && append(buf, size, &pos, "\"");
        ok = ok && append(buf, size, &pos, "]}");
        assert(ok);
        return buf;
}

typedef enum Param {
        PARAM_API_VERSION,
        PARAM_NONCE,
        _PARAM_MAX,
} Param;

static bool metadata_header_ok(const ImdsRequest *req) {
        /* Exactly one "Metadata: true", the value compared case-insensitively. */
        return req->n_metadata == 1 && req->metadata && strcasecmp(req->metadata, "true") == 0;
}

void imds_request_add_header(ImdsRequest *req, const char *name, const char *value) {
        assert(req);
        assert(name);

        req->headers_size += strlen(name) + strlen(strempty(value));
        if (strcasecmp(name, "Metadata") == 0) {
                if (req->n_metadata++ == 0)
                        req->metadata = strempty(value);
        } else if (strcasecmp(name, "X-Forwarded-For") == 0)
                req->forwarded_for = true;
        else if (strcasecmp(name, "Forwarded") == 0)
                req->forwarded = true;
}

void imds_request_decide(const ImdsRequest *req, ImdsDecision *d) {
        char value[IMDS_URI_MAX + 1], name[32];
        bool seen[_PARAM_MAX] = {}, document;
        const char *uri, *query, *p;
        size_t path_len;
        int r;

        assert(req);
        assert(d);

        *d = (ImdsDecision){};
        uri = strempty(req->uri);

        if (strlen(uri) > IMDS_URI_MAX)
                return set_reply(d, 414, BODY_URI_TOO_LONG);
        if (req->headers_size > IMDS_HEADERS_MAX)
                return set_reply(d, 431, BODY_HEADERS_TOO_LARGE);

        query = strchr(uri, '?');
        path_len = query ? (size_t)(query - uri) : strlen(uri);
        if (path_len == strlen(IMDS_PATH_DOCUMENT) && strncmp(uri, IMDS_PATH_DOCUMENT, path_len) == 0)
                document = true;
        else if (path_len == strlen(IMDS_PATH_VERSIONS) && strncmp(uri, IMDS_PATH_VERSIONS, path_len) == 0)
                document = false;
        else
                return set_reply(d, 404, BODY_NOT_FOUND);

        if (!streq_ptr(req->method, "GET")) {
                set_reply(d, 405, BODY_METHOD);
                d->reply.allow_get = true;
                return;
        }
        /* A proxy's word on who the client is: never ours to take (the peer identity comes from
         * the connection). IMDS refuses X-Forwarded-For; Forwarded says the same thing. */
        if (req->forwarded_for)
                return set_reply(d, 400, BODY_FORWARDED_FOR);
        if (req->forwarded)
                return set_reply(d, 400, BODY_FORWARDED);
        if (!metadata_header_ok(req))
                return set_reply(d, 400, BODY_METADATA);

        /* The query: name=value pairs separated by '&'; each known name at most once. */
        for (p = query ? query + 1 : NULL; p && *p;) {
                const char *end = strchrnul(p, '&'), *eq = memchr(p, '=', (size_t)(end - p));
                const char *v = eq ? eq + 1 : end;
                Param k;

                if (end == p) { /* empty pair ("a=1&&b=2") */
                        p = *end ? end + 1 : end;
                        continue;
                }
                r = imds_url_decode(p, (size_t)((eq ?: end) - p), name, sizeof name);
                if (r < 0) /* too long for any name we know, or undecodable */
                        return set_reply(d, 400, r == -ENOBUFS ? BODY_UNKNOWN : BODY_MALFORMED);
                if (streq(name, "api-version"))
                        k = PARAM_API_VERSION;
                else if (streq(name, "nonce"))
                        k = PARAM_NONCE;
                else
                        return set_reply(d, 400, BODY_UNKNOWN);
                if (seen[k])
                        return set_reply(d, 400, BODY_DUPLICATE);
                seen[k] = true;

                if (imds_url_decode(v, (size_t)(end - v), value, sizeof value) < 0)
                        return set_reply(d, 400, BODY_MALFORMED);

                if (k == PARAM_API_VERSION) {
                        if (!imds_api_version_is_supported(value))
                                return set_reply(d, 400, api_version_body(d->body_buf, sizeof d->body_buf));
                        strcpy(d->api_version, value); /* a listed version: always fits */
                } else {
                        /* An empty nonce is no nonce (the service then uses the time). */
                        if (strlen(value) > IMDS_NONCE_MAX || !nonce_is_valid(value))
                                return set_reply(d, 400, BODY_NONCE);
                        strcpy(d->nonce, value);
                }
                p = *end ? end + 1 : end;
        }

        if (!document) {
                if (seen[PARAM_NONCE])
                        return set_reply(d, 400, BODY_UNKNOWN);
                return set_reply(d, 200, imds_versions_body(d->body_buf, sizeof d->body_buf));
        }
        if (!seen[PARAM_API_VERSION])
                return set_reply(d, 400, api_version_body(d->body_buf, sizeof d->body_buf));

        d->action = IMDS_ACTION_ATTEST;
        d->reply = (ImdsReply){.status = 200};
}

/* Every D-Bus error of Attest/AttestForVersion and what the guest sees. Anything else is an
 * internal error (500: retry). NULL name = no reply at all (the call could not be sent, or
 * timed out): the service is unreachable. */
static const struct {
        const char *name;
        unsigned status;
        const char *body;
        bool retry;
} bus_error_table[] = {
        {BUS_ERROR_UNKNOWN_VM, 403, BODY_UNKNOWN_VM, false},
        {BUS_ERROR_ACCESS_DENIED, 403, BODY_ACCESS_DENIED, false},
        {BUS_ERROR_NOT_CONFIGURED, 503, BODY_NOT_ACTIVE, true},
        {BUS_ERROR_EXPIRED, 503, BODY_EXPIRED, true},
        {BUS_ERROR_INVALID_NONCE, 400, BODY_NONCE, false},
        {"org.freedesktop.DBus.Error.ServiceUnknown", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.NoReply", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.Timeout", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.TimedOut", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.Disconnected", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.NoServer", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.Spawn.Failed", 503, BODY_UNREACHABLE, true},
        {"org.freedesktop.DBus.Error.LimitsExceeded", 503, BODY_UNREACHABLE, true},
        {NULL, 503, BODY_UNREACHABLE, true},
};

void imds_reply_for_bus_error(const char *error_name, ImdsReply *ret) {
        assert(ret);

        for (size_t i = 0; i < ELEMENTSOF(bus_error_table); i++)
                if (streq_ptr(bus_error_table[i].name, error_name)) {
                        *ret = (ImdsReply){
                                .status = bus_error_table[i].status,
                                .body = bus_error_table[i].body,
                                .retry_after = bus_error_table[i].retry ? IMDS_RETRY_AFTER_SEC : 0,
                        };
                        return;
                }
        imds_reply_internal_error(ret);
}

void imds_reply_unidentified(ImdsReply *ret) {
        assert(ret);
        *ret = (ImdsReply){.status = 403, .body = BODY_UNIDENTIFIED};
}

void imds_reply_rate_limited(unsigned retry_after, ImdsReply *ret) {
        assert(ret);
        *ret = (ImdsReply){.status = 429,
                .body = BODY_TOO_MANY_REQUESTS,
                .retry_after = MAX(retry_after, 1U)};
}

void imds_reply_internal_error(ImdsReply *ret) {
        assert(ret);
        *ret = (ImdsReply){.status = 500, .body = BODY_INTERNAL, .retry_after = IMDS_RETRY_AFTER_SEC};
}

void imds_reply_shutting_down(ImdsReply *ret) {
        assert(ret);
        *ret = (ImdsReply){.status = 503, .body = BODY_SHUTTING_DOWN, .retry_after = IMDS_RETRY_AFTER_SEC};
}
