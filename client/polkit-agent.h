/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* The polkit text agent of a command-line client (systemd's spawn-polkit-agent.c does the same). */

/* Starts pkttyagent for our process (like systemctl does) and waits until it is registered with
 * polkit, which it signals by closing its notify fd. Only from a terminal, only once (*agent_pid
 * is 0 until then), and not for root, whom the service authorizes without asking. A missing or failing agent
 * is no error: the call then proceeds and polkit decides without one. */
int polkit_agent_open(pid_t *agent_pid);
/* Stops the agent *agent_pid, if any, and sets it to 0. */
void polkit_agent_close(pid_t *agent_pid);
