/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The HTTP contract of the guest frontends (imds-request.h): every request shape gets its exact
 * status and JSON body; the D-Bus error table; vsock peer identity and address syntax. */

#include <glib.h>
#include <linux/vm_sockets.h>

#include "bus-names.h"
#include "imds-request.h"
#include "macro.h"
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

#define DOC "/metadata/attested/document"

/* The decision lives in static storage (its reply body may point into it): valid until the next call. */
static const ImdsDecision *decide_full(const char *method, const char *uri, const char *metadata,
        unsigned n_metadata, bool xff, size_t headers_size) {
        ImdsRequest req = {
                .method = method,
                .uri = uri,
                .metadata = metadata,
                .n_metadata = n_metadata,
                .forwarded_for = xff,
                .headers_size = headers_size,
        };
        static ImdsDecision d;

        imds_request_decide(&req, &d);
        return &d;
}

static const ImdsDecision *decide(const char *uri) {
        return decide_full("GET", uri, "true", 1, false, 100);
}

static void check_reply(const ImdsDecision *d, unsigned status, const char *body) {
        g_assert_cmpint(d->action, ==, IMDS_ACTION_REPLY);
        g_assert_cmpuint(d->reply.status, ==, status);
        g_assert_cmpstr(d->reply.body, ==, body);
}

static void check_attest(const ImdsDecision *d, const char *nonce, const char *api_version) {
        g_assert_cmpint(d->action, ==, IMDS_ACTION_ATTEST);
        g_assert_cmpuint(d->reply.status, ==, 200);
        g_assert_cmpstr(d->nonce, ==, nonce);
        g_assert_cmpstr(d->api_version, ==, api_version);
}

static void test_document(void) {
        check_attest(decide(DOC "?api-version=2018-10-01&nonce=abc"), "abc", "2018-10-01");
        check_attest(decide(DOC "?nonce=abc&api-version=2025-04-07"), "abc", "2025-04-07");
        check_attest(decide(DOC "?api-version=2019-08-15"), "", "2019-08-15");
        check_attest(decide(DOC "?api-version=2019-08-15&nonce="), "", "2019-08-15");
        check_attest(decide(DOC "?api-version=2019-08-15&nonce=12345678901234567890123456789012"),
                "12345678901234567890123456789012", "2019-08-15");
        check_attest(decide(DOC "?api-version=2019-08-15&nonce=Ab_-9"), "Ab_-9", "2019-08-15");
        /* Percent-encoded names and values are decoded first. */
        check_attest(decide(DOC "?api%2Dversion=2019%2D08%2D15&nonce=%61bc"), "abc", "2019-08-15");
        check_attest(decide(DOC "?api-version=2019-08-15&&nonce=x"), "x", "2019-08-15");
        /* Metadata compared case-insensitively. */
        check_attest(decide_full("GET", DOC "?api-version=2019-08-15", "True", 1, false, 10), "",
                "2019-08-15");
        check_attest(decide_full("GET", DOC "?api-version=2019-08-15", "TRUE", 1, false, 10), "",
                "2019-08-15");
}

static void test_metadata(void) {
        check_reply(decide_full("GET", DOC "?api-version=2018-10-01", NULL, 0, false, 10), 400,
                BODY_METADATA);
        check_reply(decide_full("GET", DOC "?api-version=2018-10-01", "false", 1, false, 10), 400,
                BODY_METADATA);
        check_reply(decide_full("GET", DOC "?api-version=2018-10-01", "", 1, false, 10), 400, BODY_METADATA);
        check_reply(decide_full("GET", DOC "?api-version=2018-10-01", "true ", 1, false, 10), 400,
                BODY_METADATA);
        check_reply(decide_full("GET", DOC "?api-version=2018-10-01", "true", 2, false, 10), 400,
                BODY_METADATA);
        check_reply(decide_full("GET", IMDS_PATH_VERSIONS, NULL, 0, false, 10), 400, BODY_METADATA);
        check_reply(decide_full("GET", DOC "?api-version=2018-10-01", "true", 1, true, 10), 400, BODY_XFF);
}

