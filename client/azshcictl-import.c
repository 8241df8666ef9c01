/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: vm import, a JSON inventory registered in batches (ImportVMs), updated
 * (UpdateVM) and with --replace made the whole inventory (UnregisterVM). */

#include "azshcictl-import.h"
#include "azshcictl-state.h"
#include "bus-names.h"
#include "fileio.h"
#include "hash-index.h"
#include "log.h"
#include "strv.h"
#include "validate.h"
#include "vm-import.h"

#define IMPORT_FILE_MAX (16U * 1024U * 1024U)

static int read_stdin(char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_fd(STDIN_FILENO, IMPORT_FILE_MAX, &buf, &size);
        if (r < 0)
                return r;
        if (strlen(buf) != size)
                return -EBADMSG;
        *ret = TAKE_PTR(buf);
        return 0;
}

static const char *json_string_member(JsonObject *o, const char *key) {
        JsonNode *n = json_object_get_member(o, key);
        return json_node_is_string(n) ? json_node_get_string(n) : NULL;
}

/* What an import has done so far: the report, its counts, and whether it had to stop. */
typedef struct ImportRun {
        Context *c;
        JsonArray *results;
        struct {
                unsigned registered, updated, removed, failed;
        } counts;
        int status; /* the exit status of the failure that stopped the import */
        bool fatal; /* stopped: every call after would fail the same way */
} ImportRun;

/* One entry of the import report, in JSON and on the terminal. */
static void import_report(ImportRun *run, int index, const char *id, const char *name, const char *result,
        const char *path, const sd_bus_error *e, int r) {
        Context *c = run->c;
        JsonObject *o = json_object_new();

        if (index >= 0)
                json_object_set_int_member(o, "index", index);
        else
                json_object_set_null_member(o, "index");
        json_object_set_string_member(o, "id", strempty(id));
        json_object_set_string_member(o, "name", strempty(name));
        json_object_set_string_member(o, "result", result);
        if (path)
                json_object_set_string_member(o, "path", path);

        if (streq(result, "failed")) {
                JsonObject *err = json_object_new();
                json_object_set_string_member(err, "name", sd_bus_error_is_set(e) ? e->name : "");
                json_object_set_string_member(err, "message",
                        sd_bus_error_is_set(e) ? strempty(e->message) : strerror(-r));
                json_object_set_object_member(o, "error", err);
                run->counts.failed++;
                if (c->json == JSON_OFF) {
                        if (sd_bus_error_is_set(e))
                                fprintf(stderr, "azshcictl: VM #%i '%s': %s (%s)\n", index, strempty(name),
                                        strempty(e->message), e->name);
                        else
                                fprintf(stderr, "azshcictl: VM #%i '%s': %s\n", index, strempty(name),
                                        strerror(-r));
                }
        } else {
                if (streq(result, "registered"))
                        run->counts.registered++;
                else if (streq(result, "updated"))
                        run->counts.updated++;
                else
                        run->counts.removed++;
                if (c->json == JSON_OFF) {
                        /* "Registered", "Updated", "Removed" */
                        printf("%c%s %s (%s)\n", result[0] - 'a' + 'A', result + 1, strempty(name),
                                strempty(id));
                }
        }
        json_array_add_object_element(run->results, o);
}

/* One entry of the import file, read and checked before any call. */
typedef struct ImportEntry {
        VmPropertyList props;
        char *id;         /* normalised; NULL when the entry has none */
        const char *name; /* for the report; borrowed from the JSON document */
        bool update;      /* registered already: UpdateVM */
        bool batch_tried; /* was part of an ImportVMs call that was refused: RegisterVM alone */
        char *path;       /* registered by ImportVMs */
        int r;            /* < 0: refused locally, error says why */
        sd_bus_error error;
} ImportEntry;

typedef struct ImportEntries {
        ImportEntry *items;
        size_t n;
} ImportEntries;

static void import_entries_done(ImportEntries *l) {
        for (size_t i = 0; i < l->n; i++) {
                vm_property_list_done(&l->items[i].props);
                free(l->items[i].id);
                free(l->items[i].path);
                sd_bus_error_free(&l->items[i].error);
        }
        l->items = mfree(l->items);
        l->n = 0;
}

