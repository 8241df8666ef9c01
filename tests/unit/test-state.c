/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* State serialisation (state.h): round trips, and every way a state file can be wrong being
 * refused with a message that says what is wrong. */

#define TEST_PREFIX "/state"

#include <glib.h>

#include "fileio.h"
#include "json-util.h"
#include "state.h"
#include "test-util.h"

#define ID1 "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"
#define ID2 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

static Vm *make_vm(const char *id, const char *name, uint32_t cid, const char *mac) {
        Vm *vm = vm_new();

        g_assert_nonnull(vm);
        g_assert_cmpint(vm_set_field(vm, "Id", &(VmValue){.type = 's', .s = id}, NULL), ==, 0);
        g_assert_cmpint(vm_set_field(vm, "Name", &(VmValue){.type = 's', .s = name}, NULL), ==, 0);
        g_assert_cmpint(vm_set_field(vm, "VsockCid", &(VmValue){.type = 'u', .u = cid}, NULL), ==, 0);
        if (mac)
                g_assert_cmpint(vm_set_field(vm, "LegacyMac", &(VmValue){.type = 's', .s = mac}, NULL), ==,
                        0);
        return vm;
}

static void set_field(Vm *vm, const char *name, VmValue v) {
        g_assert_cmpint(vm_set_field(vm, name, &v, NULL), ==, 0);
}

/* The populated state pinned to a committed file (tests/unit/state-populated.json): the
 * serialiser must write exactly those bytes, and reading the file gives back every field. A
 * change of the format shows up here as a diff against that file, not only as a change that
 * the serialiser and the parser happen to agree on. */
TEST(round_trip) {
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_free_ char *json = NULL, *json2 = NULL, *error = NULL, *expected = NULL;
        g_autofree char *path = NULL;
        const char *src = g_getenv("AZSHCI_SOURCE_DIR");
        Vm *vms[2];

        /* every field set on the first VM, only the mandatory ones and two others on the second */
        vms[0] = make_vm(ID1, "vm-one", 3, "52:54:00:12:34:56");
        vms[0]->legacy_access = true;
        set_field(vms[0], "Generation", (VmValue){.type = 'u', .u = 2});
        set_field(vms[0], "PowerState", (VmValue){.type = 's', .s = "Paused"});
        set_field(vms[0], "GuestServiceInterface", (VmValue){.type = 'b', .b = true});
        set_field(vms[0], "DataExchange", (VmValue){.type = 'b', .b = true});
        set_field(vms[0], "OsName", (VmValue){.type = 's', .s = "Windows \"Server\" 2022 \\ Zoë"});
        set_field(vms[0], "OsVersion", (VmValue){.type = 's', .s = "10.0.22621.3447"});
        set_field(vms[0], "SqlVersion", (VmValue){.type = 's', .s = "16.0.1000.6"});
        set_field(vms[0], "ArcAgentVersion", (VmValue){.type = 's', .s = "1.41.02664.1629"});
        set_field(vms[0], "LegacyInterface", (VmValue){.type = 's', .s = "azshci-l0"});
        set_field(vms[0], "Sku", (VmValue){.type = 's', .s = "2022-datacenter-azure-edition"});
        set_field(vms[0], "LicenseType", (VmValue){.type = 's', .s = "Windows_Server"});
        vms[1] = make_vm(ID2, "vm-two", 0, NULL);
        vms[1]->generation = 1;
        vms[1]->power_state = VM_POWER_OFF;

        path = g_strdup_printf("%s/tests/unit/state-populated.json", src ? src : ".");
        g_assert_cmpint(read_full_file(path, 1024 * 1024, &expected, NULL), ==, 0);

        g_assert_cmpint(state_serialize(true, 1234567, vms, 2, &json), ==, 0);
        g_assert_cmpstr(json, ==, expected);

        g_assert_cmpint(state_deserialize("t", expected, &s, &error), ==, 0);
        g_assert_null(error);
        g_assert_true(s.legacy_support);
        g_assert_cmpuint(s.last_sync, ==, 1234567);
        g_assert_cmpuint(s.n_vms, ==, 2);
        g_assert_cmpstr(s.vms[0]->id, ==, ID1);
        g_assert_cmpstr(s.vms[0]->name, ==, "vm-one");
        g_assert_cmpuint(s.vms[0]->generation, ==, 2);
        g_assert_cmpint(s.vms[0]->power_state, ==, VM_POWER_PAUSED);
        g_assert_true(s.vms[0]->guest_service_interface);
        g_assert_true(s.vms[0]->data_exchange);
        g_assert_cmpstr(s.vms[0]->os_name, ==, "Windows \"Server\" 2022 \\ Zoë");
        g_assert_cmpstr(s.vms[0]->os_version, ==, "10.0.22621.3447");
        g_assert_cmpstr(s.vms[0]->sql_version, ==, "16.0.1000.6");
        g_assert_cmpstr(s.vms[0]->arc_agent_version, ==, "1.41.02664.1629");
        g_assert_cmpuint(s.vms[0]->vsock_cid, ==, 3);
        g_assert_cmpstr(s.vms[0]->legacy_mac, ==, "52:54:00:12:34:56");
        g_assert_cmpstr(s.vms[0]->legacy_interface, ==, "azshci-l0");
        g_assert_cmpstr(s.vms[0]->sku, ==, "2022-datacenter-azure-edition");
        g_assert_cmpstr(s.vms[0]->license_type, ==, "Windows_Server");
        g_assert_true(s.vms[0]->legacy_access);
        g_assert_cmpstr(s.vms[1]->id, ==, ID2);
        g_assert_cmpstr(s.vms[1]->name, ==, "vm-two");
        g_assert_cmpuint(s.vms[1]->generation, ==, 1);
        g_assert_cmpint(s.vms[1]->power_state, ==, VM_POWER_OFF);
        g_assert_false(s.vms[1]->guest_service_interface);
        g_assert_cmpuint(s.vms[1]->vsock_cid, ==, 0);
        g_assert_null(s.vms[1]->legacy_mac);
        g_assert_null(s.vms[1]->os_name);
        g_assert_false(s.vms[1]->legacy_access);

        /* Serialising what was read gives the file's bytes again. */
        g_assert_cmpint(state_serialize(s.legacy_support, s.last_sync, s.vms, s.n_vms, &json2), ==, 0);
        g_assert_cmpstr(json2, ==, expected);

        vm_free(vms[0]);
        vm_free(vms[1]);
}

