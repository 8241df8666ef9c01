/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "build-config.h"
#include "daemon-options.h"
#include "fileio.h"
#include "keystore.h"
#include "log.h"
#include "manager-connect.h"
#include "manager-direct.h"
#include "manager-inventory.h"
#include "manager.h"
#include "x509-util.h"

typedef struct Arguments {
        const char *config;
        const char *import_key;
        const char *import_cert;
} Arguments;

static void help(const void *userdata _unused_) {
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "The host-side platform attestation service for VMs: holds a short-lived signing\n"
               "certificate that it renews on every sync with its certificate authority, and signs\n"
               "IMDS-compatible attested documents for the VMs the guest frontends speak for.\n"
               "It serves org.azshci.Attestation1 on the system bus; manage it with azshcictl(1).\n"
               "\n"
               "Options:\n"
               "  -c, --config=FILE      Configuration file (default: %s/attestation.json;\n"
               "                         a missing file means all defaults)\n"
               "  -l, --log-level=LEVEL  debug, info, notice, warning or err (default: info)\n"
               "      --import-key=KEY.pem --import-cert=CERT.pem\n"
               "                         Put a pre-provisioned key and its certificate (plus\n"
               "                         chain) into the keystore and exit; run as the service\n"
               "                         user while the service is stopped. The certificate must\n"
               "                         match the key and be currently valid. With\n"
               "                         \"rotateKeyOnSync\": false, syncs then re-certify this key.\n"
               "  -h, --help             Show this help and exit\n"
               "      --version          Show the version and exit\n"
               "\n"
               "Environment:\n"
               "  DBUS_SYSTEM_BUS_ADDRESS  the bus to serve on instead of the system bus\n"
               "  NOTIFY_SOCKET            where READY=1 is sent once the bus name is taken\n"
               "  LISTEN_FDS, LISTEN_PID   the frontends' direct socket (azshci-attestd.socket);\n"
               "                           without it the service binds \"frontendSocket\"\n"
               "\n"
               "Exit status: 0 on SIGTERM/SIGINT, 1 on any start-up or run-time failure.\n"
               "See docs/configuration.md for every configuration key.\n",
                program_invocation_short_name, PKGSYSCONFDIR);
}

static int parse_argv(int argc, char *argv[], Arguments *args) {
        enum { ARG_IMPORT_KEY = 0x100, ARG_IMPORT_CERT };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"import-key", required_argument, NULL, ARG_IMPORT_KEY},
                {"import-cert", required_argument, NULL, ARG_IMPORT_CERT},
                DAEMON_OPTIONS,
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "c:l:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        args->config = optarg;
                        break;
                case ARG_IMPORT_KEY:
                        args->import_key = optarg;
                        break;
                case ARG_IMPORT_CERT:
                        args->import_cert = optarg;
                        break;
                default:
                        r = daemon_option(c, "azshci-attestd", help, NULL);
                        if (r <= 0)
                                return r;
                }

        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no positional arguments.",
                        program_invocation_short_name);
        if (!args->import_key != !args->import_cert)
                return log_error_errno(-EINVAL, "--import-key and --import-cert go together.");
        return 1;
}

/* The documented import path for a pre-provisioned key (e.g. one a CA has certified out of
 * band): checked like any certificate an issuer returns, then stored atomically. */
static int run_import(const Arguments *args) {
        _cleanup_(keystore_freep) Keystore *ks = NULL;
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        _cleanup_free_ char *error = NULL, *dir = NULL, *key_pem = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(config_done) Config config = {};
        size_t key_size = 0;
        char buf[32];
        int r;

        config_init(&config);
        r = config_load(&config, args->config ?: PKGSYSCONFDIR "/attestation.json", true, &error);
        if (r < 0)
                return log_error_errno(r, "Invalid configuration: %s", strna(error));

        if (asprintf(&dir, "%s/keystore", config.state_directory) < 0)
                return log_oom();
        r = keystore_file_open(dir, &ks);
        if (r == -EPERM)
                return log_error_errno(r,
                        "The keystore %s belongs to another user: run this as the service user.", dir);
        if (r < 0)
                return log_error_errno(r, "Failed to open the keystore %s: %m", dir);

        /* Check before anything is stored, so that a bad import leaves the keystore as it was. */
        r = read_full_file(args->import_key, 1024 * 1024, &key_pem, &key_size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", args->import_key);
        r = pem_decode_private_key(key_pem, key_size, &key);
        explicit_bzero(key_pem, key_size);
        if (r < 0)
                return log_error_errno(r, "%s holds no readable unencrypted PEM private key.",
                        args->import_key);
        r = pem_read_certificates_file(args->import_cert, &certs, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %s", args->import_cert, strna(error));
        r = certificate_check_acceptable(sk_X509_value(certs, 0), key, config.certificate_max_validity_days,
                time(NULL), &error);
        if (r < 0)
                return log_error_errno(r, "Refusing to import %s: %s", args->import_cert, strna(error));

        r = keystore_import(ks, args->import_key, args->import_cert, &error);
        if (r < 0)
                return log_error_errno(r, "Import failed: %s", error ?: strerror(-r));

        r = keystore_load(ks, &id);
        if (r < 0)
                return log_error_errno(r, "Failed to read back the imported key: %m");

        printf("Imported %s: certificate valid until %s.\n", args->import_cert,
                format_timestamp_utc(buf, sizeof buf, id->not_after));
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Arguments args = {};
        int r;

        log_set_program_name(program_invocation_short_name);

        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r;

        /* Group and others never get write access to what we create; secrets are created 0600. */
        umask(0022);

        /* Big buffers (a 10,000-VM GetManagedObjects reply, the state file) from mmap(), given back
         * when freed: a fixed threshold turns glibc's dynamic one off, which after the first big
         * free() serves the next ones from the heap, where sd-bus growing a reply by realloc()
         * copies it and leaves holes behind (docs/hardening.md, "Memory"). */
        (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);

        /* The memory holds private keys: no core dump, no ptrace or /proc/PID/mem for other
         * processes of the service user (docs/trust-model.md, "Keys at rest"). */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to make the process non-dumpable: %m");

        if (args.import_key)
                return run_import(&args);

        r = manager_new(args.config, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the service: %m");

        r = manager_load(m);
        if (r < 0)
                return r;

        r = manager_connect_bus(m);
        if (r < 0)
                return r;

        r = manager_direct_init(m);
        if (r < 0)
                return r;

        r = manager_inventory_init(m);
        if (r < 0)
                return r;

        return manager_run(m);
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
