/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <microhttpd.h>

#include "dlopen-util.h"

/* libmicrohttpd, loaded at run time (dlopen-util.h) by mhd-event.c and the programs' request
 * handlers: a program that links mhd-event but serves no HTTP (azshci-attestd on every server but
 * the cluster's CA) maps neither it nor GnuTLS and the libraries it pulls in. */

#define LIBMICROHTTPD_SONAME "libmicrohttpd.so.12"

DLSYM_PROTOTYPE(MHD_add_response_header);
DLSYM_PROTOTYPE(MHD_create_response_from_buffer);
DLSYM_PROTOTYPE(MHD_destroy_response);
DLSYM_PROTOTYPE(MHD_get_daemon_info);
DLSYM_PROTOTYPE(MHD_get_timeout);
DLSYM_PROTOTYPE(MHD_lookup_connection_value);
DLSYM_PROTOTYPE(MHD_queue_response);
DLSYM_PROTOTYPE(MHD_run);
DLSYM_PROTOTYPE(MHD_start_daemon);
DLSYM_PROTOTYPE(MHD_stop_daemon);

/* Loads libmicrohttpd.so.12 once and resolves the symbols above; -EOPNOTSUPP, logged with the
 * file's name, when it is not installed. */
int dlopen_libmicrohttpd(void);
