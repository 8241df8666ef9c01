/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "direct-socket.h"
#include "log.h"
#include "time-util.h"

/* Two frontends each hold one connection; the headroom is for restarts overlapping, tools and
 * users each at their own limit (FRONTEND_CONNECTIONS_PER_UID_MAX). Beyond it the socket stops
 * accepting until a connection closes. */
#define FRONTEND_CONNECTIONS_MAX 256U

typedef struct FrontendConnection FrontendConnection;

struct FrontendConnection {
        DirectSocket *server;
        sd_bus *bus;
        sd_event_source *auth_source;  /* watches for the end of authentication */
        sd_event_source *drain_source; /* then processes what came along with it */
        pid_t pid;
        uid_t uid;
        FrontendConnection *prev, *next;
};

struct DirectSocket {
        sd_event *event;
        sd_event_source *listen_source;
        sd_event_source *retry_source; /* re-enables accepting after accept() failed */
        usec_t refusals_logged_at;     /* CLOCK_MONOTONIC */
        unsigned refusals_not_logged;
        sd_id128_t id;
        uid_t service_uid;
        gid_t frontend_gid;
        const char *path, *interface;
        const sd_bus_vtable *vtable;
        void *userdata;
        FrontendConnection *connections;
        size_t n_connections;
};

bool direct_socket_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
        uid_t service_uid, gid_t frontend_gid) {
        assert(groups || n_groups == 0);

        if (uid == 0 || uid == service_uid)
                return true;
        if (frontend_gid == (gid_t)-1)
                return false;
        if (gid == frontend_gid)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == frontend_gid)
                        return true;
        return false;
}

/* The peer's supplementary groups, as the kernel recorded them at connect(). */
static int peer_groups(int fd, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        socklen_t len = 16 * sizeof(gid_t);

        for (;;) {
                free(groups);
                groups = malloc(len ?: sizeof(gid_t));
                if (!groups)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) >= 0)
                        break;
                if (errno != ERANGE)
                        return -errno;
                /* len now holds the size needed. */
        }
        *ret_n = len / sizeof(gid_t);
        *ret = TAKE_PTR(groups);
        return 0;
}

int direct_socket_open(const char *path, gid_t frontend_gid, int *ret_fd, bool *ret_inherited) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;
        int n, flags;

        assert(ret_fd);
        assert(ret_inherited);

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Invalid socket activation environment: %m");
        if (n > 1)
                return log_error_errno(-EINVAL, "Got %d sockets from the service manager, expected one.", n);
        if (n == 1) {
                fd = SD_LISTEN_FDS_START;
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                        return log_error_errno(-EINVAL,
                                "The inherited file descriptor is not a listening UNIX stream socket.");
                flags = fcntl(fd, F_GETFL);
                if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                        return log_error_errno(-errno, "Cannot make the inherited socket non-blocking: %m");
                *ret_fd = TAKE_FD(fd);
                *ret_inherited = true;
                return 0;
        }

        assert(path);
        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(-ENAMETOOLONG, "Frontend socket path %s is too long.", path);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(-errno, "Cannot create the frontend socket: %m");
        /* A socket left by an earlier run (ours: nothing else may live at this path). */
        if (lstat(path, &st) >= 0 && S_ISSOCK(st.st_mode))
                (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, SUN_LEN(&sa)) < 0)
                return log_error_errno(-errno, "Cannot bind the frontend socket %s: %m", path);
        /* Who may stay is decided per connection (direct_socket_peer_allowed). Who may connect at all:
         * the frontend group, when we may give the socket to it (as root, or as a member), else
         * anybody. */
        if (frontend_gid != (gid_t)-1 && chown(path, (uid_t)-1, frontend_gid) >= 0) {
                if (chmod(path, 0660) < 0)
                        return log_error_errno(-errno, "Cannot set the mode of %s: %m", path);
        } else if (chmod(path, 0666) < 0)
                return log_error_errno(-errno, "Cannot set the mode of %s: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(-errno, "Cannot listen on %s: %m", path);

        *ret_fd = TAKE_FD(fd);
        *ret_inherited = false;
        return 0;
}

