/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A small CMP CA for the tests, built on OpenSSL's OSSL_CMP_SRV_CTX. Not installed.
 *
 * It listens on a loopback TCP port, speaks CMP over HTTP/1.0 POST (optionally over TLS), and
 * really issues certificates for the public key in the request:
 *   - IR (and CR) protected with the configured reference + shared secret (PBM);
 *   - KUR signed with a certificate this CA issued.
 * Responses are signed with the CA key; the CA certificate goes into extraCerts (and caPubs
 * for IR). Misbehaviour on demand, for the client's error paths: --days N (over-long),
 * --expired, --wrong-key (a certificate for another key), --delay SEC (slow server).
 *
 * Readiness: --ca-cert-out is written first, then --port-file (atomically, by rename), then
 * the port is printed on stdout; by then the socket is listening. */

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "macro.h"

typedef struct TestCa {
        EVP_PKEY *ca_key;
        X509 *ca_cert;
        const char *reference;
        const char *secret;
        int days;
        bool expired;
        bool wrong_key;
        unsigned delay_sec;
        bool verbose;
        long next_serial;

        OSSL_CMP_SRV_CTX *srv;
        OSSL_CMP_CTX *mac_check; /* holds the secret, only to check PBM-protected requests */
        bool reject_mac;         /* the current request's MAC did not verify */
        SSL_CTX *tls;
} TestCa;

static int die(const char *msg) {
        fprintf(stderr, "test-cmp-ca: %s\n", msg);
        ERR_print_errors_fp(stderr);
        exit(EXIT_FAILURE);
}

static int quiet_log(const char *func, const char *file, int line, OSSL_CMP_severity level,
        const char *msg) {
        return 1;
}

static int verbose_log(const char *func, const char *file, int line, OSSL_CMP_severity level,
        const char *msg) {
        fprintf(stderr, "test-cmp-ca: CMP: %s\n", msg);
        return 1;
}

static void make_ca(TestCa *ca) {
        X509_NAME *name;
        X509V3_CTX v3;
        X509_EXTENSION *ext;

        ca->ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        ca->ca_cert = X509_new();
        if (!ca->ca_key || !ca->ca_cert)
                die("cannot create the CA key");
        X509_set_version(ca->ca_cert, X509_VERSION_3);
        ASN1_INTEGER_set(X509_get_serialNumber(ca->ca_cert), 1);
        name = X509_get_subject_name(ca->ca_cert);
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"azshci tests", -1, -1,
                0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"Test CMP CA", -1, -1,
                0);
        X509_set_issuer_name(ca->ca_cert, name);
        X509_gmtime_adj(X509_getm_notBefore(ca->ca_cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(ca->ca_cert), 3650L * 24 * 3600);
        X509_set_pubkey(ca->ca_cert, ca->ca_key);

        X509V3_set_ctx(&v3, ca->ca_cert, ca->ca_cert, NULL, NULL, 0);
        const char *exts[][2] = {
                {"basicConstraints", "critical,CA:TRUE"},
                {"keyUsage", "critical,keyCertSign,cRLSign,digitalSignature"},
                {"subjectKeyIdentifier", "hash"},
        };
        for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
                ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
                if (!ext || !X509_add_ext(ca->ca_cert, ext, -1))
                        die("cannot add a CA extension");
                X509_EXTENSION_free(ext);
        }
        if (!X509_sign(ca->ca_cert, ca->ca_key, EVP_sha256()))
                die("cannot sign the CA certificate");
}

static void load_ca(TestCa *ca, const char *cert_path, const char *key_path) {
        FILE *f;

        f = fopen(cert_path, "re");
        if (!f || !(ca->ca_cert = PEM_read_X509(f, NULL, NULL, NULL)))
                die("cannot read --ca-cert");
        fclose(f);
        f = fopen(key_path, "re");
        if (!f || !(ca->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)))
                die("cannot read --ca-key");
        fclose(f);
}

/* OpenSSL 3.0 has no getter for the template's public key: find the [6] IMPLICIT
 * SubjectPublicKeyInfo in the DER of the template and decode it as a SEQUENCE. */
