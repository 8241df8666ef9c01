/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "azshcictl-util.h"
#include "bus-names.h"
#include "log.h"
#include "table.h"
#include "polkit-agent.h"
#include "strv.h"

#define POLKIT_ERROR_NOT_AUTHORIZED "org.freedesktop.PolicyKit1.Error.NotAuthorized"

/* "azshcictl: MESSAGE" and the end of the line (one line, or the usage hint after it). */
_printf_(2, 0) static void print_error(const char *end, const char *format, va_list ap) {
        fputs("azshcictl: ", stderr);
        vfprintf(stderr, format, ap);
        fputs(end, stderr);
}

int usage_error(Context *c, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        print_error("\nTry 'azshcictl --help'.\n", format, ap);
        va_end(ap);
        c->exit_status = EXIT_USAGE;
        return -EINVAL;
}

int exit_status_for_bus_error(const sd_bus_error *e, int r) {
        if (sd_bus_error_is_set(e)) {
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_ACCESS_DENIED,
                            SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, SD_BUS_ERROR_AUTH_FAILED,
                            POLKIT_ERROR_NOT_AUTHORIZED))
                        return EXIT_NOT_AUTHORIZED;
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                            SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT, SD_BUS_ERROR_DISCONNECTED,
                            SD_BUS_ERROR_NO_SERVER, "org.freedesktop.DBus.Error.Spawn.Failed",
                            "org.freedesktop.DBus.Error.Spawn.ExecFailed",
                            "org.freedesktop.DBus.Error.Spawn.ChildExited",
                            "org.freedesktop.DBus.Error.Spawn.ServiceNotValid"))
                        return EXIT_UNREACHABLE;
                return EXIT_SERVICE;
        }
        if (r == -ECONNREFUSED || r == -ENOENT || r == -ECONNRESET || r == -ENOTCONN || r == -ETIMEDOUT ||
                r == -EHOSTUNREACH)
                return EXIT_UNREACHABLE;
        if (r == -EACCES || r == -EPERM)
                return EXIT_NOT_AUTHORIZED;
        return EXIT_SERVICE;
}

/* "azshcictl: Failed to <what>: <message> (<error name>)"; records the exit status. */
int log_bus_error(Context *c, const sd_bus_error *e, int r, const char *what) {
        int status = exit_status_for_bus_error(e, r);

        if (sd_bus_error_is_set(e))
                fprintf(stderr, "azshcictl: Failed to %s: %s (%s)\n", what, strna(e->message), e->name);
        else
                fprintf(stderr, "azshcictl: Failed to %s: %s\n", what, strerror(-r));
        if (status == EXIT_NOT_AUTHORIZED && c->ask_password && !isatty(STDIN_FILENO) && geteuid() != 0)
                fputs("azshcictl: Hint: run from a terminal to authenticate, or as root.\n", stderr);
        c->exit_status = status;
        return r < 0 ? r : -EIO;
}

int log_error_status(Context *c, int status, int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        print_error("\n", format, ap);
        va_end(ap);
        c->exit_status = status;
        return r < 0 ? r : -EIO;
}

int connect_bus(Context *c) {
        int r;

        if (c->bus)
                return 0;
        r = sd_bus_open_system(&c->bus);
        if (r < 0)
                return log_error_status(c, EXIT_UNREACHABLE, r, "Failed to connect to the system bus: %s",
                        strerror(-r));
        return 0;
}

