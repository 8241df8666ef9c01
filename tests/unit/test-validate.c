/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The validators and normalisers of values that arrive from outside (validate.h). */

#include <glib.h>
#include <stdint.h>

#include "macro.h"
#include "validate.h"

/* normalize(in) gives expected, or refuses in with -EINVAL when expected is NULL. */
static void check_normalize(int (*normalize)(const char *s, char **ret), const char *in,
        const char *expected) {
        _cleanup_free_ char *out = NULL;
        int r = normalize(in, &out);

        if (expected) {
                g_assert_cmpint(r, ==, 0);
                g_assert_cmpstr(out, ==, expected);
        } else {
                g_assert_cmpint(r, ==, -EINVAL);
                g_assert_null(out);
        }
}

static void check_uuid(const char *in, const char *expected) {
        check_normalize(uuid_normalize, in, expected);
}

static void test_uuid(void) {
        check_uuid("6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10", "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10");
        check_uuid("6F1C8A52-3B0E-4C7D-9A41-2D5E8F7B9C10", "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10");
        check_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff", "ffffffff-ffff-ffff-ffff-ffffffffffff");
        check_uuid("", NULL);
        check_uuid("00000000-0000-0000-0000-000000000000", NULL);
        check_uuid("6f1c8a523b0e4c7d9a412d5e8f7b9c10", NULL);
        check_uuid("{6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10}", NULL);
        check_uuid("6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c1", NULL);
        check_uuid("6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c100", NULL);
        check_uuid("6f1c8a52_3b0e-4c7d-9a41-2d5e8f7b9c10", NULL);
        check_uuid("6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c1g", NULL);
        check_uuid("6f1c8a5-23b0e-4c7d-9a41-2d5e8f7b9c10", NULL);
}

static void check_mac(const char *in, const char *expected) {
        check_normalize(mac_normalize, in, expected);
}

static void test_mac(void) {
        check_mac("52:54:00:12:34:56", "52:54:00:12:34:56");
        check_mac("52-54-00-AB-CD-EF", "52:54:00:ab:cd:ef");
        check_mac("00:15:5D:00:00:01", "00:15:5d:00:00:01");
        check_mac("52:54:00:12:34", NULL);
        check_mac("52:54:00:12:34:56:78", NULL);
        check_mac("52:54-00:12:34:56", NULL); /* mixed separators */
        check_mac("52.54.00.12.34.56", NULL);
        check_mac("5254.0012.3456", NULL);
        check_mac("52:54:00:12:34:5g", NULL);
        check_mac("00:00:00:00:00:00", NULL); /* all zero */
        check_mac("ff:ff:ff:ff:ff:ff", NULL); /* broadcast */
        check_mac("01:00:5e:00:00:01", NULL); /* multicast */
        check_mac("33:33:00:00:00:01", NULL); /* IPv6 multicast */
        check_mac("", NULL);
}

static void test_version_valid(void) {
        g_assert_true(version_is_valid("10.0.22621.3447"));
        g_assert_true(version_is_valid("1.39.0"));
        g_assert_true(version_is_valid("13"));
        g_assert_true(version_is_valid("0"));
        g_assert_true(version_is_valid("1.2.3.4.5.6.7.8"));
        g_assert_true(version_is_valid("999999999.1"));

        g_assert_false(version_is_valid(NULL));
        g_assert_false(version_is_valid(""));
        g_assert_false(version_is_valid("1.2.3.4.5.6.7.8.9")); /* nine components */
        g_assert_false(version_is_valid("1234567890.1"));      /* ten digits */
        g_assert_false(version_is_valid("1..2"));
        g_assert_false(version_is_valid(".1"));
        g_assert_false(version_is_valid("1."));
        g_assert_false(version_is_valid("1.39.0-beta"));
        g_assert_false(version_is_valid("v1.39"));
        g_assert_false(version_is_valid(" 1.39"));
        g_assert_false(version_is_valid("-1"));
}

static int sign(int x) {
        return (x > 0) - (x < 0);
}

