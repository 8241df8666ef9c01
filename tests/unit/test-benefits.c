/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The benefit evaluator against the real data/benefits.json (every row of the seed's table, each
 * side of each minimum build, every recommended action and status) and the rule loader against
 * malformed files, with the exact messages an administrator would see. */

#include <glib.h>

#include "benefits.h"
#include "strv.h"

#define AVD     BENEFIT_AVD
#define ESU     BENEFIT_ESU
#define AZED    BENEFIT_AZURE_EDITION
#define GCONFIG BENEFIT_GUEST_CONFIG

static char *rules_path(void) {
        const char *src = g_getenv("AZSHCI_SOURCE_DIR");

        g_assert_nonnull(src);
        return g_build_filename(src, "data", "benefits.json", NULL);
}

static BenefitRules *load_real_rules(void) {
        g_autofree char *path = rules_path();
        _cleanup_free_ char *error = NULL;
        BenefitRules *rules = NULL;
        int r;

        r = benefit_rules_load(path, &rules, &error);
        if (r < 0)
                g_error("loading %s failed: %s", path, error);
        g_assert_null(error);
        g_assert_nonnull(rules);
        return rules;
}

/* One VM and the cluster around it, and what the evaluation must say. */
typedef struct Case {
        const char *what;
        const char *os_name;
        const char *os_version;
        const char *sql_version;
        const char *arc_version;
        bool gsi;
        bool legacy_access;
        bool data_exchange_off;
        bool server_inactive;
        bool legacy_off;
        const char *status;
        const char *eligible;
        const char *active;
        const char *actions;
} Case;

static void set_string(Vm *vm, const char *field, const char *value) {
        VmValue v = {.type = 's', .s = value};

        if (!value)
                return;
        g_assert_cmpint(vm_set_field(vm, field, &v, NULL), ==, 0);
}

static Vm *make_vm(const Case *c) {
        Vm *vm = vm_new();

        g_assert_nonnull(vm);
        set_string(vm, "Id", "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10");
        set_string(vm, "Name", c->what);
        set_string(vm, "OsName", c->os_name);
        set_string(vm, "OsVersion", c->os_version);
        set_string(vm, "SqlVersion", c->sql_version);
        set_string(vm, "ArcAgentVersion", c->arc_version);
        vm->data_exchange = !c->data_exchange_off;
        vm->guest_service_interface = c->gsi;
        vm->legacy_access = c->legacy_access;
        return vm;
}

static char *join(char **l) {
        char *s = strv_join(l, ",");
        g_assert_nonnull(s);
        return s;
}

static void check_case(const BenefitRules *rules, const Case *c) {
        _cleanup_(vm_freep) Vm *vm = make_vm(c);
        BenefitContext ctx = {.server_active = !c->server_inactive, .legacy_support = !c->legacy_off};
        BenefitEvaluation e = {};
        _cleanup_free_ char *eligible = NULL, *active = NULL, *actions = NULL;

        g_test_message("case: %s", c->what);
        g_assert_cmpint(benefit_evaluate(rules, vm, &ctx, &e), ==, 0);
        eligible = join(e.eligible);
        active = join(e.active);
        actions = join(e.recommended_actions);

        g_assert_cmpstr(vm_status_to_string(e.status), ==, c->status);
        g_assert_cmpstr(eligible, ==, c->eligible);
        g_assert_cmpstr(active, ==, c->active);
        g_assert_cmpstr(actions, ==, c->actions);
        benefit_evaluation_done(&e);
}

static void run_cases(const Case *cases, size_t n) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = load_real_rules();

        for (size_t i = 0; i < n; i++)
                check_case(rules, &cases[i]);
}

#define W11MS "Windows 11 Enterprise multi-session"
#define W10MS "Windows 10 Enterprise multi-session"
#define AZEDN "Windows Server 2022 Datacenter: Azure Edition"