int new_admin_call(Context *c, const char *member, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        assert(c->bus);
        r = sd_bus_message_new_method_call(c->bus, &m, BUS_NAME, BUS_PATH, BUS_INTERFACE, member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_allow_interactive_authorization(m, c->ask_password);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int admin_call_send(Context *c, sd_bus_message *m, sd_bus_error *error, sd_bus_message **ret_reply) {
        if (c->ask_password)
                (void)polkit_agent_open(&c->agent_pid);
        return sd_bus_call(c->bus, m, c->ask_password ? CALL_TIMEOUT_INTERACTIVE_USEC : CALL_TIMEOUT_USEC,
                error, ret_reply);
}

int admin_call(Context *c, sd_bus_message *m, const char *what, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = admin_call_send(c, m, &error, ret_reply);
        if (r < 0)
                return log_bus_error(c, &error, r, what);
        return 0;
}

int admin_callv(Context *c, const char *member, const char *what, sd_bus_message **ret_reply,
        const char *types, va_list ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = new_admin_call(c, member, &m);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to build the %s call: %s", member,
                        strerror(-r));
        return admin_call(c, m, what, ret_reply);
}

int simple_admin_call(Context *c, const char *member, const char *what, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = admin_callv(c, member, what, NULL, types, ap);
        va_end(ap);
        return r;
}

int print_json(Context *c, JsonObject *o) {
        _cleanup_(json_node_unrefp) JsonNode *node = json_node_init_object(json_node_alloc(), o);
        _cleanup_free_ char *s = json_to_string(node, c->json == JSON_PRETTY);

        if (!s)
                return log_oom();
        puts(s);
        return fflush(stdout) == EOF ? log_error_status(c, EXIT_SERVICE, -errno, "Failed to write output.")
                                     : 0;
}

const char *jstr(JsonObject *o, const char *key) {
        JsonNode *n = json_object_get_member(o, key);
        return json_node_is_string(n) ? json_node_get_string(n) : "";
}

bool jbool(JsonObject *o, const char *key) {
        JsonNode *n = json_object_get_member(o, key);
        return json_node_is_bool(n) && json_node_get_boolean(n);
}

uint64_t jint(JsonObject *o, const char *key) {
        JsonNode *n = json_object_get_member(o, key);
        return json_node_is_integer(n) ? (uint64_t)json_node_get_int(n) : 0;
}

/* A string array joined with ","; "" when empty. */
char *jstrv_join(JsonObject *o, const char *key, const char *separator) {
        JsonNode *n = json_object_get_member(o, key);
        _cleanup_strv_free_ char **l = NULL;
        JsonArray *a;

        if (n && JSON_NODE_HOLDS_ARRAY(n)) {
                a = json_node_get_array(n);
                for (guint i = 0; i < json_array_get_length(a); i++) {
                        JsonNode *e = json_array_get_element(a, i);
                        if (json_node_is_string(e) && strv_extend(&l, json_node_get_string(e)) < 0)
                                return NULL;
                }
        }
        return strv_join(l, separator);
}

const char *state_color(const char *state) {
        if (streq(state, "Active") || streq(state, "ActiveBenefits") || streq(state, "On"))
                return ANSI_GREEN;
        if (streq(state, "Expired") || streq(state, "Error"))
                return ANSI_RED;
        if (streq(state, "Inactive") || streq(state, "InactiveBenefits"))
                return ANSI_YELLOW;
        return NULL;
}

const char *vm_status_label(const char *status) {
        if (streq(status, "ActiveBenefits"))
                return "Active benefits";
        if (streq(status, "InactiveBenefits"))
                return "Inactive benefits";
        if (streq(status, "NoApplicableBenefits"))
                return "No applicable benefits";
        return status;
}

void print_fields(Context *c, Field *fields, size_t n) {
        size_t width = 0;

        for (size_t i = 0; i < n; i++)
                width = MAX(width, utf8_width(fields[i].label));
        for (size_t i = 0; i < n; i++) {
                const char *v = isempty(fields[i].value) ? "-" : fields[i].value;
                printf("%*s%s: %s%s%s\n", (int)(width - utf8_width(fields[i].label)), "", fields[i].label,
                        c->color && fields[i].color ? fields[i].color : "", v,
                        c->color && fields[i].color ? ANSI_NORMAL : "");
        }
}

void fields_done(Field *fields, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(fields[i].value);
}

char *xstrdup_timestamp(uint64_t t) {
        char buf[64];
        return strdup(format_timestamp_utc(buf, sizeof buf, t));
}
