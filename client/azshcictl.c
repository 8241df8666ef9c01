/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the administrator's command line for org.azshci.Attestation1. Reads state with
 * ObjectManager.GetManagedObjects and Properties.GetAll, changes it with the service's admin
 * methods (polkit-checked; a text agent is started when run from a terminal). Exit codes and
 * the --json shapes are documented in docs/azshcictl.md and in --help; keep them stable. */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>

#include "bus-names.h"
#include "build-config.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "strv.h"
#include "table.h"
#include "time-util.h"
#include "validate.h"
#include "vm-import.h"
#include "vm-index.h"
#include "vm.h"

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
#define AGENT_READY_TIMEOUT_MSEC      (10 * 1000)
#define IMPORT_FILE_MAX               (16U * 1024U * 1024U)

#define POLKIT_ERROR_NOT_AUTHORIZED "org.freedesktop.PolicyKit1.Error.NotAuthorized"

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

/* ---- errors ---------------------------------------------------------------------------- */

static int usage_error(Context *c, const char *format, ...) _printf_(2, 3);
static int usage_error(Context *c, const char *format, ...) {
        va_list ap;

        fputs("azshcictl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputs("\nTry 'azshcictl --help'.\n", stderr);
        c->exit_status = EXIT_USAGE;
        return -EINVAL;
}

static int exit_status_for_bus_error(const sd_bus_error *e, int r) {
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
static int log_bus_error(Context *c, const sd_bus_error *e, int r, const char *what) {
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

static int log_error_status(Context *c, int status, int r, const char *format, ...) _printf_(4, 5);
static int log_error_status(Context *c, int status, int r, const char *format, ...) {
        va_list ap;

        fputs("azshcictl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        c->exit_status = status;
        return r < 0 ? r : -EIO;
}

/* ---- polkit text agent ------------------------------------------------------------------ */

/* Starts pkttyagent for our process (like systemctl does) and waits until it is registered with
 * polkit, which it signals by closing its notify fd. Only from a terminal, only once, and not
 * for root, whom the service authorizes without asking. A missing or failing agent is no error:
 * the call then proceeds and polkit decides without one. */
static int polkit_agent_open(Context *c) {
        _cleanup_close_ int read_fd = -EBADF, write_fd = -EBADF;
        int fds[2];
        pid_t parent, pid;
        bool in_session;

        if (c->agent_pid > 0 || !c->ask_password || geteuid() == 0 || !isatty(STDIN_FILENO))
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

        c->agent_pid = pid;
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

static void polkit_agent_close(Context *c) {
        if (c->agent_pid <= 0)
                return;
        (void)kill(c->agent_pid, SIGTERM);
        (void)kill(c->agent_pid, SIGCONT);
        while (waitpid(c->agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        c->agent_pid = 0;
}

/* ---- bus calls --------------------------------------------------------------------------- */

static int connect_bus(Context *c) {
        int r;

        if (c->bus)
                return 0;
        r = sd_bus_open_system(&c->bus);
        if (r < 0)
                return log_error_status(c, EXIT_UNREACHABLE, r, "Failed to connect to the system bus: %s",
                        strerror(-r));
        return 0;
}

static int new_admin_call(Context *c, const char *member, sd_bus_message **ret) {
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

/* Sends an admin call (after starting the text agent if we may ask for a password). */
static int admin_call(Context *c, sd_bus_message *m, const char *what, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        (void)polkit_agent_open(c);
        r = sd_bus_call(c->bus, m, c->ask_password ? CALL_TIMEOUT_INTERACTIVE_USEC : CALL_TIMEOUT_USEC,
                &error, ret_reply);
        if (r < 0)
                return log_bus_error(c, &error, r, what);
        return 0;
}

static int simple_admin_call(Context *c, const char *member, const char *what, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = new_admin_call(c, member, &m);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to build the %s call: %s", member,
                        strerror(-r));
        return admin_call(c, m, what, NULL);
}

/* ---- reading state as JSON ------------------------------------------------------------------ */

static int read_variant(sd_bus_message *m, JsonNode **ret) {
        _cleanup_(json_node_unrefp) JsonNode *node = NULL;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != 'v')
                return -EBADMSG;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;

        if (streq(contents, "as")) {
                _cleanup_strv_free_ char **l = NULL;
                JsonArray *a;

                r = sd_bus_message_read_strv(m, &l);
                if (r < 0)
                        return r;
                a = json_array_new();
                STRV_FOREACH (s, l)
                        json_array_add_string_element(a, *s);
                node = json_node_init_array(json_node_alloc(), a);
                json_array_unref(a);
        } else if (strlen(contents) == 1) {
                union {
                        const char *s;
                        int b;
                        uint8_t y;
                        int16_t n;
                        uint16_t q;
                        int32_t i;
                        uint32_t u;
                        int64_t x;
                        uint64_t t;
                        double d;
                } v;

                switch (contents[0]) {
                case 's':
                case 'o':
                case 'g':
                        r = sd_bus_message_read_basic(m, contents[0], &v.s);
                        if (r >= 0)
                                node = json_node_init_string(json_node_alloc(), v.s);
                        break;
                case 'b':
                        r = sd_bus_message_read_basic(m, 'b', &v.b);
                        if (r >= 0)
                                node = json_node_init_boolean(json_node_alloc(), v.b);
                        break;
                case 'y':
                        r = sd_bus_message_read_basic(m, 'y', &v.y);
                        if (r >= 0)
                                node = json_node_init_int(json_node_alloc(), v.y);
                        break;
                case 'n':
                        r = sd_bus_message_read_basic(m, 'n', &v.n);
                        if (r >= 0)
                                node = json_node_init_int(json_node_alloc(), v.n);
                        break;
                case 'q':
                        r = sd_bus_message_read_basic(m, 'q', &v.q);
                        if (r >= 0)
                                node = json_node_init_int(json_node_alloc(), v.q);
                        break;
                case 'i':
                        r = sd_bus_message_read_basic(m, 'i', &v.i);
                        if (r >= 0)
                                node = json_node_init_int(json_node_alloc(), v.i);
                        break;
                case 'u':
                        r = sd_bus_message_read_basic(m, 'u', &v.u);
                        if (r >= 0)
                                node = json_node_init_int(json_node_alloc(), v.u);
                        break;
                case 'x':
                        r = sd_bus_message_read_basic(m, 'x', &v.x);
                        if (r >= 0)
                                node = json_node_init_int(json_node_alloc(), v.x);
                        break;
                case 't':
                        r = sd_bus_message_read_basic(m, 't', &v.t);
                        if (r >= 0)
                                node = json_node_init_int(json_node_alloc(),
                                        (gint64)MIN(v.t, (uint64_t)INT64_MAX));
                        break;
                case 'd':
                        r = sd_bus_message_read_basic(m, 'd', &v.d);
                        if (r >= 0)
                                node = json_node_init_double(json_node_alloc(), v.d);
                        break;
                default:
                        r = sd_bus_message_skip(m, contents);
                }
        } else
                r = sd_bus_message_skip(m, contents); /* nothing in our API; newer services may add some */
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(node); /* NULL for types we do not show */
        return 0;
}

/* Reads an a{sv} into o. */
static int read_properties(sd_bus_message *m, JsonObject *o) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                JsonNode *node = NULL;
                const char *name;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                r = read_variant(m, &node);
                if (r < 0)
                        return r;
                if (node)
                        json_object_set_member(o, name, node);
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* A copy of o with the keys in a fixed order: those listed first, then the rest as they came. */
static JsonObject *json_object_ordered(JsonObject *o, const char *const *keys) {
        JsonObject *n = json_object_new();
        JsonObjectIter iter;
        const char *key;
        JsonNode *node;

        for (const char *const *k = keys; *k; k++)
                if (json_object_has_member(o, *k))
                        json_object_set_member(n, *k, json_node_copy(json_object_get_member(o, *k)));
        json_object_iter_init(&iter, o);
        while (json_object_iter_next(&iter, &key, &node))
                if (!json_object_has_member(n, key))
                        json_object_set_member(n, key, json_node_copy(node));
        return n;
}

static const char *const cluster_keys[] = {
        "HostState",
        "LegacyOsSupport",
        "LastSync",
        "CertificateExpiry",
        "SubscriptionId",
        "Version",
        "InventoryStale",
        NULL,
};
static const char *const server_keys[] = {
        "Name",
        "State",
        "LastSync",
        "CertificateExpiry",
        "LegacyOsSupport",
        "Error",
        NULL,
};
static const char *const vm_derived_keys[] = {
        "Status",
        "EligibleBenefits",
        "ActiveBenefits",
        "RecommendedActions",
        "RequiredUpdates",
        "LegacyAccess",
        "Source",
        NULL,
};

static const char **vm_keys_new(void) {
        size_t n = 0, k = 0;
        const char **keys;

        while (vm_fields[n].name)
                n++;
        keys = calloc(n + ELEMENTSOF(vm_derived_keys), sizeof(char *));
        if (!keys)
                return NULL;
        for (size_t i = 0; i < n; i++)
                keys[k++] = vm_fields[i].name;
        for (size_t i = 0; vm_derived_keys[i]; i++)
                keys[k++] = vm_derived_keys[i];
        return keys;
}

static int get_cluster(Context *c, JsonObject **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_freep) JsonObject *o = NULL;
        int r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                &error, &reply, "s", BUS_INTERFACE);
        if (r < 0)
                return log_bus_error(c, &error, r, "read the service's properties");

        o = json_object_new();
        r = read_properties(reply, o);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the service's properties: %s",
                        strerror(-r));
        *ret = json_object_ordered(o, cluster_keys);
        return 0;
}

static int compare_by_name(const void *a, const void *b) {
        JsonObject *x = *(JsonObject *const *)a, *y = *(JsonObject *const *)b;
        const char *n = json_object_get_string_member_with_default(x, "Name", "");
        const char *m = json_object_get_string_member_with_default(y, "Name", "");
        return strcmp(n, m);
}

/* The objects under BUS_PATH that implement interface, as JSON objects with their properties
 * in a fixed key order, sorted by Name. */
static int get_objects(Context *c, const char *interface, JsonArray **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_array_freep) JsonArray *result = NULL;
        _cleanup_free_ JsonObject **objects = NULL;
        _cleanup_free_ const char **keys = NULL;
        size_t n = 0;
        int r;

        if (streq(interface, BUS_INTERFACE_VM)) {
                keys = vm_keys_new();
                if (!keys)
                        return log_oom();
        }

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.ObjectManager",
                "GetManagedObjects", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(c, &error, r, "list the service's objects");

        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                goto parse_error;
        while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                const char *path;

                r = sd_bus_message_read(reply, "o", &path);
                if (r < 0)
                        goto parse_error;
                r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                if (r < 0)
                        goto parse_error;
                while ((r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                        const char *iface;

                        r = sd_bus_message_read(reply, "s", &iface);
                        if (r < 0)
                                goto parse_error;
                        if (streq(iface, interface)) {
                                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                                JsonObject **a;

                                r = read_properties(reply, o);
                                if (r < 0)
                                        goto parse_error;
                                a = reallocarray(objects, n + 1, sizeof(JsonObject *));
                                if (!a) {
                                        for (size_t i = 0; i < n; i++)
                                                json_object_unref(objects[i]);
                                        return log_oom();
                                }
                                objects = a;
                                objects[n++] = json_object_ordered(o, keys ?: server_keys);
                        } else {
                                r = sd_bus_message_skip(reply, "a{sv}");
                                if (r < 0)
                                        goto parse_error;
                        }
                        r = sd_bus_message_exit_container(reply);
                        if (r < 0)
                                goto parse_error;
                }
                if (r < 0)
                        goto parse_error;
                r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        goto parse_error;
        }
        if (r < 0)
                goto parse_error;

        if (n > 0)
                qsort(objects, n, sizeof(JsonObject *), compare_by_name);
        result = json_array_sized_new((guint)n);
        for (size_t i = 0; i < n; i++)
                json_array_add_object_element(result, objects[i]); /* takes the reference */
        *ret = TAKE_PTR(result);
        return 0;

parse_error:
        for (size_t i = 0; i < n; i++)
                json_object_unref(objects[i]);
        return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the service's objects: %s",
                strerror(-r));
}

/* ---- output helpers ---------------------------------------------------------------------- */

static int print_json(Context *c, JsonObject *o) {
        _cleanup_(json_node_unrefp) JsonNode *node = json_node_init_object(json_node_alloc(), o);
        _cleanup_free_ char *s = json_to_string(node, c->json == JSON_PRETTY);

        if (!s)
                return log_oom();
        puts(s);
        return fflush(stdout) == EOF ? log_error_status(c, EXIT_SERVICE, -errno, "Failed to write output.")
                                     : 0;
}

static const char *jstr(JsonObject *o, const char *key) {
        JsonNode *n = json_object_get_member(o, key);
        return json_node_is_string(n) ? json_node_get_string(n) : "";
}

static bool jbool(JsonObject *o, const char *key) {
        JsonNode *n = json_object_get_member(o, key);
        return json_node_is_bool(n) && json_node_get_boolean(n);
}

static uint64_t jint(JsonObject *o, const char *key) {
        JsonNode *n = json_object_get_member(o, key);
        return json_node_is_integer(n) ? (uint64_t)json_node_get_int(n) : 0;
}

/* A string array joined with ","; "" when empty. */
static char *jstrv_join(JsonObject *o, const char *key, const char *separator) {
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

static const char *state_color(const char *state) {
        if (streq(state, "Active") || streq(state, "ActiveBenefits") || streq(state, "On"))
                return ANSI_GREEN;
        if (streq(state, "Expired") || streq(state, "Error"))
                return ANSI_RED;
        if (streq(state, "Inactive") || streq(state, "InactiveBenefits"))
                return ANSI_YELLOW;
        return NULL;
}

static const char *vm_status_label(const char *status) {
        if (streq(status, "ActiveBenefits"))
                return "Active benefits";
        if (streq(status, "InactiveBenefits"))
                return "Inactive benefits";
        if (streq(status, "NoApplicableBenefits"))
                return "No applicable benefits";
        return status;
}

/* Prints "   Label: value" lines with the labels right-aligned, like hostnamectl. */
typedef struct Field {
        const char *label;
        char *value;
        const char *color;
} Field;

static void print_fields(Context *c, Field *fields, size_t n) {
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

static void fields_done(Field *fields, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(fields[i].value);
}

static char *xstrdup_timestamp(uint64_t t) {
        char buf[64];
        return strdup(format_timestamp_utc(buf, sizeof buf, t));
}

/* ---- verbs: reading ------------------------------------------------------------------------ */

static int servers_table(Context *c, JsonArray *servers) {
        static const char *const headers[] = {"NAME", "STATE", "LAST SYNC", "CERTIFICATE EXPIRY", "LEGACY",
                "ERROR"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        int r = 0;

        if (!t)
                return log_oom();
        for (guint i = 0; i < json_array_get_length(servers); i++) {
                JsonObject *s = json_array_get_object_element(servers, i);
                char a[64], b[64];

                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "Name"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "State"), state_color(jstr(s, "State")));
                if (r >= 0)
                        r = table_add_cell(t, format_timestamp_utc(a, sizeof a, jint(s, "LastSync")), NULL);
                if (r >= 0)
                        r = table_add_cell(t,
                                format_timestamp_utc(b, sizeof b, jint(s, "CertificateExpiry")), NULL);
                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "LegacyOsSupport"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, jstr(s, "Error"), isempty(jstr(s, "Error")) ? NULL : ANSI_RED);
        }
        if (r < 0)
                return log_oom();
        if (table_get_rows(t) == 0) {
                if (c->legend)
                        puts("No servers.");
                return 0;
        }
        r = table_print(t, stdout, c->legend, c->color);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to write output: %s", strerror(-r));
        return 0;
}

static int verb_status(Context *c, char **args) {
        _cleanup_(json_object_freep) JsonObject *cluster = NULL;
        _cleanup_(json_array_freep) JsonArray *servers = NULL;
        int r;

        r = get_cluster(c, &cluster);
        if (r < 0)
                return r;
        r = get_objects(c, BUS_INTERFACE_SERVER, &servers);
        if (r < 0)
                return r;

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_object_member(o, "cluster", json_object_ref(cluster));
                json_object_set_array_member(o, "servers", json_array_ref(servers));
                return print_json(c, o);
        }

        Field fields[8] = {
                {"Host state", strdup(jstr(cluster, "HostState")), state_color(jstr(cluster, "HostState"))},
                {"Legacy OS support", strdup(jstr(cluster, "LegacyOsSupport")), NULL},
                {"Last sync", xstrdup_timestamp(jint(cluster, "LastSync")), NULL},
                {"Certificate expiry", xstrdup_timestamp(jint(cluster, "CertificateExpiry")), NULL},
                {"Subscription", strdup(jstr(cluster, "SubscriptionId")), NULL},
                {"Version", strdup(jstr(cluster, "Version")), NULL},
        };
        size_t n_fields = 6;
        const char *store = jstr(cluster, "ClusterStore");
        /* only in a cluster: a standalone server shows what it always did */
        if (!isempty(store) && !streq(store, "Standalone"))
                fields[n_fields++] = (Field){"Cluster store", strdup(store), NULL};
        /* only while the libvirt inventory cannot be followed */
        if (jbool(cluster, "InventoryStale"))
                fields[n_fields++] = (Field){"Inventory",
                        strdup("libvirt not reachable, showing the last known VMs"), ANSI_YELLOW};
        assert(n_fields <= ELEMENTSOF(fields));
        print_fields(c, fields, n_fields);
        fields_done(fields, n_fields);
        putchar('\n');
        return servers_table(c, servers);
}