/* The keys of the two id indexes: a registered id is its own key, an entry is found by its id. */
static const void *string_itself(const void *s) {
        return s;
}

static const void *import_entry_id(const void *e) {
        return ((const ImportEntry *)e)->id;
}

/* Reads and checks one entry; a refused entry gets e->r < 0 and e->error. Returns < 0 only
 * when out of memory. */
static int import_entry_read(ImportEntry *e, JsonNode *node, const HashIndex *existing_ids) {
        const char *raw_id;
        int r;

        if (!JSON_NODE_HOLDS_OBJECT(node)) {
                sd_bus_error_set(&e->error, SD_BUS_ERROR_INVALID_ARGS, "Not a JSON object.");
                e->r = -EINVAL;
                return 0;
        }
        /* For the report, even when another key is wrong. */
        e->name = json_string_member(json_node_get_object(node), "Name");
        raw_id = json_string_member(json_node_get_object(node), "Id");
        r = vm_property_list_from_json(&e->props, json_node_get_object(node), &e->error);
        if (r >= 0)
                r = vm_property_list_validate(&e->props, false, &e->error);
        if (r >= 0 && !raw_id)
                r = sd_bus_error_set(&e->error, SD_BUS_ERROR_INVALID_ARGS, "VM property 'Id' is required.");
        if (r >= 0)
                r = uuid_normalize(raw_id, &e->id);
        if (r >= 0) {
                e->update = hash_index_get(existing_ids, e->id) != NULL;
                if (!e->update)
                        r = vm_property_list_validate(&e->props, true, &e->error);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0 && !e->id && raw_id) {
                /* Report the id as written when it could not be normalised. */
                e->id = strdup(raw_id);
                if (!e->id)
                        return -ENOMEM;
        }
        e->r = MIN(r, 0);
        return 0;
}

/* Registers the new entries from first on (up to IMPORT_VMS_MAX of them) with one ImportVMs
 * call and stores their paths. When the call fails, every entry in it is marked so that it is
 * registered on its own. */
static int import_batch(Context *c, ImportEntries *l, size_t first, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ size_t *batch = NULL;
        size_t n = 0;
        int r;

        batch = calloc(MIN(l->n - first, (size_t)IMPORT_VMS_MAX), sizeof(size_t));
        if (!batch)
                return -ENOMEM;
        for (size_t i = first; i < l->n && n < IMPORT_VMS_MAX; i++) {
                ImportEntry *e = &l->items[i];
                if (e->r < 0 || e->update || e->path || e->batch_tried)
                        continue;
                e->batch_tried = true;
                batch[n++] = i;
        }

        r = new_admin_call(c, "ImportVMs", &m);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "a{sv}");
        for (size_t k = 0; r >= 0 && k < n; k++)
                r = vm_property_list_append(&l->items[batch[k]].props, m, false);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        r = admin_call_send(c, m, error, &reply);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "o");
        for (size_t k = 0; r >= 0 && k < n; k++) {
                const char *path;

                r = sd_bus_message_read(reply, "o", &path);
                if (r == 0)
                        r = -EBADMSG; /* fewer paths than VMs */
                if (r > 0)
                        r = free_and_strdup(&l->items[batch[k]].path, path);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        return r;
}

/* A failed call: reported; when no call after it could succeed (not authorized, service gone),
 * the import stops. */
static void import_failed(ImportRun *run, int index, const char *id, const char *name,
        const sd_bus_error *error, int r) {
        int s = exit_status_for_bus_error(error, r);

        import_report(run, index, id, name, "failed", NULL, error, r);
        if (s == EXIT_NOT_AUTHORIZED || s == EXIT_UNREACHABLE) {
                run->status = s;
                run->fatal = true;
        }
}

/* The VM objects of source ("-": standard input): a JSON array of them, or the output of
 * `azshcictl vms --json`. */