static FrontendConnection *frontend_connection_free(FrontendConnection *c) {
        DirectSocket *s;

        if (!c)
                return NULL;
        s = c->server;
        LIST_REMOVE(s->connections, c);
        s->n_connections--;
        c->auth_source = sd_event_source_disable_unref(c->auth_source);
        c->drain_source = sd_event_source_disable_unref(c->drain_source);
        /* Requests still being signed hold a reference to the bus; their replies then fail
         * with ENOTCONN, which is what a vanished frontend deserves. */
        if (c->bus) {
                (void)sd_bus_detach_event(c->bus);
                sd_bus_close_unref(c->bus);
        }
        if (s->listen_source)
                (void)sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
        return mfree(c);
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FrontendConnection *c = userdata;

        log_debug("Frontend connection of PID %d closed.", (int)c->pid);
        frontend_connection_free(c);
        return 0;
}

/* sd-bus (252) as a server reads what the client sent along with BEGIN into its buffer, but only
 * looks at that buffer again when more data arrives on the socket: the first call of a client
 * that sends it right after BEGIN (GDBus does) would wait for ever. So once a connection is
 * authenticated, it is processed until sd-bus has nothing left, one message per turn of the
 * loop. */
static int on_connection_drain(sd_event_source *source, void *userdata) {
        FrontendConnection *c = userdata;
        int r;

        r = sd_bus_process(c->bus, NULL);
        if (r > 0)
                return 0; /* maybe more: again in the next iteration */
        c->drain_source = sd_event_source_disable_unref(c->drain_source);
        if (r < 0) {
                log_debug_errno(r, "Frontend connection of PID %d failed: %m", (int)c->pid);
                frontend_connection_free(c);
        }
        return 0;
}

static int on_connection_post(sd_event_source *source, void *userdata) {
        FrontendConnection *c = userdata;
        int r;

        if (sd_bus_is_ready(c->bus) <= 0)
                return 0; /* still authenticating */
        c->auth_source = sd_event_source_disable_unref(c->auth_source);

        r = sd_event_add_defer(c->server->event, &c->drain_source, on_connection_drain, c);
        if (r >= 0)
                r = sd_event_source_set_priority(c->drain_source, FRONTEND_PRIORITY);
        if (r < 0) {
                log_warning_errno(r, "Cannot process a frontend connection of PID %d, closing it: %m",
                        (int)c->pid);
                frontend_connection_free(c);
        }
        return 0;
}

/* At most one line per 10 s: a local user who keeps connecting must not flood the journal. */
static void log_refusal(DirectSocket *s, const struct ucred *cred, const char *why) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (s->refusals_logged_at != 0 && now < s->refusals_logged_at + 10 * USEC_PER_SEC) {
                s->refusals_not_logged++;
                return;
        }
        log_notice(
                "Refused a frontend connection from PID %d (uid %u, gid %u): %s (%u more refused since the "
                "last report).",
                (int)cred->pid, (unsigned)cred->uid, (unsigned)cred->gid, why, s->refusals_not_logged);
        s->refusals_logged_at = now;
        s->refusals_not_logged = 0;
}

static size_t frontend_connections_of(DirectSocket *s, uid_t uid) {
        size_t n = 0;

        for (FrontendConnection *c = s->connections; c; c = c->next)
                if (c->uid == uid)
                        n++;
        return n;
}

