/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "attest-fetch.h"
#include "build-config.h"
#include "document-verify.h"
#include "imds-versions.h"
#include "validate.h"
#include "vsock-peer.h"
#include "x509-util.h"

#define EXIT_FETCH         9
#define DEFAULT_URL        "http://169.254.169.253"
#define DEFAULT_VSOCK_PORT 5151U
#define DEFAULT_API        "2018-10-01"
#define RESPONSE_MAX       (DOCUMENT_BODY_MAX + 16U * 1024U)

static void fetch_help(void) {
        printf("Usage: azshci-attest fetch [OPTIONS]\n"
               "\n"
               "Gets an attested document from the host and prints the response body. Without\n"
               "--vsock/--url it tries vsock (host CID 2, port %u) first and falls back to HTTP\n"
               "at %s, as guests of the seed do.\n"
               "\n"
               "Options:\n"
               "  --vsock=[CID:]PORT     Only vsock, to CID (default 2, the host) and PORT\n"
               "  --url=URL              Only HTTP, to this base URL (http://HOST[:PORT])\n"
               "  --nonce=N              The nonce to send (1..32 of [A-Za-z0-9_-]); with --verify\n"
               "                         and no --nonce a random one is sent and checked\n"
               "  --api-version=V        (default %s)\n"
               "  --timeout=SEC          Per connection attempt (default 5)\n"
               "  --verify               Verify the document too (as \"azshci-attest verify\"):\n"
               "  --ca=ROOT.pem            trusted root(s), required with --verify\n"
               "  --vm-id=ID               require this vmId\n"
               "  --metadata-domain=D      require the signer's DNS name under D\n"
               "  -h --help              Show this help.\n"
               "\n"
               "Exit status: 0 fetched (and verified); 1 usage; 9 no document (connection\n"
               "failed or the host answered an error, whose body goes to standard error);\n"
               "2..8 the verification failed (see azshci-attest --help).\n",
                DEFAULT_VSOCK_PORT, DEFAULT_URL, DEFAULT_API);
}

typedef struct HttpResult {
        unsigned status;
        char *body;
        size_t body_size;
} HttpResult;

static void http_result_done(HttpResult *r) {
        free(r->body);
        *r = (HttpResult){};
}

static void set_timeouts(int fd, unsigned sec) {
        struct timeval tv = {.tv_sec = sec};

        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* One GET over a connected stream socket (Connection: close); reads to EOF. */
static int http_get(int fd, const char *host, const char *target, HttpResult *ret) {
        _cleanup_free_ char *req = NULL, *buf = NULL;
        size_t size = 0;
        const char *end, *cl;
        unsigned status;
        int n;

        n = asprintf(&req,
                "GET %s HTTP/1.1\r\nHost: %s\r\nMetadata: true\r\nUser-Agent: azshci-attest/%s\r\n"
                "Connection: close\r\n\r\n",
                target, host, PACKAGE_VERSION);
        if (n < 0)
                return -ENOMEM;
        for (size_t off = 0; off < (size_t)n;) {
                ssize_t k = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
                if (k < 0)
                        return negative_errno();
                off += (size_t)k;
        }
        buf = malloc(RESPONSE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = recv(fd, buf + size, RESPONSE_MAX - size, 0);
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                size += (size_t)k;
                if (size >= RESPONSE_MAX)
                        return -EFBIG;
        }
        buf[size] = '\0';
        if (sscanf(buf, "HTTP/1.%*1[01] %3u ", &status) != 1)
                return -EBADMSG;
        end = strstr(buf, "\r\n\r\n");
        if (!end)
                return -EBADMSG;
        end += 4;
        ret->body_size = size - (size_t)(end - buf);
        /* With Content-Length, take exactly that much. */
        cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl && cl < end) {
                unsigned long len = strtoul(cl + 17, NULL, 10);
                if (len > ret->body_size)
                        return -EBADMSG;
                ret->body_size = len;
        }
        ret->body = strndup(end, ret->body_size);
        if (!ret->body)
                return -ENOMEM;
        ret->status = status;
        return 0;
}

static int fetch_vsock(uint32_t cid, uint32_t port, unsigned timeout, const char *target, HttpResult *ret) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_vm svm = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};

        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        set_timeouts(fd, timeout);
        if (connect(fd, (struct sockaddr *)&svm, sizeof svm) < 0)
                return negative_errno();
        return http_get(fd, "169.254.169.253", target, ret);
}