/* Strings that need escaping, and UTF-8, survive the hand-written serialiser. */
TEST(escaping) {
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_free_ char *json = NULL;
        Vm *vm = make_vm(ID1, "say \"hi\" \\ to Zoë 🙂", 0, NULL);

        g_assert_cmpint(vm_set_field(vm, "Sku", &(VmValue){.type = 's', .s = "a/b\\c\"d"}, NULL), ==, 0);
        g_assert_cmpint(state_serialize(false, 0, &vm, 1, &json), ==, 0);
        g_assert_cmpint(state_deserialize("t", json, &s, NULL), ==, 0);
        g_assert_cmpuint(s.n_vms, ==, 1);
        g_assert_cmpstr(s.vms[0]->name, ==, "say \"hi\" \\ to Zoë 🙂");
        g_assert_cmpstr(s.vms[0]->sku, ==, "a/b\\c\"d");
        vm_free(vm);
}

/* A VM's source is written only when it is not "manual" (files of older versions read the
 * same), and read back. */
TEST(source) {
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_free_ char *json = NULL;
        Vm *vms[2] = {make_vm(ID1, "by-hand", 0, NULL), make_vm(ID2, "domain", 0, NULL)};

        vms[1]->source = VM_SOURCE_LIBVIRT;
        g_assert_cmpint(state_serialize(false, 0, vms, 2, &json), ==, 0);
        g_assert_null(strstr(json, "\"Source\": \"manual\""));
        g_assert_nonnull(strstr(json, "\"Source\": \"libvirt\""));
        g_assert_cmpint(state_deserialize("t", json, &s, NULL), ==, 0);
        g_assert_cmpuint(s.n_vms, ==, 2);
        g_assert_cmpint(s.vms[0]->source, ==, VM_SOURCE_MANUAL);
        g_assert_cmpint(s.vms[1]->source, ==, VM_SOURCE_LIBVIRT);
        vm_free(vms[0]);
        vm_free(vms[1]);
}

