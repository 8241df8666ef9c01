/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>

#include "log.h"
#include "mhd-dlopen.h"
#include "mhd-event.h"
#include "time-util.h"

struct MhdEvent {
        struct MHD_Daemon *daemon;
        sd_event_source *io, *timer, *again;
        const char *name;
};

void mhd_event_run(MhdEvent *m) {
        MHD_UNSIGNED_LONG_LONG timeout;

        assert(m);

        if (sym_MHD_run(m->daemon) != MHD_YES)
                log_debug("%s%sMHD_run() failed.", strempty(m->name), m->name ? ": " : "");
        if (sym_MHD_get_timeout(m->daemon, &timeout) != MHD_YES)
                (void)sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
        else if (timeout == 0)
                /* A resumed connection is ready: run again in this iteration of the loop, without
                 * touching the timer (re-arming a timerfd is a syscall, twice per request). */
                (void)sd_event_source_set_enabled(m->again, SD_EVENT_ONESHOT);
        else {
                /* A connection timeout (seconds away): a quarter of it, at most 250 ms, is precise
                 * enough, and lets sd-event keep its timerfd armed instead of re-arming it after
                 * every request, as an exact deadline that moves with each one would. */
                (void)sd_event_source_set_time_accuracy(m->timer,
                        MIN((uint64_t)timeout * USEC_PER_MSEC / 4, 250 * USEC_PER_MSEC));
                (void)sd_event_source_set_time_relative(m->timer, (uint64_t)timeout * USEC_PER_MSEC);
                (void)sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
        }
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        mhd_event_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        mhd_event_run(userdata);
        return 0;
}

static int on_again(sd_event_source *es, void *userdata) {
        mhd_event_run(userdata);
        return 0;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        MhdEvent *m = cls;
        char buf[512];

        (void)vsnprintf(buf, sizeof buf, fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("%s%slibmicrohttpd: %s", strempty(m->name), m->name ? ": " : "", buf);
}

static int add_sources(MhdEvent *m, sd_event *event) {
        const union MHD_DaemonInfo *info;
        int r;

        info = sym_MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        r = sd_event_add_io(event, &m->io, info->epoll_fd, EPOLLIN, on_io, m);
        if (r < 0)
                return r;
        /* MHD_get_timeout() after every MHD_run(): 0 ms runs MHD again through the defer source,
         * anything else through the timer (mhd_event_run()). */
        r = sd_event_add_time_relative(event, &m->timer, CLOCK_MONOTONIC, 0, 0, on_timer, m);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
        r = sd_event_add_defer(event, &m->again, on_again, m);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(m->again, SD_EVENT_OFF);
        if (m->name) {
                (void)sd_event_source_set_description(m->io, m->name);
                (void)sd_event_source_set_description(m->timer, m->name);
                (void)sd_event_source_set_description(m->again, m->name);
        }
        return 0;
}

int mhd_event_new(sd_event *event, int listen_fd, unsigned flags, MHD_AccessHandlerCallback handler,
        void *handler_cls, const struct MHD_OptionItem *options, const char *name, MhdEvent **ret) {
        _cleanup_(mhd_event_freep) MhdEvent *m = NULL;
        static const struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
        int r;

        assert(event);
        assert(handler);
        assert(ret);

        r = dlopen_libmicrohttpd();
        if (r < 0) {
                safe_close(listen_fd);
                return r;
        }
        m = calloc(1, sizeof(MhdEvent));
        if (!m) {
                safe_close(listen_fd);
                return -ENOMEM;
        }
        m->name = name;

        flags |= MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        if (listen_fd < 0)
                flags |= MHD_USE_NO_LISTEN_SOCKET;
        /* MHD owns listen_fd from sym_MHD_start_daemon() on, also when it fails: libmicrohttpd 1.0
         * closes it on every failure path (its commit bfa7c5a1, "fixed leaked listen socket when
         * daemon start failed"); 0.9.75 (Debian 12) closes it on most and leaks it on a few (its
         * epoll set cannot be set up, say). So it is never closed here after the call: that
         * would close it a second time on the paths that did, maybe as an fd another thread has
         * just been given. */
        if (listen_fd >= 0)
                m->daemon = sym_MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                        MHD_OPTION_ARRAY, options ?: none, MHD_OPTION_END);
        else
                m->daemon = sym_MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m, MHD_OPTION_ARRAY, options ?: none,
                        MHD_OPTION_END);
        if (!m->daemon)
                return -EIO;

        r = add_sources(m, event);
        if (r < 0)
                return r;
        mhd_event_run(m);

        *ret = TAKE_PTR(m);
        return 0;
}

MhdEvent *mhd_event_free(MhdEvent *m) {
        if (!m)
                return NULL;
        /* The sources first (as systemd does): the io source watches MHD's epoll fd, which
         * sym_MHD_stop_daemon() closes. */
        sd_event_source_disable_unref(m->io);
        sd_event_source_disable_unref(m->timer);
        sd_event_source_disable_unref(m->again);
        if (m->daemon)
                sym_MHD_stop_daemon(m->daemon);
        return mfree(m);
}

struct MHD_Daemon *mhd_event_daemon(MhdEvent *m) {
        assert(m);
        return m->daemon;
}