static int verb_servers(Context *c, char **args) {
        _cleanup_(json_array_freep) JsonArray *servers = NULL;
        int r;

        r = get_objects(c, BUS_INTERFACE_SERVER, &servers);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_array_member(o, "servers", json_array_ref(servers));
                return print_json(c, o);
        }
        return servers_table(c, servers);
}

static const char *const status_order[] = {"ActiveBenefits", "InactiveBenefits", "Unknown",
        "NoApplicableBenefits"};

static int verb_vms(Context *c, char **args) {
        static const char *const headers[] = {"NAME", "STATUS", "ELIGIBLE", "ACTIVE", "ACTIONS",
                "LEGACY ACCESS"};
        _cleanup_(json_array_freep) JsonArray *vms = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        uint64_t counts[ELEMENTSOF(status_order)] = {};
        guint n;
        int r;

        r = get_objects(c, BUS_INTERFACE_VM, &vms);
        if (r < 0)
                return r;
        n = json_array_get_length(vms);
        for (guint i = 0; i < n; i++) {
                const char *s = jstr(json_array_get_object_element(vms, i), "Status");
                for (size_t k = 0; k < ELEMENTSOF(status_order); k++)
                        if (streq(s, status_order[k]))
                                counts[k]++;
        }

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                JsonObject *summary = json_object_new();

                for (size_t k = 0; k < ELEMENTSOF(status_order); k++)
                        json_object_set_int_member(summary, status_order[k], (gint64)counts[k]);
                json_object_set_int_member(summary, "Total", n);
                json_object_set_object_member(o, "summary", summary);
                json_object_set_array_member(o, "vms", json_array_ref(vms));
                return print_json(c, o);
        }

        if (c->legend) {
                Field fields[ELEMENTSOF(status_order)];
                for (size_t k = 0; k < ELEMENTSOF(status_order); k++) {
                        fields[k].label = vm_status_label(status_order[k]);
                        fields[k].color = NULL;
                        if (asprintf(&fields[k].value, "%" PRIu64, counts[k]) < 0)
                                fields[k].value = NULL;
                }
                print_fields(c, fields, ELEMENTSOF(fields));
                fields_done(fields, ELEMENTSOF(fields));
                putchar('\n');
        }

        if (n == 0) {
                if (c->legend)
                        puts("No VMs registered.");
                return 0;
        }

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return log_oom();
        for (guint i = 0; i < n && r >= 0; i++) {
                JsonObject *vm = json_array_get_object_element(vms, i);
                _cleanup_free_ char *eligible = jstrv_join(vm, "EligibleBenefits", ",");
                _cleanup_free_ char *active = jstrv_join(vm, "ActiveBenefits", ",");
                _cleanup_free_ char *actions = jstrv_join(vm, "RecommendedActions", ",");

                if (!eligible || !active || !actions)
                        return log_oom();
                r = table_add_cell(t, jstr(vm, "Name"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, vm_status_label(jstr(vm, "Status")),
                                state_color(jstr(vm, "Status")));
                if (r >= 0)
                        r = table_add_cell(t, eligible, NULL);
                if (r >= 0)
                        r = table_add_cell(t, active, NULL);
                if (r >= 0)
                        r = table_add_cell(t, actions, NULL);
                if (r >= 0)
                        r = table_add_cell(t, jbool(vm, "LegacyAccess") ? "yes" : "no", NULL);
        }
        if (r < 0)
                return log_oom();
        r = table_print(t, stdout, c->legend, c->color);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to write output: %s", strerror(-r));
        return 0;
}

