/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The HTTP contract of the guest frontends (imds-request.h): every request shape gets its exact
 * status and JSON body; the D-Bus error table; vsock peer identity and address syntax. */

#define TEST_PREFIX "/imds-request"

#include <glib.h>
#include <linux/vm_sockets.h>

#include "bus-names.h"
#include "imds-request.h"
#include "macro.h"
#include "test-util.h"
#include "vsock-peer.h"

#define BODY_METADATA "{\"error\":\"Bad request: . Required metadata header not specified\"}"
#define BODY_API_VERSION                                                                                  \
        "{\"error\":\"Bad request. api-version is invalid or was not specified in the request. For more " \
        "information refer to aka.ms/azureimds\",\"newest-versions\":[\"2025-04-07\",\"2024-07-17\","     \
        "\"2024-03-15\"]}"
#define BODY_DUPLICATE "{\"error\":\"Bad request: duplicate query parameter\"}"
#define BODY_UNKNOWN   "{\"error\":\"Bad request: unknown query parameter\"}"
#define BODY_MALFORMED "{\"error\":\"Bad request: malformed query string\"}"
#define BODY_NONCE \
        "{\"error\":\"Bad request: nonce must be 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'\"}"
#define BODY_XFF       "{\"error\":\"Bad request: requests with an X-Forwarded-For header are not accepted\"}"
#define BODY_FORWARDED "{\"error\":\"Bad request: requests with a Forwarded header are not accepted\"}"

#define DOC       "/metadata/attested/document"
#define NOT_FOUND "{\"error\":\"Not found\"}"
#define NOT_GET   "{\"error\":\"Method not allowed: only GET is supported\"}"

/* A request as the transport fills it in: method, target, the Metadata header's value and count,
 * whether X-Forwarded-For was sent, the size of all headers. */
#define REQ(m, u, md, n_md, xff, size)                                                                     \
        {                                                                                                  \
                .method = (m), .uri = (u), .metadata = (md), .n_metadata = (n_md), .forwarded_for = (xff), \
                .headers_size = (size)                                                                     \
        }
/* A well-formed GET of uri with "Metadata: true". */
#define GET(u) REQ("GET", u, "true", 1, false, 100)

/* One request and its exact answer: a reply (status and body) or, where body is NULL, an
 * attestation (status 200, nonce and api_version). */
typedef struct RequestCase {
        const char *name;        /* the last part of the test path; NULL: the request target */
        ImdsRequest req;         /* as the transport fills it in, unless headers is set */
        const char *headers[11]; /* name, value, ..., NULL: fed to imds_request_add_header() instead,
                                  * for a GET of DOC "?api-version=2018-10-01" */
        unsigned status;
        const char *body;
        const char *nonce, *api_version;
} RequestCase;

/* The decision lives in static storage (its reply body may point into it): valid until the next call. */
static const ImdsDecision *decide(const ImdsRequest *req) {
        static ImdsDecision d;

        imds_request_decide(req, &d);
        return &d;
}

static void test_request_case(const void *data) {
        const RequestCase *c = data;
        ImdsRequest req = c->req;
        const ImdsDecision *d;

        if (c->headers[0]) {
                req = (ImdsRequest){.method = "GET", .uri = DOC "?api-version=2018-10-01"};
                for (size_t i = 0; c->headers[i]; i += 2)
                        imds_request_add_header(&req, c->headers[i], c->headers[i + 1]);
        }
        d = decide(&req);
        if (!c->body) {
                g_assert_cmpint(d->action, ==, IMDS_ACTION_ATTEST);
                g_assert_cmpuint(d->reply.status, ==, 200);
                g_assert_cmpstr(d->nonce, ==, c->nonce);
                g_assert_cmpstr(d->api_version, ==, c->api_version);
                return;
        }
        g_assert_cmpint(d->action, ==, IMDS_ACTION_REPLY);
        g_assert_cmpuint(d->reply.status, ==, c->status);
        g_assert_cmpstr(d->reply.body, ==, c->body);
        if (c->status == 405)
                g_assert_true(d->reply.allow_get);
}

