/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshci-attest: the consumer side. Verifies an attested-document response body
 * ({"encoding":"pkcs7","signature":"..."}) as a workload in a VM would before it activates a
 * benefit, and prints the attested payload. */

#include <getopt.h>

#include "attest-fetch.h"
#include "build-config.h"
#include "document-verify.h"
#include "fileio.h"
#include "strv.h"
#include "validate.h"
#include "x509-util.h"

static void help(void) {
        printf("Usage: azshci-attest verify [OPTIONS] [FILE|-]\n"
               "       azshci-attest fetch [--vsock [CID:]PORT | --url URL] [--nonce N] [--verify --ca ROOT.pem]\n"
               "                           (see azshci-attest fetch --help)\n"
               "\n"
               "Verifies an attested-document response, as returned by the azshci attestation\n"
               "service (or by Azure IMDS at /metadata/attested/document), and prints the\n"
               "attested payload. The document is read from FILE, or from standard input when\n"
               "FILE is \"-\" or missing.\n"
               "\n"
               "Checks, in this order:\n"
               "  1. the body is {\"encoding\":\"pkcs7\",\"signature\":\"<base64 DER PKCS#7>\"},\n"
               "     SignedData with attached content and exactly one signer;\n"
               "  2. the PKCS#7 signature over the content, by the embedded certificate;\n"
               "  3. that certificate chains to a trusted root (--ca), the other embedded\n"
               "     certificates serving as intermediates, and allows digital signatures;\n"
               "  4. with --metadata-domain D, a subjectAltName dNSName of the signer is D or\n"
               "     a name under D (x.D, *.D);\n"
               "  5. with --nonce / --vm-id, the payload's nonce / vmId equal the given ones;\n"
               "  6. timeStamp.createdOn <= now < timeStamp.expiresOn, allowing 5 minutes of\n"
               "     clock skew either way.\n"
               "\n"
               "Options:\n"
               "  --ca=ROOT.pem          Trust the root certificate(s) in this PEM file. For\n"
               "                         documents of an azshci host with the embedded CA, the\n"
               "                         host's /var/lib/azshci/ca.pem (\"azshcictl ca export\").\n"
               "                         Default: the system's trust store.\n"
               "  --nonce=N              Require this nonce (the one sent with the request).\n"
               "  --vm-id=ID             Require this vmId (compared case-insensitively).\n"
               "  --metadata-domain=D    Require the signer's DNS name to be D or under D,\n"
               "                         e.g. metadata.azshci.local or metadata.azure.com.\n"
               "  --json                 Print the signed payload exactly as signed (compact\n"
               "                         JSON) instead of a table.\n"
               "  --insecure-skip-chain  INSECURE: do not verify the certificate chain. The\n"
               "                         signature then proves nothing about who signed; only\n"
               "                         for inspecting foreign documents.\n"
               "  --ignore-time          INSECURE: skip all time checks (document and\n"
               "                         certificate validity); only for old documents.\n"
               "  -h --help              Show this help.\n"
               "     --version           Show the version.\n"
               "\n"
               "Exit status:\n"
               "  0  the document is valid (every requested check passed)\n"
               "  1  usage error, or the input or --ca could not be read\n"
               "  2  malformed document (not JSON, not base64, not PKCS#7 SignedData, payload\n"
               "     not an attested-data object)\n"
               "  3  the signature does not verify (content or signature altered)\n"
               "  4  the signer does not chain to a trusted root, or may not sign\n"
               "  5  the signer's DNS names are not under --metadata-domain\n"
               "  6  the nonce differs from --nonce\n"
               "  7  the vmId differs from --vm-id\n"
               "  8  the document is expired, not yet valid, or has no timeStamp\n"
               "On failure one line \"azshci-attest: <check>: <reason>\" goes to standard error.\n"
               "\n"
               "Example:\n"
               "  curl -s -H Metadata:true \\\n"
               "    'http://169.254.169.253/metadata/attested/document?api-version=2019-08-15&nonce=abc' |\n"
               "    azshci-attest verify --ca ca.pem --nonce abc --metadata-domain metadata.azshci.local "
               "-\n");
}

static int read_input(const char *path, char **ret, size_t *ret_size) {
        if (path && !streq(path, "-"))
                return read_full_file(path, DOCUMENT_BODY_MAX, ret, ret_size);
        return read_full_fd(STDIN_FILENO, DOCUMENT_BODY_MAX, ret, ret_size);
}

/* The values come from the document (and its certificate): control characters and the like are
 * shown escaped, never sent to the terminal as they are. */
static void print_field(const char *name, const char *value) {
        _cleanup_free_ char *shown = value ? escape_unprintable(value) : NULL;

        printf("%-17s %s\n", name, shown ?: value ? "(out of memory)" : "(absent)");
}

