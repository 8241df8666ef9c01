/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "manager-inventory.h"
#include "manager-state.h"
#include "state.h"

static int write_state_content(FILE *f, void *userdata) {
        const StateContent *s = userdata;
        return state_write(f, s->legacy_support, s->last_sync, s->vms, s->n_vms);
}

/* Writes the state file, keeping the file it replaces as the previous generation
 * (state.json.old) to fall back to should the new one ever be unreadable. Written as it is
 * serialised: at 10,000 VMs the file is 4 MB, which would otherwise be built in memory first. */
int manager_write_state(Manager *m, const StateContent *content) {
        int r;

        assert(m);
        assert(content);

        r = write_file_atomic_stream(m->state_file, 0644, true, write_state_content, (void *)content);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", m->state_file);
        return 0;
}

int manager_save_state(Manager *m) {
        assert(m);

        return manager_write_state(m, &(StateContent){m->legacy_support, m->last_sync, m->vms, m->n_vms});
}

/* Reads and parses one generation of the state file. */
static int state_load_file(const char *path, StateData *ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        int r;

        r = read_full_file(path, STATE_FILE_MAX, &data, NULL);
        if (r < 0) {
                if (r != -ENOMEM && asprintf(ret_error, "%s: %s", path,
                                            r == -EBADFD ? "not a regular file" : strerror(-r)) < 0)
                        return -ENOMEM;
                return r;
        }
        return state_deserialize(path, data, ret, ret_error);
}

/* What state_deserialize() calls damage; anything else (permissions, I/O, a directory in
 * place of the file) is a failure to read, which moving the file aside would not mend. */
static bool state_error_is_corruption(int r) {
        return r == -EBADMSG || r == -EINVAL;
}

/* The current file is corrupt: falls back to the previous generation. The corrupt file is kept
 * under another name for a human to look at, and the previous generation takes its place, so
 * that the next write does not make the corrupt file the previous generation and a start
 * before that write finds the same inventory. */
static int manager_load_previous_state(Manager *m, const char *error, StateData *ret) {
        _cleanup_free_ char *old = NULL, *old_error = NULL, *aside = NULL;
        int r;

        if (asprintf(&old, "%s" FILE_OLD_SUFFIX, m->state_file) < 0)
                return log_oom();
        r = state_load_file(old, ret, &old_error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r,
                        "State file is corrupt (%s) and the previous generation is not usable (%s): "
                        "refusing to start rather than lose the inventory. Move %s aside to start "
                        "with an empty inventory.",
                        error, r == -ENOENT ? "there is none" : strna(old_error), m->state_file);

        if (asprintf(&aside, "%s.corrupt-%" PRIu64, m->state_file, now_usec(CLOCK_REALTIME)) < 0)
                return log_oom();
        if (link(m->state_file, aside) < 0)
                return log_error_errno(negative_errno(),
                        "State file is corrupt (%s) and could not be moved aside: %m", error);
        r = file_restore_old(m->state_file);
        if (r < 0)
                return log_error_errno(r, "State file is corrupt (%s) and could not be replaced by %s: %m",
                        error, old);

        free(m->state_error);
        if (asprintf(&m->state_error,
                    "state file was corrupt (%s), moved to %s; loaded the previous generation %s "
                    "(changes made after it are lost)",
                    error, aside, old) < 0)
                return log_oom();
        log_error("State file is corrupt (%s); moved it to %s and loaded the previous generation %s "
                  "with %zu VM(s) in its place.",
                error, aside, old, ret->n_vms);
        return 0;
}

int manager_load_state(Manager *m) {
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_free_ char *error = NULL;
        size_t n_forgotten;
        int r;

        /* A kill during a write leaves its temporary file behind: never to be read, only
         * removed. */
        r = file_remove_interrupted_writes(m->state_file);
        if (r < 0)
                return log_error_errno(r, "Failed to look for interrupted writes of %s: %m", m->state_file);
        if (r > 0)
                log_notice("Removed %d temporary file(s) left by an interrupted write of %s.", r,
                        m->state_file);

        r = state_load_file(m->state_file, &s, &error);
        if (r == -ENOENT) {
                log_info("No state in %s yet, starting with an empty inventory.", m->state_file);
                return 0;
        }
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0 && !state_error_is_corruption(r))
                /* Not corruption: the file may be fine, only out of reach for now. Starting
                 * empty would turn legacy support off, take the network down and overwrite the
                 * inventory at the next change; failing lets the admin (or a restart) fix it. */
                return log_error_errno(r, "Failed to read the state file (%s): refusing to start.",
                        strna(error));
        if (r < 0) {
                r = manager_load_previous_state(m, strna(error), &s);
                if (r < 0)
                        return r;
        }

        m->legacy_support = s.legacy_support;
        m->last_sync = s.last_sync;
        n_forgotten = manager_inventory_forget_live_facts(m, s.vms, s.n_vms);
        if (n_forgotten > 0)
                log_info("%zu libvirt VM(s) of %s are not identified by their saved CID or tap until "
                         "libvirt answers.",
                        n_forgotten, m->state_file);
        r = manager_add_vms(m, s.vms, s.n_vms);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) /* state_deserialize() checked uniqueness */
                return log_error_errno(r, "Failed to index the VMs of %s: %m", m->state_file);
        s.n_vms = 0; /* now the manager's */
        log_info("Loaded %zu VM(s) from %s; legacy OS support is %s.", m->n_vms, m->state_file,
                m->legacy_support ? "on" : "off");
        return 0;
}