static int fetch_url(const char *url, unsigned timeout, const char *target, HttpResult *ret) {
        _cleanup_free_ char *hostport = NULL, *host = NULL, *port = NULL;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        const char *p, *slash;
        char *sep;
        int r = -EHOSTUNREACH;

        if (strncmp(url, "http://", 7) != 0)
                return -EPROTONOSUPPORT;
        p = url + 7;
        slash = strchrnul(p, '/');
        if (!streq(slash, "") && !streq(slash, "/"))
                return -EINVAL; /* a base URL: the path is ours */
        hostport = strndup(p, (size_t)(slash - p));
        if (!hostport)
                return -ENOMEM;
        if (hostport[0] == '[') { /* [IPv6][:PORT] */
                sep = strchr(hostport, ']');
                if (!sep || (sep[1] && sep[1] != ':'))
                        return -EINVAL;
                host = strndup(hostport + 1, (size_t)(sep - hostport - 1));
                port = strdup(sep[1] ? sep + 2 : "80");
        } else {
                sep = strchr(hostport, ':');
                host = sep ? strndup(hostport, (size_t)(sep - hostport)) : strdup(hostport);
                port = strdup(sep ? sep + 1 : "80");
        }
        if (!host || !port)
                return -ENOMEM;
        if (isempty(host) || isempty(port) || getaddrinfo(host, port, &hints, &ai) != 0)
                return -EHOSTUNREACH;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                _cleanup_close_ int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        r = negative_errno();
                        continue;
                }
                set_timeouts(fd, timeout);
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                        r = negative_errno();
                        continue;
                }
                r = http_get(fd, hostport, target, ret);
                break;
        }
        freeaddrinfo(ai);
        return r;
}

static int random_nonce(char ret[static 17]) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        uint8_t b[16];

        if (getrandom(b, sizeof b, 0) != sizeof b)
                return negative_errno();
        for (size_t i = 0; i < 16; i++)
                ret[i] = alphabet[b[i] % (sizeof alphabet - 1)];
        ret[16] = '\0';
        return 0;
}

/* What "fetch" was asked to do. */
typedef struct FetchArgs {
        const char *url, *nonce, *api, *ca;
        uint32_t cid, port;
        bool use_vsock, use_http, verify;
        unsigned timeout;
        DocumentVerifyOptions opts; /* --vm-id, --metadata-domain */
} FetchArgs;

