/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libvirt's event loop on sd-event (service/attestd/libvirt/virt-event.c), through libvirt's
 * own public entry points (virEventAddHandle, virEventAddTimeout, ...), which call the
 * registered implementation: handles fire on readiness, timeouts at their period (0: every
 * iteration, -1: never), and free callbacks run later, never inside the remove call. */

#define TEST_PREFIX "/virt-event"

#include <glib.h>
#include <libvirt/libvirt.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "macro.h"
#include "test-util.h"
#include "time-util.h"
#include "virt-event.h"

typedef struct Counts {
        unsigned fired, freed;
        int last_events;
} Counts;

static void on_handle(int watch, int fd, int events, void *opaque) {
        Counts *c = opaque;
        char buf[16];

        (void)watch;
        c->fired++;
        c->last_events = events;
        if (events & VIR_EVENT_HANDLE_READABLE)
                (void)!read(fd, buf, sizeof(buf));
}

static void on_timeout(int timer, void *opaque) {
        Counts *c = opaque;

        (void)timer;
        c->fired++;
}

static void on_free(void *opaque) {
        Counts *c = opaque;
        c->freed++;
}

static void run_iterations(sd_event *e, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                g_assert_cmpint(sd_event_run(e, 0), >=, 0);
}

/* Runs the loop until *counter reaches want, at most for timeout_ms. */
static void run_until(sd_event *e, const unsigned *counter, unsigned want, unsigned timeout_ms) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout_ms * USEC_PER_MSEC;

        while (*counter < want && now_usec(CLOCK_MONOTONIC) < end)
                g_assert_cmpint(sd_event_run(e, 10 * USEC_PER_MSEC), >=, 0);
        g_assert_cmpuint(*counter, >=, want);
}

static sd_event *event;

TEST(handles) {
        Counts c = {};
        int fds[2], watch;

        g_assert_cmpint(pipe(fds), ==, 0);
        watch = virEventAddHandle(fds[0], VIR_EVENT_HANDLE_READABLE, on_handle, &c, on_free);
        g_assert_cmpint(watch, >, 0);
        g_assert_cmpuint(virt_event_n_handles(), ==, 1);

        run_iterations(event, 3);
        g_assert_cmpuint(c.fired, ==, 0);
        g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
        run_until(event, &c.fired, 1, 1000);
        g_assert_cmpint(c.last_events, ==, VIR_EVENT_HANDLE_READABLE);

        /* Asking for nothing: no callback, even with data waiting. */
        virEventUpdateHandle(watch, 0);
        g_assert_cmpint(write(fds[1], "y", 1), ==, 1);
        run_iterations(event, 3);
        g_assert_cmpuint(c.fired, ==, 1);
        virEventUpdateHandle(watch, VIR_EVENT_HANDLE_READABLE);
        run_until(event, &c.fired, 2, 1000);

        /* Removed: the free callback is not called inside the remove, but on the loop. */
        g_assert_cmpint(virEventRemoveHandle(watch), ==, 0);
        g_assert_cmpuint(c.freed, ==, 0);
        g_assert_cmpuint(virt_event_n_handles(), ==, 0);
        g_assert_cmpint(virEventRemoveHandle(watch), ==, -1);
        run_until(event, &c.freed, 1, 1000);
        g_assert_cmpint(write(fds[1], "z", 1), ==, 1);
        run_iterations(event, 3);
        g_assert_cmpuint(c.fired, ==, 2);
        close(fds[0]);
        close(fds[1]);
}

/* A handle that asks for nothing hears nothing, not even a hangup (libvirt's own loop does not
 * deliver it either); asking again delivers it. */
TEST(handle_hangup) {
        Counts c = {};
        int fds[2], watch;

        g_assert_cmpint(pipe(fds), ==, 0);
        watch = virEventAddHandle(fds[0], 0, on_handle, &c, NULL);
        g_assert_cmpint(watch, >, 0);
        close(fds[1]);
        run_iterations(event, 3);
        g_assert_cmpuint(c.fired, ==, 0);
        virEventUpdateHandle(watch, VIR_EVENT_HANDLE_READABLE);
        run_until(event, &c.fired, 1, 1000);
        g_assert_true(c.last_events & VIR_EVENT_HANDLE_HANGUP);
        g_assert_cmpint(virEventRemoveHandle(watch), ==, 0);
        run_iterations(event, 1);
        close(fds[0]);
}

TEST(timeouts) {
        Counts every = {}, periodic = {}, off = {};
        int t0, t50, toff;
        usec_t start;

        t0 = virEventAddTimeout(0, on_timeout, &every, on_free);
        t50 = virEventAddTimeout(50, on_timeout, &periodic, on_free);
        toff = virEventAddTimeout(-1, on_timeout, &off, on_free);
        g_assert_cmpint(t0, >, 0);
        g_assert_cmpint(t50, >, 0);
        g_assert_cmpint(toff, >, 0);
        g_assert_cmpuint(virt_event_n_timeouts(), ==, 3);

        /* 0: every iteration. */
        run_iterations(event, 5);
        g_assert_cmpuint(every.fired, >=, 4);

        /* 50 ms: three periods take at least 100 ms after the first. */
        start = now_usec(CLOCK_MONOTONIC);
        run_until(event, &periodic.fired, 3, 2000);
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - start, >=, 100 * USEC_PER_MSEC);

        /* -1: never, until enabled. */
        g_assert_cmpuint(off.fired, ==, 0);
        virEventUpdateTimeout(toff, 0);
        run_until(event, &off.fired, 1, 1000);
        virEventUpdateTimeout(t0, -1);
        every.fired = 0;
        run_iterations(event, 3);
        g_assert_cmpuint(every.fired, ==, 0);

        g_assert_cmpint(virEventRemoveTimeout(t0), ==, 0);
        g_assert_cmpint(virEventRemoveTimeout(t50), ==, 0);
        g_assert_cmpint(virEventRemoveTimeout(toff), ==, 0);
        g_assert_cmpuint(every.freed + periodic.freed + off.freed, ==, 0);
        g_assert_cmpuint(virt_event_n_timeouts(), ==, 0);
        run_until(event, &off.freed, 1, 1000);
        g_assert_cmpuint(every.freed, ==, 1);
        g_assert_cmpuint(periodic.freed, ==, 1);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(sd_event_new(&event), >=, 0);
        g_assert_cmpint(virt_event_register(event), ==, 0);
        g_assert_cmpint(virt_event_register(event), ==, 0);
        test_add_registered();
        return g_test_run();
}