static const RequestCase document_cases[] = {
        {.req = GET(DOC "?api-version=2018-10-01&nonce=abc"), .nonce = "abc", .api_version = "2018-10-01"},
        {.req = GET(DOC "?nonce=abc&api-version=2025-04-07"), .nonce = "abc", .api_version = "2025-04-07"},
        {.req = GET(DOC "?api-version=2019-08-15"), .nonce = "", .api_version = "2019-08-15"},
        {.req = GET(DOC "?api-version=2019-08-15&nonce="), .nonce = "", .api_version = "2019-08-15"},
        {.req = GET(DOC "?api-version=2019-08-15&nonce=12345678901234567890123456789012"),
                .nonce = "12345678901234567890123456789012",
                .api_version = "2019-08-15"},
        {.req = GET(DOC "?api-version=2019-08-15&nonce=Ab_-9"),
                .nonce = "Ab_-9",
                .api_version = "2019-08-15"},
        /* Percent-encoded names and values are decoded first. */
        {.req = GET(DOC "?api%2Dversion=2019%2D08%2D15&nonce=%61bc"),
                .nonce = "abc",
                .api_version = "2019-08-15"},
        {.req = GET(DOC "?api-version=2019-08-15&&nonce=x"), .nonce = "x", .api_version = "2019-08-15"},
        /* Metadata compared case-insensitively. */
        {"metadata-True", REQ("GET", DOC "?api-version=2019-08-15", "True", 1, false, 10), .nonce = "",
                .api_version = "2019-08-15"},
        {"metadata-TRUE", REQ("GET", DOC "?api-version=2019-08-15", "TRUE", 1, false, 10), .nonce = "",
                .api_version = "2019-08-15"},
};

static const RequestCase metadata_cases[] = {
        {"absent", REQ("GET", DOC "?api-version=2018-10-01", NULL, 0, false, 10), .status = 400,
                .body = BODY_METADATA},
        {"false", REQ("GET", DOC "?api-version=2018-10-01", "false", 1, false, 10), .status = 400,
                .body = BODY_METADATA},
        {"empty", REQ("GET", DOC "?api-version=2018-10-01", "", 1, false, 10), .status = 400,
                .body = BODY_METADATA},
        {"trailing-space", REQ("GET", DOC "?api-version=2018-10-01", "true ", 1, false, 10), .status = 400,
                .body = BODY_METADATA},
        {"twice", REQ("GET", DOC "?api-version=2018-10-01", "true", 2, false, 10), .status = 400,
                .body = BODY_METADATA},
        {"absent-versions", REQ("GET", IMDS_PATH_VERSIONS, NULL, 0, false, 10), .status = 400,
                .body = BODY_METADATA},
        {"x-forwarded-for", REQ("GET", DOC "?api-version=2018-10-01", "true", 1, true, 10), .status = 400,
                .body = BODY_XFF},
};