TEST(empty) {
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_free_ char *json = NULL;

        g_assert_cmpint(state_serialize(false, 0, NULL, 0, &json), ==, 0);
        g_assert_cmpstr(json, ==,
                "{\n  \"version\": 1,\n  \"legacyOsSupport\": false,\n  \"lastSync\": 0,\n  \"vms\": []\n}\n");
        g_assert_cmpint(state_deserialize("t", json, &s, NULL), ==, 0);
        g_assert_cmpuint(s.n_vms, ==, 0);
        g_assert_false(s.legacy_support);
}

/* Reads text as state.json (test_add_refusal_cases()); a refused file gives no VM. */
static int load_state(const char *text, char **ret_error) {
        _cleanup_(state_data_done) StateData s = {};
        int r = state_deserialize("state.json", text, &s, ret_error);

        g_assert_cmpuint(s.n_vms, ==, 0);
        return r;
}

#define VM(extra)  "{\"Id\":\"" ID1 "\",\"Name\":\"a\"" extra "}"
#define STATE(vms) "{\"version\":1,\"legacyOsSupport\":false,\"vms\":[" vms "]}"
#define VM_TWO     "{\"Id\":\"" ID2 "\",\"Name\":\"b\"}"

static const TestRefusalCase bad_cases[] = {
        {"{", -EBADMSG, "state.json:1:1: Parse error: unexpected character `{', expected string constant"},
        {"[]", -EINVAL, "state.json: not a JSON object"},
        {"{\"version\":2,\"legacyOsSupport\":false,\"vms\":[]}", -EINVAL,
                "state.json: unsupported \"version\" (expected 1)"},
        {"{\"version\":1,\"legacyOsSupport\":1,\"vms\":[]}", -EINVAL,
                "state.json: \"legacyOsSupport\" must be a boolean"},
        {"{\"version\":1,\"legacyOsSupport\":false,\"lastSync\":-1,\"vms\":[]}", -EINVAL,
                "state.json: \"lastSync\" must be a non-negative integer"},
        {"{\"version\":1,\"legacyOsSupport\":false}", -EINVAL, "state.json: \"vms\" must be an array"},
        {STATE("1"), -EINVAL, "state.json: vms[0] is not an object"},
        {STATE(VM(",\"Colour\":\"red\"")), -EINVAL, "state.json: vms[0] has unknown key \"Colour\""},
        {STATE(VM(",\"VsockCid\":\"3\"")), -EINVAL, "state.json: vms[0].VsockCid has the wrong type"},
        {STATE(VM(",\"VsockCid\":-3")), -EINVAL, "state.json: vms[0].VsockCid has the wrong type"},
        {STATE(VM(",\"LegacyAccess\":\"yes\"")), -EINVAL,
                "state.json: vms[0].LegacyAccess must be a boolean"},
        {STATE(VM(",\"Source\":\"hyperv\"")), -EINVAL,
                "state.json: vms[0].Source must be \"manual\" or \"libvirt\""},
        {STATE(VM(",\"Generation\":3")), -EINVAL,
                "state.json: vms[0]: VM property 'Generation' must be 1 or 2, not 3."},
        {STATE("{\"Name\":\"a\"}"), -EINVAL, "state.json: vms[0]: VM property 'Id' is required."},
        {STATE(VM("") "," VM("")), -EINVAL, "state.json: vms[0] and vms[1] have the same Id"},
        {STATE(VM(",\"VsockCid\":5") ",{\"Id\":\"" ID2 "\",\"Name\":\"b\",\"VsockCid\":5}"), -EINVAL,
                "state.json: vms[0] and vms[1] have the same VsockCid"},
        {STATE(VM(
                 ",\"LegacyMac\":\"52:54:00:00:00:01\"") ",{\"Id\":\"" ID2
                                                         "\",\"Name\":\"b\",\"LegacyMac\":\"52-54-00-00-00-01\"}"),
                -EINVAL, "state.json: vms[0] and vms[1] have the same LegacyMac"},
};

/* VMs leave the parser's tree as each is parsed (state.c): only the member "vms" of the root
 * holds them, the last one when it is there twice (as in the tree), nested arrays are not VMs,
 * and an error names the element's position in "vms". */
