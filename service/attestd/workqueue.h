/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

/* A fixed pool of worker threads fed from the event loop. Jobs run work() in a worker; their
 * done() then runs back in the event loop thread, so everything that touches the manager
 * stays single-threaded. Used for signing (many threads) and enrolment (one thread), so
 * that neither ever blocks the bus loop. */

typedef void (*work_func_t)(void *userdata);
typedef void (*work_done_t)(void *userdata);

typedef struct WorkQueue WorkQueue;

/* n_threads = 0 means one per online CPU. */
int workqueue_new(sd_event *event, unsigned n_threads, const char *name, WorkQueue **ret);
/* Stops the workers after the jobs already queued; done() callbacks of jobs not yet
 * delivered run before it returns. */
WorkQueue *workqueue_free(WorkQueue *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(WorkQueue *, workqueue_free);

int workqueue_submit(WorkQueue *q, work_func_t work, work_done_t done, void *userdata);
/* How many submitted jobs have not had their done() yet (event loop thread only). */
size_t workqueue_pending(WorkQueue *q);