static void test_version_compare(void) {
        g_assert_cmpint(sign(version_compare("10.0.22621.3447", "10.0.22621.3447")), ==, 0);
        g_assert_cmpint(sign(version_compare("10.0.22621.3446", "10.0.22621.3447")), ==, -1);
        g_assert_cmpint(sign(version_compare("10.0.22621.3448", "10.0.22621.3447")), ==, 1);
        /* Numeric, not lexical. */
        g_assert_cmpint(sign(version_compare("10.0.22621.10000", "10.0.22621.3447")), ==, 1);
        g_assert_cmpint(sign(version_compare("1.9", "1.39")), ==, -1);
        g_assert_cmpint(sign(version_compare("1.39", "1.100")), ==, -1);
        /* Missing components count as 0. */
        g_assert_cmpint(sign(version_compare("1.39", "1.39.0")), ==, 0);
        g_assert_cmpint(sign(version_compare("1.39.0.0", "1.39")), ==, 0);
        g_assert_cmpint(sign(version_compare("1.39", "1.39.0.1")), ==, -1);
        g_assert_cmpint(sign(version_compare("10.0.22621", "10.0.22621.1")), ==, -1);
        g_assert_cmpint(sign(version_compare("6.3.9600", "6.4")), ==, -1);
        g_assert_cmpint(sign(version_compare("13", "12.0.6024.0")), ==, 1);
        /* Leading zeros are the same number. */
        g_assert_cmpint(sign(version_compare("1.045", "1.45")), ==, 0);
        g_assert_cmpint(sign(version_compare("999999999", "999999998.9")), ==, 1);
}

static void test_vm_name(void) {
        char long_name[257];

        g_assert_true(vm_name_is_valid("web-01"));
        g_assert_true(vm_name_is_valid("Sales VM (Windows 11)"));
        g_assert_true(vm_name_is_valid("日本語のVM"));
        g_assert_true(vm_name_is_valid("**"));

        g_assert_false(vm_name_is_valid(NULL));
        g_assert_false(vm_name_is_valid(""));
        g_assert_false(vm_name_is_valid("*"));
        g_assert_false(vm_name_is_valid("tab\there"));
        g_assert_false(vm_name_is_valid("new\nline"));
        g_assert_false(vm_name_is_valid("del\x7f"));
        g_assert_false(vm_name_is_valid("bad \xff utf8"));
        g_assert_false(vm_name_is_valid("overlong \xc0\xaf"));
        g_assert_false(vm_name_is_valid("surrogate \xed\xa0\x80"));
        g_assert_false(vm_name_is_valid("truncated \xe6\x97"));
        /* C1 controls, bidirectional controls, invisible format characters. */
        g_assert_false(vm_name_is_valid("c1 \xc2\x85 nel"));
        g_assert_false(vm_name_is_valid("c1 \xc2\x9b csi"));
        g_assert_false(vm_name_is_valid("alm \u061c"));
        g_assert_false(vm_name_is_valid("lrm \u200e"));
        g_assert_false(vm_name_is_valid("rlm \u200f"));
        g_assert_false(vm_name_is_valid("lre \u202a"));
        g_assert_false(vm_name_is_valid("rlo \u202e"));
        g_assert_false(vm_name_is_valid("lri \u2066"));
        g_assert_false(vm_name_is_valid("pdi \u2069"));
        g_assert_false(vm_name_is_valid("zwsp \u200b"));
        g_assert_false(vm_name_is_valid("line \u2028 separator"));
        g_assert_false(vm_name_is_valid("bom \ufeff"));
        /* Their neighbours are fine. */
        g_assert_true(vm_name_is_valid("\u00a0nbsp \u00e9t\u00e9"));
        g_assert_true(vm_name_is_valid("dash \u2010 \u2027 \u202f \u2070"));
        g_assert_true(vm_name_is_valid("arabic \u061b \u061d"));
        /* A UUID is a valid name for vm_name_is_valid(); the bus refuses it (vm.c). */
        g_assert_true(vm_name_is_valid("0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f"));

        memset(long_name, 'a', 255);
        long_name[255] = 0;
        g_assert_true(vm_name_is_valid(long_name));
        long_name[255] = 'a';
        long_name[256] = 0;
        g_assert_false(vm_name_is_valid(long_name));
}