static void print_table(const DocumentInfo *info, const DocumentVerifyOptions *opts) {
        _cleanup_free_ char *names = strv_join(info->signer_dns_names, ", ");
        char ts[32];

        print_field("signature:", "valid");
        print_field("  signer:", info->signer_subject);
        print_field("  issuer:", info->signer_issuer);
        print_field("  DNS names:", isempty(names) ? "(none)" : names);
        print_field("  valid until:", format_timestamp_utc(ts, sizeof ts, info->signer_not_after));
        print_field("chain:", opts->skip_chain ? "NOT VERIFIED (--insecure-skip-chain)" : "trusted");
        print_field("time:", opts->ignore_time ? "NOT CHECKED (--ignore-time)" : "valid");
        if (opts->metadata_domain)
                print_field("domain:", opts->metadata_domain);
        print_field("vmId:", info->vm_id);
        print_field("nonce:", info->nonce);
        print_field("subscriptionId:", info->subscription_id);
        if (info->sku)
                print_field("sku:", info->sku);
        if (info->license_type)
                print_field("licenseType:", info->license_type);
        print_field("plan.name:", info->plan_name);
        print_field("plan.product:", info->plan_product);
        print_field("plan.publisher:", info->plan_publisher);
        print_field("createdOn:", info->created_on);
        print_field("expiresOn:", info->expires_on);
}

static int verb_verify(int argc, char *argv[]) {
        enum {
                ARG_CA = 0x100,
                ARG_NONCE,
                ARG_VM_ID,
                ARG_DOMAIN,
                ARG_JSON,
                ARG_SKIP_CHAIN,
                ARG_IGNORE_TIME,
                ARG_VERSION,
        };
        static const struct option options[] = {
                {"ca", required_argument, NULL, ARG_CA},
                {"nonce", required_argument, NULL, ARG_NONCE},
                {"vm-id", required_argument, NULL, ARG_VM_ID},
                {"metadata-domain", required_argument, NULL, ARG_DOMAIN},
                {"json", no_argument, NULL, ARG_JSON},
                {"insecure-skip-chain", no_argument, NULL, ARG_SKIP_CHAIN},
                {"ignore-time", no_argument, NULL, ARG_IGNORE_TIME},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        _cleanup_(X509_STORE_freep) X509_STORE *trust = NULL;
        _cleanup_(document_info_freep) DocumentInfo *info = NULL;
        _cleanup_free_ char *data = NULL, *error = NULL;
        DocumentVerifyOptions opts = {};
        DocumentCheck check = DOCUMENT_CHECK_OK;
        const char *ca = NULL, *input = NULL;
        bool json = false;
        size_t size = 0;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts(PACKAGE_VERSION);
                        return 0;
                case ARG_CA:
                        ca = optarg;
                        break;
                case ARG_NONCE:
                        opts.nonce = optarg;
                        break;
                case ARG_VM_ID:
                        opts.vm_id = optarg;
                        break;
                case ARG_DOMAIN:
                        if (isempty(optarg)) {
                                fprintf(stderr, "azshci-attest: --metadata-domain must not be empty\n");
                                return EXIT_USAGE;
                        }
                        opts.metadata_domain = optarg;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_SKIP_CHAIN:
                        opts.skip_chain = true;
                        break;
                case ARG_IGNORE_TIME:
                        opts.ignore_time = true;
                        break;
                default:
                        return EXIT_USAGE;
                }

        if (argc - optind > 1) {
                fprintf(stderr, "azshci-attest: verify takes at most one FILE\n");
                return EXIT_USAGE;
        }
        input = optind < argc ? argv[optind] : "-";

        if (opts.skip_chain)
                fprintf(stderr,
                        "WARNING: --insecure-skip-chain: the certificate chain is NOT verified; anyone can\n"
                        "WARNING: make a document that passes. Use it only to inspect a foreign "
                        "document.\n");
        if (opts.ignore_time)
                fprintf(stderr,
                        "WARNING: --ignore-time: expiry and validity times are NOT checked; an old or\n"
                        "WARNING: replayed document passes. Use it only to inspect a foreign document.\n");

        if (!opts.skip_chain) {
                r = trust_store_new(ca, &trust, &error);
                if (r < 0) {
                        fprintf(stderr, "azshci-attest: %s\n", error ?: strerror(-r));
                        return EXIT_USAGE;
                }
                opts.trust = trust;
        }

        r = read_input(input, &data, &size);
        if (r < 0) {
                fprintf(stderr, "azshci-attest: %s: %s\n", streq(input, "-") ? "standard input" : input,
                        r == -EFBIG ? "document too large" : strerror(-r));
                return EXIT_USAGE;
        }

        r = document_verify(data, size, &opts, &info, &check, &error);
        if (r < 0)
                return verify_failure(r, check, error);

        if (json)
                printf("%s\n", info->payload);
        else
                print_table(info, &opts);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help"))) {
                help();
                return 0;
        }
        if (argc >= 2 && streq(argv[1], "--version")) {
                puts(PACKAGE_VERSION);
                return 0;
        }
        if (argc < 2) {
                help();
                return EXIT_USAGE;
        }
        if (streq(argv[1], "verify"))
                return verb_verify(argc - 1, argv + 1);
        if (streq(argv[1], "fetch"))
                return verb_fetch(argc - 1, argv + 1);

        fprintf(stderr, "azshci-attest: unknown command \"%s\"; see --help\n", argv[1]);
        return EXIT_USAGE;
}