/* Finds a VM by id (any case), else by exact name: an id always means its VM, as in the
 * service's lookups. */
static JsonObject *find_vm(JsonArray *vms, const char *key) {
        guint n = json_array_get_length(vms);

        for (guint i = 0; i < n; i++) {
                JsonObject *vm = json_array_get_object_element(vms, i);
                if (strcasecmp(jstr(vm, "Id"), key) == 0)
                        return vm;
        }
        for (guint i = 0; i < n; i++) {
                JsonObject *vm = json_array_get_object_element(vms, i);
                if (streq(jstr(vm, "Name"), key))
                        return vm;
        }
        return NULL;
}

static const struct {
        const char *property;
        const char *label;
} vm_labels[] = {
        {"Name", "Name"},
        {"Id", "Id"},
        {"Generation", "Generation"},
        {"PowerState", "Power state"},
        {"GuestServiceInterface", "Guest service interface"},
        {"DataExchange", "Data exchange"},
        {"OsName", "OS"},
        {"OsVersion", "OS version"},
        {"SqlVersion", "SQL Server version"},
        {"ArcAgentVersion", "Arc agent version"},
        {"VsockCid", "vsock CID"},
        {"LegacyMac", "Legacy NIC MAC"},
        {"Sku", "SKU"},
        {"LicenseType", "License type"},
        {"Status", "Status"},
        {"EligibleBenefits", "Eligible benefits"},
        {"ActiveBenefits", "Active benefits"},
        {"RecommendedActions", "Recommended actions"},
        {"RequiredUpdates", "Required updates"},
        {"LegacyAccess", "Legacy access"},
        {"Source", "Source"},
};