/* Headers as the transport hands them over (imds_request_add_header), then the decision. */
static const RequestCase header_cases[] = {
        {"metadata-host", .headers = {"Metadata", "true", "Host", "x"}, .nonce = "",
                .api_version = "2018-10-01"},
        /* Either proxy header is refused, whatever the case of its name and even when empty; the
         * X-Forwarded-For answer comes first when both are sent. */
        {"forwarded", .headers = {"Metadata", "true", "Forwarded", "for=10.0.0.1"}, .status = 400,
                .body = BODY_FORWARDED},
        {"FORWARDED-first", .headers = {"FORWARDED", "for=\"[2001:db8::1]\"", "Metadata", "true"},
                .status = 400, .body = BODY_FORWARDED},
        {"forwarded-empty", .headers = {"Metadata", "true", "forwarded", ""}, .status = 400,
                .body = BODY_FORWARDED},
        {"x-forwarded-for", .headers = {"Metadata", "true", "x-forwarded-for", "10.0.0.1"}, .status = 400,
                .body = BODY_XFF},
        {"both", .headers = {"Forwarded", "for=a", "X-Forwarded-For", "b", "Metadata", "true"},
                .status = 400, .body = BODY_XFF},
        /* Only those two names: look-alikes are ordinary headers. */
        {"look-alikes",
                .headers = {"Metadata", "true", "X-Forwarded-Host", "h", "Forwarded-For", "a", "X-Forwarded",
                        "b"},
                .nonce = "", .api_version = "2018-10-01"},
        /* Before the Metadata check, like X-Forwarded-For; after 404 and 405. */
        {"forwarded-no-metadata", .headers = {"Forwarded", "for=a"}, .status = 400, .body = BODY_FORWARDED},
};

static const RequestCase api_version_cases[] = {
        {.req = GET(DOC), .status = 400, .body = BODY_API_VERSION},
        {.req = GET(DOC "?"), .status = 400, .body = BODY_API_VERSION},
        {.req = GET(DOC "?nonce=abc"), .status = 400, .body = BODY_API_VERSION},
        {.req = GET(DOC "?api-version=2017-08-01"), .status = 400, .body = BODY_API_VERSION},
        {.req = GET(DOC "?api-version="), .status = 400, .body = BODY_API_VERSION},
        {.req = GET(DOC "?api-version"), .status = 400, .body = BODY_API_VERSION},
        {.req = GET(DOC "?api-version=2018-10-01x"), .status = 400, .body = BODY_API_VERSION},
        {.req = GET(DOC "?api-version=latest"), .status = 400, .body = BODY_API_VERSION},
};

static const RequestCase query_cases[] = {
        {.req = GET(DOC "?api-version=2018-10-01&api-version=2018-10-01"),
                .status = 400,
                .body = BODY_DUPLICATE},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=a&nonce=a"), .status = 400, .body = BODY_DUPLICATE},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=a&%6eonce=b"), .status = 400, .body = BODY_DUPLICATE},
        {.req = GET(DOC "?api-version=2018-10-01&format=json"), .status = 400, .body = BODY_UNKNOWN},
        {.req = GET(DOC "?api-version=2018-10-01&Nonce=a"), .status = 400, .body = BODY_UNKNOWN},
        {.req = GET(DOC "?api-version=2018-10-01&"
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1"),
                .status = 400,
                .body = BODY_UNKNOWN},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=%zz"), .status = 400, .body = BODY_MALFORMED},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=%4"), .status = 400, .body = BODY_MALFORMED},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=a%00b"), .status = 400, .body = BODY_MALFORMED},
        {.req = GET(DOC "?api-%=2018-10-01"), .status = 400, .body = BODY_MALFORMED},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=123456789012345678901234567890123"),
                .status = 400,
                .body = BODY_NONCE},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=a.b"), .status = 400, .body = BODY_NONCE},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=a+b"), .status = 400, .body = BODY_NONCE},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=a%2Fb"), .status = 400, .body = BODY_NONCE},
        {.req = GET(DOC "?api-version=2018-10-01&nonce=%C3%A9"), .status = 400, .body = BODY_NONCE},
        {.req = GET(IMDS_PATH_VERSIONS "?nonce=a"), .status = 400, .body = BODY_UNKNOWN},
        {.req = GET(IMDS_PATH_VERSIONS "?foo=a"), .status = 400, .body = BODY_UNKNOWN},
};

