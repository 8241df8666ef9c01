/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-login.h>

#include "log.h"
#include "polkit-agent.h"

#define AGENT_READY_TIMEOUT_MSEC (10 * 1000)

int polkit_agent_open(pid_t *agent_pid) {
        _cleanup_close_ int read_fd = -EBADF, write_fd = -EBADF;
        int fds[2];
        pid_t parent, pid;
        bool in_session;

        assert(agent_pid);

        if (*agent_pid > 0 || geteuid() == 0 || !isatty(STDIN_FILENO))
                return 0;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        read_fd = fds[0];
        write_fd = fds[1];

        in_session = sd_pid_get_session(0, NULL) >= 0;
        parent = getpid();
        (void)fflush(stdout);
        (void)fflush(stderr);
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                char pid_str[32];

                /* Child: die with the parent, keep only stdio and the notify fd (as fd 3). */
                (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(EXIT_FAILURE);
                if (write_fd == 3) {
                        if (fcntl(3, F_SETFD, 0) < 0)
                                _exit(EXIT_FAILURE);
                } else if (dup2(write_fd, 3) < 0)
                        _exit(EXIT_FAILURE);
                (void)close_range(4, ~0U, 0);

                snprintf(pid_str, sizeof pid_str, "%i", (int)parent);
                /* --fallback lets a session's (graphical) agent win; but polkit ignores a
                 * fallback agent altogether when the caller is in no login session (no logind,
                 * su/setpriv shells), so there the agent is registered as a plain one. */
                if (in_session)
                        execlp("pkttyagent", "pkttyagent", "--process", pid_str, "--notify-fd", "3",
                                "--fallback", (char *)NULL);
                else
                        execlp("pkttyagent", "pkttyagent", "--process", pid_str, "--notify-fd", "3",
                                (char *)NULL);
                _exit(127);
        }

        *agent_pid = pid;
        write_fd = safe_close(write_fd);

        /* Wait for EOF: the agent closes the fd once it listens (or dies trying). */
        for (;;) {
                struct pollfd p = {.fd = read_fd, .events = POLLIN};
                char buf[64];
                ssize_t n;
                int k = poll(&p, 1, AGENT_READY_TIMEOUT_MSEC);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        log_debug("polkit agent did not get ready in time, continuing without waiting.");
                        break;
                }
                n = read(read_fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
        }
        return 0;
}

void polkit_agent_close(pid_t *agent_pid) {
        assert(agent_pid);

        if (*agent_pid <= 0)
                return;
        (void)kill(*agent_pid, SIGTERM);
        (void)kill(*agent_pid, SIGCONT);
        while (waitpid(*agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        *agent_pid = 0;
}
