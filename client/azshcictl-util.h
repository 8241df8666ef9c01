/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <systemd/sd-bus.h>

#include "json-util.h"
#include "time-util.h"
#include "vm-import.h"

/* What the verbs of azshcictl share: the command line's context, the exit statuses, the error
 * reports, the calls to the service and the output helpers. */

/* Exit codes: part of the interface, documented in --help and docs/azshcictl.md. */
enum {
        EXIT_OK = 0,
        EXIT_SERVICE = 1, /* the service (or a local check of its rules) refused or failed */
        EXIT_USAGE = 2,   /* bad command line */
        EXIT_NOT_AUTHORIZED = 3,
        EXIT_UNREACHABLE = 4, /* no system bus, or the service is not running / not activatable */
};

#define CALL_TIMEOUT_USEC             (25 * USEC_PER_SEC)
#define CALL_TIMEOUT_INTERACTIVE_USEC (10 * USEC_PER_MINUTE)

typedef enum JsonMode {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
} JsonMode;

typedef struct Context {
        sd_bus *bus;
        JsonMode json;
        bool ask_password;
        bool legend;
        bool color;
        bool all;
        bool replace;
        bool remove_vms;        /* legacy off --remove-vms */
        VmPropertyList options; /* --name, --id, ... */
        int exit_status;        /* set by whoever reports a failure; EXIT_SERVICE if nobody did */
        pid_t agent_pid;
} Context;

static inline void json_object_freep(JsonObject **o) {
        if (*o)
                json_object_unref(*o);
}
static inline void json_array_freep(JsonArray **a) {
        if (*a)
                json_array_unref(*a);
}

/* Prints "   Label: value" lines with the labels right-aligned, like hostnamectl. */
typedef struct Field {
        const char *label;
        char *value;
        const char *color;
} Field;

int usage_error(Context *c, const char *format, ...) _printf_(2, 3);
int log_error_status(Context *c, int status, int r, const char *format, ...) _printf_(4, 5);
int exit_status_for_bus_error(const sd_bus_error *e, int r);
/* "azshcictl: Failed to <what>: <message> (<error name>)"; records the exit status. */
int log_bus_error(Context *c, const sd_bus_error *e, int r, const char *what);

int connect_bus(Context *c);
int new_admin_call(Context *c, const char *member, sd_bus_message **ret);
/* Sends an admin call (after starting the text agent if we may ask for a password); the
 * error goes to the caller. */
int admin_call_send(Context *c, sd_bus_message *m, sd_bus_error *error, sd_bus_message **ret_reply);
/* The same, reporting a failure as "Failed to <what>". */
int admin_call(Context *c, sd_bus_message *m, const char *what, sd_bus_message **ret_reply);
int simple_admin_call(Context *c, const char *member, const char *what, const char *types, ...);
/* The same with the arguments in a va_list, the reply to the caller (ret_reply may be NULL). */
int admin_callv(Context *c, const char *member, const char *what, sd_bus_message **ret_reply,
        const char *types, va_list ap);

int print_json(Context *c, JsonObject *o);
const char *jstr(JsonObject *o, const char *key);
bool jbool(JsonObject *o, const char *key);
uint64_t jint(JsonObject *o, const char *key);
/* A string array joined with ","; "" when empty. */
char *jstrv_join(JsonObject *o, const char *key, const char *separator);
const char *state_color(const char *state);
const char *vm_status_label(const char *status);
void print_fields(Context *c, Field *fields, size_t n);
void fields_done(Field *fields, size_t n);
char *xstrdup_timestamp(uint64_t t);