static const RequestCase path_method_cases[] = {
        {.req = GET("/"), .status = 404, .body = NOT_FOUND},
        {.req = GET("/metadata"), .status = 404, .body = NOT_FOUND},
        {.req = GET("/metadata/attested/document/"), .status = 404, .body = NOT_FOUND},
        {.req = GET("/metadata/attested/documentx?api-version=2018-10-01"),
                .status = 404,
                .body = NOT_FOUND},
        {.req = GET("/metadata/instance?api-version=2021-02-01"), .status = 404, .body = NOT_FOUND},
        {.req = GET("/METADATA/versions"), .status = 404, .body = NOT_FOUND},
        {.req = GET(""), .status = 404, .body = NOT_FOUND},
        {"no-uri", REQ("GET", NULL, "true", 1, false, 0), .status = 404, .body = NOT_FOUND},
        {"POST", REQ("POST", DOC "?api-version=2018-10-01", "true", 1, false, 10), .status = 405,
                .body = NOT_GET},
        {"PUT", REQ("PUT", DOC "?api-version=2018-10-01", "true", 1, false, 10), .status = 405,
                .body = NOT_GET},
        {"DELETE", REQ("DELETE", DOC "?api-version=2018-10-01", "true", 1, false, 10), .status = 405,
                .body = NOT_GET},
        {"HEAD", REQ("HEAD", DOC "?api-version=2018-10-01", "true", 1, false, 10), .status = 405,
                .body = NOT_GET},
        {"OPTIONS", REQ("OPTIONS", DOC "?api-version=2018-10-01", "true", 1, false, 10), .status = 405,
                .body = NOT_GET},
        {"get", REQ("get", DOC "?api-version=2018-10-01", "true", 1, false, 10), .status = 405,
                .body = NOT_GET},
        /* Unknown path beats method. */
        {"POST-unknown-path", REQ("POST", "/x", "true", 1, false, 10), .status = 404, .body = NOT_FOUND},
};

/* Each header accounted: its size, the first Metadata value and their count, the proxy headers. */
static void test_add_header(void) {
        ImdsRequest req = {};

        imds_request_add_header(&req, "Metadata", "true");
        imds_request_add_header(&req, "metadata", "false");
        imds_request_add_header(&req, "Host", NULL);
        g_assert_cmpuint(req.n_metadata, ==, 2);
        g_assert_cmpstr(req.metadata, ==, "true");
        g_assert_cmpuint(req.headers_size, ==,
                strlen("Metadata"
                       "true"
                       "metadata"
                       "false"
                       "Host"));
        g_assert_false(req.forwarded_for);
        g_assert_false(req.forwarded);
}

/* Allow: GET goes with 405 only. */
static void test_allow_get(void) {
        g_assert_false(decide(&(ImdsRequest)GET(DOC "?api-version=2018-10-01"))->reply.allow_get);
}

TEST(versions) {
        const ImdsDecision *d = decide(&(ImdsRequest)GET(IMDS_PATH_VERSIONS));

        g_assert_cmpint(d->action, ==, IMDS_ACTION_REPLY);
        g_assert_cmpuint(d->reply.status, ==, 200);
        g_assert_cmpstr(d->reply.body, ==,
                "{\"apiVersions\":[\"2018-10-01\",\"2019-03-11\",\"2019-04-30\",\"2019-06-01\",\"2019-06-04\","
                "\"2019-08-01\",\"2019-08-15\",\"2019-11-01\",\"2020-06-01\",\"2020-07-15\",\"2020-09-01\","
                "\"2020-10-01\",\"2020-12-01\",\"2021-01-01\",\"2021-02-01\",\"2021-03-01\",\"2021-05-01\","
                "\"2021-08-01\",\"2021-10-01\",\"2021-11-01\",\"2021-11-15\",\"2021-12-13\",\"2023-07-01\","
                "\"2023-11-15\",\"2024-03-15\",\"2024-07-17\",\"2025-04-07\"]}");
        g_assert_true(d->reply.body == d->body_buf);
        g_assert_cmpint(decide(&(ImdsRequest)GET(IMDS_PATH_VERSIONS "?api-version=2018-10-01"))
                                ->reply.status,
                ==, 200);
}