static char *json_value_to_text(JsonNode *n, const char *property) {
        if (json_node_is_bool(n))
                return strdup(json_node_get_boolean(n) ? "yes" : "no");
        if (json_node_is_integer(n)) {
                char *s;
                if (streq(property, "VsockCid") && json_node_get_int(n) == 0)
                        return strdup("");
                return asprintf(&s, "%" PRIi64, (int64_t)json_node_get_int(n)) < 0 ? NULL : s;
        }
        if (json_node_is_string(n)) {
                if (streq(property, "Status"))
                        return strdup(vm_status_label(json_node_get_string(n)));
                return strdup(json_node_get_string(n));
        }
        if (JSON_NODE_HOLDS_ARRAY(n)) {
                _cleanup_strv_free_ char **l = NULL;
                JsonArray *a = json_node_get_array(n);
                for (guint i = 0; i < json_array_get_length(a); i++)
                        if (json_node_is_string(json_array_get_element(a, i)) &&
                                strv_extend(&l, json_array_get_string_element(a, i)) < 0)
                                return NULL;
                return strv_join(l, ", ");
        }
        return strdup("");
}

static int verb_vm_show(Context *c, char **args) {
        _cleanup_(json_array_freep) JsonArray *vms = NULL;
        Field fields[ELEMENTSOF(vm_labels)];
        size_t n = 0;
        JsonObject *vm;
        int r;

        r = get_objects(c, BUS_INTERFACE_VM, &vms);
        if (r < 0)
                return r;
        vm = find_vm(vms, args[0]);
        if (!vm)
                return log_error_status(c, EXIT_SERVICE, -ENOENT,
                        "No VM is registered with the name or id '%s'. (%s)", args[0], BUS_ERROR_NO_SUCH_VM);

        if (c->json != JSON_OFF)
                return print_json(c, vm);

        for (size_t i = 0; i < ELEMENTSOF(vm_labels); i++) {
                JsonNode *node = json_object_get_member(vm, vm_labels[i].property);
                if (!node)
                        continue;
                fields[n].label = vm_labels[i].label;
                fields[n].value = json_value_to_text(node, vm_labels[i].property);
                fields[n].color =
                        streq(vm_labels[i].property, "Status") ? state_color(jstr(vm, "Status")) : NULL;
                n++;
        }
        print_fields(c, fields, n);
        fields_done(fields, n);
        return 0;
}

/* ---- verbs: changing ------------------------------------------------------------------------ */

static int local_invalid(Context *c, const sd_bus_error *e, int r, const char *what) {
        return log_bus_error(c, e, r, what); /* same format as the service's errors */
}

static int verb_vm_add(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        VmPropertyList *l = &c->options;
        const char *path;
        int r;

        STRV_FOREACH (a, args) {
                r = vm_property_list_add_assignment(l, *a, &error);
                if (r < 0)
                        return local_invalid(c, &error, r, "register VM");
        }
        r = vm_property_list_validate(l, true, &error);
        if (r < 0)
                return local_invalid(c, &error, r, "register VM");

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = new_admin_call(c, "RegisterVM", &m);
        if (r >= 0)
                r = vm_property_list_append(l, m, false);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to build the RegisterVM call: %s",
                        strerror(-r));
        r = admin_call(c, m, "register VM", &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the RegisterVM reply: %s",
                        strerror(-r));

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_string_member(o, "path", path);
                return print_json(c, o);
        }
        printf("Registered VM '%s' as %s.\n", vm_property_list_get_string(l, "Name"), path);
        return 0;
}

static int verb_vm_update(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        VmPropertyList *l = &c->options;
        int r;

        STRV_FOREACH (a, args + 1) {
                r = vm_property_list_add_assignment(l, *a, &error);
                if (r < 0)
                        return local_invalid(c, &error, r, "update VM");
        }
        if (l->n == 0)
                return usage_error(c, "vm update: nothing to change: give KEY=VALUE or --KEY VALUE.");
        r = vm_property_list_validate(l, false, &error);
        if (r < 0)
                return local_invalid(c, &error, r, "update VM");

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = new_admin_call(c, "UpdateVM", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", args[0]);
        if (r >= 0)
                r = vm_property_list_append(l, m, false);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to build the UpdateVM call: %s",
                        strerror(-r));
        return admin_call(c, m, "update VM", NULL);
}

static int verb_vm_remove(Context *c, char **args) {
        return simple_admin_call(c, "UnregisterVM", "unregister VM", "s", args[0]);
}

static int parse_on_off(Context *c, const char *verb, const char *s, bool *ret) {
        int b = parse_boolean(s);
        if (b < 0)
                return usage_error(c, "%s: expected 'on' or 'off', not '%s'.", verb, s);
        *ret = b;
        return 0;
}