static EVP_PKEY *template_public_key(OSSL_CRMF_CERTTEMPLATE *tmpl) {
        unsigned char *der = NULL;
        const unsigned char *p, *end;
        EVP_PKEY *key = NULL;
        long len;
        int n, tag, xclass, ret;

        n = i2d_OSSL_CRMF_CERTTEMPLATE(tmpl, &der);
        if (n <= 0)
                return NULL;
        p = der;
        ret = ASN1_get_object(&p, &len, &tag, &xclass, n);
        if (ret & 0x80)
                goto out;
        end = p + len;
        while (p < end) {
                const unsigned char *start = p;

                ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
                if (ret & 0x80)
                        break;
                if (xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 6) {
                        size_t total = (size_t)(p - start) + (size_t)len;
                        unsigned char *copy = OPENSSL_memdup(start, total);
                        const unsigned char *q = copy;

                        if (copy) {
                                copy[0] = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
                                key = d2i_PUBKEY(NULL, &q, (long)total);
                                OPENSSL_free(copy);
                        }
                        break;
                }
                p += len;
        }
out:
        OPENSSL_free(der);
        return key;
}

static OSSL_CMP_PKISI *reject(int fail_bit, const char *text) {
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit, text);
}

static OSSL_CMP_PKISI *process_cert_request(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int certReqId,
        const OSSL_CRMF_MSG *crm, const X509_REQ *p10cr, X509 **certOut, STACK_OF(X509) * *chainOut,
        STACK_OF(X509) * *caPubs) {
        TestCa *ca = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
        OSSL_CRMF_CERTTEMPLATE *tmpl;
        const X509_NAME *subject;
        const X509_EXTENSIONS *exts;
        EVP_PKEY *pub = NULL;
        X509 *cert = NULL;
        X509V3_CTX v3;
        int type = OSSL_CMP_MSG_get_bodytype(req);
        time_t now = time(NULL);

        if (ca->reject_mac)
                return reject(OSSL_CMP_PKIFAILUREINFO_badMessageCheck,
                        "MAC-based protection check failed: wrong shared secret or reference");
        if (!crm)
                return reject(OSSL_CMP_PKIFAILUREINFO_badRequest, "only ir, cr and kur are supported");

        tmpl = OSSL_CRMF_MSG_get0_tmpl(crm);
        subject = OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl);
        if (!subject || X509_NAME_entry_count(subject) == 0)
                return reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "no subject in the template");
        pub = template_public_key(tmpl);
        if (!pub)
                return reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "no public key in the template");

        if (type == OSSL_CMP_KUR) {
                OSSL_CRMF_CERTID *old = OSSL_CRMF_MSG_get0_regCtrl_oldCertID(crm);

                /* The signature of the KUR was checked against our CA certificate by OpenSSL. */
                if (old && X509_NAME_cmp(OSSL_CRMF_CERTID_get0_issuer(old),
                                   X509_get_subject_name(ca->ca_cert)) != 0) {
                        EVP_PKEY_free(pub);
                        return reject(OSSL_CMP_PKIFAILUREINFO_badCertId, "the old certificate is not ours");
                }
        }

        if (ca->wrong_key) {
                EVP_PKEY_free(pub);
                pub = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        }

        cert = X509_new();
        if (!cert || !pub)
                goto fail;
        X509_set_version(cert, X509_VERSION_3);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), ca->next_serial++);
        X509_set_issuer_name(cert, X509_get_subject_name(ca->ca_cert));
        X509_set_subject_name(cert, subject);
        X509_set_pubkey(cert, pub);
        if (ca->expired) {
                X509_time_adj_ex(X509_getm_notBefore(cert), -ca->days - 1, 0, &now);
                X509_time_adj_ex(X509_getm_notAfter(cert), -1, 0, &now);
        } else {
                X509_time_adj_ex(X509_getm_notBefore(cert), 0, -60, &now);
                X509_time_adj_ex(X509_getm_notAfter(cert), ca->days, -60, &now);
        }

        exts = OSSL_CRMF_CERTTEMPLATE_get0_extensions(tmpl);
        for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
                X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
                if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name)
                        X509_add_ext(cert, e, -1);
        }
        X509V3_set_ctx(&v3, ca->ca_cert, cert, NULL, NULL, 0);
        const char *add[][2] = {
                {"basicConstraints", "critical,CA:FALSE"},
                {"keyUsage", "critical,digitalSignature"},
                {"subjectKeyIdentifier", "hash"},
                {"authorityKeyIdentifier", "keyid"},
        };
        for (size_t i = 0; i < ELEMENTSOF(add); i++) {
                X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, add[i][0], add[i][1]);
                if (!e || !X509_add_ext(cert, e, -1)) {
                        X509_EXTENSION_free(e);
                        goto fail;
                }
                X509_EXTENSION_free(e);
        }
        if (!X509_sign(cert, ca->ca_key, EVP_sha256()))
                goto fail;
        EVP_PKEY_free(pub);

        *certOut = cert;
        *chainOut = sk_X509_new_null();
        if (*chainOut && X509_up_ref(ca->ca_cert))
                sk_X509_push(*chainOut, ca->ca_cert);
        if (type == OSSL_CMP_IR) {
                *caPubs = sk_X509_new_null();
                if (*caPubs && X509_up_ref(ca->ca_cert))
                        sk_X509_push(*caPubs, ca->ca_cert);
        }
        if (ca->verbose)
                fprintf(stderr, "test-cmp-ca: issued serial %ld for a %s\n", ca->next_serial - 1,
                        type == OSSL_CMP_KUR ? "kur" : "ir/cr");
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);