/* Headers as the transport hands them over (imds_request_add_header), then the decision. */
static const ImdsDecision *decide_headers(const char *const *headers) {
        ImdsRequest req = {.method = "GET", .uri = DOC "?api-version=2018-10-01"};
        static ImdsDecision d;

        for (size_t i = 0; headers[i]; i += 2)
                imds_request_add_header(&req, headers[i], headers[i + 1]);
        imds_request_decide(&req, &d);
        return &d;
}

static void test_headers(void) {
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

        check_attest(decide_headers((const char *[]){"Metadata", "true", "Host", "x", NULL}), "",
                "2018-10-01");
        /* Either proxy header is refused, whatever the case of its name and even when empty; the
         * X-Forwarded-For answer comes first when both are sent. */
        check_reply(decide_headers((const char *[]){"Metadata", "true", "Forwarded", "for=10.0.0.1", NULL}),
                400, BODY_FORWARDED);
        check_reply(decide_headers((
                            const char *[]){"FORWARDED", "for=\"[2001:db8::1]\"", "Metadata", "true", NULL}),
                400, BODY_FORWARDED);
        check_reply(decide_headers((const char *[]){"Metadata", "true", "forwarded", "", NULL}), 400,
                BODY_FORWARDED);
        check_reply(decide_headers(
                            (const char *[]){"Metadata", "true", "x-forwarded-for", "10.0.0.1", NULL}),
                400, BODY_XFF);
        check_reply(decide_headers((const char *[]){"Forwarded", "for=a", "X-Forwarded-For", "b", "Metadata",
                            "true", NULL}),
                400, BODY_XFF);
        /* Only those two names: look-alikes are ordinary headers. */
        check_attest(decide_headers((const char *[]){"Metadata", "true", "X-Forwarded-Host", "h",
                             "Forwarded-For", "a", "X-Forwarded", "b", NULL}),
                "", "2018-10-01");
        /* Before the Metadata check, like X-Forwarded-For; after 404 and 405. */
        check_reply(decide_headers((const char *[]){"Forwarded", "for=a", NULL}), 400, BODY_FORWARDED);
}

static void test_api_version(void) {
        check_reply(decide(DOC), 400, BODY_API_VERSION);
        check_reply(decide(DOC "?"), 400, BODY_API_VERSION);
        check_reply(decide(DOC "?nonce=abc"), 400, BODY_API_VERSION);
        check_reply(decide(DOC "?api-version=2017-08-01"), 400, BODY_API_VERSION);
        check_reply(decide(DOC "?api-version="), 400, BODY_API_VERSION);
        check_reply(decide(DOC "?api-version"), 400, BODY_API_VERSION);
        check_reply(decide(DOC "?api-version=2018-10-01x"), 400, BODY_API_VERSION);
        check_reply(decide(DOC "?api-version=latest"), 400, BODY_API_VERSION);
}

static void test_query(void) {
        check_reply(decide(DOC "?api-version=2018-10-01&api-version=2018-10-01"), 400, BODY_DUPLICATE);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=a&nonce=a"), 400, BODY_DUPLICATE);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=a&%6eonce=b"), 400, BODY_DUPLICATE);
        check_reply(decide(DOC "?api-version=2018-10-01&format=json"), 400, BODY_UNKNOWN);
        check_reply(decide(DOC "?api-version=2018-10-01&Nonce=a"), 400, BODY_UNKNOWN);
        check_reply(decide(DOC "?api-version=2018-10-01&"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1"),
                400, BODY_UNKNOWN);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=%zz"), 400, BODY_MALFORMED);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=%4"), 400, BODY_MALFORMED);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=a%00b"), 400, BODY_MALFORMED);
        check_reply(decide(DOC "?api-%=2018-10-01"), 400, BODY_MALFORMED);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=123456789012345678901234567890123"), 400,
                BODY_NONCE);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=a.b"), 400, BODY_NONCE);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=a+b"), 400, BODY_NONCE);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=a%2Fb"), 400, BODY_NONCE);
        check_reply(decide(DOC "?api-version=2018-10-01&nonce=%C3%A9"), 400, BODY_NONCE);
        check_reply(decide(IMDS_PATH_VERSIONS "?nonce=a"), 400, BODY_UNKNOWN);
        check_reply(decide(IMDS_PATH_VERSIONS "?foo=a"), 400, BODY_UNKNOWN);
}

