/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <grp.h>

#include "build-config.h"
#include "bus-names.h"
#include "direct-socket.h"
#include "log.h"
#include "manager-bus.h"
#include "manager-direct.h"

/* What the frontends see on their direct connection: the two methods they call for every
 * guest request, with the same handlers (and so the same checks and errors) as on the bus,
 * minus dbus-daemon's two hops. Everything else stays on the bus, under its policy and polkit. */
static const sd_bus_vtable frontend_vtable[] = {
        SD_BUS_VTABLE_START(0),
        MANAGER_ATTEST_METHODS,
        SD_BUS_VTABLE_END,
};

int manager_direct_init(Manager *m) {
        gid_t frontend_gid = (gid_t)-1;
        struct group *g;
        bool inherited;
        int fd, r;

        assert(m);

        errno = 0;
        g = getgrnam(FRONTEND_USER);
        if (g)
                frontend_gid = g->gr_gid;
        else
                log_notice("Group %s does not exist: only root and %s may use the frontend socket.",
                        FRONTEND_USER, SERVICE_USER);

        r = direct_socket_open(m->config.frontend_socket, frontend_gid, &fd, &inherited);
        if (r < 0) {
                log_warning("The frontends will reach the service over the system bus only.");
                return 0;
        }

        r = direct_socket_new(m->event, fd, frontend_gid, BUS_PATH, BUS_INTERFACE, frontend_vtable, m,
                &m->direct_socket);
        if (r < 0)
                return log_error_errno(r, "Failed to serve the frontend socket: %m");

        log_info("Frontends may connect directly on %s.",
                inherited ? "the socket passed by the service manager" : m->config.frontend_socket);
        return 0;
}

void manager_direct_done(Manager *m) {
        assert(m);

        m->direct_socket = direct_socket_free(m->direct_socket);
}
