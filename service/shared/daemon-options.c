/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include "build-config.h"
#include "daemon-options.h"
#include "log.h"

int daemon_option(int c, const char *program, void (*help)(const void *userdata), const void *userdata) {
        int r;

        assert(program);
        assert(help);

        switch (c) {
        case 'l':
                r = log_set_max_level_from_string(optarg);
                return r < 0 ? r : 1;
        case 'h':
                help(userdata);
                return 0;
        case ARG_DAEMON_VERSION:
                printf("%s %s\n", program, PACKAGE_VERSION);
                return 0;
        default:
                return -EINVAL;
        }
}