static void test_unichar_garbles_text(void) {
        /* The boundaries of every range. */
        static const uint32_t bad[] = {0x0, 0x1f, 0x7f, 0x9f, 0x61c, 0x180e, 0x200b, 0x200f, 0x2028, 0x202e,
                0x2060, 0x206f, 0xfeff, 0xfff9, 0xfffb};
        static const uint32_t good[] = {0x20, 0x7e, 0xa0, 0x61b, 0x61d, 0x180d, 0x180f, 0x200a, 0x2010,
                0x2027, 0x202f, 0x205f, 0x2070, 0xfefe, 0xff00, 0xfff8, 0xfffc, 0x10ffff};

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_true(unichar_garbles_text(bad[i]));
        for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
                g_assert_false(unichar_garbles_text(good[i]));
}

static void test_uuid_is_shaped(void) {
        g_assert_true(uuid_is_shaped("0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f"));
        g_assert_true(uuid_is_shaped("0B0F3C1E-5A7D-4E2B-8C9F-1A2B3C4D5E6F"));
        g_assert_true(uuid_is_shaped("00000000-0000-0000-0000-000000000000"));
        g_assert_false(uuid_is_shaped(""));
        g_assert_false(uuid_is_shaped("0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6"));
        g_assert_false(uuid_is_shaped("0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f0"));
        g_assert_false(uuid_is_shaped("0b0f3c1e5a7d-4e2b-8c9f-1a2b3c4d5e6f0"));
        g_assert_false(uuid_is_shaped("0b0f3c1g-5a7d-4e2b-8c9f-1a2b3c4d5e6f"));
        g_assert_false(uuid_is_shaped("{b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6}"));
}

static void test_escape_unprintable(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"", ""},
                {"metadata.azshci.local", "metadata.azshci.local"},
                {"a\nb\r\x1b[31m", "a\\x0ab\\x0d\\x1b[31m"},
                {"back\\slash", "back\\\\slash"},
                {"\x7f\x80\xff", "\\x7f\\x80\\xff"},
                {"\xc3\xa9 ~", "\\xc3\\xa9 ~"},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                char *s = escape_unprintable(cases[i].in);
                g_assert_cmpstr(s, ==, cases[i].out);
                free(s);
        }
}

static void test_nonce(void) {
        g_assert_true(nonce_is_valid(""));
        g_assert_true(nonce_is_valid("1234567890"));
        g_assert_true(nonce_is_valid("abc_DEF-123"));
        g_assert_true(nonce_is_valid("01234567890123456789012345678901")); /* 32 */

        g_assert_false(nonce_is_valid(NULL));
        g_assert_false(nonce_is_valid("012345678901234567890123456789012")); /* 33 */
        g_assert_false(nonce_is_valid("a b"));
        g_assert_false(nonce_is_valid("a/b"));
        g_assert_false(nonce_is_valid("a=b"));
        g_assert_false(nonce_is_valid("nonce\n"));
        g_assert_false(nonce_is_valid("ünïcode"));
}

static void test_cid(void) {
        g_assert_true(vsock_cid_is_valid(0));
        g_assert_true(vsock_cid_is_valid(3));
        g_assert_true(vsock_cid_is_valid(42));
        g_assert_true(vsock_cid_is_valid(UINT32_MAX - 1));

        g_assert_false(vsock_cid_is_valid(1));
        g_assert_false(vsock_cid_is_valid(2));
        g_assert_false(vsock_cid_is_valid(UINT32_MAX));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/validate/uuid", test_uuid);
        g_test_add_func("/validate/escape-unprintable", test_escape_unprintable);
        g_test_add_func("/validate/mac", test_mac);
        g_test_add_func("/validate/version-valid", test_version_valid);
        g_test_add_func("/validate/version-compare", test_version_compare);
        g_test_add_func("/validate/vm-name", test_vm_name);
        g_test_add_func("/validate/unichar-garbles-text", test_unichar_garbles_text);
        g_test_add_func("/validate/uuid-is-shaped", test_uuid_is_shaped);
        g_test_add_func("/validate/nonce", test_nonce);
        g_test_add_func("/validate/cid", test_cid);

        return g_test_run();
}
