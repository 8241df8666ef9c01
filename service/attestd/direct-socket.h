/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* The frontends' direct line to the service: a UNIX stream socket on which every accepted
 * connection is a peer-to-peer D-Bus connection (no dbus-daemon in between) that serves one
 * vtable. Only root, the service's own user and members of the frontend group may connect:
 * the kernel's SO_PEERCRED/SO_PEERGROUPS say who the peer is, so this is the same rule the
 * bus policy applies to Attest* on the system bus. */

typedef struct DirectSocket DirectSocket;

/* Event loop priorities. Guests wait on the frontends' connections, so these come first, and
 * the system bus (admin calls, inventory readers) after everything else of the service: a
 * GetManagedObjects of 10,000 VMs or a stream of admin calls delays a guest's document by at
 * most the one bus message being handled, never by a queue of them. */
#define FRONTEND_PRIORITY     (SD_EVENT_PRIORITY_NORMAL - 10)
#define FRONTEND_PRIORITY_BUS (SD_EVENT_PRIORITY_NORMAL + 10)

/* How many connections one user may hold: the two frontends (one user) need one each, plus
 * headroom for restarts; beyond it a user's new connections are closed at once, so that a
 * member of the frontend group cannot take the socket away from the frontends. */
#define FRONTEND_CONNECTIONS_PER_UID_MAX 16U

/* Whether a peer with these credentials may use the socket (pure). */
bool direct_socket_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
        uid_t service_uid, gid_t frontend_gid);

/* The listening socket: the one socket activation passed (sd_listen_fds(3)), else a socket
 * bound at path (a stale socket there is replaced; group frontend_gid and mode 0660 when the
 * caller may give it that group, else mode 0666: access is checked per connection anyway). */
int direct_socket_open(const char *path, gid_t frontend_gid, int *ret_fd, bool *ret_inherited);

/* Takes listen_fd (also on failure). frontend_gid may be (gid_t)-1: no group, only root and
 * the service user. vtable is registered at path/interface of every connection. */
int direct_socket_new(sd_event *event, int listen_fd, gid_t frontend_gid, const char *path,
        const char *interface, const sd_bus_vtable *vtable, void *userdata, DirectSocket **ret);
DirectSocket *direct_socket_free(DirectSocket *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(DirectSocket *, direct_socket_free);