static int verb_legacy(Context *c, char **args) {
        bool enable = false;
        int r;

        r = parse_on_off(c, "legacy", args[0], &enable);
        if (r < 0)
                return r;
        return simple_admin_call(c, "EnableLegacy",
                enable ? "enable legacy OS support" : "disable legacy OS support", "b", (int)enable);
}

/* "legacy reapply SERVER": ReapplyLegacy, the -ComputerName of Enable-AzStackHCIAttestation. */
static int verb_legacy_reapply(Context *c, char **args) {
        return simple_admin_call(c, "ReapplyLegacy", "re-apply legacy OS support", "s", args[0]);
}

/* "legacy status": GetLegacyNetworkStatus (open to everyone). Exit 0 when the bridge, address,
 * firewall and every VM's port are as configured, 1 (EXIT_SERVICE) when something drifted. */
static int verb_legacy_status(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *report;
        int ok, r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "GetLegacyNetworkStatus", &error,
                &reply, NULL);
        if (r < 0)
                return log_bus_error(c, &error, r, "get the legacy network status");
        r = sd_bus_message_read(reply, "bs", &ok, &report);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r,
                        "Failed to parse the GetLegacyNetworkStatus reply: %s", strerror(-r));

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_boolean_member(o, "ok", ok);
                json_object_set_string_member(o, "report", report);
                r = print_json(c, o);
                if (r < 0)
                        return r;
        } else {
                fputs(report, stdout);
                if (!isempty(report) && report[strlen(report) - 1] != '\n')
                        putchar('\n');
                if (fflush(stdout) == EOF)
                        return log_error_status(c, EXIT_SERVICE, -errno, "Failed to write output.");
        }
        if (!ok)
                return log_error_status(c, EXIT_SERVICE, -EIO,
                        "The legacy network drifted from its configuration. Repair: "
                        "azshcictl legacy off && azshcictl legacy on");
        return 0;
}

static int verb_vm_access(Context *c, char **args) {
        const char *vm;
        bool enable = false;
        int r;

        if (c->all) {
                if (strv_length(args) != 1)
                        return usage_error(c, "vm-access --all: expected 'on' or 'off' and nothing else.");
                vm = "*";
        } else {
                if (strv_length(args) != 2)
                        return usage_error(c, "vm-access: expected NAME|ID on|off, or --all on|off.");
                vm = args[0];
                args++;
        }
        r = parse_on_off(c, "vm-access", args[0], &enable);
        if (r < 0)
                return r;
        return simple_admin_call(c, "SetVMAccess", enable ? "grant legacy access" : "revoke legacy access",
                "sb", vm, (int)enable);
}

static int verb_sync(Context *c, char **args) {
        _cleanup_(json_object_freep) JsonObject *cluster = NULL;
        char buf[64];
        int r;

        r = simple_admin_call(c, "Sync", "sync", NULL);
        if (r < 0)
                return r;
        r = get_cluster(c, &cluster);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_int_member(o, "LastSync", (gint64)jint(cluster, "LastSync"));
                json_object_set_int_member(o, "CertificateExpiry",
                        (gint64)jint(cluster, "CertificateExpiry"));
                return print_json(c, o);
        }
        printf("Synced. The signing certificate is valid until %s.\n",
                format_timestamp_utc(buf, sizeof buf, jint(cluster, "CertificateExpiry")));
        return 0;
}

static int verb_ca_export(Context *c, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *pem;
        int r;

        r = connect_bus(c);
        if (r < 0)
                return r;
        /* The trust anchor (PEM) that verifiers of our documents trust. Open to everyone. */
        r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "GetTrustAnchor", &error, &reply,
                NULL);
        if (r < 0)
                return log_bus_error(c, &error, r, "get the trust anchor");
        r = sd_bus_message_read(reply, "s", &pem);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to parse the GetTrustAnchor reply: %s",
                        strerror(-r));
        if (isempty(pem))
                return log_error_status(c, EXIT_SERVICE, -ENOENT,
                        "The service has no trust anchor yet. (%s)", BUS_ERROR_NOT_CONFIGURED);

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                json_object_set_string_member(o, "pem", pem);
                return print_json(c, o);
        }
        fputs(pem, stdout);
        if (pem[strlen(pem) - 1] != '\n')
                putchar('\n');
        return 0;
}

/* ---- vm import ---------------------------------------------------------------------------- */

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

typedef struct ImportCounts {
        unsigned registered, updated, removed, failed;
} ImportCounts;

/* One entry of the import report, in JSON and on the terminal. */
static void import_report(Context *c, JsonArray *results, ImportCounts *counts, int index, const char *id,
        const char *name, const char *result, const char *path, const sd_bus_error *e, int r) {
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
                counts->failed++;
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
                        counts->registered++;
                else if (streq(result, "updated"))
                        counts->updated++;
                else
                        counts->removed++;
                if (c->json == JSON_OFF) {
                        /* "Registered", "Updated", "Removed" */
                        printf("%c%s %s (%s)\n", result[0] - 'a' + 'A', result + 1, strempty(name),
                                strempty(id));
                }
        }
        json_array_add_object_element(results, o);
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

        (void)polkit_agent_open(c);
        r = sd_bus_call(c->bus, m, c->ask_password ? CALL_TIMEOUT_INTERACTIVE_USEC : CALL_TIMEOUT_USEC,
                error, &reply);
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

