/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <syslog.h>

#include "curl-dlopen.h"

static void *curl_dl = NULL;

DLSYM_FUNCTION(curl_easy_cleanup);
DLSYM_FUNCTION(curl_easy_getinfo);
DLSYM_FUNCTION(curl_easy_init);
DLSYM_FUNCTION(curl_easy_reset);
DLSYM_FUNCTION(curl_easy_setopt);
DLSYM_FUNCTION(curl_easy_strerror);
DLSYM_FUNCTION(curl_multi_add_handle);
DLSYM_FUNCTION(curl_multi_assign);
DLSYM_FUNCTION(curl_multi_cleanup);
DLSYM_FUNCTION(curl_multi_info_read);
DLSYM_FUNCTION(curl_multi_init);
DLSYM_FUNCTION(curl_multi_remove_handle);
DLSYM_FUNCTION(curl_multi_setopt);
DLSYM_FUNCTION(curl_multi_socket_action);
DLSYM_FUNCTION(curl_slist_append);
DLSYM_FUNCTION(curl_slist_free_all);

int dlopen_curl(void) {
        return dlopen_many_sym_or_warn(&curl_dl, CURL_SONAME, LOG_ERR, DLSYM_ARG(curl_easy_cleanup),
                DLSYM_ARG(curl_easy_getinfo), DLSYM_ARG(curl_easy_init), DLSYM_ARG(curl_easy_reset),
                DLSYM_ARG(curl_easy_setopt), DLSYM_ARG(curl_easy_strerror), DLSYM_ARG(curl_multi_add_handle),
                DLSYM_ARG(curl_multi_assign), DLSYM_ARG(curl_multi_cleanup), DLSYM_ARG(curl_multi_info_read),
                DLSYM_ARG(curl_multi_init), DLSYM_ARG(curl_multi_remove_handle),
                DLSYM_ARG(curl_multi_setopt), DLSYM_ARG(curl_multi_socket_action),
                DLSYM_ARG(curl_slist_append), DLSYM_ARG(curl_slist_free_all));
}
