/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>

#include "build-config.h"
#include "log.h"
#include "manager.h"

static void help(void) {
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
               "  -h, --help             Show this help and exit\n"
               "      --version          Show the version and exit\n"
               "\n"
               "Environment:\n"
               "  DBUS_SYSTEM_BUS_ADDRESS  the bus to serve on instead of the system bus\n"
               "  NOTIFY_SOCKET            where READY=1 is sent once the bus name is taken\n"
               "\n"
               "Exit status: 0 on SIGTERM/SIGINT, 1 on any start-up or run-time failure.\n"
               "See docs/configuration.md for every configuration key.\n",
                program_invocation_short_name, PKGSYSCONFDIR);
}

static int parse_log_level(const char *s) {
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "debug", LOG_DEBUG },     { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "err", LOG_ERR },   { "error", LOG_ERR },
        };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (streq(levels[i].name, s))
                        return levels[i].level;
        return -EINVAL;
}

static int parse_argv(int argc, char *argv[], const char **ret_config) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "log-level", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c, level;

        while ((c = getopt_long(argc, argv, "c:l:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        *ret_config = optarg;
                        break;
                case 'l':
                        level = parse_log_level(optarg);
                        if (level < 0)
                                return log_error_errno(level, "Unknown log level '%s'.", optarg);
                        log_set_max_level(level);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("azshci-attestd %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }

        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no positional arguments.", program_invocation_short_name);
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *config = NULL;
        int r;

        log_set_program_name(program_invocation_short_name);

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r;

        /* Group and others never get write access to what we create; secrets are created 0600. */
        umask(0022);

        r = manager_new(config, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the service: %m");

        r = manager_load(m);
        if (r < 0)
                return r;

        r = manager_connect_bus(m);
        if (r < 0)
                return r;

        return manager_run(m);
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
