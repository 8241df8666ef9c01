/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <microhttpd.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* A libmicrohttpd daemon driven by an sd-event loop, with no MHD threads: MHD's epoll fd is an
 * sd-event io source, a timer follows MHD_get_timeout() after every MHD_run(), and a timeout of
 * 0 ms (a resumed connection is ready) runs MHD again through a defer source. The caller keeps
 * its request handling (the access handler and the options it passes); this module owns the
 * daemon's start, the loop's sources and the teardown. */

typedef struct MhdEvent MhdEvent;

/* Starts the daemon with flags | MHD_USE_EPOLL | MHD_USE_ERROR_LOG and runs it once.
 * listen_fd: the socket to accept on, or < 0 for none (MHD_USE_NO_LISTEN_SOCKET: connections
 * come through MHD_add_connection()). listen_fd belongs to this call from here on, on success
 * and on failure alike: never close it after calling (see mhd-event.c). options: more MHD
 * options (MHD_OPTION_ARRAY items up to MHD_OPTION_END), or NULL. name (may be NULL) prefixes
 * libmicrohttpd's messages, logged at debug level, and describes the event sources; it must
 * outlive the daemon. Returns -EIO when MHD cannot start. */
int mhd_event_new(sd_event *event, int listen_fd, unsigned flags, MHD_AccessHandlerCallback handler,
        void *handler_cls, const struct MHD_OptionItem *options, const char *name, MhdEvent **ret);
/* Disables the sources first (the io source watches the epoll fd MHD_stop_daemon() closes),
 * then stops the daemon. The caller resumes any suspended connection before. */
MhdEvent *mhd_event_free(MhdEvent *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(MhdEvent *, mhd_event_free);

struct MHD_Daemon *mhd_event_daemon(MhdEvent *m);

/* Runs MHD now and re-arms the timer from MHD_get_timeout(): after MHD_resume_connection() or
 * MHD_add_connection(), which MHD does not notice on its own until the next event. */
void mhd_event_run(MhdEvent *m);