TEST(streaming) {
        _cleanup_(state_data_done) StateData s = {};
        _cleanup_(state_data_done) StateData t = {};

        g_assert_cmpint(
                state_deserialize("t",
                        "{\"version\":1,\"other\":[" VM("") "],\"legacyOsSupport\":true,\"vms\":[" VM(
                                "") "],\"later\":[" VM(",\"Colour\":1") "]}",
                        &s, NULL),
                ==, 0);
        g_assert_cmpuint(s.n_vms, ==, 1);
        g_assert_cmpstr(s.vms[0]->name, ==, "a");
        g_assert_true(s.legacy_support);

        g_assert_cmpint(state_deserialize("t",
                                "{\"version\":1,\"legacyOsSupport\":false,\"vms\":[" VM(
                                        ",\"Colour\":1") "],\"vms\":[" VM("") "," VM_TWO "]}",
                                &t, NULL),
                ==, 0);
        g_assert_cmpuint(t.n_vms, ==, 2);
        g_assert_cmpstr(t.vms[1]->name, ==, "b");
}

/* What the streaming reader of TEST(streaming) refuses, and the position it names. */
static const TestRefusalCase streaming_bad_cases[] = {
        /* One top-level value only: json-glib would read on (and leak the first root's nodes). */
        {STATE("") "\n " STATE(VM("")), -EBADMSG,
                "state.json:2:2: Parse error: data after the top-level value"},
        {"[1] [2]", -EBADMSG, "state.json:1:5: Parse error: data after the top-level value"},
        {"\"a\\\"}\" 1", -EBADMSG, "state.json:1:8: Parse error: data after the top-level value"},
/* \u escapes: four hex digits, UTF-16 surrogates only as a pair (json-glib 1.6 leaks the
 * string it was building on the others). */
#define BAD_ESCAPE "Parse error: invalid \\u escape (four hex digits; surrogates only as a high-low pair)"
        {"{\"a\":\"\\ud800\\u0041\"}", -EBADMSG, "state.json:1:7: " BAD_ESCAPE},
        {"{\"a\":\"\\ud800\\ud800\"}", -EBADMSG, "state.json:1:7: " BAD_ESCAPE},
        {"{\"a\":\"x\\udd(\\uer\"}", -EBADMSG, "state.json:1:8: " BAD_ESCAPE},
        {"{\"a\":\"\\udc00\"}", -EBADMSG, "state.json:1:7: " BAD_ESCAPE},
        {"{\"a\":\"\\ud800\"}", -EBADMSG, "state.json:1:7: " BAD_ESCAPE},
        {"\n{\"a\":\"\\\\u\\u12\"}", -EBADMSG, "state.json:2:10: " BAD_ESCAPE},
#undef BAD_ESCAPE

/* No comments, no single quotes: json-glib skips "/.../", reads '...' as a string, and
 * would then read a second value. */
#define SLASH "Parse error: '/' outside a string (JSON has no comments)"
        {"{/\"/}{}", -EBADMSG, "state.json:1:2: " SLASH},
        {"{\"a/b\":1 /* c */}", -EBADMSG, "state.json:1:10: " SLASH},
        {"[1,\n// c\n2]", -EBADMSG, "state.json:2:1: " SLASH},
#undef SLASH
        {"['\"']{}", -EBADMSG,
                "state.json:1:2: Parse error: single quote outside a string (JSON strings take double quotes)"},
        {STATE(VM("") "," VM_TWO "," VM(",\"Colour\":[[1]]")), -EINVAL,
                "state.json: vms[2] has unknown key \"Colour\""},
        {STATE(VM("") ",[" VM("") "]"), -EINVAL, "state.json: vms[1] is not an object"},
};

/* What the \u check lets through, json-glib decodes: pairs, the BMP, escaped backslashes. */
TEST(unicode_escapes) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_free_ char *error = NULL;
        JsonObject *o;

        g_assert_cmpint(json_parse_data("t.json",
                                "{\"a/b\":\"\\ud83d\\ude00\\u00e9\\\\u\\u0041\\uDBFF\\uDFFF\\\"\"}", &parser,
                                &error),
                ==, 0);
        g_assert_null(error);
        o = json_node_get_object(json_parser_get_root(parser));
        g_assert_cmpstr(json_object_get_string_member(o, "a/b"), ==,
                "\xf0\x9f\x98\x80\xc3\xa9\\uA\xf4\x8f\xbf\xbf\"");
}

