/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <getopt.h>

/* The options the daemons take beside their own: -l/--log-level, -h/--help and --version. A
 * daemon ends its getopt_long() table with DAEMON_OPTIONS, puts "l:h" in its short options
 * (its own long-only values stay below ARG_DAEMON_VERSION) and hands every value it does not
 * handle itself to daemon_option(). */
#define ARG_DAEMON_VERSION 0x7fff
/* clang-format off */
#define DAEMON_OPTIONS                                        \
        {"log-level", required_argument, NULL, 'l'},          \
        {"help", no_argument, NULL, 'h'},                     \
        {"version", no_argument, NULL, ARG_DAEMON_VERSION}
/* clang-format on */

/* Sets the log level (1: go on), shows help(userdata) or "PROGRAM VERSION" (0: exit
 * successfully), or refuses what getopt_long() refused or nobody knows (-EINVAL). */
int daemon_option(int c, const char *program, void (*help)(const void *userdata), const void *userdata);
