/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libvirt/libvirt.h>
#include <sys/epoll.h>

#include "log.h"
#include "macro.h"
#include "time-util.h"
#include "virt-dlopen.h"
#include "virt-event.h"

/* One libvirt handle or timeout. libvirt names it by an int it got from us (watch/timer);
 * removing it must not call its free callback synchronously (the caller may hold the lock
 * that callback takes), so the record lives on until a deferred source runs the callback. */
typedef struct VirtEventSource {
        int id;
        bool is_timeout;
        int fd;        /* handles */
        int events;    /* handles: VIR_EVENT_HANDLE_* libvirt asked for */
        int frequency; /* timeouts: -1 off, 0 every iteration, else milliseconds */
        union {
                virEventHandleCallback handle_cb;
                virEventTimeoutCallback timeout_cb;
        };
        void *opaque;
        virFreeCallback ff;
        sd_event_source *source;
        bool removed;             /* by libvirt: the free callback is pending */
        sd_event_source *release; /* the deferred free, NULL when the loop has finished */
        struct VirtEventSource *next;
} VirtEventSource;

/* libvirt's event callbacks have no user data: the registered loop and its sources are the one
 * piece of process-wide state this file needs. Only the loop's thread touches it. */
static struct {
        sd_event *event;
        VirtEventSource *sources;
        int last_id;
        unsigned n_handles, n_timeouts;
} loop;

static VirtEventSource *find_source(int id, bool is_timeout) {
        for (VirtEventSource *s = loop.sources; s; s = s->next)
                if (s->id == id && s->is_timeout == is_timeout && !s->removed)
                        return s;
        return NULL;
}

static uint32_t events_to_epoll(int events) {
        return (events & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) |
               (events & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0);
}