static int verb_vm_import(Context *c, char **args) {
        _cleanup_(json_array_freep) JsonArray *existing = NULL, *results = NULL;
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_(hash_index_done) HashIndex existing_ids = {}, seen_ids = {};
        _cleanup_(import_entries_done) ImportEntries entries = {};
        _cleanup_strv_free_ char **existing_norm = NULL;
        _cleanup_free_ char *data = NULL, *parse_error = NULL;
        ImportCounts counts = {};
        size_t n_existing;
        JsonArray *items;
        JsonNode *root;
        bool fatal = false;
        int r, status = EXIT_OK;

        if (streq(args[0], "-")) {
                r = read_stdin(&data);
                if (r < 0)
                        return log_error_status(c, EXIT_SERVICE, r, "Failed to read standard input: %s",
                                strerror(-r));
                r = json_parse_data("<stdin>", data, &parser, &parse_error);
        } else
                r = json_parse_file(args[0], &parser, &parse_error);
        if (r < 0)
                return log_error_status(c, EXIT_SERVICE, r, "Failed to import VMs: %s", strna(parse_error));

        /* Either an array of VM objects, or the output of `azshcictl vms --json`. */
        root = json_parser_get_root(parser);
        if (JSON_NODE_HOLDS_OBJECT(root) && json_object_has_member(json_node_get_object(root), "vms") &&
                JSON_NODE_HOLDS_ARRAY(json_object_get_member(json_node_get_object(root), "vms")))
                items = json_object_get_array_member(json_node_get_object(root), "vms");
        else if (JSON_NODE_HOLDS_ARRAY(root))
                items = json_node_get_array(root);
        else
                return log_error_status(c, EXIT_SERVICE, -EBADMSG,
                        "%s: expected a JSON array of VM objects (or an object with a \"vms\" array).",
                        args[0]);

        r = get_objects(c, BUS_INTERFACE_VM, &existing);
        if (r < 0)
                return r;

        /* Registered ids, for "update or register?" in O(1) per entry. */
        hash_index_init(&existing_ids, &hash_index_string_type);
        n_existing = json_array_get_length(existing);
        existing_norm = calloc(n_existing + 1, sizeof(char *));
        if (!existing_norm)
                return log_oom();
        for (size_t i = 0, k = 0; i < n_existing; i++)
                if (uuid_normalize(jstr(json_array_get_object_element(existing, i), "Id"),
                            &existing_norm[k]) >= 0) {
                        r = hash_index_put(&existing_ids, existing_norm[k], existing_norm[k]);
                        if (r == -ENOMEM)
                                return log_oom();
                        k++;
                }

        entries.n = json_array_get_length(items);
        entries.items = calloc(entries.n, sizeof(ImportEntry));
        if (entries.n > 0 && !entries.items)
                return log_oom();
        hash_index_init(&seen_ids, &hash_index_string_type);
        for (size_t i = 0; i < entries.n; i++) {
                r = import_entry_read(&entries.items[i], json_array_get_element(items, i), &existing_ids);
                if (r == -ENOMEM)
                        return log_oom();
                if (entries.items[i].id &&
                        hash_index_put(&seen_ids, entries.items[i].id, &entries.items[i]) == -ENOMEM)
                        return log_oom();
        }

        results = json_array_new();
        for (size_t i = 0; i < entries.n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
                ImportEntry *e = &entries.items[i];
                const char *path = NULL;

                if (fatal) {
                        /* Report what a batch registered before the import had to stop. */
                        if (e->path)
                                import_report(c, results, &counts, (int)i, e->id, e->name, "registered",
                                        e->path, NULL, 0);
                        continue;
                }
                if (e->r < 0) {
                        import_report(c, results, &counts, (int)i, e->id, e->name, "failed", NULL, &e->error,
                                e->r);
                        continue;
                }
                if (e->path) {
                        import_report(c, results, &counts, (int)i, e->id, e->name, "registered", e->path,
                                NULL, 0);
                        continue;
                }

                if (!e->update && !e->batch_tried) {
                        /* This and the next new entries, in one ImportVMs call. */
                        r = import_batch(c, &entries, i, &error);
                        if (r >= 0) {
                                import_report(c, results, &counts, (int)i, e->id, e->name, "registered",
                                        e->path, NULL, 0);
                                continue;
                        }
                        int s = exit_status_for_bus_error(&error, r);
                        if (s == EXIT_NOT_AUTHORIZED || s == EXIT_UNREACHABLE) {
                                /* Everything after would fail the same way. */
                                import_report(c, results, &counts, (int)i, e->id, e->name, "failed", NULL,
                                        &error, r);
                                status = s;
                                fatal = true;
                                continue;
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
                        return log_error_status(c, EXIT_SERVICE, r, "Failed to build a call: %s",
                                strerror(-r));

                (void)polkit_agent_open(c);
                r = sd_bus_call(c->bus, m,
                        c->ask_password ? CALL_TIMEOUT_INTERACTIVE_USEC : CALL_TIMEOUT_USEC, &error, &reply);
                if (r >= 0 && !e->update)
                        r = sd_bus_message_read(reply, "o", &path);
                if (r < 0) {
                        int s = exit_status_for_bus_error(&error, r);
                        import_report(c, results, &counts, (int)i, e->id, e->name, "failed", NULL, &error,
                                r);
                        /* Everything after would fail the same way. */
                        if (s == EXIT_NOT_AUTHORIZED || s == EXIT_UNREACHABLE) {
                                status = s;
                                fatal = true;
                        }
                        continue;
                }
                if (e->update) {
                        _cleanup_free_ char *p = NULL;
                        if (sd_bus_path_encode(BUS_PATH_VM_PREFIX, e->id, &p) >= 0)
                                import_report(c, results, &counts, (int)i, e->id, e->name, "updated", p,
                                        NULL, 0);
                        else
                                import_report(c, results, &counts, (int)i, e->id, e->name, "updated", NULL,
                                        NULL, 0);
                } else
                        import_report(c, results, &counts, (int)i, e->id, e->name, "registered", path, NULL,
                                0);
        }

        /* --replace: the file is the whole inventory; forget VMs it does not mention. Only when
         * every entry of the file made it, so a typo cannot wipe a VM out. */
        if (c->replace && !fatal && counts.failed == 0)
                for (guint i = 0; i < json_array_get_length(existing) && !fatal; i++) {
                        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                        JsonObject *vm = json_array_get_object_element(existing, i);
                        _cleanup_free_ char *id = NULL;

                        if (uuid_normalize(jstr(vm, "Id"), &id) < 0 || hash_index_get(&seen_ids, id))
                                continue;
                        r = new_admin_call(c, "UnregisterVM", &m);
                        if (r >= 0)
                                r = sd_bus_message_append(m, "s", id);
                        if (r >= 0)
                                r = sd_bus_call(c->bus, m,
                                        c->ask_password ? CALL_TIMEOUT_INTERACTIVE_USEC : CALL_TIMEOUT_USEC,
                                        &error, NULL);
                        if (r < 0) {
                                int s = exit_status_for_bus_error(&error, r);
                                import_report(c, results, &counts, -1, id, jstr(vm, "Name"), "failed", NULL,
                                        &error, r);
                                if (s == EXIT_NOT_AUTHORIZED || s == EXIT_UNREACHABLE) {
                                        status = s;
                                        fatal = true;
                                }
                                continue;
                        }
                        import_report(c, results, &counts, -1, id, jstr(vm, "Name"), "removed", NULL, NULL,
                                0);
                }
        else if (c->replace && counts.failed > 0)
                fputs("azshcictl: Not removing unlisted VMs (--replace) because some entries failed.\n",
                        stderr);

        if (c->json != JSON_OFF) {
                _cleanup_(json_object_freep) JsonObject *o = json_object_new();
                JsonObject *summary = json_object_new();

                json_object_set_int_member(summary, "registered", counts.registered);
                json_object_set_int_member(summary, "updated", counts.updated);
                json_object_set_int_member(summary, "removed", counts.removed);
                json_object_set_int_member(summary, "failed", counts.failed);
                json_object_set_object_member(o, "summary", summary);
                json_object_set_array_member(o, "results", json_array_ref(results));
                r = print_json(c, o);
                if (r < 0)
                        return r;
        } else
                printf("%u registered, %u updated, %u removed, %u failed.\n", counts.registered,
                        counts.updated, counts.removed, counts.failed);

        if (counts.failed > 0) {
                c->exit_status = status != EXIT_OK ? status : EXIT_SERVICE;
                return -EIO;
        }
        return 0;
}

/* ---- command line -------------------------------------------------------------------------- */

static void help(void) {
        printf("azshcictl %s: manage the host attestation service (org.azshci.Attestation1).\n"
               "\n"
               "SYNOPSIS\n"
               "  azshcictl [OPTIONS...] COMMAND [ARGS...]\n"
               "\n"
               "COMMANDS\n"
               "  status                     Cluster state (host state, legacy OS support, last sync,\n"
               "                             certificate expiry, subscription, version) and the servers.\n"
               "                             The default when no command is given.\n"
               "  servers                    The servers of the cluster: state, last sync, expiry, error.\n"
               "  vms                        VM dashboard: how many VMs have active benefits, inactive\n"
               "                             benefits, unknown status, no applicable benefits; then one\n"
               "                             line per VM (name, status, eligible and active benefits,\n"
               "                             recommended actions, legacy access).\n"
               "  vm show NAME|ID            Every property of one VM.\n"
               "  vm add --name N --id UUID [--KEY VALUE...] [KEY=VALUE...]\n"
               "                             Register a VM (RegisterVM). Prints its object path.\n"
               "  vm update NAME|ID [--KEY VALUE...] [KEY=VALUE...]\n"
               "                             Change registration properties of a VM (UpdateVM).\n"
               "  vm remove NAME|ID          Forget a VM (UnregisterVM).\n"
               "  vm import FILE.json|-      Register the VMs of a JSON array of objects keyed by D-Bus\n"
               "                             property name (or the output of 'vms --json'); VMs whose\n"
               "                             Id is already registered are updated. One line per VM.\n"
               "  legacy on|off              Turn cluster-wide legacy OS support (the REST path) on or\n"
               "                             off. Turning it on grants legacy access to every VM\n"
               "                             registered now (Generation 1 VMs only when Off).\n"
               "  legacy status              The legacy network (bridge, address, firewall, each VM's\n"
               "                             port) against the configuration; names what drifted.\n"
               "                             Exit 1 on drift (repair: legacy off, then legacy on).\n"
               "                             --json: {\"ok\":BOOL,\"report\":\"TEXT\"}.\n"
               "  legacy reapply SERVER      In a cluster: make SERVER re-apply the cluster's legacy OS\n"
               "                             support (rebuild or remove its bridge and firewall).\n"
               "  vm-access NAME|ID on|off   Grant or revoke one VM's legacy access.\n"
               "  vm-access --all on|off     ... for every registered VM.\n"
               "  sync                       Renew the signing certificate now.\n"
               "  ca export                  Print the trust anchor (PEM) guests verify documents with.\n"
               "  help                       This text.\n"
               "\n"
               "VM PROPERTIES (vm add, vm update; KEY is the D-Bus name or its --option spelling)\n"
               "  --id UUID                       Id=UUID                required for add\n"
               "  --name NAME                     Name=NAME              required for add\n"
               "  --generation 1|2                Generation=2           default 2\n"
               "  --power-state Running|Off|Paused                       default Running\n"
               "  --guest-service-interface yes|no                       virtio-vsock present\n"
               "  --data-exchange yes|no                                 guest reports OS facts\n"
               "  --os-name TEXT                  e.g. \"Windows Server 2022 Datacenter: Azure Edition\"\n"
               "  --os-version VERSION            e.g. 10.0.20348.2402\n"
               "  --sql-version VERSION           e.g. 11.0.7001\n"
               "  --arc-agent-version VERSION     e.g. 1.39.0\n"
               "  --vsock-cid N                   guest CID, 0 = none\n"
               "  --legacy-mac MAC                the legacy NIC's MAC, \"\" = none\n"
               "  --legacy-interface IFNAME       host side of the legacy NIC (tap/veth), \"\" = none\n"
               "  --sku TEXT, --license-type TEXT\n"
               "  Booleans accept yes/no, true/false, on/off, 1/0.\n"
               "\n"
               "OPTIONS\n"
               "  -h --help                  Show this help and exit.\n"
               "     --version               Show the version and exit.\n"
               "     --json[=short|pretty]   Machine-readable output (see docs/azshcictl.md for the\n"
               "                             exact shapes); 'short' (the default) is one line.\n"
               "     --no-legend             Leave out table headers and the dashboard counts.\n"
               "     --no-ask-password       Do not ask for authentication: no text agent, and calls\n"
               "                             are sent without allowing interactive authorization.\n"
               "  -a --all                   With vm-access: every VM.\n"
               "     --replace               With vm import: afterwards remove registered VMs that the\n"
               "                             file does not list (only if every entry succeeded).\n"
               "\n"
               "AUTHORIZATION\n"
               "  Reading is open to everyone. Changes are polkit actions\n"
               "  (org.azshci.attestation.{sync,manage-legacy,manage-vm-access,manage-inventory}).\n"
               "  Root is authorized without asking. Otherwise, when standard input is a terminal,\n"
               "  azshcictl starts 'pkttyagent' so that polkit can ask for a password there.\n"
               "\n"
               "EXIT STATUS\n"
               "  0  success\n"
               "  1  the service refused or failed the request (invalid argument, no such VM,\n"
               "     power-off required, not configured, sync failed, ...), an import entry failed,\n"
               "     or 'legacy status' found drift\n"
               "  2  usage error (unknown command or option, wrong number of arguments)\n"
               "  3  not authorized (polkit said no, or the bus policy refused the call)\n"
               "  4  the system bus or the service is not reachable\n"
               "\n"
               "ENVIRONMENT\n"
               "  DBUS_SYSTEM_BUS_ADDRESS    The system bus to use (default\n"
               "                             unix:path=/run/dbus/system_bus_socket).\n"
               "  NO_COLOR                   If set, never use colour. Colour is used only when\n"
               "                             standard output is a terminal and TERM is not 'dumb'.\n"
               "\n"
               "EXAMPLES\n"
               "  azshcictl status\n"
               "  azshcictl vm add --name sql2012 --id 5f0e5ab4-59f5-4a3c-9d6c-3c1a0f6a2b11 \\\n"
               "          --generation 1 --power-state Off --os-name \"Windows Server 2012 R2 Datacenter\" "
               "\\\n"
               "          --os-version 6.3.9600.21620 --data-exchange yes --legacy-mac 52:54:00:12:34:56\n"
               "  azshcictl vm update sql2012 PowerState=Running\n"
               "  azshcictl vm import /usr/share/azshci/demo/vms.json\n"
               "  azshcictl legacy on && azshcictl vm-access --all on\n"
               "  azshcictl vms --json | jq '.vms[] | select(.Status == \"InactiveBenefits\") | .Name'\n"
               "\n"
               "See docs/azshcictl.md for the full manual.\n",
                PACKAGE_VERSION);
}

typedef int (*VerbFunction)(Context *c, char **args);

typedef struct Verb {
        const char *word1, *word2; /* "vm" "show"; word2 NULL for one-word commands */
        size_t min_args, max_args;
        bool field_options; /* accepts --name, --id, ... */
        VerbFunction run;
} Verb;

#define ARGS_MAX SIZE_MAX

static const Verb verbs[] = {
        {"status", NULL, 0, 0, false, verb_status},
        {"servers", NULL, 0, 0, false, verb_servers},
        {"vms", NULL, 0, 0, false, verb_vms},
        {"vm", "show", 1, 1, false, verb_vm_show},
        {"vm", "add", 0, ARGS_MAX, true, verb_vm_add},
        {"vm", "update", 1, ARGS_MAX, true, verb_vm_update},
        {"vm", "remove", 1, 1, false, verb_vm_remove},
        {"vm", "import", 1, 1, false, verb_vm_import},
        {"legacy", "status", 0, 0, false, verb_legacy_status}, /* before "legacy on|off" */
        {"legacy", "reapply", 1, 1, false, verb_legacy_reapply},
        {"legacy", NULL, 1, 1, false, verb_legacy},
        {"vm-access", NULL, 1, 2, false, verb_vm_access},
        {"sync", NULL, 0, 0, false, verb_sync},
        {"ca", "export", 0, 0, false, verb_ca_export},
};

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_NO_ASK_PASSWORD,
        ARG_REPLACE,
        ARG_FIELD_BASE = 0x200,
};

/* "GuestServiceInterface" → "guest-service-interface". */
static char *option_name(const char *field) {
        char *s = malloc(strlen(field) * 2 + 1), *p = s;

        if (!s)
                return NULL;
        for (const char *f = field; *f; f++) {
                if (*f >= 'A' && *f <= 'Z') {
                        if (f != field)
                                *p++ = '-';
                        *p++ = (char)(*f - 'A' + 'a');
                } else
                        *p++ = *f;
        }
        *p = 0;
        return s;
}

static void options_free(struct option *options) {
        for (struct option *o = options; o && o->name; o++)
                if (o->val >= ARG_FIELD_BASE)
                        free((char *)o->name);
        free(options);
}

static void options_freep(struct option **o) {
        options_free(*o);
}

static int parse_argv(Context *c, int argc, char *argv[], bool *ret_help, bool *ret_field_options) {
        static const struct option fixed[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", optional_argument, NULL, ARG_JSON},
                {"no-legend", no_argument, NULL, ARG_NO_LEGEND},
                {"no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD},
                {"all", no_argument, NULL, 'a'},
                {"replace", no_argument, NULL, ARG_REPLACE},
        };
        _cleanup_(options_freep) struct option *options = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        size_t n_fields = 0, k = 0;
        int opt, r;

        while (vm_fields[n_fields].name)
                n_fields++;
        options = calloc(ELEMENTSOF(fixed) + n_fields + 1, sizeof(struct option));
        if (!options)
                return log_oom();
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                options[k++] = fixed[i];
        for (size_t i = 0; i < n_fields; i++) {
                char *name = option_name(vm_fields[i].name);
                if (!name)
                        return log_oom();
                options[k++] = (struct option){name, required_argument, NULL, ARG_FIELD_BASE + (int)i};
        }

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":ha", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        *ret_help = true;
                        break;
                case ARG_VERSION:
                        printf("azshcictl %s\n", PACKAGE_VERSION);
                        c->exit_status = EXIT_OK;
                        return 0;
                case ARG_JSON:
                        if (!optarg || streq(optarg, "short"))
                                c->json = JSON_SHORT;
                        else if (streq(optarg, "pretty"))
                                c->json = JSON_PRETTY;
                        else
                                return usage_error(c, "--json= expects 'short' or 'pretty', not '%s'.",
                                        optarg);
                        break;
                case ARG_NO_LEGEND:
                        c->legend = false;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        c->ask_password = false;
                        break;
                case 'a':
                        c->all = true;
                        break;
                case ARG_REPLACE:
                        c->replace = true;
                        break;
                case ':':
                        return usage_error(c, "Option '%s' needs an argument.", argv[optind - 1]);
                case '?':
                        if (optopt)
                                return usage_error(c, "Unknown option '-%c'.", optopt);
                        return usage_error(c, "Unknown option '%s'.", argv[optind - 1]);
                default:
                        if (opt < ARG_FIELD_BASE || (size_t)(opt - ARG_FIELD_BASE) >= n_fields)
                                return usage_error(c, "Unexpected option.");
                        r = vm_property_list_add_string(&c->options, vm_fields[opt - ARG_FIELD_BASE].name,
                                optarg, &error);
                        if (r < 0)
                                return log_bus_error(c, &error, r, "parse the command line");
                        *ret_field_options = true;
                }
        }
        return 1;
}