/* The request targets of the limit rows, filled in by make_limit_uris() before the tests are
 * registered: one byte past the limit (refused), and exactly at it (served). */
static char long_uri[IMDS_URI_MAX + 2];
static char limit_uri[IMDS_URI_MAX + 1];

static const RequestCase limit_cases[] = {
        {"uri-too-long", GET(long_uri), .status = 414, .body = "{\"error\":\"Request-URI too long\"}"},
        {"headers-too-large", REQ("GET", DOC, "true", 1, false, IMDS_HEADERS_MAX + 1), .status = 431,
                .body = "{\"error\":\"Request header fields too large\"}"},
        {"headers-at-limit", REQ("GET", DOC "?api-version=2018-10-01", "true", 1, false, IMDS_HEADERS_MAX),
                .nonce = "", .api_version = "2018-10-01"},
        {"uri-at-limit", GET(limit_uri), .status = 400, .body = BODY_NONCE},
};

static void make_limit_uris(void) {
        memset(long_uri, 'a', sizeof long_uri - 1);
        long_uri[sizeof long_uri - 1] = '\0';
        long_uri[0] = '/';
        memset(limit_uri, 'a', IMDS_URI_MAX);
        memcpy(limit_uri,
                DOC "?api-version=2018-10-01&nonce=", strlen(DOC "?api-version=2018-10-01&nonce="));
        limit_uri[IMDS_URI_MAX] = '\0';
}

/* A D-Bus error name and the reply it maps to: status, a part of the body, Retry-After. */
typedef struct BusErrorCase {
        const char *name;
        unsigned status;
        const char *body_part;
        unsigned retry_after;
} BusErrorCase;

static const BusErrorCase bus_error_cases[] = {
        {BUS_ERROR_UNKNOWN_VM, 403, "not registered", 0},
        {BUS_ERROR_ACCESS_DENIED, 403, "may not use", 0},
        {BUS_ERROR_NOT_CONFIGURED, 503, "not active", IMDS_RETRY_AFTER_SEC},
        {BUS_ERROR_EXPIRED, 503, "expired", IMDS_RETRY_AFTER_SEC},
        {BUS_ERROR_INVALID_NONCE, 400, "nonce", 0},
        {"org.freedesktop.DBus.Error.ServiceUnknown", 503, "not reachable", IMDS_RETRY_AFTER_SEC},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", 503, "not reachable", IMDS_RETRY_AFTER_SEC},
        {"org.freedesktop.DBus.Error.NoReply", 503, "not reachable", IMDS_RETRY_AFTER_SEC},
        {"org.freedesktop.DBus.Error.Timeout", 503, "not reachable", IMDS_RETRY_AFTER_SEC},
        {NULL, 503, "not reachable", IMDS_RETRY_AFTER_SEC},
        /* The bus refusing us (policy) or anything unexpected: an internal error, retry. */
        {"org.freedesktop.DBus.Error.AccessDenied", 500, "Internal error", IMDS_RETRY_AFTER_SEC},
        {"org.freedesktop.DBus.Error.InvalidArgs", 500, "Internal error", IMDS_RETRY_AFTER_SEC},
        {"x.y.Z", 500, "Internal error", IMDS_RETRY_AFTER_SEC},
};

static void test_bus_error_case(const void *data) {
        const BusErrorCase *c = data;
        ImdsReply r;

        imds_reply_for_bus_error(c->name, &r);
        g_assert_cmpuint(r.status, ==, c->status);
        g_assert_nonnull(strstr(r.body, c->body_part));
        g_assert_true(r.body[0] == '{' && strncmp(r.body, "{\"error\":\"", 10) == 0);
        g_assert_cmpuint(r.retry_after, ==, c->retry_after);
}

