/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The validators and normalisers of values that arrive from outside (validate.h). */

#define TEST_PREFIX "/validate"

#include <glib.h>
#include <stdint.h>

#include "macro.h"
#include "test-util.h"
#include "validate.h"

/* A normaliser's input and what it gives, or NULL where it refuses it with -EINVAL. */
typedef struct NormalizeCase {
        const char *in, *expected;
} NormalizeCase;

static void check_normalize(int (*normalize)(const char *s, char **ret), const NormalizeCase *c) {
        _cleanup_free_ char *out = NULL;
        int r = normalize(c->in, &out);

        if (c->expected) {
                g_assert_cmpint(r, ==, 0);
                g_assert_cmpstr(out, ==, c->expected);
        } else {
                g_assert_cmpint(r, ==, -EINVAL);
                g_assert_null(out);
        }
}

static const NormalizeCase uuid_cases[] = {
        {"6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10", "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"},
        {"6F1C8A52-3B0E-4C7D-9A41-2D5E8F7B9C10", "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"},
        {"ffffffff-ffff-ffff-ffff-ffffffffffff", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
        {"", NULL},
        {"00000000-0000-0000-0000-000000000000", NULL},
        {"6f1c8a523b0e4c7d9a412d5e8f7b9c10", NULL},
        {"{6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10}", NULL},
        {"6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c1", NULL},
        {"6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c100", NULL},
        {"6f1c8a52_3b0e-4c7d-9a41-2d5e8f7b9c10", NULL},
        {"6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c1g", NULL},
        {"6f1c8a5-23b0e-4c7d-9a41-2d5e8f7b9c10", NULL},
};

static void test_uuid_case(const void *data) {
        check_normalize(uuid_normalize, data);
}

static const NormalizeCase mac_cases[] = {
        {"52:54:00:12:34:56", "52:54:00:12:34:56"},
        {"52-54-00-AB-CD-EF", "52:54:00:ab:cd:ef"},
        {"00:15:5D:00:00:01", "00:15:5d:00:00:01"},
        {"52:54:00:12:34", NULL},
        {"52:54:00:12:34:56:78", NULL},
        {"52:54-00:12:34:56", NULL}, /* mixed separators */
        {"52.54.00.12.34.56", NULL},
        {"5254.0012.3456", NULL},
        {"52:54:00:12:34:5g", NULL},
        {"00:00:00:00:00:00", NULL}, /* all zero */
        {"ff:ff:ff:ff:ff:ff", NULL}, /* broadcast */
        {"01:00:5e:00:00:01", NULL}, /* multicast */
        {"33:33:00:00:00:01", NULL}, /* IPv6 multicast */
        {"", NULL},
};

static void test_mac_case(const void *data) {
        check_normalize(mac_normalize, data);
}

static const TestPredicateCase version_cases[] = {
        {"10.0.22621.3447", true},
        {"1.39.0", true},
        {"13", true},
        {"0", true},
        {"1.2.3.4.5.6.7.8", true},
        {"999999999.1", true},

        {NULL, false},
        {"", false},
        {"1.2.3.4.5.6.7.8.9", false}, /* nine components */
        {"1234567890.1", false},      /* ten digits */
        {"1..2", false},
        {".1", false},
        {"1.", false},
        {"1.39.0-beta", false},
        {"v1.39", false},
        {" 1.39", false},
        {"-1", false},
};

static int sign(int x) {
        return (x > 0) - (x < 0);
}

/* version_compare(a, b): the sign of its result. */
typedef struct CompareCase {
        const char *a, *b;
        int sign;
} CompareCase;

static const CompareCase version_compare_cases[] = {
        {"10.0.22621.3447", "10.0.22621.3447", 0},
        {"10.0.22621.3446", "10.0.22621.3447", -1},
        {"10.0.22621.3448", "10.0.22621.3447", 1},
        /* Numeric, not lexical. */
        {"10.0.22621.10000", "10.0.22621.3447", 1},
        {"1.9", "1.39", -1},
        {"1.39", "1.100", -1},
        /* Missing components count as 0. */
        {"1.39", "1.39.0", 0},
        {"1.39.0.0", "1.39", 0},
        {"1.39", "1.39.0.1", -1},
        {"10.0.22621", "10.0.22621.1", -1},
        {"6.3.9600", "6.4", -1},
        {"13", "12.0.6024.0", 1},
        /* Leading zeros are the same number. */
        {"1.045", "1.45", 0},
        {"999999999", "999999998.9", 1},
};

static void test_version_compare_case(const void *data) {
        const CompareCase *c = data;

        g_assert_cmpint(sign(version_compare(c->a, c->b)), ==, c->sign);
}

static const TestPredicateCase vm_name_cases[] = {
        {"web-01", true},
        {"Sales VM (Windows 11)", true},
        {"日本語のVM", true},
        {"**", true},

        {NULL, false},
        {"", false},
        {"*", false},
        {"tab\there", false},
        {"new\nline", false},
        {"del\x7f", false},
        {"bad \xff utf8", false},
        {"overlong \xc0\xaf", false},
        {"surrogate \xed\xa0\x80", false},
        {"truncated \xe6\x97", false},
        /* C1 controls, bidirectional controls, invisible format characters. */
        {"c1 \xc2\x85 nel", false},
        {"c1 \xc2\x9b csi", false},
        {"alm \u061c", false},
        {"lrm \u200e", false},
        {"rlm \u200f", false},
        {"lre \u202a", false},
        {"rlo \u202e", false},
        {"lri \u2066", false},
        {"pdi \u2069", false},
        {"zwsp \u200b", false},
        {"line \u2028 separator", false},
        {"bom \ufeff", false},
        /* Their neighbours are fine. */
        {"\u00a0nbsp \u00e9t\u00e9", true},
        {"dash \u2010 \u2027 \u202f \u2070", true},
        {"arabic \u061b \u061d", true},
        /* A UUID is a valid name for vm_name_is_valid(); the bus refuses it (vm.c). */
        {"0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f", true},
};

/* 255 bytes are a name, 256 are not. */
static void test_vm_name_length(void) {
        char long_name[257];

        memset(long_name, 'a', 255);
        long_name[255] = 0;
        g_assert_true(vm_name_is_valid(long_name));
        long_name[255] = 'a';
        long_name[256] = 0;
        g_assert_false(vm_name_is_valid(long_name));
}

TEST(unichar_garbles_text) {
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

static const TestPredicateCase uuid_shaped_cases[] = {
        {"0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f", true},
        {"0B0F3C1E-5A7D-4E2B-8C9F-1A2B3C4D5E6F", true},
        {"00000000-0000-0000-0000-000000000000", true},
        {"", false},
        {"0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6", false},
        {"0b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6f0", false},
        {"0b0f3c1e5a7d-4e2b-8c9f-1a2b3c4d5e6f0", false},
        {"0b0f3c1g-5a7d-4e2b-8c9f-1a2b3c4d5e6f", false},
        {"{b0f3c1e-5a7d-4e2b-8c9f-1a2b3c4d5e6}", false},
};

TEST(escape_unprintable) {
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

static const TestPredicateCase nonce_cases[] = {
        {"", true},
        {"1234567890", true},
        {"abc_DEF-123", true},
        {"01234567890123456789012345678901", true}, /* 32 */

        {NULL, false},
        {"012345678901234567890123456789012", false}, /* 33 */
        {"a b", false},
        {"a/b", false},
        {"a=b", false},
        {"nonce\n", false},
        {"ünïcode", false},
};

static const struct CidCase {
        const char *name;
        uint32_t cid;
        bool valid;
} cid_cases[] = {
        {"0", 0, true},
        {"3", 3, true},
        {"42", 42, true},
        {"UINT32_MAX-1", UINT32_MAX - 1, true},

        {"1", 1, false},
        {"2", 2, false},
        {"UINT32_MAX", UINT32_MAX, false},
};

static void test_cid_case(const void *data) {
        const struct CidCase *c = data;

        g_assert_cmpint(vsock_cid_is_valid(c->cid), ==, c->valid);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        test_add_cases("/validate/uuid", uuid_cases, in, test_uuid_case);
        test_add_registered();
        test_add_cases("/validate/mac", mac_cases, in, test_mac_case);
        test_add_predicate_cases("/validate/version-valid", version_is_valid, version_cases,
                G_N_ELEMENTS(version_cases));
        for (size_t i = 0; i < G_N_ELEMENTS(version_compare_cases); i++) {
                const CompareCase *c = &version_compare_cases[i];
                g_autofree char *name = g_strdup_printf("%s~%s", c->a, c->b);

                test_add_case("/validate/version-compare", name, c, test_version_compare_case);
        }
        test_add_predicate_cases("/validate/vm-name", vm_name_is_valid, vm_name_cases,
                G_N_ELEMENTS(vm_name_cases));
        g_test_add_func("/validate/vm-name/length", test_vm_name_length);
        test_add_predicate_cases("/validate/uuid-is-shaped", uuid_is_shaped, uuid_shaped_cases,
                G_N_ELEMENTS(uuid_shaped_cases));
        test_add_predicate_cases("/validate/nonce", nonce_is_valid, nonce_cases, G_N_ELEMENTS(nonce_cases));
        test_add_cases("/validate/cid", cid_cases, name, test_cid_case);

        return g_test_run();
}