static int frontend_connection_new(DirectSocket *s, int fd) {
        _cleanup_free_ gid_t *groups = NULL;
        _cleanup_close_ int cfd = fd;
        struct ucred cred = {};
        socklen_t len = sizeof cred;
        FrontendConnection *c;
        size_t n_groups = 0;
        int r;

        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return log_warning_errno(-errno, "Cannot read a frontend peer's credentials: %m");
        r = peer_groups(cfd, &groups, &n_groups);
        if (r < 0)
                return log_warning_errno(r, "Cannot read a frontend peer's groups: %m");
        if (!direct_socket_peer_allowed(cred.uid, cred.gid, groups, n_groups, s->service_uid,
                    s->frontend_gid)) {
                log_refusal(s, &cred, "only root, the service user and the frontend group may connect");
                return 0;
        }
        if (frontend_connections_of(s, cred.uid) >= FRONTEND_CONNECTIONS_PER_UID_MAX) {
                char why[80];

                (void)snprintf(why, sizeof why,
                        "this user already holds %u connections, the most one user may",
                        FRONTEND_CONNECTIONS_PER_UID_MAX);
                log_refusal(s, &cred, why);
                return 0;
        }

        c = calloc(1, sizeof(FrontendConnection));
        if (!c)
                return log_oom();
        c->server = s;
        c->pid = cred.pid;
        c->uid = cred.uid;
        LIST_PREPEND(s->connections, c);
        s->n_connections++;

        r = sd_bus_new(&c->bus);
        if (r >= 0) {
                r = sd_bus_set_fd(c->bus, cfd, cfd);
                if (r >= 0)
                        TAKE_FD(cfd); /* the bus closes it from here on */
        }
        if (r >= 0)
                r = sd_bus_set_server(c->bus, true, s->id);
        if (r >= 0)
                r = sd_bus_set_description(c->bus, "frontend");
        if (r >= 0)
                r = sd_bus_add_object_vtable(c->bus, NULL, s->path, s->interface, s->vtable, s->userdata);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, NULL, "org.freedesktop.DBus.Local",
                        "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local", "Disconnected",
                        on_disconnected, c);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, s->event, FRONTEND_PRIORITY);
        if (r >= 0)
                r = sd_bus_start(c->bus);
        if (r >= 0)
                r = sd_event_add_post(s->event, &c->auth_source, on_connection_post, c);
        if (r < 0) {
                frontend_connection_free(c);
                return log_warning_errno(r, "Cannot set up a frontend connection: %m");
        }

        log_debug("Frontend connection from PID %d (uid %u).", (int)cred.pid, (unsigned)cred.uid);
        return 0;
}

static int on_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        DirectSocket *s = userdata;

        (void)sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
        return 0;
}

static int on_listen(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        DirectSocket *s = userdata;

        /* Drain the backlog: connections that are refused at once must not keep a frontend
         * waiting behind them for more than one turn of the loop. */
        for (unsigned i = 0; i < FRONTEND_CONNECTIONS_MAX; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                                return 0;
                        /* Out of file descriptors and the like: do not spin on a socket that stays
                         * readable; try again when a connection closes, or in a second. */
                        log_warning_errno(-errno,
                                "Cannot accept a frontend connection, pausing for a second: %m");
                        (void)sd_event_source_set_enabled(source, SD_EVENT_OFF);
                        (void)sd_event_source_set_time_relative(s->retry_source, USEC_PER_SEC);
                        (void)sd_event_source_set_enabled(s->retry_source, SD_EVENT_ONESHOT);
                        return 0;
                }
                (void)frontend_connection_new(s, cfd);
                if (s->n_connections >= FRONTEND_CONNECTIONS_MAX) {
                        log_warning("%zu frontend connections open; not accepting more until one closes.",
                                s->n_connections);
                        (void)sd_event_source_set_enabled(source, SD_EVENT_OFF);
                        return 0;
                }
        }
        return 0;
}

int direct_socket_new(sd_event *event, int listen_fd, gid_t frontend_gid, const char *path,
        const char *interface, const sd_bus_vtable *vtable, void *userdata, DirectSocket **ret) {
        _cleanup_close_ int fd = listen_fd;
        _cleanup_(direct_socket_freep) DirectSocket *s = NULL;
        int r;

        assert(event);
        assert(listen_fd >= 0);
        assert(path);
        assert(interface);
        assert(vtable);
        assert(ret);

        s = calloc(1, sizeof(DirectSocket));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->service_uid = geteuid();
        s->frontend_gid = frontend_gid;
        s->path = path;
        s->interface = interface;
        s->vtable = vtable;
        s->userdata = userdata;

        r = sd_id128_randomize(&s->id);
        if (r < 0)
                return r;
        r = sd_event_add_io(event, &s->listen_source, fd, EPOLLIN, on_listen, s);
        if (r < 0)
                return r;
        r = sd_event_source_set_io_fd_own(s->listen_source, true);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        (void)sd_event_source_set_description(s->listen_source, "frontend-listen");
        r = sd_event_source_set_priority(s->listen_source, FRONTEND_PRIORITY);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(event, &s->retry_source, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_retry,
                s);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(s->retry_source, SD_EVENT_OFF);

        *ret = TAKE_PTR(s);
        return 0;
}

DirectSocket *direct_socket_free(DirectSocket *s) {
        if (!s)
                return NULL;
        s->listen_source = sd_event_source_disable_unref(s->listen_source);
        s->retry_source = sd_event_source_disable_unref(s->retry_source);
        while (s->connections)
                frontend_connection_free(s->connections);
        sd_event_unref(s->event);
        return mfree(s);
}