fail:
        EVP_PKEY_free(pub);
        X509_free(cert);
        return reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "cannot issue the certificate");
}

static int process_cert_conf(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int certReqId,
        const ASN1_OCTET_STRING *certHash, const OSSL_CMP_PKISI *si) {
        TestCa *ca = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);

        if (ca->verbose && si) {
                char buf[OSSL_CMP_PKISI_BUFLEN];
                fprintf(stderr, "test-cmp-ca: certConf: %s\n",
                        OSSL_CMP_snprint_PKIStatusInfo(si, buf, sizeof buf));
        }
        return 1;
}

static void process_error(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, const OSSL_CMP_PKISI *si,
        const ASN1_INTEGER *code, const OSSL_CMP_PKIFREETEXT *details) {
}

/* OpenSSL 3.0 has no getters for the header's protectionAlg and senderKID: look for their
 * encodings in the header's DER, which is good enough for a test server. */
static bool header_contains(const OSSL_CMP_MSG *msg, const unsigned char *bytes, size_t size) {
        unsigned char *der = NULL;
        bool found = false;
        int n;

        n = i2d_OSSL_CMP_PKIHEADER(OSSL_CMP_MSG_get0_header(msg), &der);
        if (n > 0)
                found = memmem(der, (size_t)n, bytes, size) != NULL;
        OPENSSL_free(der);
        return found;
}

static bool is_pbm_protected(const OSSL_CMP_MSG *msg) {
        /* id-PasswordBasedMAC 1.2.840.113533.7.66.13 */
        static const unsigned char pbm_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf6, 0x7d, 0x07, 0x42,
                0x0d};

        return header_contains(msg, pbm_oid, sizeof pbm_oid);
}

static bool has_sender_kid(const OSSL_CMP_MSG *msg, const char *reference) {
        /* senderKID [2] EXPLICIT OCTET STRING */
        unsigned char enc[128];
        size_t n = strlen(reference);

        if (n > sizeof enc - 4)
                return false;
        enc[0] = 0xa2;
        enc[1] = (unsigned char)(n + 2);
        enc[2] = V_ASN1_OCTET_STRING;
        enc[3] = (unsigned char)n;
        memcpy(enc + 4, reference, n);
        return header_contains(msg, enc, n + 4);
}