static int import_read_items(Context *c, const char *source, JsonParser **ret_parser,
        JsonArray **ret_items) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_free_ char *data = NULL, *parse_error = NULL;
        JsonNode *root;
        int r;

        if (streq(source, "-")) {
                r = read_stdin(&data);
                if (r < 0)
                        return log_error_status(c, EXIT_SERVICE, r, "Failed to read standard input: %s",
                                strerror(-r));
                r = json_parse_data("<stdin>", data, &parser, &parse_error);
        } else
                r = json_parse_file(source, &parser, &parse_error);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to import VMs: %s", strna(parse_error));

        root = json_parser_get_root(parser);
        if (JSON_NODE_HOLDS_OBJECT(root) && json_object_has_member(json_node_get_object(root), "vms") &&
                JSON_NODE_HOLDS_ARRAY(json_object_get_member(json_node_get_object(root), "vms")))
                *ret_items = json_object_get_array_member(json_node_get_object(root), "vms");
        else if (JSON_NODE_HOLDS_ARRAY(root))
                *ret_items = json_node_get_array(root);
        else
                return log_error_status(c, EXIT_SERVICE, -EBADMSG,
                        "%s: expected a JSON array of VM objects (or an object with a \"vms\" array).",
                        source);
        *ret_parser = TAKE_PTR(parser);
        return 0;
}

/* Reads and checks every entry of items against the registered VMs (existing), and indexes the
 * entries' ids in seen_ids. -ENOMEM only. */
static int import_read_entries(JsonArray *items, JsonArray *existing, ImportEntries *entries,
        HashIndex *seen_ids) {
        _cleanup_(hash_index_done) HashIndex existing_ids = {};
        _cleanup_strv_free_ char **existing_norm = NULL;
        size_t n_existing;
        int r;

        /* Registered ids, for "update or register?" in O(1) per entry. */
        hash_index_init(&existing_ids, &hash_index_string_type, string_itself);
        n_existing = json_array_get_length(existing);
        existing_norm = calloc(n_existing + 1, sizeof(char *));
        if (!existing_norm)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < n_existing; i++)
                if (uuid_normalize(jstr(json_array_get_object_element(existing, i), "Id"),
                            &existing_norm[k]) >= 0) {
                        r = hash_index_put(&existing_ids, existing_norm[k]);
                        if (r == -ENOMEM)
                                return r;
                        k++;
                }

        entries->n = json_array_get_length(items);
        entries->items = calloc(entries->n, sizeof(ImportEntry));
        if (entries->n > 0 && !entries->items)
                return -ENOMEM;
        hash_index_init(seen_ids, &hash_index_string_type, import_entry_id);
        for (size_t i = 0; i < entries->n; i++) {
                r = import_entry_read(&entries->items[i], json_array_get_element(items, i), &existing_ids);
                if (r == -ENOMEM)
                        return r;
                if (entries->items[i].id && hash_index_put(seen_ids, &entries->items[i]) == -ENOMEM)
                        return -ENOMEM;
        }
        return 0;
}

/* Registers or updates entry i: with the next new ones in one ImportVMs call when it is new, on
 * its own when that call was refused or it is an update. < 0 only when no call could be built. */
static int import_entry(ImportRun *run, ImportEntries *entries, size_t i) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ImportEntry *e = &entries->items[i];
        Context *c = run->c;
        const char *path = NULL;
        int r;

        if (run->fatal) {
                /* Report what a batch registered before the import had to stop. */
                if (e->path)
                        import_report(run, (int)i, e->id, e->name, "registered", e->path, NULL, 0);
                return 0;
        }
        if (e->r < 0) {
                import_report(run, (int)i, e->id, e->name, "failed", NULL, &e->error, e->r);
                return 0;
        }
        if (e->path) {
                import_report(run, (int)i, e->id, e->name, "registered", e->path, NULL, 0);
                return 0;
        }

        if (!e->update && !e->batch_tried) {
                /* This and the next new entries, in one ImportVMs call. */
                r = import_batch(c, entries, i, &error);
                if (r >= 0) {
                        import_report(run, (int)i, e->id, e->name, "registered", e->path, NULL, 0);
                        return 0;
                }
                int s = exit_status_for_bus_error(&error, r);
                if (s == EXIT_NOT_AUTHORIZED || s == EXIT_UNREACHABLE) {
                        import_failed(run, (int)i, e->id, e->name, &error, r);
                        return 0;
                }
                /* Refused as a whole: one RegisterVM per entry says which failed and why. */
                sd_bus_error_free(&error);
        }

        r = new_admin_call(c, e->update ? "UpdateVM" : "RegisterVM", &m);
        if (r >= 0 && e->update)
                r = sd_bus_message_append(m, "s", e->id);
        if (r >= 0)
                r = vm_property_list_append(&e->props, m, e->update);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to build a call: %s", strerror(-r));

        r = admin_call_send(c, m, &error, &reply);
        if (r >= 0 && !e->update)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                import_failed(run, (int)i, e->id, e->name, &error, r);
                return 0;
        }
        if (e->update) {
                _cleanup_free_ char *p = NULL;
                if (sd_bus_path_encode(BUS_PATH_VM_PREFIX, e->id, &p) >= 0)
                        import_report(run, (int)i, e->id, e->name, "updated", p, NULL, 0);
                else
                        import_report(run, (int)i, e->id, e->name, "updated", NULL, NULL, 0);
        } else
                import_report(run, (int)i, e->id, e->name, "registered", path, NULL, 0);
        return 0;
}