static int run(Context *c, int argc, char *argv[]) {
        bool show_help = false, field_options = false;
        char **args;
        size_t n_args;
        const Verb *verb = NULL;
        int r;

        r = parse_argv(c, argc, argv, &show_help, &field_options);
        if (r <= 0)
                return r;

        args = argv + optind;
        n_args = (size_t)(argc - optind);
        if (show_help || (n_args > 0 && streq(args[0], "help"))) {
                help();
                return 0;
        }

        if (n_args == 0)
                verb = &verbs[0]; /* status */
        else {
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                        if (!streq(verbs[i].word1, args[0]))
                                continue;
                        if (verbs[i].word2 && (n_args < 2 || !streq(verbs[i].word2, args[1])))
                                continue;
                        verb = &verbs[i];
                        break;
                }
                if (!verb) {
                        if (streq(args[0], "vm") || streq(args[0], "ca"))
                                return usage_error(c, "Unknown or missing '%s' subcommand%s%s.", args[0],
                                        n_args > 1 ? ": " : "", n_args > 1 ? args[1] : "");
                        return usage_error(c, "Unknown command '%s'.", args[0]);
                }
                args += verb->word2 ? 2 : 1;
                n_args -= verb->word2 ? 2 : 1;
        }

        if (n_args < verb->min_args || n_args > verb->max_args)
                return usage_error(c, "%s%s%s: wrong number of arguments.", verb->word1,
                        verb->word2 ? " " : "", strempty(verb->word2));
        if (field_options && !verb->field_options)
                return usage_error(c,
                        "VM property options (--name, --id, ...) only go with 'vm add' and 'vm update'.");
        if (c->all && verb->run != verb_vm_access)
                return usage_error(c, "--all only goes with 'vm-access'.");
        if (c->replace && verb->run != verb_vm_import)
                return usage_error(c, "--replace only goes with 'vm import'.");

        return verb->run(c, args);
}

int main(int argc, char *argv[]) {
        Context c = {
                .ask_password = true,
                .legend = true,
                .exit_status = -1,
                .agent_pid = 0,
        };
        const char *term = getenv("TERM");
        int r;

        log_set_program_name("azshcictl");
        c.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !streq_ptr(term, "dumb");

        r = run(&c, argc, argv);

        polkit_agent_close(&c);
        c.bus = sd_bus_flush_close_unref(c.bus);
        vm_property_list_done(&c.options);

        if (r < 0)
                return c.exit_status >= 0 && c.exit_status != EXIT_OK ? c.exit_status : EXIT_SERVICE;
        return EXIT_OK;
}