static int epoll_to_events(uint32_t revents) {
        return (revents & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
               (revents & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
               (revents & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) |
               (revents & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static int on_handle(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VirtEventSource *s = userdata;

        (void)source;
        s->handle_cb(s->id, fd, epoll_to_events(revents), s->opaque);
        return 0;
}

static int handle_apply(VirtEventSource *s) {
        int r;

        /* A handle that asks for nothing is switched off: epoll would still report errors and
         * hangups on it, which libvirt's own loop does not deliver for it either. */
        if (s->events == 0)
                return sd_event_source_set_enabled(s->source, SD_EVENT_OFF);
        r = sd_event_source_set_io_events(s->source, events_to_epoll(s->events));
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->source, SD_EVENT_ON);
}

static int timeout_arm(VirtEventSource *s) {
        usec_t now;
        int r;

        if (s->frequency < 0)
                return sd_event_source_set_enabled(s->source, SD_EVENT_OFF);
        r = sd_event_now(loop.event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        r = sd_event_source_set_time(s->source, now + (usec_t)s->frequency * USEC_PER_MSEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->source, SD_EVENT_ONESHOT);
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        VirtEventSource *s = userdata;

        (void)source;
        (void)usec;
        /* Periodic: armed again before the callback, which may change or remove it. */
        (void)timeout_arm(s);
        s->timeout_cb(s->id, s->opaque);
        return 0;
}

static VirtEventSource *source_new(bool is_timeout, void *opaque, virFreeCallback ff) {
        VirtEventSource *s;

        s = calloc(1, sizeof(VirtEventSource));
        if (!s)
                return NULL;
        s->is_timeout = is_timeout;
        s->fd = -EBADF;
        s->opaque = opaque;
        s->ff = ff;
        return s;
}

static void source_link(VirtEventSource *s) {
        /* Ids are never reused: libvirt may still name an old one in a late remove. */
        s->id = ++loop.last_id;
        s->next = loop.sources;
        loop.sources = s;
        if (s->is_timeout)
                loop.n_timeouts++;
        else
                loop.n_handles++;
}

/* The end of adding s: r is sd-event's answer. On an error s is dropped (-1 for libvirt); else
 * it is named, listed and its id returned. */
static int source_added(VirtEventSource *s, int r, const char *description) {
        if (r < 0) {
                sd_event_source_disable_unref(s->source);
                free(s);
                return -1;
        }
        (void)sd_event_source_set_description(s->source, description);
        source_link(s);
        return s->id;
}

static void source_unlink(VirtEventSource *s) {
        for (VirtEventSource **p = &loop.sources; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        return;
                }
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        VirtEventSource *s;
        int r;

        if (!loop.event || fd < 0 || !cb)
                return -1;
        s = source_new(false, opaque, ff);
        if (!s)
                return -1;
        s->fd = fd;
        s->events = events;
        s->handle_cb = cb;
        r = sd_event_add_io(loop.event, &s->source, fd, events_to_epoll(events), on_handle, s);
        if (r >= 0)
                r = handle_apply(s);
        if (r < 0)
                log_error_errno(r, "libvirt event loop: cannot watch fd %d: %m", fd);
        return source_added(s, r, "libvirt-handle");
}

static void update_handle(int watch, int events) {
        VirtEventSource *s = find_source(watch, false);
        int r;

        if (!s)
                return;
        s->events = events;
        r = handle_apply(s);
        if (r < 0)
                log_error_errno(r, "libvirt event loop: cannot update handle %d: %m", watch);
}

static int on_release(sd_event_source *source, void *userdata) {
        VirtEventSource *s = userdata;

        (void)source;
        if (s->ff)
                s->ff(s->opaque);
        source_unlink(s);
        sd_event_source_disable_unref(s->release);
        free(s);
        return 0;
}

static int source_remove(VirtEventSource *s) {
        int r;

        s->source = sd_event_source_disable_unref(s->source);
        s->removed = true;
        r = sd_event_add_defer(loop.event, &s->release, on_release, s);
        if (r < 0) {
                /* The loop has finished (the service is stopping) or memory ran out: the free
                 * callback waits for virt_event_release_pending(), never runs under libvirt's
                 * lock. */
                if (r != -ESTALE)
                        log_error_errno(r, "libvirt event loop: cannot defer releasing source %d: %m",
                                s->id);
                s->release = NULL;
        }
        if (s->is_timeout)
                loop.n_timeouts--;
        else
                loop.n_handles--;
        return 0;
}

static int remove_handle(int watch) {
        VirtEventSource *s = find_source(watch, false);

        if (!s)
                return -1;
        return source_remove(s);
}

static int add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        VirtEventSource *s;
        int r;

        if (!loop.event || !cb)
                return -1;
        s = source_new(true, opaque, ff);
        if (!s)
                return -1;
        s->frequency = frequency;
        s->timeout_cb = cb;
        r = sd_event_add_time(loop.event, &s->source, CLOCK_MONOTONIC, 0, 1, on_timeout, s);
        if (r >= 0)
                r = timeout_arm(s);
        if (r < 0)
                log_error_errno(r, "libvirt event loop: cannot add a timeout: %m");
        return source_added(s, r, "libvirt-timeout");
}

static void update_timeout(int timer, int frequency) {
        VirtEventSource *s = find_source(timer, true);
        int r;

        if (!s)
                return;
        s->frequency = frequency;
        r = timeout_arm(s);
        if (r < 0)
                log_error_errno(r, "libvirt event loop: cannot update timeout %d: %m", timer);
}

static int remove_timeout(int timer) {
        VirtEventSource *s = find_source(timer, true);

        if (!s)
                return -1;
        return source_remove(s);
}

int virt_event_register(sd_event *event) {
        int r;

        assert(event);

        r = dlopen_libvirt();
        if (r < 0)
                return r;
        if (loop.event)
                return loop.event == event ? 0 : -EBUSY;
        loop.event = sd_event_ref(event);
        sym_virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout,
                remove_timeout);
        return 0;
}

void virt_event_release_pending(void) {
        VirtEventSource *next;

        for (VirtEventSource *s = loop.sources; s; s = next) {
                next = s->next;
                if (s->removed)
                        on_release(s->release, s);
        }
}

unsigned virt_event_n_handles(void) {
        return loop.n_handles;
}

unsigned virt_event_n_timeouts(void) {
        return loop.n_timeouts;
}
