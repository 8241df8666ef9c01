/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <curl/curl.h>
#include "dlopen-util.h"

/* libcurl, loaded by the programs that speak HTTP to a store only when they are configured to
 * (dlopen-util.h). */

#define CURL_SONAME "libcurl.so.4"

DLSYM_PROTOTYPE(curl_easy_cleanup);
DLSYM_PROTOTYPE(curl_easy_getinfo);
DLSYM_PROTOTYPE(curl_easy_init);
DLSYM_PROTOTYPE(curl_easy_reset);
DLSYM_PROTOTYPE(curl_easy_setopt);
DLSYM_PROTOTYPE(curl_easy_strerror);
DLSYM_PROTOTYPE(curl_multi_add_handle);
DLSYM_PROTOTYPE(curl_multi_assign);
DLSYM_PROTOTYPE(curl_multi_cleanup);
DLSYM_PROTOTYPE(curl_multi_info_read);
DLSYM_PROTOTYPE(curl_multi_init);
DLSYM_PROTOTYPE(curl_multi_remove_handle);
DLSYM_PROTOTYPE(curl_multi_setopt);
DLSYM_PROTOTYPE(curl_multi_socket_action);
DLSYM_PROTOTYPE(curl_slist_append);
DLSYM_PROTOTYPE(curl_slist_free_all);

/* Loads libcurl.so.4 once and resolves the symbols above; -EOPNOTSUPP, logged with the file's name,
 * when it is not installed. */
int dlopen_curl(void);