static OSSL_CMP_MSG *handle(TestCa *ca, const OSSL_CMP_MSG *req) {
        OSSL_CMP_MSG *rsp;

        /* The server context signs its responses with the CA key, so it must not hold the
         * secret (OpenSSL would then MAC-protect them): PBM-protected requests are checked here
         * with a separate context, and a failed check becomes a signed badMessageCheck rejection. */
        ca->reject_mac = false;
        if (is_pbm_protected(req)) {
                ca->reject_mac = !has_sender_kid(req, ca->reference) ||
                                 OSSL_CMP_validate_msg(ca->mac_check, req) != 1;
                ERR_clear_error();
                OSSL_CMP_SRV_CTX_set_accept_unprotected(ca->srv, 1);
        } else
                OSSL_CMP_SRV_CTX_set_accept_unprotected(ca->srv, 0);

        rsp = OSSL_CMP_SRV_process_request(ca->srv, req);
        if (ca->verbose)
                ERR_print_errors_fp(stderr);
        ERR_clear_error();
        return rsp;
}

static int read_line(BIO *b, char *buf, size_t size) {
        size_t n = 0;

        while (n < size - 1) {
                char ch;
                if (BIO_read(b, &ch, 1) != 1)
                        return -1;
                if (ch == '\n')
                        break;
                buf[n++] = ch;
        }
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        buf[n] = 0;
        return (int)n;
}