static char *read_text(const char *path) {
        char *data = NULL;

        g_assert_cmpint(read_full_file(path, 1 << 20, &data, NULL), ==, 0);
        return data;
}

/* The generations of the state file (fileio.h): the previous one kept at each write, put back
 * in place, and the temporaries of interrupted writes removed. */
TEST(generations) {
        g_autofree char *dir = g_dir_make_tmp("azshci-test-state-XXXXXX", NULL);
        g_autofree char *path = g_strdup_printf("%s/state.json", dir);
        g_autofree char *old = g_strdup_printf("%s/state.json.old", dir);
        g_autofree char *tmp1 = g_strdup_printf("%s/state.json.tmp-aB3dE9", dir);
        g_autofree char *tmp2 = g_strdup_printf("%s/state.json.old.new", dir);
        g_autofree char *keep1 = g_strdup_printf("%s/state.json.corrupt-1764870000000000", dir);
        g_autofree char *keep2 = g_strdup_printf("%s/state.json.aB3dE", dir);
        g_autofree char *keep3 = g_strdup_printf("%s/state.json.aB-dE9", dir);
        g_autofree char *keep4 = g_strdup_printf("%s/other.json.aB3dE9", dir);
        char *text;

        g_assert_nonnull(dir);
        /* No current file: nothing to keep, and no previous generation appears. */
        g_assert_cmpint(file_keep_old(path), ==, -ENOENT);
        g_assert_cmpint(access(old, F_OK), <, 0);
        g_assert_cmpint(write_file_atomic(path, "one", 3, 0644), ==, 0);
        g_assert_cmpint(file_keep_old(path), ==, 0);
        g_assert_cmpint(write_file_atomic(path, "two", 3, 0644), ==, 0);
        text = read_text(old);
        g_assert_cmpstr(text, ==, "one");
        g_free(text);
        g_assert_cmpint(write_file_atomic_keep_old(path, "three", 5, 0644), ==, 0);
        text = read_text(old);
        g_assert_cmpstr(text, ==, "two");
        g_free(text);
        text = read_text(path);
        g_assert_cmpstr(text, ==, "three");
        g_free(text);

        g_assert_cmpint(file_restore_old(path), ==, 0);
        text = read_text(path);
        g_assert_cmpstr(text, ==, "two");
        g_free(text);
        g_assert_cmpint(access(tmp2, F_OK), <, 0);
        /* Now path and its previous generation are one file: keeping it again leaves no
         * temporary link behind (rename() of two links of one file does nothing). */
        g_assert_cmpint(write_file_atomic_keep_old(path, "four", 4, 0644), ==, 0);
        g_assert_cmpint(access(tmp2, F_OK), <, 0);
        text = read_text(old);
        g_assert_cmpstr(text, ==, "two");
        g_free(text);
        g_assert_cmpint(file_restore_old(path), ==, 0);

        /* Only what write_file_atomic() and file_keep_old() make of this path. */
        g_assert_cmpint(file_remove_interrupted_writes(path), ==, 0);
        g_assert_cmpint(write_file_atomic(tmp1, "{", 1, 0644), ==, 0);
        g_assert_cmpint(link(path, tmp2), ==, 0);
        for (const char *const *k = (const char *const[]){keep1, keep2, keep3, keep4, NULL}; *k; k++)
                g_assert_cmpint(write_file_atomic(*k, "x", 1, 0644), ==, 0);
        g_assert_cmpint(file_remove_interrupted_writes(path), ==, 2);
        g_assert_cmpint(access(tmp1, F_OK), <, 0);
        g_assert_cmpint(access(tmp2, F_OK), <, 0);
        for (const char *const *k = (const char *const[]){path, old, keep1, keep2, keep3, keep4, NULL}; *k;
                k++)
                g_assert_cmpint(access(*k, F_OK), ==, 0);
        g_assert_cmpint(file_remove_interrupted_writes("/nonexistent/state.json"), ==, -ENOENT);

        test_rm_rf(dir);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        test_add_refusal_cases("/state/bad", load_state, bad_cases, G_N_ELEMENTS(bad_cases),
                TEST_REFUSAL_NAME_TEXT);
        test_add_refusal_cases("/state/streaming", load_state, streaming_bad_cases,
                G_N_ELEMENTS(streaming_bad_cases), TEST_REFUSAL_NAME_TEXT);
        return g_test_run();
}
