/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Fault-injection points, for tests that must act at one exact point of the service's work
 * (kill it there, look at its files there). They exist only in the test build of the service,
 * azshci-attestd-fault-injection (built with the tests, never installed; meson defines
 * AZSHCI_FAULT_INJECTION for it alone). In the installed service fault_point() is nothing, so
 * no environment can make it stop.
 *
 * In the test build, reaching the point named by $AZSHCI_FAULT_STOP logs it and stops the whole
 * process with SIGSTOP: the test sees the process stopped (/proc/PID/stat) and then kills or
 * continues it. The points:
 *   sync-stored  a Sync's new key and certificate are in the keystore, the service has not
 *                taken them up yet (manager-attest.c)
 *   libvirt-listed  a reconcile has libvirt's domain list and has not read the domains yet
 *                (inventory-domains.c) */

#if AZSHCI_FAULT_INJECTION
#include <signal.h>
#include <stdlib.h>

#include "log.h"

static inline void fault_point(const char *name) {
        const char *stop = getenv("AZSHCI_FAULT_STOP");

        if (stop && streq(stop, name)) {
                log_notice("Fault injection: stopping at %s.", name);
                (void)raise(SIGSTOP);
        }
}
#else
static inline void fault_point(const char *name) {
}
#endif