static void send_status(BIO *b, const char *status) {
        BIO_printf(b, "HTTP/1.0 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
        (void)BIO_flush(b);
}

static void serve_connection(TestCa *ca, int fd) {
        BIO *b, *sock;
        char line[4096];
        long content_length = -1;
        unsigned char *body = NULL;
        bool post;

        sock = BIO_new_socket(fd, BIO_CLOSE);
        if (!sock)
                return;
        b = sock;
        if (ca->tls) {
                BIO *ssl = BIO_new_ssl(ca->tls, 0);
                if (!ssl) {
                        BIO_free_all(sock);
                        return;
                }
                b = BIO_push(ssl, sock);
        }

        if (read_line(b, line, sizeof line) <= 0)
                goto out;
        post = strncmp(line, "POST ", 5) == 0;
        for (;;) {
                int n = read_line(b, line, sizeof line);
                if (n < 0)
                        goto out;
                if (n == 0)
                        break;
                if (strncasecmp(line, "Content-Length:", 15) == 0)
                        content_length = strtol(line + 15, NULL, 10);
        }
        if (!post) {
                send_status(b, "405 Method Not Allowed");
                goto out;
        }
        if (content_length <= 0 || content_length > 1024 * 1024) {
                send_status(b, "411 Length Required");
                goto out;
        }
        body = malloc((size_t)content_length);
        if (!body)
                goto out;
        for (long got = 0; got < content_length;) {
                int n = BIO_read(b, body + got, (int)(content_length - got));
                if (n <= 0)
                        goto out;
                got += n;
        }

        if (ca->delay_sec > 0) {
                /* The slow-server mode: wait, or until the client gives up and closes. */
                struct timespec ts = {.tv_sec = ca->delay_sec};
                (void)nanosleep(&ts, NULL);
        }

        {
                const unsigned char *p = body;
                OSSL_CMP_MSG *req = d2i_OSSL_CMP_MSG(NULL, &p, content_length), *rsp = NULL;
                unsigned char *out = NULL;
                int outlen = 0;

                if (req)
                        rsp = handle(ca, req);
                if (rsp)
                        outlen = i2d_OSSL_CMP_MSG(rsp, &out);
                if (outlen > 0) {
                        BIO_printf(b,
                                "HTTP/1.0 200 OK\r\nContent-Type: application/pkixcmp\r\n"
                                "Content-Length: %d\r\nConnection: close\r\n\r\n",
                                outlen);
                        BIO_write(b, out, outlen);
                        (void)BIO_flush(b);
                } else
                        send_status(b, "400 Bad Request");
                OPENSSL_free(out);
                OSSL_CMP_MSG_free(req);
                OSSL_CMP_MSG_free(rsp);
        }

out:
        free(body);
        ERR_clear_error();
        BIO_free_all(b);
}

static void write_file_renamed(const char *path, const char *data) {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        f = fopen(tmp, "we");
        if (!f || fputs(data, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0)
                die("cannot write an output file");
}

static void usage(void) {
        printf("test-cmp-ca [OPTIONS]\n"
               "  --port N            listen on 127.0.0.1:N (default: a free port)\n"
               "  --address A         listen on the IPv4 address A instead of 127.0.0.1\n"
               "  --port-file FILE    write the chosen port there when ready\n"
               "  --ca-cert-out FILE  write the CA certificate (the trust anchor) there\n"
               "  --ca-cert FILE --ca-key FILE   use this CA instead of a fresh one\n"
               "  --ref REF --secret S            the registration credential for IR (PBM)\n"
               "  --days N            validity of issued certificates (default 30)\n"
               "  --expired           issue certificates that have already expired\n"
               "  --wrong-key         issue certificates for another key than requested\n"
               "  --delay SEC         wait before answering each request\n"
               "  --tls-cert FILE --tls-key FILE  serve HTTPS\n"
               "  --verbose\n");
}

int main(int argc, char *argv[]) {
        enum {
                ARG_PORT = 0x100,
                ARG_ADDRESS,
                ARG_PORT_FILE,
                ARG_CA_OUT,
                ARG_CA_CERT,
                ARG_CA_KEY,
                ARG_REF,
                ARG_SECRET,
                ARG_DAYS,
                ARG_EXPIRED,
                ARG_WRONG_KEY,
                ARG_DELAY,
                ARG_TLS_CERT,
                ARG_TLS_KEY,
                ARG_VERBOSE,
                ARG_HELP
        };
        static const struct option options[] = {
                {"port", required_argument, NULL, ARG_PORT},
                {"address", required_argument, NULL, ARG_ADDRESS},
                {"port-file", required_argument, NULL, ARG_PORT_FILE},
                {"ca-cert-out", required_argument, NULL, ARG_CA_OUT},
                {"ca-cert", required_argument, NULL, ARG_CA_CERT},
                {"ca-key", required_argument, NULL, ARG_CA_KEY},
                {"ref", required_argument, NULL, ARG_REF},
                {"secret", required_argument, NULL, ARG_SECRET},
                {"days", required_argument, NULL, ARG_DAYS},
                {"expired", no_argument, NULL, ARG_EXPIRED},
                {"wrong-key", no_argument, NULL, ARG_WRONG_KEY},
                {"delay", required_argument, NULL, ARG_DELAY},
                {"tls-cert", required_argument, NULL, ARG_TLS_CERT},
                {"tls-key", required_argument, NULL, ARG_TLS_KEY},
                {"verbose", no_argument, NULL, ARG_VERBOSE},
                {"help", no_argument, NULL, ARG_HELP},
                {},
        };
        TestCa ca = {
                .reference = "host1",
                .secret = "s3cret",
                .days = 30,
                .next_serial = 0x1000,
        };
        const char *port_file = NULL, *ca_out = NULL, *ca_cert = NULL, *ca_key = NULL, *tls_cert = NULL,
                   *tls_key = NULL;
        unsigned port = 0;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t salen = sizeof sa;
        int c, fd, one = 1;
        OSSL_CMP_CTX *cmp;
        X509_STORE *store;
        char buf[64];

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_PORT:
                        port = (unsigned)atoi(optarg);
                        break;
                case ARG_ADDRESS:
                        if (inet_pton(AF_INET, optarg, &sa.sin_addr) != 1)
                                die("--address takes an IPv4 address");
                        break;
                case ARG_PORT_FILE:
                        port_file = optarg;
                        break;
                case ARG_CA_OUT:
                        ca_out = optarg;
                        break;
                case ARG_CA_CERT:
                        ca_cert = optarg;
                        break;
                case ARG_CA_KEY:
                        ca_key = optarg;
                        break;
                case ARG_REF:
                        ca.reference = optarg;
                        break;
                case ARG_SECRET:
                        ca.secret = optarg;
                        break;
                case ARG_DAYS:
                        ca.days = atoi(optarg);
                        break;
                case ARG_EXPIRED:
                        ca.expired = true;
                        break;
                case ARG_WRONG_KEY:
                        ca.wrong_key = true;
                        break;
                case ARG_DELAY:
                        ca.delay_sec = (unsigned)atoi(optarg);
                        break;
                case ARG_TLS_CERT:
                        tls_cert = optarg;
                        break;
                case ARG_TLS_KEY:
                        tls_key = optarg;
                        break;
                case ARG_VERBOSE:
                        ca.verbose = true;
                        break;
                case ARG_HELP:
                        usage();
                        return EXIT_SUCCESS;
                default:
                        usage();
                        return EXIT_FAILURE;
                }

        signal(SIGPIPE, SIG_IGN);
        /* A test that fails half-way must not leave us behind. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
                die("parent gone");

        if (ca_cert || ca_key) {
                if (!ca_cert || !ca_key)
                        die("--ca-cert and --ca-key go together");
                load_ca(&ca, ca_cert, ca_key);
        } else
                make_ca(&ca);

        if (tls_cert) {
                ca.tls = SSL_CTX_new(TLS_server_method());
                if (!ca.tls || SSL_CTX_use_certificate_chain_file(ca.tls, tls_cert) != 1 ||
                        SSL_CTX_use_PrivateKey_file(ca.tls, tls_key ?: tls_cert, SSL_FILETYPE_PEM) != 1)
                        die("cannot load the TLS certificate/key");
        }

        ca.srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
        if (!ca.srv || !OSSL_CMP_SRV_CTX_init(ca.srv, &ca, process_cert_request, NULL, NULL, process_error,
                               process_cert_conf, NULL))
                die("cannot create the CMP server context");
        cmp = OSSL_CMP_SRV_CTX_get0_cmp_ctx(ca.srv);
        store = X509_STORE_new();
        if (!store || !X509_STORE_add_cert(store, ca.ca_cert) ||
                !OSSL_CMP_CTX_set0_trustedStore(cmp, store) || !OSSL_CMP_CTX_set1_cert(cmp, ca.ca_cert) ||
                !OSSL_CMP_CTX_set1_pkey(cmp, ca.ca_key))
                die("cannot set the CA credentials");
        OSSL_CMP_CTX_set_log_cb(cmp, ca.verbose ? verbose_log : quiet_log);
        OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(ca.srv, 0);

        ca.mac_check = OSSL_CMP_CTX_new(NULL, NULL);
        if (!ca.mac_check || !OSSL_CMP_CTX_set1_secretValue(ca.mac_check, (const unsigned char *)ca.secret,
                                     (int)strlen(ca.secret)))
                die("cannot set the shared secret");
        OSSL_CMP_CTX_set_log_cb(ca.mac_check, ca.verbose ? verbose_log : quiet_log);

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket() failed");
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sa.sin_port = htons((uint16_t)port);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0)
                die("cannot listen");
        if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
                die("getsockname() failed");
        port = ntohs(sa.sin_port);

        if (ca_out) {
                BIO *mem = BIO_new(BIO_s_mem());
                char *pem;
                long n;

                if (!mem || !PEM_write_bio_X509(mem, ca.ca_cert))
                        die("cannot encode the CA certificate");
                n = BIO_get_mem_data(mem, &pem);
                pem = strndup(pem, (size_t)n);
                if (!pem)
                        die("out of memory");
                write_file_renamed(ca_out, pem);
                free(pem);
                BIO_free(mem);
        }
        snprintf(buf, sizeof buf, "%u\n", port);
        if (port_file)
                write_file_renamed(port_file, buf);
        fputs(buf, stdout);
        fflush(stdout);

        for (;;) {
                struct timeval tv = {.tv_sec = 10};
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        die("accept() failed");
                }
                (void)setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                (void)setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                serve_connection(&ca, cfd);
        }
}