/* --replace: the file is the whole inventory; forget the registered VMs it does not mention. */
static void import_remove_unlisted(ImportRun *run, JsonArray *existing, const HashIndex *seen_ids) {
        Context *c = run->c;

        for (guint i = 0; i < json_array_get_length(existing) && !run->fatal; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                JsonObject *vm = json_array_get_object_element(existing, i);
                _cleanup_free_ char *id = NULL;
                int r;

                if (uuid_normalize(jstr(vm, "Id"), &id) < 0 || hash_index_get(seen_ids, id))
                        continue;
                r = new_admin_call(c, "UnregisterVM", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", id);
                if (r >= 0)
                        r = admin_call_send(c, m, &error, NULL);
                if (r < 0) {
                        import_failed(run, -1, id, jstr(vm, "Name"), &error, r);
                        continue;
                }
                import_report(run, -1, id, jstr(vm, "Name"), "removed", NULL, NULL, 0);
        }
}

static int import_print_summary(ImportRun *run) {
        Context *c = run->c;

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                JsonObject *summary = json_object_new();

                json_object_set_int_member(summary, "registered", run->counts.registered);
                json_object_set_int_member(summary, "updated", run->counts.updated);
                json_object_set_int_member(summary, "removed", run->counts.removed);
                json_object_set_int_member(summary, "failed", run->counts.failed);
                json_object_set_object_member(o, "summary", summary);
                json_object_set_array_member(o, "results", json_array_ref(run->results));
                return print_json(c, o);
        }
        printf("%u registered, %u updated, %u removed, %u failed.\n", run->counts.registered,
                run->counts.updated, run->counts.removed, run->counts.failed);
        return 0;
}

int verb_vm_import(Context *c, char **args) {
        _cleanup_(json_array_freep) JsonArray *existing = NULL, *results = NULL;
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_(hash_index_done) HashIndex seen_ids = {};
        _cleanup_(import_entries_done) ImportEntries entries = {};
        ImportRun run = {.c = c, .status = EXIT_OK};
        JsonArray *items = NULL;
        int r;

        r = import_read_items(c, args[0], &parser, &items);
        if (r < 0)
                return r;
        r = get_objects(c, BUS_INTERFACE_VM, &existing);
        if (r < 0)
                return r;
        r = import_read_entries(items, existing, &entries, &seen_ids);
        if (r < 0)
                return log_oom();

        run.results = results = json_array_new();
        for (size_t i = 0; i < entries.n; i++) {
                r = import_entry(&run, &entries, i);
                if (r < 0)
                        return r;
        }

        /* Only when every entry of the file made it, so a typo cannot wipe a VM out. */
        if (c->replace && !run.fatal && run.counts.failed == 0)
                import_remove_unlisted(&run, existing, &seen_ids);
        else if (c->replace && run.counts.failed > 0)
                fputs("azshcictl: Not removing unlisted VMs (--replace) because some entries failed.\n",
                        stderr);

        r = import_print_summary(&run);
        if (r < 0)
                return r;
        if (run.counts.failed > 0) {
                c->exit_status = run.status != EXIT_OK ? run.status : EXIT_SERVICE;
                return -EIO;
        }
        return 0;
}
