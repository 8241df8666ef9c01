/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "time-util.h"
#include "vm.h"

/* The persisted admin state (STATEDIR/state.json): the legacy switch, the VM inventory with
 * each VM's legacy access, and the time of the last successful sync. Serialisation is pure;
 * the manager does the atomic write and the move-aside of a corrupt file. */

#define STATE_FORMAT_VERSION 1

/* A state file larger than this is not read (10,000 VMs take about 6 MiB). */
#define STATE_FILE_MAX (64U * 1024U * 1024U)

typedef struct StateData {
        bool legacy_support;
        usec_t last_sync;
        Vm **vms; /* owned */
        size_t n_vms;
} StateData;

void state_data_done(StateData *s);

/* Serialises the given state (the VMs are borrowed) as pretty JSON. */
/* Writes the state file's content to f; -EIO when the stream failed. */
int state_write(FILE *f, bool legacy_support, usec_t last_sync, Vm *const *vms, size_t n_vms);
int state_serialize(bool legacy_support, usec_t last_sync, Vm *const *vms, size_t n_vms, char **ret_json);

/* Parses and validates a state file's content; ids, names, CIDs and MACs must be unique.
 * Errors: -EBADMSG (not JSON) or -EINVAL (bad content), with a message naming what is wrong. */
int state_deserialize(const char *name, const char *json, StateData *ret, char **ret_error);
