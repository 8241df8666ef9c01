/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* libcurl's multi interface driven by an sd-event loop: curl's sockets become sd-event io
 * sources and its timeout one timer source (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION),
 * so transfers run on the loop without any blocking call. Callers set up an easy handle as
 * usual (URL, body, write callback), hand it over with curl_event_add() and are called back
 * once when it finished. CURLOPT_PRIVATE belongs to this module. */

typedef struct CurlEvent CurlEvent;

/* Called once per transfer, after the handle left the multi handle; the callback owns easy
 * from then on (it may reuse it with curl_event_add() or free it). */
typedef void (*curl_event_done_t)(CurlEvent *ce, CURL *easy, CURLcode result, void *userdata);

int curl_event_new(sd_event *event, CurlEvent **ret);
/* Aborts the transfers in progress (without calling back) and frees their easy handles. */
CurlEvent *curl_event_free(CurlEvent *ce);
DEFINE_TRIVIAL_CLEANUP_FUNC(CurlEvent *, curl_event_free);

/* Starts a transfer. On success ce owns easy until done is called; on failure the caller
 * keeps it. */
int curl_event_add(CurlEvent *ce, CURL *easy, curl_event_done_t done, void *userdata);
/* Aborts a transfer without calling back; the caller owns easy again. Returns -ENOENT when
 * easy is not a transfer of ce. */
int curl_event_remove(CurlEvent *ce, CURL *easy);

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