TEST(fixed_replies) {
        ImdsReply r;

        imds_reply_rate_limited(0, &r);
        g_assert_cmpuint(r.status, ==, 429);
        g_assert_cmpuint(r.retry_after, ==, 1);
        g_assert_cmpstr(r.body, ==,
                "{\"error\":\"Too many requests: the rate limit of this VM was exceeded\"}");
        imds_reply_rate_limited(3, &r);
        g_assert_cmpuint(r.retry_after, ==, 3);
        imds_reply_unidentified(&r);
        g_assert_cmpuint(r.status, ==, 403);
        g_assert_cmpstr(r.body, ==, "{\"error\":\"Forbidden: the requesting VM could not be identified\"}");
}

/* imds_url_decode(in, len) into an 8-byte buffer: its result and, where 0, the text. */
typedef struct UrlDecodeCase {
        const char *in;
        size_t len;
        int r;
        const char *out;
} UrlDecodeCase;

static const UrlDecodeCase url_decode_cases[] = {
        {"a%41+b", 6, 0, "aA b"},
        {"", 0, 0, ""},
        {"1234567", 7, 0, NULL},
        {"12345678", 8, -ENOBUFS},
        {"%", 1, -EINVAL},
        {"%4", 2, -EINVAL},
        {"%00", 3, -EINVAL},
        /* Only len bytes are read. */
        {"ab%41", 3, -EINVAL},
};

static void test_url_decode_case(const void *data) {
        const UrlDecodeCase *c = data;
        char buf[8];

        g_assert_cmpint(imds_url_decode(c->in, c->len, buf, sizeof buf), ==, c->r);
        if (c->out)
                g_assert_cmpstr(buf, ==, c->out);
}

TEST(vsock_peer) {
        struct sockaddr_vm svm = {.svm_family = AF_VSOCK, .svm_cid = 42, .svm_port = 1234};
        struct sockaddr sa = {.sa_family = AF_INET};
        char *peer = NULL;
        uint32_t cid, port;

        g_assert_cmpint(vsock_peer_identify((struct sockaddr *)&svm, sizeof svm, &peer), ==, 0);
        g_assert_cmpstr(peer, ==, "42");
        free(peer);
        for (uint32_t bad = 0; bad <= 2; bad++) {
                svm.svm_cid = bad;
                g_assert_cmpint(vsock_peer_identify((struct sockaddr *)&svm, sizeof svm, &peer), ==,
                        -EADDRNOTAVAIL);
        }
        svm.svm_cid = VMADDR_CID_ANY;
        g_assert_cmpint(vsock_peer_identify((struct sockaddr *)&svm, sizeof svm, &peer), ==, -EADDRNOTAVAIL);
        g_assert_cmpint(vsock_peer_identify(&sa, sizeof sa, &peer), ==, -EAFNOSUPPORT);
        g_assert_cmpint(vsock_peer_identify((struct sockaddr *)&svm, 4, &peer), ==, -EAFNOSUPPORT);

        g_assert_cmpint(vsock_address_parse("vsock::5000", &cid, &port), ==, 0);
        g_assert_cmpuint(cid, ==, VMADDR_CID_ANY);
        g_assert_cmpuint(port, ==, 5000);
        g_assert_cmpint(vsock_address_parse("2:80", &cid, &port), ==, 0);
        g_assert_cmpuint(cid, ==, 2);
        g_assert_cmpuint(port, ==, 80);
        g_assert_cmpint(vsock_address_parse("7", &cid, &port), ==, 0);
        g_assert_cmpint(vsock_address_parse("vsock:3:9", &cid, &port), ==, 0);
        g_assert_cmpuint(cid, ==, 3);
        g_assert_cmpint(vsock_address_parse("", &cid, &port), ==, -EINVAL);
        g_assert_cmpint(vsock_address_parse("x:1", &cid, &port), ==, -EINVAL);
        g_assert_cmpint(vsock_address_parse("1:", &cid, &port), ==, -EINVAL);
        g_assert_cmpint(vsock_address_parse("4294967296", &cid, &port), ==, -EINVAL);
        g_assert_cmpint(vsock_address_parse("4294967295", &cid, &port), ==, -EINVAL);
        g_assert_cmpint(vsock_address_parse("-1", &cid, &port), ==, -EINVAL);
}

