/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"
#include "time-util.h"

/* Asynchronous polkit authorization of a method call, in the manner of systemd's
 * bus-polkit.c: the caller's message is parked while org.freedesktop.PolicyKit1 answers
 * CheckAuthorization for a "system-bus-name" subject, and the continuation runs once it says
 * yes. Callers with uid 0 or the service's own uid pass without asking. No polkit on the bus
 * means denied. The message's ALLOW_INTERACTIVE_AUTHORIZATION flag decides whether polkit may
 * ask the user (through an agent).
 *
 * Each pending check gets its own cancellation id and watches its caller: when the caller
 * leaves the bus the check is cancelled (CancelCheckAuthorization) and dropped, the
 * continuation never runs. Pending checks are limited per user and in total (every one holds
 * one of the pending replies dbus-daemon allows the service's connection). */

/* How long polkit may take: a non-interactive check is the rules engine only; an interactive
 * one waits for a person at an agent, longer than azshcictl waits (10 min) for such a call. */
#define POLKIT_TIMEOUT_USEC             (120 * USEC_PER_SEC)
#define POLKIT_TIMEOUT_INTERACTIVE_USEC (11 * USEC_PER_MINUTE)

/* Pending checks at once, for one uid and for everybody (dbus-daemon's default cap on the
 * replies one connection may be waiting for is 128). */
#define POLKIT_QUERIES_PER_CALLER_MAX 4U
#define POLKIT_QUERIES_MAX            64U

/* Runs once the caller is authorized. It must reply to m, or return a negative errno with
 * error set (then the error is sent as the reply). The message is rewound first, so it can
 * read its arguments again. */
typedef int (*polkit_continuation_t)(sd_bus_message *m, void *userdata, sd_bus_error *error);

typedef struct PolkitRegistry PolkitRegistry;

int polkit_registry_new(PolkitRegistry **ret);
/* Drops every pending query without replying (used at shutdown). */
PolkitRegistry *polkit_registry_free(PolkitRegistry *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitRegistry *, polkit_registry_free);

/* The timeout of the CheckAuthorization call. */
usec_t polkit_check_timeout_usec(bool interactive);
/* Sets error to the denial a failed CheckAuthorization (error name and message) means for
 * action: a timeout says that nobody authorized in time. Returns a negative errno. */
int polkit_check_failed(const char *name, const char *message, const char *action, sd_bus_error *error);
/* 0 when one more check may start, given those pending in total and for this caller; else
 * sets error to LimitsExceeded and returns a negative errno. */
int polkit_admit(size_t pending_total, size_t pending_caller, sd_bus_error *error);

/* Returns the continuation's result when it ran at once, 1 when the query is pending (the
 * method handler then returns 1: the reply comes later), or a negative errno (error set for
 * the limits: org.freedesktop.DBus.Error.LimitsExceeded). */
int polkit_authorize_async(PolkitRegistry *registry, sd_bus_message *m, const char *action,
        polkit_continuation_t continuation, void *userdata, sd_bus_error *error);