/* Parses the options: -1 to go on, else the exit status to return (0 after --help). */
static int fetch_parse_argv(int argc, char *argv[], FetchArgs *a) {
        enum {
                ARG_VSOCK = 0x100,
                ARG_URL,
                ARG_NONCE,
                ARG_API,
                ARG_TIMEOUT,
                ARG_VERIFY,
                ARG_CA,
                ARG_VM_ID,
                ARG_DOMAIN,
        };
        static const struct option options[] = {
                {"vsock", required_argument, NULL, ARG_VSOCK},
                {"url", required_argument, NULL, ARG_URL},
                {"nonce", required_argument, NULL, ARG_NONCE},
                {"api-version", required_argument, NULL, ARG_API},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"verify", no_argument, NULL, ARG_VERIFY},
                {"ca", required_argument, NULL, ARG_CA},
                {"vm-id", required_argument, NULL, ARG_VM_ID},
                {"metadata-domain", required_argument, NULL, ARG_DOMAIN},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        fetch_help();
                        return 0;
                case ARG_VSOCK:
                        if (vsock_address_parse(optarg, &a->cid, &a->port) < 0) {
                                fprintf(stderr, "azshci-attest: --vsock wants [CID:]PORT, not '%s'\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        if (a->cid == VMADDR_CID_ANY)
                                a->cid = VMADDR_CID_HOST;
                        a->use_http = false;
                        break;
                case ARG_URL:
                        a->url = optarg;
                        a->use_vsock = false;
                        break;
                case ARG_NONCE:
                        if (isempty(optarg) || !nonce_is_valid(optarg)) {
                                fprintf(stderr, "azshci-attest: --nonce wants 1..32 of [A-Za-z0-9_-]\n");
                                return EXIT_USAGE;
                        }
                        a->nonce = optarg;
                        break;
                case ARG_API:
                        if (!imds_api_version_is_supported(optarg)) {
                                fprintf(stderr, "azshci-attest: unknown api-version '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        a->api = optarg;
                        break;
                case ARG_TIMEOUT:
                        a->timeout = (unsigned)strtoul(optarg, NULL, 10);
                        if (a->timeout == 0 || a->timeout > 600) {
                                fprintf(stderr, "azshci-attest: --timeout wants 1..600 seconds\n");
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_VERIFY:
                        a->verify = true;
                        break;
                case ARG_CA:
                        a->ca = optarg;
                        break;
                case ARG_VM_ID:
                        a->opts.vm_id = optarg;
                        break;
                case ARG_DOMAIN:
                        a->opts.metadata_domain = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind < argc || (!a->use_vsock && !a->use_http)) {
                fprintf(stderr, "azshci-attest: fetch takes --vsock or --url (not both) and no arguments\n");
                return EXIT_USAGE;
        }
        if (a->verify != !!a->ca) {
                fprintf(stderr, "azshci-attest: --verify and --ca go together\n");
                return EXIT_USAGE;
        }
        return -1;
}

/* The response to target: over vsock first, then over HTTP, as the arguments allow. */
static int fetch_response(const FetchArgs *a, const char *target, HttpResult *ret) {
        int r = -ENOTCONN;

        if (a->use_vsock) {
                r = fetch_vsock(a->cid, a->port, a->timeout, target, ret);
                if (r < 0)
                        fprintf(stderr, "azshci-attest: vsock %" PRIu32 ":%" PRIu32 ": %s%s\n", a->cid,
                                a->port, strerror(-r), a->use_http ? "; trying HTTP" : "");
        }
        if (r < 0 && a->use_http) {
                r = fetch_url(a->url ?: DEFAULT_URL, a->timeout, target, ret);
                if (r < 0)
                        fprintf(stderr, "azshci-attest: %s: %s\n", a->url ?: DEFAULT_URL, strerror(-r));
        }
        return r;
}

int verify_failure(int r, DocumentCheck check, const char *error) {
        assert(r < 0);

        if (check == DOCUMENT_CHECK_OK) {
                fprintf(stderr, "azshci-attest: %s\n", strerror(-r));
                return EXIT_USAGE;
        }
        fprintf(stderr, "azshci-attest: %s: %s\n", document_check_to_string(check), error ?: strerror(-r));
        return (int)check;
}

/* 0 when the document passes every check asked for, else the exit status. */
static int fetch_verify(const FetchArgs *a, X509_STORE *trust, const char *nonce, const HttpResult *res) {
        _cleanup_(document_info_freep) DocumentInfo *info = NULL;
        _cleanup_free_ char *error = NULL;
        DocumentVerifyOptions opts = a->opts;
        DocumentCheck check = DOCUMENT_CHECK_OK;
        int r;

        opts.trust = trust;
        opts.nonce = nonce;
        r = document_verify(res->body, res->body_size, &opts, &info, &check, &error);
        if (r < 0)
                return verify_failure(r, check, error);
        fprintf(stderr, "azshci-attest: verified: vmId %s, nonce %s, expires %s\n", strna(info->vm_id),
                strna(info->nonce), strna(info->expires_on));
        return 0;
}

int verb_fetch(int argc, char *argv[]) {
        _cleanup_(X509_STORE_freep) X509_STORE *trust = NULL;
        _cleanup_free_ char *target = NULL, *error = NULL;
        FetchArgs a = {
                .api = DEFAULT_API,
                .cid = VMADDR_CID_HOST,
                .port = DEFAULT_VSOCK_PORT,
                .use_vsock = true,
                .use_http = true,
                .timeout = 5,
        };
        const char *nonce;
        HttpResult res = {};
        char nonce_buf[17];
        int r;

        r = fetch_parse_argv(argc, argv, &a);
        if (r >= 0)
                return r;
        nonce = a.nonce;
        if (a.verify) {
                r = trust_store_new(a.ca, &trust, &error);
                if (r < 0) {
                        fprintf(stderr, "azshci-attest: %s\n", error ?: strerror(-r));
                        return EXIT_USAGE;
                }
                if (!nonce) {
                        /* A fresh random nonce, so that a replayed document cannot pass. */
                        if (random_nonce(nonce_buf) < 0)
                                return EXIT_USAGE;
                        nonce = nonce_buf;
                }
        }
        if (asprintf(&target, "/metadata/attested/document?api-version=%s%s%s", a.api,
                    nonce ? "&nonce=" : "", strempty(nonce)) < 0)
                return EXIT_USAGE;

        if (fetch_response(&a, target, &res) < 0)
                return EXIT_FETCH;
        if (res.status != 200) {
                fprintf(stderr, "azshci-attest: the host answered HTTP %u: %s\n", res.status, res.body);
                http_result_done(&res);
                return EXIT_FETCH;
        }
        if (a.verify) {
                r = fetch_verify(&a, trust, nonce, &res);
                if (r != 0) {
                        http_result_done(&res);
                        return r;
                }
        }
        fwrite(res.body, 1, res.body_size, stdout);
        putchar('\n');
        http_result_done(&res);
        return 0;
}