/* The peer strings the service accepts for the vsock transport: exactly what
 * vsock_peer_identify writes. */
TEST(vsock_peer_parse) {
        static const struct {
                const char *peer;
                int r;
                uint32_t cid;
        } cases[] = {
                {"3", 0, 3},
                {"5", 0, 5},
                {"42", 0, 42},
                {"4294967294", 0, 4294967294U},
                /* Not canonical decimal. */
                {"+5", -EINVAL},
                {" 5", -EINVAL},
                {"5 ", -EINVAL},
                {"05", -EINVAL},
                {"00", -EINVAL},
                {"007", -EINVAL},
                {"-5", -EINVAL},
                {"0x5", -EINVAL},
                {"5\n", -EINVAL},
                {"\t5", -EINVAL},
                {"", -EINVAL},
                {"5.0", -EINVAL},
                {"4294967296", -EINVAL},
                {"18446744073709551621", -EINVAL},
                /* Canonical, but no guest's CID. */
                {"0", -EADDRNOTAVAIL},
                {"1", -EADDRNOTAVAIL},
                {"2", -EADDRNOTAVAIL},
                {"4294967295", -EADDRNOTAVAIL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint32_t cid = 77;

                g_test_message("peer '%s'", cases[i].peer);
                g_assert_cmpint(vsock_peer_parse(cases[i].peer, &cid), ==, cases[i].r);
                g_assert_cmpuint(cid, ==, cases[i].r == 0 ? cases[i].cid : 77);
        }

        /* Every string vsock_peer_identify writes parses back to its CID. */
        for (uint32_t c = 3; c < 3000; c += 7) {
                struct sockaddr_vm svm = {.svm_family = AF_VSOCK, .svm_cid = c};
                _cleanup_free_ char *peer = NULL;
                uint32_t cid = 0;

                g_assert_cmpint(vsock_peer_identify((struct sockaddr *)&svm, sizeof svm, &peer), ==, 0);
                g_assert_cmpint(vsock_peer_parse(peer, &cid), ==, 0);
                g_assert_cmpuint(cid, ==, c);
        }
}

/* One test a row, named by its name or else its request target. */
static void add_request_cases(const char *prefix, const RequestCase *cases, size_t n) {
        for (size_t i = 0; i < n; i++)
                test_add_case(prefix, cases[i].name ?: cases[i].req.uri, &cases[i], test_request_case);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        make_limit_uris();
        add_request_cases("/imds-request/document", document_cases, ELEMENTSOF(document_cases));
        add_request_cases("/imds-request/metadata", metadata_cases, ELEMENTSOF(metadata_cases));
        g_test_add_func("/imds-request/headers/add-header", test_add_header);
        add_request_cases("/imds-request/headers", header_cases, ELEMENTSOF(header_cases));
        add_request_cases("/imds-request/api-version", api_version_cases, ELEMENTSOF(api_version_cases));
        add_request_cases("/imds-request/query", query_cases, ELEMENTSOF(query_cases));
        add_request_cases("/imds-request/paths-methods", path_method_cases, ELEMENTSOF(path_method_cases));
        g_test_add_func("/imds-request/paths-methods/allow-get-only-405", test_allow_get);
        test_add_registered();
        add_request_cases("/imds-request/limits", limit_cases, ELEMENTSOF(limit_cases));
        test_add_cases("/imds-request/bus-errors", bus_error_cases, name, test_bus_error_case);
        test_add_cases("/imds-request/url-decode", url_decode_cases, in, test_url_decode_case);
        return g_test_run();
}
