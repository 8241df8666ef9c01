/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <syslog.h>

#include "mhd-dlopen.h"

static void *libmicrohttpd_dl = NULL;

DLSYM_FUNCTION(MHD_add_response_header);
DLSYM_FUNCTION(MHD_create_response_from_buffer);
DLSYM_FUNCTION(MHD_destroy_response);
DLSYM_FUNCTION(MHD_get_daemon_info);
DLSYM_FUNCTION(MHD_get_timeout);
DLSYM_FUNCTION(MHD_lookup_connection_value);
DLSYM_FUNCTION(MHD_queue_response);
DLSYM_FUNCTION(MHD_run);
DLSYM_FUNCTION(MHD_start_daemon);
DLSYM_FUNCTION(MHD_stop_daemon);

int dlopen_libmicrohttpd(void) {
        return dlopen_many_sym_or_warn(&libmicrohttpd_dl, LIBMICROHTTPD_SONAME, LOG_ERR,
                DLSYM_ARG(MHD_add_response_header), DLSYM_ARG(MHD_create_response_from_buffer),
                DLSYM_ARG(MHD_destroy_response), DLSYM_ARG(MHD_get_daemon_info), DLSYM_ARG(MHD_get_timeout),
                DLSYM_ARG(MHD_lookup_connection_value), DLSYM_ARG(MHD_queue_response), DLSYM_ARG(MHD_run),
                DLSYM_ARG(MHD_start_daemon), DLSYM_ARG(MHD_stop_daemon));
}