static void test_paths_methods(void) {
        const ImdsDecision *d;

        check_reply(decide("/"), 404, "{\"error\":\"Not found\"}");
        check_reply(decide("/metadata"), 404, "{\"error\":\"Not found\"}");
        check_reply(decide("/metadata/attested/document/"), 404, "{\"error\":\"Not found\"}");
        check_reply(decide("/metadata/attested/documentx?api-version=2018-10-01"), 404,
                "{\"error\":\"Not found\"}");
        check_reply(decide("/metadata/instance?api-version=2021-02-01"), 404, "{\"error\":\"Not found\"}");
        check_reply(decide("/METADATA/versions"), 404, "{\"error\":\"Not found\"}");
        check_reply(decide(""), 404, "{\"error\":\"Not found\"}");
        check_reply(decide_full("GET", NULL, "true", 1, false, 0), 404, "{\"error\":\"Not found\"}");

        for (size_t i = 0; i < 6; i++) {
                static const char *const methods[] = {"POST", "PUT", "DELETE", "HEAD", "OPTIONS", "get"};
                d = decide_full(methods[i], DOC "?api-version=2018-10-01", "true", 1, false, 10);
                check_reply(d, 405, "{\"error\":\"Method not allowed: only GET is supported\"}");
                g_assert_true(d->reply.allow_get);
        }
        /* Unknown path beats method. */
        check_reply(decide_full("POST", "/x", "true", 1, false, 10), 404, "{\"error\":\"Not found\"}");
        g_assert_false(decide(DOC "?api-version=2018-10-01")->reply.allow_get);
}

static void test_versions(void) {
        const ImdsDecision *d = decide(IMDS_PATH_VERSIONS);

        check_reply(d, 200,
                "{\"apiVersions\":[\"2018-10-01\",\"2019-03-11\",\"2019-04-30\",\"2019-06-01\",\"2019-06-04\","
                "\"2019-08-01\",\"2019-08-15\",\"2019-11-01\",\"2020-06-01\",\"2020-07-15\",\"2020-09-01\","
                "\"2020-10-01\",\"2020-12-01\",\"2021-01-01\",\"2021-02-01\",\"2021-03-01\",\"2021-05-01\","
                "\"2021-08-01\",\"2021-10-01\",\"2021-11-01\",\"2021-11-15\",\"2021-12-13\",\"2023-07-01\","
                "\"2023-11-15\",\"2024-03-15\",\"2024-07-17\",\"2025-04-07\"]}");
        g_assert_true(d->reply.body == d->body_buf);
        g_assert_cmpint(decide(IMDS_PATH_VERSIONS "?api-version=2018-10-01")->reply.status, ==, 200);
}

static void test_limits(void) {
        char uri[IMDS_URI_MAX + 2];

        memset(uri, 'a', sizeof uri - 1);
        uri[sizeof uri - 1] = '\0';
        uri[0] = '/';
        check_reply(decide(uri), 414, "{\"error\":\"Request-URI too long\"}");
        check_reply(decide_full("GET", DOC, "true", 1, false, IMDS_HEADERS_MAX + 1), 431,
                "{\"error\":\"Request header fields too large\"}");
        check_attest(decide_full("GET", DOC "?api-version=2018-10-01", "true", 1, false, IMDS_HEADERS_MAX),
                "", "2018-10-01");
        /* A request target of exactly the limit is served. */
        memset(uri, 'a', IMDS_URI_MAX);
        memcpy(uri, DOC "?api-version=2018-10-01&nonce=", strlen(DOC "?api-version=2018-10-01&nonce="));
        uri[IMDS_URI_MAX] = '\0';
        check_reply(decide(uri), 400, BODY_NONCE);
}

static void check_bus_error(const char *name, unsigned status, const char *body_part, unsigned retry_after) {
        ImdsReply r;

        imds_reply_for_bus_error(name, &r);
        g_assert_cmpuint(r.status, ==, status);
        g_assert_nonnull(strstr(r.body, body_part));
        g_assert_true(r.body[0] == '{' && strncmp(r.body, "{\"error\":\"", 10) == 0);
        g_assert_cmpuint(r.retry_after, ==, retry_after);
}

