/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/epoll.h>

#include "curl-dlopen.h"
#include "curl-event.h"

typedef struct Transfer {
        CurlEvent *owner;
        CURL *easy;
        curl_event_done_t done;
        void *userdata;
        struct Transfer *next, *prev;
} Transfer;

struct CurlEvent {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        Transfer *transfers; /* every transfer in progress, for curl_event_free() */
};

static void transfer_unlink(CurlEvent *ce, Transfer *t) {
        LIST_REMOVE(ce->transfers, t);
}

/* Takes every finished transfer out of the multi handle and calls it back. */
static void curl_event_check_done(CurlEvent *ce) {
        CURLMsg *msg;
        int left;

        while ((msg = sym_curl_multi_info_read(ce->multi, &left))) {
                Transfer *t = NULL;
                CURL *easy;
                CURLcode result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                easy = msg->easy_handle;
                result = msg->data.result;
                (void)sym_curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
                (void)sym_curl_multi_remove_handle(ce->multi, easy);
                (void)sym_curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                if (!t)
                        continue;
                transfer_unlink(ce, t);
                curl_event_done_t done = t->done;
                void *userdata = t->userdata;
                free(t);
                done(ce, easy, result, userdata);
        }
}

static void curl_event_action(CurlEvent *ce, curl_socket_t fd, int flags) {
        int running;

        (void)sym_curl_multi_socket_action(ce->multi, fd, flags, &running);
        curl_event_check_done(ce);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CurlEvent *ce = userdata;
        int flags = 0;

        if (revents & (EPOLLIN | EPOLLPRI))
                flags |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
        curl_event_action(ce, fd, flags);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        curl_event_action(userdata, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlEvent *ce = userp;
        sd_event_source *s = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        (void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
                        sd_event_source_unref(s);
                        (void)sym_curl_multi_assign(ce->multi, fd, NULL);
                }
                return 0;
        }

        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        if (s) {
                r = sd_event_source_set_io_events(s, events);
                if (r < 0)
                        return -1;
                return sd_event_source_set_enabled(s, SD_EVENT_ON) < 0 ? -1 : 0;
        }

        r = sd_event_add_io(ce->event, &s, fd, events, on_io, ce);
        if (r < 0)
                return -1;
        (void)sd_event_source_set_description(s, "curl-io");
        if (sym_curl_multi_assign(ce->multi, fd, s) != CURLM_OK) {
                sd_event_source_unref(s);
                return -1;
        }
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        CurlEvent *ce = userp;
        uint64_t now;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(ce->timer, SD_EVENT_OFF) < 0 ? -1 : 0;

        if (sd_event_now(ce->event, CLOCK_MONOTONIC, &now) < 0)
                return -1;
        if (sd_event_source_set_time(ce->timer, now + (uint64_t)timeout_ms * 1000) < 0)
                return -1;
        return sd_event_source_set_enabled(ce->timer, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

int curl_event_new(sd_event *event, CurlEvent **ret) {
        CurlEvent *ce;
        int r;

        assert(event);
        assert(ret);

        r = dlopen_curl();
        if (r < 0)
                return r;
        ce = calloc(1, sizeof(*ce));
        if (!ce)
                return -ENOMEM;
        ce->event = sd_event_ref(event);

        ce->multi = sym_curl_multi_init();
        if (!ce->multi) {
                curl_event_free(ce);
                return -ENOMEM;
        }

        r = sd_event_add_time(event, &ce->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, ce);
        if (r < 0) {
                curl_event_free(ce);
                return r;
        }
        (void)sd_event_source_set_description(ce->timer, "curl-timer");
        (void)sd_event_source_set_enabled(ce->timer, SD_EVENT_OFF);

        if (sym_curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
                sym_curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce) != CURLM_OK ||
                sym_curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
                sym_curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce) != CURLM_OK) {
                curl_event_free(ce);
                return -EIO;
        }

        *ret = ce;
        return 0;
}

CurlEvent *curl_event_free(CurlEvent *ce) {
        if (!ce)
                return NULL;

        while (ce->transfers) {
                Transfer *t = ce->transfers;
                CURL *easy = t->easy;

                (void)curl_event_remove(ce, easy);
                sym_curl_easy_cleanup(easy);
        }
        if (ce->multi)
                sym_curl_multi_cleanup(ce->multi); /* removes the io sources through socket_cb */
        sd_event_source_disable_unref(ce->timer);
        sd_event_unref(ce->event);
        free(ce);
        return NULL;
}

int curl_event_add(CurlEvent *ce, CURL *easy, curl_event_done_t done, void *userdata) {
        Transfer *t;

        assert(ce);
        assert(easy);
        assert(done);

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (Transfer){.owner = ce, .easy = easy, .done = done, .userdata = userdata};

        if (sym_curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK) {
                free(t);
                return -EIO;
        }
        if (sym_curl_multi_add_handle(ce->multi, easy) != CURLM_OK) {
                (void)sym_curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                return -EIO;
        }

        LIST_PREPEND(ce->transfers, t);
        return 0;
}

int curl_event_remove(CurlEvent *ce, CURL *easy) {
        Transfer *t = NULL;

        assert(ce);
        assert(easy);

        (void)sym_curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        if (!t || t->owner != ce)
                return -ENOENT;

        transfer_unlink(ce, t);
        free(t);
        (void)sym_curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        (void)sym_curl_multi_remove_handle(ce->multi, easy);
        return 0;
}
