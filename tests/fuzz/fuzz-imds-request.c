/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The HTTP request validation of the guest frontends (imds_request_decide, imds_url_decode,
 * imds_reply_for_bus_error) on arbitrary requests. Input: a flags byte, then
 * METHOD '\n' URI '\n' METADATA-VALUE (the rest; any bytes, NUL included in the URI):
 *
 *   bit 0  a Metadata header is present       bits 1-2  extra Metadata headers (0..3)
 *   bit 3  an X-Forwarded-For header          bit 4     headers_size above IMDS_HEADERS_MAX
 *
 * Properties, for every input: a reply has a status 200..599 and a body that is valid JSON; an
 * Attest decision is only taken for GET with exactly one "Metadata: true", carries a nonce of
 * at most 32 characters of [A-Za-z0-9_-] and an api-version of at most 10 characters; URL
 * decoding never writes past its buffer and never yields an embedded NUL. The METADATA value
 * also goes through imds_reply_for_bus_error() as an error name. */

#include <json-glib/json-glib.h>
#include <strings.h>

#include "fuzz.h"
#include "imds-request.h"
#include "macro.h"

static void check_json(const char *body) {
        g_autoptr(JsonParser) parser = json_parser_new();
        fuzz_check(body);
        if (!json_parser_load_from_data(parser, body, -1, NULL)) {
                fprintf(stderr, "reply body is not JSON: %s\n", body);
                abort();
        }
}

static void check_reply(const ImdsReply *reply) {
        fuzz_check(reply->status >= 200 && reply->status <= 599);
        check_json(reply->body);
}

static bool nonce_ok(const char *s) {
        size_t n = strlen(s);
        if (n > IMDS_NONCE_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", s[i]))
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *copy = NULL;
        char *method, *uri, *metadata, *nl;
        size_t uri_len;
        uint8_t flags;
        ImdsDecision d;

        if (size < 1 || size > 3 * IMDS_URI_MAX)
                return 0;
        flags = data[0];
        copy = malloc(size); /* the rest, NUL-terminated */
        fuzz_check(copy);
        memcpy(copy, data + 1, size - 1);
        copy[size - 1] = 0;

        method = copy;
        nl = memchr(copy, '\n', size - 1);
        if (!nl)
                return 0;
        *nl = 0;
        uri = nl + 1;
        nl = memchr(uri, '\n', size - 1 - (uri - copy));
        if (!nl)
                return 0;
        *nl = 0;
        uri_len = nl - uri; /* may hold NULs: decode it byte by byte below */
        metadata = nl + 1;

        /* URL decoding into buffers of several sizes, past-the-end writes caught by ASAN. */
        for (size_t bufsize = 1; bufsize <= 64; bufsize *= 4) {
                char *buf = malloc(bufsize);
                fuzz_check(buf);
                if (imds_url_decode(uri, uri_len, buf, bufsize) >= 0) {
                        fuzz_check(strlen(buf) < bufsize);
                        fuzz_check(strlen(buf) <= uri_len);
                }
                free(buf);
        }

        ImdsRequest req = {
                .method = method,
                .uri = uri,
                .headers_size = (flags & 0x10) ? IMDS_HEADERS_MAX + 1 : strlen(metadata) + 8,
                .metadata = (flags & 0x01) ? metadata : NULL,
                .n_metadata = ((flags & 0x01) ? 1 : 0) + ((flags >> 1) & 3),
                .forwarded_for = flags & 0x08,
        };
        imds_request_decide(&req, &d);
        if (d.action == IMDS_ACTION_REPLY)
                check_reply(&d.reply);
        else {
                fuzz_check(d.action == IMDS_ACTION_ATTEST);
                fuzz_check(strcmp(method, "GET") == 0);
                fuzz_check(req.n_metadata == 1 && req.metadata && strcasecmp(req.metadata, "true") == 0);
                fuzz_check(!req.forwarded_for);
                fuzz_check(nonce_ok(d.nonce));
                fuzz_check(strlen(d.api_version) > 0 && strlen(d.api_version) <= IMDS_API_VERSION_MAX);
                fuzz_check(strlen(uri) <= IMDS_URI_MAX);
        }

        ImdsReply reply;
        imds_reply_for_bus_error(metadata, &reply);
        check_reply(&reply);
        imds_reply_for_bus_error(NULL, &reply);
        check_reply(&reply);
        return 0;
}