static void test_bus_errors(void) {
        check_bus_error(BUS_ERROR_UNKNOWN_VM, 403, "not registered", 0);
        check_bus_error(BUS_ERROR_ACCESS_DENIED, 403, "may not use", 0);
        check_bus_error(BUS_ERROR_NOT_CONFIGURED, 503, "not active", IMDS_RETRY_AFTER_SEC);
        check_bus_error(BUS_ERROR_EXPIRED, 503, "expired", IMDS_RETRY_AFTER_SEC);
        check_bus_error(BUS_ERROR_INVALID_NONCE, 400, "nonce", 0);
        check_bus_error("org.freedesktop.DBus.Error.ServiceUnknown", 503, "not reachable",
                IMDS_RETRY_AFTER_SEC);
        check_bus_error("org.freedesktop.DBus.Error.NameHasNoOwner", 503, "not reachable",
                IMDS_RETRY_AFTER_SEC);
        check_bus_error("org.freedesktop.DBus.Error.NoReply", 503, "not reachable", IMDS_RETRY_AFTER_SEC);
        check_bus_error("org.freedesktop.DBus.Error.Timeout", 503, "not reachable", IMDS_RETRY_AFTER_SEC);
        check_bus_error(NULL, 503, "not reachable", IMDS_RETRY_AFTER_SEC);
        /* The bus refusing us (policy) or anything unexpected: an internal error, retry. */
        check_bus_error("org.freedesktop.DBus.Error.AccessDenied", 500, "Internal error",
                IMDS_RETRY_AFTER_SEC);
        check_bus_error("org.freedesktop.DBus.Error.InvalidArgs", 500, "Internal error",
                IMDS_RETRY_AFTER_SEC);
        check_bus_error("x.y.Z", 500, "Internal error", IMDS_RETRY_AFTER_SEC);
}

static void test_fixed_replies(void) {
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

static void test_url_decode(void) {
        char buf[8];

        g_assert_cmpint(imds_url_decode("a%41+b", 6, buf, sizeof buf), ==, 0);
        g_assert_cmpstr(buf, ==, "aA b");
        g_assert_cmpint(imds_url_decode("", 0, buf, sizeof buf), ==, 0);
        g_assert_cmpstr(buf, ==, "");
        g_assert_cmpint(imds_url_decode("1234567", 7, buf, sizeof buf), ==, 0);
        g_assert_cmpint(imds_url_decode("12345678", 8, buf, sizeof buf), ==, -ENOBUFS);
        g_assert_cmpint(imds_url_decode("%", 1, buf, sizeof buf), ==, -EINVAL);
        g_assert_cmpint(imds_url_decode("%4", 2, buf, sizeof buf), ==, -EINVAL);
        g_assert_cmpint(imds_url_decode("%00", 3, buf, sizeof buf), ==, -EINVAL);
        /* Only len bytes are read. */
        g_assert_cmpint(imds_url_decode("ab%41", 3, buf, sizeof buf), ==, -EINVAL);
}

static void test_vsock_peer(void) {
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
static void test_vsock_peer_parse(void) {
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

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/imds-request/document", test_document);
        g_test_add_func("/imds-request/metadata", test_metadata);
        g_test_add_func("/imds-request/headers", test_headers);
        g_test_add_func("/imds-request/api-version", test_api_version);
        g_test_add_func("/imds-request/query", test_query);
        g_test_add_func("/imds-request/paths-methods", test_paths_methods);
        g_test_add_func("/imds-request/versions", test_versions);
        g_test_add_func("/imds-request/limits", test_limits);
        g_test_add_func("/imds-request/bus-errors", test_bus_errors);
        g_test_add_func("/imds-request/fixed-replies", test_fixed_replies);
        g_test_add_func("/imds-request/url-decode", test_url_decode);
        g_test_add_func("/imds-request/vsock-peer", test_vsock_peer);
        g_test_add_func("/imds-request/vsock-peer-parse", test_vsock_peer_parse);
        return g_test_run();
}
