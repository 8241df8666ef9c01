/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The a{sv} decoding of RegisterVM/UpdateVM (vm_apply_properties_message) on messages built
 * from the fuzz input.
 *
 * Why a structured input and not raw D-Bus wire bytes: the service never sees raw bytes. sd-bus
 * parses and validates the wire format (its own parser is fuzzed upstream by systemd) and
 * dispatches RegisterVM only when the body has the signature a{sv}; libsystemd has no public
 * call to turn raw bytes into a message anyway. What a hostile caller controls is everything
 * inside the a{sv}: any number of entries, any key, and any type and value inside each
 * variant (nested containers, wrong types, unknown keys, duplicates, huge strings). So the
 * input is a small byte code that builds exactly such a message with sd_bus_message_append*,
 * sealed like a received one:
 *
 *   input := entry*            (at most 64)
 *   entry := KEY TYPE value
 *   KEY   := byte < 0xe0: the name of registration field (byte % number of fields)
 *            else: a key string (LEN byte + bytes)
 *   TYPE  := byte % 14 selects the variant's content: s u b i x d o g y as a{sv} v (su) ay
 *   value := the bytes that type needs (strings: LEN byte + bytes; integers: little endian)
 *
 * Inputs whose strings are not valid UTF-8 (or not valid object paths or signatures) are
 * dropped, because sd-bus refuses them on the wire too. Properties checked: no crash or leak;
 * a rejected message sets a D-Bus error; applying an accepted message again to the same VM
 * (UpdateVM) succeeds; an accepted VM copies, reads back every field and has an object path. */

#include <sys/socket.h>

#include "fuzz.h"
#include "vm.h"

typedef struct Input {
        const uint8_t *data;
        size_t size, pos;
} Input;

static uint8_t get_byte(Input *in) {
        return in->pos < in->size ? in->data[in->pos++] : 0;
}

static uint64_t get_uint(Input *in, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v |= (uint64_t)get_byte(in) << (8 * i);
        return v;
}

/* A string of LEN bytes (NUL bytes become 'x': D-Bus strings cannot hold them). */
static void get_string(Input *in, char *buf) {
        unsigned len = get_byte(in);
        for (unsigned i = 0; i < len; i++) {
                uint8_t c = get_byte(in);
                buf[i] = c ? (char)c : 'x';
        }
        buf[len] = 0;
}

static sd_bus *fuzz_bus(void) {
        static sd_bus *bus = NULL;
        int fds[2];

        /* sd_bus_message_new() wants a bus that is not unset: one end of a socket pair, never
         * read; the messages are only built and read in memory. */
        if (bus)
                return bus;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                abort();
        if (sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0)
                abort();
        return bus;
}

static int append_value(sd_bus_message *m, Input *in, unsigned depth);

static int append_entry(sd_bus_message *m, Input *in, unsigned depth) {
        char key[256];
        uint8_t k = get_byte(in);
        size_t n_fields = 0;
        int r;

        while (vm_fields[n_fields].name)
                n_fields++;
        if (k < 0xe0)
                snprintf(key, sizeof key, "%s", vm_fields[k % n_fields].name);
        else
                get_string(in, key);

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', key);
        if (r < 0)
                return r;
        r = append_value(m, in, depth);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_string(sd_bus_message *m, Input *in, unsigned depth _unused_) {
        char s[256];

        get_string(in, s);
        return sd_bus_message_append_basic(m, 's', s);
}

/* A variant holding an array (contents: its signature) of n elements, each from element(). */
static int append_array(sd_bus_message *m, Input *in, unsigned depth, const char *contents, unsigned n,
        int (*element)(sd_bus_message *m, Input *in, unsigned depth)) {
        int r;

        r = sd_bus_message_open_container(m, 'v', contents);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', contents + 1);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n; i++) {
                r = element(m, in, depth);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* One variant. */
static int append_value(sd_bus_message *m, Input *in, unsigned depth) {
        char s[256], s2[256];
        int r;

        switch (get_byte(in) % 14) {
        case 0:
                get_string(in, s);
                return sd_bus_message_append(m, "v", "s", s);
        case 1:
                return sd_bus_message_append(m, "v", "u", (uint32_t)get_uint(in, 4));
        case 2:
                return sd_bus_message_append(m, "v", "b", (int)(get_byte(in) & 1));
        case 3:
                return sd_bus_message_append(m, "v", "i", (int32_t)get_uint(in, 4));
        case 4:
                return sd_bus_message_append(m, "v", "x", (int64_t)get_uint(in, 8));
        case 5: {
                uint64_t u = get_uint(in, 8);
                double d;
                memcpy(&d, &u, sizeof d);
                return sd_bus_message_append(m, "v", "d", d);
        }
        case 6:
                get_string(in, s);
                return sd_bus_message_append(m, "v", "o", s);
        case 7:
                get_string(in, s);
                return sd_bus_message_append(m, "v", "g", s);
        case 8:
                return sd_bus_message_append(m, "v", "y", get_byte(in));
        case 9:
                return append_array(m, in, depth, "as", get_byte(in) % 8, append_string);
        case 10:
                return append_array(m, in, depth + 1, "a{sv}", depth < 3 ? get_byte(in) % 4 : 0,
                        append_entry);
        case 11:
                if (depth >= 3)
                        return sd_bus_message_append(m, "v", "s", "");
                r = sd_bus_message_open_container(m, 'v', "v");
                if (r < 0)
                        return r;
                r = append_value(m, in, depth + 1);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(m);
        case 12:
                get_string(in, s);
                return sd_bus_message_append(m, "v", "(su)", s, (uint32_t)get_uint(in, 4));
        default:
                get_string(in, s2);
                return sd_bus_message_append(m, "v", "ay", strlen(s2), s2);
        }
}

static int build_message(const uint8_t *data, size_t size, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Input in = {.data = data, .size = size};
        int r;

        r = sd_bus_message_new_method_call(fuzz_bus(), &m, "org.azshci.Attestation1",
                "/org/azshci/Attestation1", "org.azshci.Attestation1", "RegisterVM");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 64 && in.pos < in.size; i++) {
                r = append_entry(m, &in, 0);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_seal(m, 1, 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(vm_freep) Vm *vm = NULL, *copy = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (size > 16384)
                return 0;
        if (build_message(data, size, &m) < 0)
                return 0; /* not a message sd-bus would deliver */

        vm = vm_new();
        fuzz_check(vm);
        r = vm_apply_properties_message(vm, m, &error);
        if (getenv("FUZZ_VERBOSE"))
                fprintf(stderr, "apply: %d %s\n", r, strna(error.message));
        if (r < 0)
                return 0; /* refused: the handler replies with the error */
        fuzz_check(!sd_bus_error_is_set(&error));

        /* UpdateVM with the same dictionary onto the now populated VM. */
        fuzz_check(sd_bus_message_rewind(m, true) >= 0);
        r = vm_apply_properties_message(vm, m, &error);
        fuzz_check(r >= 0);

        for (size_t i = 0; vm_fields[i].name; i++) {
                VmValue v;
                fuzz_check(vm_get_field(vm, vm_fields[i].name, &v) >= 0);
                fuzz_check(v.type == vm_fields[i].type);
        }
        fuzz_check(vm_copy(vm, &copy) >= 0);

        if (vm_validate_complete(vm, NULL) >= 0) {
                fuzz_check(vm_object_path(vm, &path) >= 0);
                fuzz_check(sd_bus_object_path_is_valid(path));
        }
        return 0;
}
