/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

/* libvirt's event loop on sd-event: registers an event implementation (virEventRegisterImpl)
 * whose handles are sd-event I/O sources and whose timeouts are sd-event timer sources, the
 * way libvirt-glib and libvirt-dbus bridge libvirt into a GLib main loop. libvirt's callbacks
 * then run on the loop's thread like everything else; there is no second thread and no poll.
 *
 * libvirt's event API is process-wide and its callbacks carry no user data, so the loop is
 * registered once per process (before the first virConnectOpen*) and stays registered: a
 * second call with the same loop is a no-op, with another loop -EBUSY. */

int virt_event_register(sd_event *event);

/* Runs the free callbacks of the handles and timeouts libvirt removed and the loop has not
 * released yet: for the end of the process, after the last connection is closed, when the loop
 * will not run again. */
void virt_event_release_pending(void);

/* How many handles and timeouts libvirt has registered and not removed (for tests). */
unsigned virt_event_n_handles(void);
unsigned virt_event_n_timeouts(void);