static void test_avd_windows11(void) {
        static const Case cases[] = {
                {"22H2 at KB5036893", W11MS, "10.0.22621.3447", .gsi = true, .status = "ActiveBenefits",
                        .eligible = AVD, .active = AVD, .actions = ""},
                {"22H2 later build", W11MS, "10.0.22621.4317", .gsi = true, .status = "ActiveBenefits",
                        .eligible = AVD, .active = AVD, .actions = ""},
                {"22H2 one below KB5036893", W11MS, "10.0.22621.3446", .gsi = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "InstallUpdates"},
                {"23H2 at KB5036893", W11MS, "10.0.22631.3447", .gsi = true, .status = "ActiveBenefits",
                        .eligible = AVD, .active = AVD, .actions = ""},
                {"23H2 one below KB5036893", W11MS, "10.0.22631.3446", .gsi = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "InstallUpdates"},
                {"21H2 at KB5036894", W11MS, "10.0.22000.2899", .gsi = true, .status = "ActiveBenefits",
                        .eligible = AVD, .active = AVD, .actions = ""},
                {"21H2 one below KB5036894", W11MS, "10.0.22000.2898", .gsi = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "InstallUpdates"},
                {"21H2 build without revision", W11MS, "10.0.22000", .gsi = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "InstallUpdates"},
                {"22H2 without guest service interface", W11MS, "10.0.22621.3447", .gsi = false,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "EnableGuestServiceInterface"},
                {"Windows 11 multi-session needs no legacy support", W11MS, "10.0.22621.3447", .gsi = true,
                        .legacy_off = true, .status = "ActiveBenefits", .eligible = AVD, .active = AVD,
                        .actions = ""},
                {"OS name is matched case-insensitively", "WINDOWS 11 ENTERPRISE MULTI-SESSION",
                        "10.0.22631.3447", .gsi = true, .status = "ActiveBenefits", .eligible = AVD,
                        .active = AVD, .actions = ""},
                {"single-session Windows 11 is not eligible", "Windows 11 Enterprise", "10.0.22621.3447",
                        .gsi = true, .status = "NoApplicableBenefits", .eligible = "", .active = "",
                        .actions = ""},
                {"a build outside the table (24H2) is not eligible", W11MS, "10.0.26100.1742", .gsi = true,
                        .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
                {"multi-session without an OS version", W11MS, NULL, .gsi = true,
                        .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
        };
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_avd_windows10(void) {
        static const Case cases[] = {
                {"22H2 at KB5036892 with legacy access", W10MS, "10.0.19045.4291", .legacy_access = true,
                        .status = "ActiveBenefits", .eligible = AVD, .active = AVD, .actions = ""},
                {"22H2 one below KB5036892", W10MS, "10.0.19045.4290", .legacy_access = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "InstallUpdates"},
                {"21H2 at KB5036892", W10MS, "10.0.19044.4291", .legacy_access = true,
                        .status = "ActiveBenefits", .eligible = AVD, .active = AVD, .actions = ""},
                {"21H2 one below KB5036892", W10MS, "10.0.19044.4290", .legacy_access = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "InstallUpdates"},
                {"cluster legacy support off", W10MS, "10.0.19045.4291", .legacy_access = true,
                        .legacy_off = true, .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "EnableLegacyOsSupport"},
                {"VM has no legacy access", W10MS, "10.0.19045.4291", .gsi = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "EnableVMLegacyAccess"},
                {"neither, and below the minimum", W10MS, "10.0.19045.3803", .legacy_off = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "InstallUpdates,EnableLegacyOsSupport,EnableVMLegacyAccess"},
                {"older Windows 10 (20H2) is not eligible", W10MS, "10.0.19042.2965", .legacy_access = true,
                        .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
        };
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_azure_edition(void) {
        static const Case cases[] = {
                {"at KB5036909", AZEDN, "10.0.20348.2402", .gsi = true, .status = "ActiveBenefits",
                        .eligible = AZED, .active = AZED, .actions = ""},
                {"one below KB5036909", AZEDN, "10.0.20348.2401", .gsi = true, .status = "InactiveBenefits",
                        .eligible = AZED, .active = "", .actions = "InstallUpdates"},
                {"Server Core variant", "Windows Server 2022 Datacenter: Azure Edition Core",
                        "10.0.20348.2527", .gsi = true, .status = "ActiveBenefits", .eligible = AZED,
                        .active = AZED, .actions = ""},
                {"no guest service interface", AZEDN, "10.0.20348.2402", .status = "InactiveBenefits",
                        .eligible = AZED, .active = "", .actions = "EnableGuestServiceInterface"},
                {"plain Datacenter is not eligible", "Windows Server 2022 Datacenter", "10.0.20348.2402",
                        .gsi = true, .status = "NoApplicableBenefits", .eligible = "", .active = "",
                        .actions = ""},
        };
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_esu(void) {
        static const Case cases[] = {
                {"Windows Server 2012 R2", "Windows Server 2012 R2 Datacenter", "6.3.9600",
                        .legacy_access = true, .status = "ActiveBenefits", .eligible = ESU, .active = ESU,
                        .actions = ""},
                {"Windows Server 2012", "Windows Server 2012 Standard", "6.2.9200", .legacy_access = true,
                        .status = "ActiveBenefits", .eligible = ESU, .active = ESU, .actions = ""},
                {"Windows Server 2008 R2", "Windows Server 2008 R2 Enterprise", "6.1.7601",
                        .legacy_access = true, .status = "ActiveBenefits", .eligible = ESU, .active = ESU,
                        .actions = ""},
                {"Windows Server 2008", "Windows Server 2008 Standard", "6.0.6003", .legacy_access = true,
                        .status = "ActiveBenefits", .eligible = ESU, .active = ESU, .actions = ""},
                {"2012 R2 without legacy access", "Windows Server 2012 R2 Datacenter", "6.3.9600",
                        .gsi = true, .status = "InactiveBenefits", .eligible = ESU, .active = "",
                        .actions = "EnableVMLegacyAccess"},
                {"2012 R2 with legacy support off", "Windows Server 2012 R2 Datacenter", "6.3.9600",
                        .legacy_access = true, .legacy_off = true, .status = "InactiveBenefits",
                        .eligible = ESU, .active = "", .actions = "EnableLegacyOsSupport"},
                {"Windows Server 2016 is in support", "Windows Server 2016 Datacenter", "10.0.14393.6897",
                        .gsi = true, .status = "NoApplicableBenefits", .eligible = "", .active = "",
                        .actions = ""},
                {"SQL Server 2014 on Windows Server 2019", "Windows Server 2019 Datacenter",
                        "10.0.17763.5696", "12.0.6449.1", .gsi = true, .status = "ActiveBenefits",
                        .eligible = ESU, .active = ESU, .actions = ""},
                {"SQL Server 2012 on Windows Server 2019 without GSI", "Windows Server 2019 Datacenter",
                        "10.0.17763.5696", "11.0.7512.11", .legacy_access = true,
                        .status = "InactiveBenefits", .eligible = ESU, .active = "",
                        .actions = "EnableGuestServiceInterface"},
                {"SQL Server 2012 on Windows Server 2012 R2 uses legacy", "Windows Server 2012 R2 Standard",
                        "6.3.9600", "11.0.7512.11", .gsi = true, .legacy_off = true,
                        .status = "InactiveBenefits", .eligible = ESU, .active = "",
                        .actions = "EnableLegacyOsSupport,EnableVMLegacyAccess"},
                {"SQL Server 2016 is in support", "Windows Server 2019 Datacenter", "10.0.17763.5696",
                        "13.0.7050.2", .gsi = true, .status = "NoApplicableBenefits", .eligible = "",
                        .active = "", .actions = ""},
        };
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_guest_configuration(void) {
        static const Case cases[] = {
                {"Arc 1.39 on Windows Server 2019", "Windows Server 2019 Datacenter", "10.0.17763.5696",
                        NULL, "1.39", .gsi = true, .status = "ActiveBenefits", .eligible = GCONFIG,
                        .active = GCONFIG, .actions = ""},
                {"Arc 1.39.0 is 1.39", "Windows Server 2019 Datacenter", "10.0.17763.5696", NULL, "1.39.0",
                        .gsi = true, .status = "ActiveBenefits", .eligible = GCONFIG, .active = GCONFIG,
                        .actions = ""},
                {"Arc 1.38.9 is below 1.39", "Windows Server 2019 Datacenter", "10.0.17763.5696", NULL,
                        "1.38.9", .gsi = true, .status = "InactiveBenefits", .eligible = GCONFIG,
                        .active = "", .actions = "InstallUpdates"},
                {"Arc on a Linux guest uses vsock", "Debian GNU/Linux 12 (bookworm)", "6.1.0", NULL,
                        "1.41.0", .gsi = true, .legacy_off = true, .status = "ActiveBenefits",
                        .eligible = GCONFIG, .active = GCONFIG, .actions = ""},
                {"no Arc agent", "Windows Server 2019 Datacenter", "10.0.17763.5696", .gsi = true,
                        .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
                {"Arc on Windows Server 2012 R2: ESU and guest configuration over legacy",
                        "Windows Server 2012 R2 Datacenter", "6.3.9600", NULL, "1.40.0", .gsi = true,
                        .legacy_access = true, .status = "ActiveBenefits", .eligible = ESU "," GCONFIG,
                        .active = ESU "," GCONFIG, .actions = ""},
                {"Arc on Windows Server 2012 R2 without legacy access", "Windows Server 2012 R2 Datacenter",
                        "6.3.9600", NULL, "1.40.0", .gsi = true, .status = "InactiveBenefits",
                        .eligible = ESU "," GCONFIG, .active = "", .actions = "EnableVMLegacyAccess"},
        };
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_statuses_and_actions(void) {
        static const Case cases[] = {
                {"data exchange off: Unknown, whatever else holds", W11MS, "10.0.22621.3447", .gsi = true,
                        .data_exchange_off = true, .status = "Unknown", .eligible = "", .active = "",
                        .actions = "EnableDataExchange"},
                {"data exchange off on a VM that needs everything", W11MS, "10.0.22621.1",
                        .data_exchange_off = true, .server_inactive = true, .legacy_off = true,
                        .status = "Unknown", .eligible = "", .active = "", .actions = "EnableDataExchange"},
                {"nothing applicable, even with the server inactive", "Ubuntu 24.04 LTS", "6.8.0",
                        .server_inactive = true, .status = "NoApplicableBenefits", .eligible = "",
                        .active = "", .actions = ""},
                {"no OS facts at all", NULL, NULL, .gsi = true, .status = "NoApplicableBenefits",
                        .eligible = "", .active = "", .actions = ""},
                {"server not active", W11MS, "10.0.22621.3447", .gsi = true, .server_inactive = true,
                        .status = "InactiveBenefits", .eligible = AVD, .active = "",
                        .actions = "SyncServer"},
                {"all actions at once, de-duplicated, in canonical order", W11MS, "10.0.22621.3000", NULL,
                        "1.30", .server_inactive = true, .status = "InactiveBenefits",
                        .eligible = AVD "," GCONFIG, .active = "",
                        .actions = "SyncServer,InstallUpdates,EnableGuestServiceInterface"},
                {"legacy and vsock actions together", "Windows Server 2012 R2 Datacenter", "6.3.9600", NULL,
                        NULL, .legacy_off = true, .server_inactive = true, .status = "InactiveBenefits",
                        .eligible = ESU, .active = "",
                        .actions = "SyncServer,EnableLegacyOsSupport,EnableVMLegacyAccess"},
                {"one active, one inactive", W11MS, "10.0.22621.3447", NULL, "1.20", .gsi = true,
                        .status = "InactiveBenefits", .eligible = AVD "," GCONFIG, .active = AVD,
                        .actions = "InstallUpdates"},
                {"two active", W11MS, "10.0.22631.4037", NULL, "1.45.02", .gsi = true,
                        .status = "ActiveBenefits", .eligible = AVD "," GCONFIG, .active = AVD "," GCONFIG,
                        .actions = ""},
        };
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_evaluate_replaces_previous(void) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = load_real_rules();
        Case c = {"replace", W11MS, "10.0.22621.3447", .gsi = true};
        _cleanup_(vm_freep) Vm *vm = make_vm(&c);
        BenefitContext ctx = {.server_active = false, .legacy_support = true};
        BenefitEvaluation e = {}, copy = {};

        g_assert_cmpint(benefit_evaluate(rules, vm, &ctx, &e), ==, 0);
        g_assert_cmpint(e.status, ==, VM_STATUS_INACTIVE_BENEFITS);
        g_assert_cmpstr(e.recommended_actions[0], ==, ACTION_SYNC_SERVER);

        /* The same result twice compares equal; a changed input replaces it in place. */
        g_assert_cmpint(benefit_evaluate(rules, vm, &ctx, &copy), ==, 0);
        g_assert_true(benefit_evaluation_equal(&e, &copy));

        ctx.server_active = true;
        g_assert_cmpint(benefit_evaluate(rules, vm, &ctx, &e), ==, 0);
        g_assert_cmpint(e.status, ==, VM_STATUS_ACTIVE_BENEFITS);
        g_assert_null(e.recommended_actions);
        g_assert_false(benefit_evaluation_equal(&e, &copy));

        benefit_evaluation_done(&e);
        benefit_evaluation_done(&copy);
}

static void test_real_file_has_every_benefit(void) {
        /* Each of the four benefits is reachable through the shipped rules. */
        _cleanup_(benefit_rules_freep) BenefitRules *rules = load_real_rules();
        static const Case all = {"everything", "Windows Server 2012 R2 Datacenter", "6.3.9600",
                "12.0.6024.0", "1.39"};
        static const Case w11 = {"w11", W11MS, "10.0.22621.3447"};
        static const Case azed = {"azed", AZEDN, "10.0.20348.2402"};
        const Case *cases[] = {&all, &w11, &azed};
        _cleanup_strv_free_ char **seen = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(vm_freep) Vm *vm = make_vm(cases[i]);
                BenefitContext ctx = {true, true};
                BenefitEvaluation e = {};

                g_assert_cmpint(benefit_evaluate(rules, vm, &ctx, &e), ==, 0);
                STRV_FOREACH (b, e.eligible)
                        g_assert_cmpint(strv_extend_unique(&seen, *b), ==, 0);
                benefit_evaluation_done(&e);
        }
        g_assert_cmpuint(strv_length(seen), ==, 4);
        g_assert_true(strv_contains(seen, ESU));
        g_assert_true(strv_contains(seen, AVD));
        g_assert_true(strv_contains(seen, AZED));
        g_assert_true(strv_contains(seen, GCONFIG));
}

/* ---- Malformed rule files ----------------------------------------------------------------------- */

static void expect_error(const char *data, int expected_r, const char *expected_message) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = benefit_rules_load_data("t.json", data, &rules, &error);
        g_assert_cmpint(r, ==, expected_r);
        g_assert_null(rules);
        g_assert_cmpstr(error, ==, expected_message);

        /* Without an error pointer the result is the same, only silent. */
        g_assert_cmpint(benefit_rules_load_data("t.json", data, &rules, NULL), ==, expected_r);
        g_assert_null(rules);
}

/* A valid file in a fixed layout; the cases below break one thing each. Line numbers in the
 * expected messages refer to this layout. */
#define HEAD                  \
        "{\n"                 \
        "  \"version\": 1,\n" \
        "  \"benefits\": [ { \"id\": \"AzureVirtualDesktop\", \"title\": \"AVD\" } ],\n"
#define RULE_OPEN                                       \
        "  \"rules\": [\n"                              \
        "    {\n"                                       \
        "      \"benefit\": \"AzureVirtualDesktop\",\n" \
        "      \"description\": \"w11\",\n"

static void test_load_minimal(void) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;
        _cleanup_free_ char *error = NULL;
        static const char data[] =
                HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"^win\" } },\n"
                               "      \"transport\": \"vsock\"\n"
                               "    }\n"
                               "  ]\n"
                               "}\n";

        g_assert_cmpint(benefit_rules_load_data("t.json", data, &rules, &error), ==, 0);
        g_assert_nonnull(rules);
        g_assert_null(error);
}

static void test_load_syntax_error(void) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = benefit_rules_load_data("t.json", "{\n  \"version\": 1,\n  \"rules\": [\n}\n", &rules, &error);
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_null(rules);
        /* json-glib's wording (Debian 12, json-glib 1.6); the name and position are ours. */
        g_assert_cmpstr(error, ==,
                "t.json:4:1: Parse error: unexpected character `}', expected character `]'");
}

static void test_load_missing_file(void) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;
        _cleanup_free_ char *error = NULL;

        g_assert_cmpint(benefit_rules_load("/nonexistent/benefits.json", &rules, &error), ==, -ENOENT);
        g_assert_null(rules);
        g_assert_cmpstr(error, ==, "/nonexistent/benefits.json: No such file or directory");
}

static void test_load_top_level(void) {
        expect_error("[ 1, 2 ]\n", -EINVAL, "t.json:1:1: the rule file must hold a JSON object");
        expect_error("{\n  \"version\": 1,\n  \"benefits\": [],\n  \"rules\": [],\n  \"extra\": true\n}\n",
                -EINVAL,
                "t.json:5:3: extra: unknown key (expected one of: version, sources, benefits, rules)");
        expect_error("{\n  \"version\": 1,\n  \"benefits\": []\n}\n", -EINVAL,
                "t.json:1:1: missing required key 'rules'");
        expect_error("{\n  \"version\": 2,\n  \"benefits\": [],\n  \"rules\": []\n}\n", -EINVAL,
                "t.json:2:14: version: must be the integer 1");
        expect_error("{\n  \"version\": \"1\",\n  \"benefits\": [],\n  \"rules\": []\n}\n", -EINVAL,
                "t.json:2:14: version: must be the integer 1");
        expect_error(
                "{ \"version\": 1, \"sources\": [ { \"url\": \"https://x\" } ], \"benefits\": [], \"rules\": [] }",
                -EINVAL, "t.json:1:30: sources[0]: missing required key 'confirms'");
        expect_error("{ \"version\": 1, \"benefits\": {}, \"rules\": [] }", -EINVAL,
                "t.json:1:29: benefits: must be an array of benefits");
}

static void test_load_benefits(void) {
        expect_error(
                "{\n  \"version\": 1,\n  \"benefits\": [\n    { \"id\": \"FreeLunch\", \"title\": \"x\" }\n  ],\n"
                "  \"rules\": []\n}\n",
                -EINVAL,
                "t.json:4:13: benefits[0].id: unknown benefit 'FreeLunch' (expected one of: "
                "ExtendedSecurityUpdates, AzureVirtualDesktop, WindowsServerAzureEdition, "
                "AzurePolicyGuestConfiguration)");
        expect_error(
                "{\n  \"version\": 1,\n  \"benefits\": [\n    { \"id\": \"AzureVirtualDesktop\", \"title\": \"a\" },\n"
                "    { \"id\": \"AzureVirtualDesktop\", \"title\": \"b\" }\n  ],\n  \"rules\": []\n}\n",
                -EINVAL, "t.json:5:13: benefits[1].id: benefit 'AzureVirtualDesktop' is declared twice");
        expect_error(
                "{ \"version\": 1, \"benefits\": [ { \"id\": \"AzureVirtualDesktop\" } ], \"rules\": [] }",
                -EINVAL, "t.json:1:31: benefits[0]: missing required key 'title'");
        expect_error("{ \"version\": 1, \"benefits\": [ { \"id\": 7, \"title\": \"x\" } ], \"rules\": [] }",
                -EINVAL, "t.json:1:39: benefits[0].id: must be a string");
}

static void test_load_rules(void) {
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"^win\" } },\n"
                                    "      \"transport\": \"tcp\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:20: rules[0].transport: unknown transport 'tcp' (expected \"vsock\" or \"legacy\")");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"^win\" } },\n"
                                    "      \"transport\": 5\n"
                                    "    }\n  ]\n}\n",
                -EINVAL, "t.json:9:20: rules[0].transport: must be a string");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"win(\" } },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:39: rules[0].match.OsName.regex: invalid regular expression 'win(': "
                "Unmatched ( or \\(");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"multi-++session\" } },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:39: rules[0].match.OsName.regex: regular expression 'multi-++session' is too complex: at "
                "most 256 characters and 8 repetition operators, none directly after another, counts in {} up to 16");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"(a{2}){17}\" } },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:39: rules[0].match.OsName.regex: regular expression '(a{2}){17}' is too complex: at "
                "most 256 characters and 8 repetition operators, none directly after another, counts in {} up to 16");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsVersion\": { \"atLeast\": \"10.0.x\" } },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:44: rules[0].match.OsVersion.atLeast: '10.0.x' is not a dotted numeric version such "
                "as 10.0.22621.3447");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"atLeast\": \"10.0\" } },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:30: rules[0].match.OsName.atLeast: 'atLeast' applies only to version properties, "
                "not OsName");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"Colour\": { \"regex\": \"blue\" } },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:18: rules[0].match.Colour: unknown VM property (expected one of: OsName, OsVersion, "
                "SqlVersion, ArcAgentVersion, Sku, LicenseType)");
        expect_error(HEAD RULE_OPEN
                "      \"match\": { \"OsName\": { \"regex\": \"w\", \"like\": \"x\" } },\n"
                "      \"transport\": \"vsock\"\n"
                "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:44: rules[0].match.OsName.like: unknown key (expected one of: regex, atLeast, below, "
                "present)");
        expect_error(HEAD RULE_OPEN
                "      \"match\": { \"OsVersion\": { \"atLeast\": \"10.0.2\", \"below\": \"10.0.1\" } },\n"
                "      \"transport\": \"vsock\"\n"
                "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:31: rules[0].match.OsVersion: atLeast 10.0.2 is not below 10.0.1: the condition can "
                "never match");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"ArcAgentVersion\": { \"present\": false } },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:50: rules[0].match.ArcAgentVersion.present: must be true (a condition never matches "
                "an absent property, so there is no \"present\": false)");
        expect_error(HEAD RULE_OPEN "      \"match\": [ \"OsName\" ],\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL, "t.json:8:16: rules[0].match: must be an object of VM property conditions");
        expect_error(HEAD RULE_OPEN "      \"match\": {},\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL, "t.json:8:16: rules[0].match: must hold at least one condition");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": {} },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:28: rules[0].match.OsName: a condition needs at least one of regex, atLeast, below, "
                "present");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                                    "      \"minimum\": { \"OsName\": \"10.0\" },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:20: rules[0].minimum.OsName: unknown VM property (expected one of: OsVersion, "
                "SqlVersion, ArcAgentVersion)");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                                    "      \"minimum\": { \"OsVersion\": \"10.0.22621.3447-beta\" },\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:33: rules[0].minimum.OsVersion: '10.0.22621.3447-beta' is not a dotted numeric "
                "version such as 10.0.22621.3447");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                                    "      \"update\": \"5036893\",\n"
                                    "      \"transport\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:17: rules[0].update: '5036893' is not a knowledge base article such as KB5036893");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                                    "      \"transprot\": \"vsock\"\n"
                                    "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:7: rules[0].transprot: unknown key (expected one of: benefit, description, match, "
                "minimum, update, transport)");
        expect_error(HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } }\n"
                                    "    }\n  ]\n}\n",
                -EINVAL, "t.json:5:5: rules[0]: missing required key 'transport'");
        expect_error(HEAD
                "  \"rules\": [\n"
                "    { \"benefit\": \"WindowsServerAzureEdition\", \"description\": \"x\",\n"
                "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"vsock\" }\n"
                "  ]\n}\n",
                -EINVAL,
                "t.json:5:18: rules[0].benefit: benefit 'WindowsServerAzureEdition' is not declared in "
                "\"benefits\"");
        expect_error(HEAD
                "  \"rules\": [\n"
                "    { \"benefit\": \"AzureVirtualDesktop\", \"description\": 3,\n"
                "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"vsock\" }\n"
                "  ]\n}\n",
                -EINVAL, "t.json:5:56: rules[0].description: must be a string");
        /* The second rule is broken: the position points into it, not into the first. */
        expect_error(HEAD
                "  \"rules\": [\n"
                "    { \"benefit\": \"AzureVirtualDesktop\", \"description\": \"a\",\n"
                "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"vsock\" },\n"
                "    { \"benefit\": \"AzureVirtualDesktop\", \"description\": \"b\",\n"
                "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"legacy \" }\n"
                "  ]\n}\n",
                -EINVAL,
                "t.json:8:61: rules[1].transport: unknown transport 'legacy ' (expected \"vsock\" or "
                "\"legacy\")");
        expect_error(HEAD "  \"rules\": [ 42 ]\n}\n", -EINVAL,
                "t.json:4:14: rules[0]: a rule must be an object");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/benefits/avd/windows11", test_avd_windows11);
        g_test_add_func("/benefits/avd/windows10", test_avd_windows10);
        g_test_add_func("/benefits/azure-edition", test_azure_edition);
        g_test_add_func("/benefits/esu", test_esu);
        g_test_add_func("/benefits/guest-configuration", test_guest_configuration);
        g_test_add_func("/benefits/statuses-and-actions", test_statuses_and_actions);
        g_test_add_func("/benefits/evaluate-replaces-previous", test_evaluate_replaces_previous);
        g_test_add_func("/benefits/real-file-has-every-benefit", test_real_file_has_every_benefit);
        g_test_add_func("/benefits/load/minimal", test_load_minimal);
        g_test_add_func("/benefits/load/syntax-error", test_load_syntax_error);
        g_test_add_func("/benefits/load/missing-file", test_load_missing_file);
        g_test_add_func("/benefits/load/top-level", test_load_top_level);
        g_test_add_func("/benefits/load/benefits", test_load_benefits);
        g_test_add_func("/benefits/load/rules", test_load_rules);

        return g_test_run();
}
