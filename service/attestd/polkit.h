/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

/* Asynchronous polkit authorization of a method call, in the manner of systemd's
 * bus-polkit.c: the caller's message is parked while org.freedesktop.PolicyKit1 answers
 * CheckAuthorization for a "system-bus-name" subject, and the continuation runs once it says
 * yes. Callers with uid 0 or the service's own uid pass without asking. No polkit on the bus
 * means denied. The message's ALLOW_INTERACTIVE_AUTHORIZATION flag decides whether polkit may
 * ask the user (through an agent). */

/* Runs once the caller is authorized. It must reply to m, or return a negative errno with
 * error set (then the error is sent as the reply). The message is rewound first, so it can
 * read its arguments again. */
typedef int (*polkit_continuation_t)(sd_bus_message *m, void *userdata, sd_bus_error *error);

typedef struct PolkitRegistry PolkitRegistry;

int polkit_registry_new(PolkitRegistry **ret);
/* Drops every pending query without replying (used at shutdown). */
PolkitRegistry *polkit_registry_free(PolkitRegistry *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitRegistry *, polkit_registry_free);

/* Returns the continuation's result when it ran at once, 1 when the query is pending (the
 * method handler then returns 1: the reply comes later), or a negative errno. */
int polkit_authorize_async(PolkitRegistry *registry, sd_bus_message *m, const char *action,
        polkit_continuation_t continuation, void *userdata, sd_bus_error *error);
