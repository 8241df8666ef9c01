/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The benefit evaluator against the real data/benefits.json (every row of the seed's table, each
 * side of each minimum build, every recommended action and status), every bound of the shipped
 * rules and of the rule language at, just below and just above it, and the rule loader against
 * malformed files, with the exact messages an administrator would see. */

#include <glib.h>

#include "benefits.h"
#include "strv.h"
#include "test-util.h"

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

/* The evaluation of 10,000 VMs holds no copies of the same few strings (vm.h): each benefit id
 * is the rules' own string, each action the same string in every evaluation. */
static void check_borrowed(const BenefitRules *rules, const BenefitEvaluation *e) {
        static const char *seen[16];

        STRV_FOREACH (id, e->eligible) {
                size_t b = 0;

                while (b < rules->n_benefits && rules->benefits[b].id != *id)
                        b++;
                g_assert_cmpuint(b, <, rules->n_benefits);
        }
        STRV_FOREACH (id, e->active)
                g_assert_true(strv_contains(e->eligible, *id));
        STRV_FOREACH (action, e->recommended_actions) {
                size_t i = 0;

                while (seen[i] && !streq(seen[i], *action))
                        i++;
                g_assert_cmpuint(i, <, ELEMENTSOF(seen) - 1);
                if (!seen[i])
                        seen[i] = *action;
                g_assert_true(seen[i] == *action);
        }
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
        check_borrowed(rules, &e);
        benefit_evaluation_done(&e);
}

/* One row of a Case table against the real rules (test_add_case). */
static void test_case(const void *data) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = load_real_rules();

        check_case(rules, data);
}

#define W11MS "Windows 11 Enterprise multi-session"
#define W10MS "Windows 10 Enterprise multi-session"
#define AZEDN "Windows Server 2022 Datacenter: Azure Edition"

static const Case avd_windows11_cases[] = {
        {"22H2 at KB5036893", W11MS, "10.0.22621.3447", .gsi = true, .status = "ActiveBenefits",
                .eligible = AVD, .active = AVD, .actions = ""},
        {"22H2 later build", W11MS, "10.0.22621.4317", .gsi = true, .status = "ActiveBenefits",
                .eligible = AVD, .active = AVD, .actions = ""},
        {"22H2 one below KB5036893", W11MS, "10.0.22621.3446", .gsi = true, .status = "InactiveBenefits",
                .eligible = AVD, .active = "", .actions = "InstallUpdates"},
        {"23H2 at KB5036893", W11MS, "10.0.22631.3447", .gsi = true, .status = "ActiveBenefits",
                .eligible = AVD, .active = AVD, .actions = ""},
        {"23H2 one below KB5036893", W11MS, "10.0.22631.3446", .gsi = true, .status = "InactiveBenefits",
                .eligible = AVD, .active = "", .actions = "InstallUpdates"},
        {"21H2 at KB5036894", W11MS, "10.0.22000.2899", .gsi = true, .status = "ActiveBenefits",
                .eligible = AVD, .active = AVD, .actions = ""},
        {"21H2 one below KB5036894", W11MS, "10.0.22000.2898", .gsi = true, .status = "InactiveBenefits",
                .eligible = AVD, .active = "", .actions = "InstallUpdates"},
        {"21H2 build without revision", W11MS, "10.0.22000", .gsi = true, .status = "InactiveBenefits",
                .eligible = AVD, .active = "", .actions = "InstallUpdates"},
        {"22H2 without guest service interface", W11MS, "10.0.22621.3447", .gsi = false,
                .status = "InactiveBenefits", .eligible = AVD, .active = "",
                .actions = "EnableGuestServiceInterface"},
        {"Windows 11 multi-session needs no legacy support", W11MS, "10.0.22621.3447", .gsi = true,
                .legacy_off = true, .status = "ActiveBenefits", .eligible = AVD, .active = AVD,
                .actions = ""},
        {"OS name is matched case-insensitively", "WINDOWS 11 ENTERPRISE MULTI-SESSION", "10.0.22631.3447",
                .gsi = true, .status = "ActiveBenefits", .eligible = AVD, .active = AVD, .actions = ""},
        {"single-session Windows 11 is not eligible", "Windows 11 Enterprise", "10.0.22621.3447",
                .gsi = true, .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
        {"a build outside the table (24H2) is not eligible", W11MS, "10.0.26100.1742", .gsi = true,
                .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
        {"multi-session without an OS version", W11MS, NULL, .gsi = true, .status = "NoApplicableBenefits",
                .eligible = "", .active = "", .actions = ""},
};

static const Case avd_windows10_cases[] = {
        {"22H2 at KB5036892 with legacy access", W10MS, "10.0.19045.4291", .legacy_access = true,
                .status = "ActiveBenefits", .eligible = AVD, .active = AVD, .actions = ""},
        {"22H2 one below KB5036892", W10MS, "10.0.19045.4290", .legacy_access = true,
                .status = "InactiveBenefits", .eligible = AVD, .active = "", .actions = "InstallUpdates"},
        {"21H2 at KB5036892", W10MS, "10.0.19044.4291", .legacy_access = true, .status = "ActiveBenefits",
                .eligible = AVD, .active = AVD, .actions = ""},
        {"21H2 one below KB5036892", W10MS, "10.0.19044.4290", .legacy_access = true,
                .status = "InactiveBenefits", .eligible = AVD, .active = "", .actions = "InstallUpdates"},
        {"cluster legacy support off", W10MS, "10.0.19045.4291", .legacy_access = true, .legacy_off = true,
                .status = "InactiveBenefits", .eligible = AVD, .active = "",
                .actions = "EnableLegacyOsSupport"},
        {"VM has no legacy access", W10MS, "10.0.19045.4291", .gsi = true, .status = "InactiveBenefits",
                .eligible = AVD, .active = "", .actions = "EnableVMLegacyAccess"},
        {"neither, and below the minimum", W10MS, "10.0.19045.3803", .legacy_off = true,
                .status = "InactiveBenefits", .eligible = AVD, .active = "",
                .actions = "InstallUpdates,EnableLegacyOsSupport,EnableVMLegacyAccess"},
        {"older Windows 10 (20H2) is not eligible", W10MS, "10.0.19042.2965", .legacy_access = true,
                .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
};

static const Case azure_edition_cases[] = {
        {"at KB5036909", AZEDN, "10.0.20348.2402", .gsi = true, .status = "ActiveBenefits", .eligible = AZED,
                .active = AZED, .actions = ""},
        {"one below KB5036909", AZEDN, "10.0.20348.2401", .gsi = true, .status = "InactiveBenefits",
                .eligible = AZED, .active = "", .actions = "InstallUpdates"},
        {"Server Core variant", "Windows Server 2022 Datacenter: Azure Edition Core", "10.0.20348.2527",
                .gsi = true, .status = "ActiveBenefits", .eligible = AZED, .active = AZED, .actions = ""},
        {"no guest service interface", AZEDN, "10.0.20348.2402", .status = "InactiveBenefits",
                .eligible = AZED, .active = "", .actions = "EnableGuestServiceInterface"},
        {"plain Datacenter is not eligible", "Windows Server 2022 Datacenter", "10.0.20348.2402",
                .gsi = true, .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
};

static const Case esu_cases[] = {
        {"Windows Server 2012 R2", "Windows Server 2012 R2 Datacenter", "6.3.9600", .legacy_access = true,
                .status = "ActiveBenefits", .eligible = ESU, .active = ESU, .actions = ""},
        {"Windows Server 2012", "Windows Server 2012 Standard", "6.2.9200", .legacy_access = true,
                .status = "ActiveBenefits", .eligible = ESU, .active = ESU, .actions = ""},
        {"Windows Server 2008 R2", "Windows Server 2008 R2 Enterprise", "6.1.7601", .legacy_access = true,
                .status = "ActiveBenefits", .eligible = ESU, .active = ESU, .actions = ""},
        {"Windows Server 2008", "Windows Server 2008 Standard", "6.0.6003", .legacy_access = true,
                .status = "ActiveBenefits", .eligible = ESU, .active = ESU, .actions = ""},
        {"2012 R2 without legacy access", "Windows Server 2012 R2 Datacenter", "6.3.9600", .gsi = true,
                .status = "InactiveBenefits", .eligible = ESU, .active = "",
                .actions = "EnableVMLegacyAccess"},
        {"2012 R2 with legacy support off", "Windows Server 2012 R2 Datacenter", "6.3.9600",
                .legacy_access = true, .legacy_off = true, .status = "InactiveBenefits", .eligible = ESU,
                .active = "", .actions = "EnableLegacyOsSupport"},
        {"Windows Server 2016 is in support", "Windows Server 2016 Datacenter", "10.0.14393.6897",
                .gsi = true, .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
        {"SQL Server 2014 on Windows Server 2019", "Windows Server 2019 Datacenter", "10.0.17763.5696",
                "12.0.6449.1", .gsi = true, .status = "ActiveBenefits", .eligible = ESU, .active = ESU,
                .actions = ""},
        {"SQL Server 2012 on Windows Server 2019 without GSI", "Windows Server 2019 Datacenter",
                "10.0.17763.5696", "11.0.7512.11", .legacy_access = true, .status = "InactiveBenefits",
                .eligible = ESU, .active = "", .actions = "EnableGuestServiceInterface"},
        {"SQL Server 2012 on Windows Server 2012 R2 uses legacy", "Windows Server 2012 R2 Standard",
                "6.3.9600", "11.0.7512.11", .gsi = true, .legacy_off = true, .status = "InactiveBenefits",
                .eligible = ESU, .active = "", .actions = "EnableLegacyOsSupport,EnableVMLegacyAccess"},
        {"SQL Server 2016 is in support", "Windows Server 2019 Datacenter", "10.0.17763.5696", "13.0.7050.2",
                .gsi = true, .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""},
};

static const Case guest_configuration_cases[] = {
        {"Arc 1.39 on Windows Server 2019", "Windows Server 2019 Datacenter", "10.0.17763.5696", NULL,
                "1.39", .gsi = true, .status = "ActiveBenefits", .eligible = GCONFIG, .active = GCONFIG,
                .actions = ""},
        {"Arc 1.39.0 is 1.39", "Windows Server 2019 Datacenter", "10.0.17763.5696", NULL, "1.39.0",
                .gsi = true, .status = "ActiveBenefits", .eligible = GCONFIG, .active = GCONFIG,
                .actions = ""},
        {"Arc 1.38.9 is below 1.39", "Windows Server 2019 Datacenter", "10.0.17763.5696", NULL, "1.38.9",
                .gsi = true, .status = "InactiveBenefits", .eligible = GCONFIG, .active = "",
                .actions = "InstallUpdates"},
        {"Arc on a Linux guest uses vsock", "Debian GNU/Linux 12 (bookworm)", "6.1.0", NULL, "1.41.0",
                .gsi = true, .legacy_off = true, .status = "ActiveBenefits", .eligible = GCONFIG,
                .active = GCONFIG, .actions = ""},
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

static const Case statuses_and_actions_cases[] = {
        {"data exchange off: Unknown, whatever else holds", W11MS, "10.0.22621.3447", .gsi = true,
                .data_exchange_off = true, .status = "Unknown", .eligible = "", .active = "",
                .actions = "EnableDataExchange"},
        {"data exchange off on a VM that needs everything", W11MS, "10.0.22621.1", .data_exchange_off = true,
                .server_inactive = true, .legacy_off = true, .status = "Unknown", .eligible = "",
                .active = "", .actions = "EnableDataExchange"},
        {"nothing applicable, even with the server inactive", "Ubuntu 24.04 LTS", "6.8.0",
                .server_inactive = true, .status = "NoApplicableBenefits", .eligible = "", .active = "",
                .actions = ""},
        {"no OS facts at all", NULL, NULL, .gsi = true, .status = "NoApplicableBenefits", .eligible = "",
                .active = "", .actions = ""},
        {"server not active", W11MS, "10.0.22621.3447", .gsi = true, .server_inactive = true,
                .status = "InactiveBenefits", .eligible = AVD, .active = "", .actions = "SyncServer"},
        {"all actions at once, de-duplicated, in canonical order", W11MS, "10.0.22621.3000", NULL, "1.30",
                .server_inactive = true, .status = "InactiveBenefits", .eligible = AVD "," GCONFIG,
                .active = "", .actions = "SyncServer,InstallUpdates,EnableGuestServiceInterface"},
        {"legacy and vsock actions together", "Windows Server 2012 R2 Datacenter", "6.3.9600", NULL, NULL,
                .legacy_off = true, .server_inactive = true, .status = "InactiveBenefits", .eligible = ESU,
                .active = "", .actions = "SyncServer,EnableLegacyOsSupport,EnableVMLegacyAccess"},
        {"one active, one inactive", W11MS, "10.0.22621.3447", NULL, "1.20", .gsi = true,
                .status = "InactiveBenefits", .eligible = AVD "," GCONFIG, .active = AVD,
                .actions = "InstallUpdates"},
        {"two active", W11MS, "10.0.22631.4037", NULL, "1.45.02", .gsi = true, .status = "ActiveBenefits",
                .eligible = AVD "," GCONFIG, .active = AVD "," GCONFIG, .actions = ""},
};

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

/* ---- Bounds of the shipped rules --------------------------------------------------------------- */

/* Every atLeast, below and minimum of data/benefits.json, probed exactly at its version (also
 * with trailing ".0" components, which compare equal), one below and one above it (the last
 * component minus or plus one), and just below and just above it (the closest versions: the
 * one below with a further component of 999999999, the largest a component may be; the bound
 * with a further ".1"). atLeast and minimum hold at the bound, below does not. Where a
 * neighbouring rule takes over at a bound, the case says which. */
#define NONE       .status = "NoApplicableBenefits", .eligible = "", .active = "", .actions = ""
#define ACTIVE(b)  .status = "ActiveBenefits", .eligible = b, .active = b, .actions = ""
#define INSTALL(b) .status = "InactiveBenefits", .eligible = b, .active = "", .actions = "InstallUpdates"
#define NEEDS_LEGACY_ACCESS(b) \
        .status = "InactiveBenefits", .eligible = b, .active = "", .actions = "EnableVMLegacyAccess"
#define WS2012 "Windows Server 2012 R2 Datacenter"
#define WS2019 "Windows Server 2019 Datacenter"
#define W81    "Windows 8.1 Pro" /* Windows 6.3, not a server: no Windows Server ESU rule */
#define DEBIAN "Debian GNU/Linux 12 (bookworm)"
#define N9     "999999999"

static const Case bounds_esu_cases[] = {
        /* Windows Server 2008/2008 R2: atLeast 6.0, below 6.2; 2012/2012 R2: atLeast 6.2,
         * below 6.4 (the same transport: at 6.2 either rule gives the same answer) */
        {"one below 6.0", WS2012, "5." N9, .gsi = true, .legacy_access = true, NONE},
        {"at 6.0", WS2012, "6.0", .gsi = true, .legacy_access = true, ACTIVE(ESU)},
        {"just above 6.0", WS2012, "6.0.1", .gsi = true, .legacy_access = true, ACTIVE(ESU)},
        {"one below 6.2", WS2012, "6.1", .gsi = true, .legacy_access = true, ACTIVE(ESU)},
        {"just below 6.2", WS2012, "6.1." N9, .gsi = true, .legacy_access = true, ACTIVE(ESU)},
        {"at 6.2", WS2012, "6.2", .gsi = true, .legacy_access = true, ACTIVE(ESU)},
        {"one above 6.2", WS2012, "6.3", .gsi = true, .legacy_access = true, ACTIVE(ESU)},
        {"just below 6.4", WS2012, "6.3." N9, .gsi = true, .legacy_access = true, ACTIVE(ESU)},
        {"at 6.4", WS2012, "6.4", .gsi = true, .legacy_access = true, NONE},
        {"at 6.4.0", WS2012, "6.4.0", .gsi = true, .legacy_access = true, NONE},
        {"just above 6.4", WS2012, "6.4.1", .gsi = true, .legacy_access = true, NONE},
        {"one above 6.4", WS2012, "6.5", .gsi = true, .legacy_access = true, NONE},
        /* SQL Server: SqlVersion below 13 (vsock rule, on a newer guest) */
        {"SQL one below 13", WS2019, "10.0.17763.5696", "12", .gsi = true, ACTIVE(ESU)},
        {"SQL just below 13", WS2019, "10.0.17763.5696", "12." N9, .gsi = true, ACTIVE(ESU)},
        {"SQL at 13", WS2019, "10.0.17763.5696", "13", .gsi = true, NONE},
        {"SQL at 13.0", WS2019, "10.0.17763.5696", "13.0", .gsi = true, NONE},
        {"SQL just above 13", WS2019, "10.0.17763.5696", "13.0.1", .gsi = true, NONE},
        {"SQL one above 13", WS2019, "10.0.17763.5696", "14", .gsi = true, NONE},
        /* SQL Server on Windows 6.x: SqlVersion below 13 and OsVersion below 6.4 → legacy;
         * from 6.4 on the vsock rule takes over (no legacy access here: the action tells
         * which rule decided) */
        {"SQL on 6.x: one below 6.4", W81, "6.3", "12", .gsi = true, NEEDS_LEGACY_ACCESS(ESU)},
        {"SQL on 6.x: just below 6.4", W81, "6.3." N9, "12", .gsi = true, NEEDS_LEGACY_ACCESS(ESU)},
        {"SQL on 6.x: at 6.4 → vsock rule", W81, "6.4", "12", .gsi = true, ACTIVE(ESU)},
        {"SQL on 6.x: one above 6.4 → vsock rule", W81, "6.5", "12", .gsi = true, ACTIVE(ESU)},
        {"SQL on 6.x: SQL one below 13", W81, "6.3", "12." N9, .gsi = true, NEEDS_LEGACY_ACCESS(ESU)},
        {"SQL on 6.x: SQL at 13", W81, "6.3", "13", .gsi = true, NONE},
        {"SQL on 6.x: SQL one above 13", W81, "6.3", "14", .gsi = true, NONE},
};

typedef enum Expect {
        EXPECT_NONE,    /* no benefit */
        EXPECT_INSTALL, /* eligible, below the minimum */
        EXPECT_ACTIVE,
} Expect;

static void check_probe(const BenefitRules *rules, Case c, const char *benefit, const char *bound,
        const char *version, Expect expect) {
        g_autofree char *what = g_strdup_printf("%s %s (%s)", c.os_name, version, bound);

        c.what = what;
        c.os_version = version;
        c.status = expect == EXPECT_NONE      ? "NoApplicableBenefits"
                   : expect == EXPECT_INSTALL ? "InactiveBenefits"
                                              : "ActiveBenefits";
        c.eligible = expect == EXPECT_NONE ? "" : benefit;
        c.active = expect == EXPECT_ACTIVE ? benefit : "";
        c.actions = expect == EXPECT_INSTALL ? "InstallUpdates" : "";
        check_case(rules, &c);
}

/* A rule of the shape "OsVersion atLeast 10.0.B, below 10.0.B+1, minimum 10.0.B.R" (one OS
 * build and its update), probed at, one below and above, and just below and above each of the
 * three bounds. base says the OS name and a ready transport. Outside the build there is no
 * benefit, unless the build before (prev_rule) or after (next_rule) has a rule of the same
 * shape of its own, which then decides: below its minimum at its build number, above it at
 * the largest revision. */
static void check_build_rule(const BenefitRules *rules, const Case *base, const char *benefit, unsigned b,
        unsigned r, bool prev_rule, bool next_rule) {
        const Expect prev = prev_rule ? EXPECT_INSTALL : EXPECT_NONE,
                     prev_max = prev_rule ? EXPECT_ACTIVE : EXPECT_NONE,
                     next = next_rule ? EXPECT_INSTALL : EXPECT_NONE;
        char v[64];

#define PROBE(bound, expect, ...)                                                      \
        do {                                                                           \
                g_assert_cmpint(snprintf(v, sizeof v, __VA_ARGS__), <, (int)sizeof v); \
                check_probe(rules, *base, benefit, bound, v, expect);                  \
        } while (0)
        PROBE("one below atLeast", prev, "10.0.%u", b - 1);
        PROBE("just below atLeast", prev_max, "10.0.%u." N9, b - 1);
        PROBE("at atLeast", EXPECT_INSTALL, "10.0.%u", b);
        PROBE("at atLeast", EXPECT_INSTALL, "10.0.%u.0", b);
        PROBE("just above atLeast", EXPECT_INSTALL, "10.0.%u.0.1", b);
        PROBE("one below minimum", EXPECT_INSTALL, "10.0.%u.%u", b, r - 1);
        PROBE("just below minimum", EXPECT_INSTALL, "10.0.%u.%u." N9, b, r - 1);
        PROBE("at minimum", EXPECT_ACTIVE, "10.0.%u.%u", b, r);
        PROBE("at minimum", EXPECT_ACTIVE, "10.0.%u.%u.0", b, r);
        PROBE("just above minimum", EXPECT_ACTIVE, "10.0.%u.%u.1", b, r);
        PROBE("one above minimum", EXPECT_ACTIVE, "10.0.%u.%u", b, r + 1);
        PROBE("just below below", EXPECT_ACTIVE, "10.0.%u." N9, b);
        PROBE("closest below below", EXPECT_ACTIVE, "10.0.%u." N9 "." N9 "." N9 "." N9 "." N9, b);
        PROBE("at below", next, "10.0.%u", b + 1);
        PROBE("at below", next, "10.0.%u.0", b + 1);
        PROBE("just above below", next, "10.0.%u.0.1", b + 1);
        PROBE("one above below", EXPECT_NONE, "10.0.%u", b + 2);
#undef PROBE
}

static void test_bounds_avd_and_azure_edition(void) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = load_real_rules();
        const Case w11 = {.os_name = W11MS, .gsi = true}, w10 = {.os_name = W10MS, .legacy_access = true},
                   azed = {.os_name = AZEDN, .gsi = true};

        check_build_rule(rules, &w11, AVD, 22621, 3447, false, false); /* 22H2 */
        check_build_rule(rules, &w11, AVD, 22631, 3447, false, false); /* 23H2 */
        check_build_rule(rules, &w11, AVD, 22000, 2899, false, false); /* 21H2 */
        /* Windows 10 21H2 (19044) and 22H2 (19045): one's below is the other's atLeast */
        check_build_rule(rules, &w10, AVD, 19044, 4291, false, true);
        check_build_rule(rules, &w10, AVD, 19045, 4291, true, false);
        check_build_rule(rules, &azed, AZED, 20348, 2402, false, false);
}

static const Case bounds_guest_configuration_cases[] = {
        /* guest configuration: ArcAgentVersion minimum 1.39 */
        {"Arc: one below minimum", DEBIAN, "6.1.0", NULL, "1.38", .gsi = true, INSTALL(GCONFIG)},
        {"Arc: just below minimum", DEBIAN, "6.1.0", NULL, "1.38." N9, .gsi = true, INSTALL(GCONFIG)},
        {"Arc: at minimum", DEBIAN, "6.1.0", NULL, "1.39", .gsi = true, ACTIVE(GCONFIG)},
        {"Arc: just above minimum", DEBIAN, "6.1.0", NULL, "1.39.0.1", .gsi = true, ACTIVE(GCONFIG)},
        {"Arc: one above minimum", DEBIAN, "6.1.0", NULL, "1.40", .gsi = true, ACTIVE(GCONFIG)},
        /* ... on Windows 6.x: OsVersion below 6.4 → legacy, from 6.4 on the vsock rule */
        {"Arc on 6.x: one below 6.4", W81, "6.3", NULL, "1.39", .gsi = true, NEEDS_LEGACY_ACCESS(GCONFIG)},
        {"Arc on 6.x: just below 6.4", W81, "6.3." N9, NULL, "1.39", .gsi = true,
                NEEDS_LEGACY_ACCESS(GCONFIG)},
        {"Arc on 6.x: at 6.4 → vsock rule", W81, "6.4", NULL, "1.39", .gsi = true, ACTIVE(GCONFIG)},
        {"Arc on 6.x: one above 6.4 → vsock rule", W81, "6.5", NULL, "1.39", .gsi = true, ACTIVE(GCONFIG)},
        {"Arc on 6.x: one below minimum", W81, "6.3", NULL, "1.38", .legacy_access = true, INSTALL(GCONFIG)},
        {"Arc on 6.x: at minimum", W81, "6.3", NULL, "1.39", .legacy_access = true, ACTIVE(GCONFIG)},
};

/* ---- Malformed rule files ----------------------------------------------------------------------- */

/* Loads text as the rule file t.json (test_add_refusal_cases()): a refused file gives no rules,
 * and without an error pointer the result is the same, only silent. */
static int load_rules(const char *text, char **ret_error) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;
        int r;

        r = benefit_rules_load_data("t.json", text, &rules, ret_error);
        g_assert_null(rules);
        g_assert_cmpint(benefit_rules_load_data("t.json", text, &rules, NULL), ==, r);
        g_assert_null(rules);
        return r;
}

static void expect_error(const char *data, int expected_r, const char *expected_message) {
        _cleanup_free_ char *error = NULL;

        g_assert_cmpint(load_rules(data, &error), ==, expected_r);
        g_assert_cmpstr(error, ==, expected_message);
}
static BenefitRules *expect_loads(const char *data) {
        BenefitRules *rules = NULL;
        _cleanup_free_ char *error = NULL;

        g_assert_cmpint(benefit_rules_load_data("t.json", data, &rules, &error), ==, 0);
        g_assert_null(error);
        g_assert_nonnull(rules);
        return rules;
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
        static const char data[] =
                HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"^win\" } },\n"
                               "      \"transport\": \"vsock\"\n"
                               "    }\n"
                               "  ]\n"
                               "}\n";

        rules = expect_loads(data);
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

static const TestRefusalCase load_top_level_cases[] = {
        {"[ 1, 2 ]\n", -EINVAL, "t.json:1:1: the rule file must hold a JSON object"},
        {"{\n  \"version\": 1,\n  \"benefits\": [],\n  \"rules\": [],\n  \"extra\": true\n}\n", -EINVAL,
                "t.json:5:3: extra: unknown key (expected one of: version, sources, benefits, rules)"},
        {"{\n  \"version\": 1,\n  \"benefits\": []\n}\n", -EINVAL,
                "t.json:1:1: missing required key 'rules'"},
        {"{\n  \"version\": 2,\n  \"benefits\": [],\n  \"rules\": []\n}\n", -EINVAL,
                "t.json:2:14: version: must be the integer 1", .name = "version-2"},
        {"{\n  \"version\": \"1\",\n  \"benefits\": [],\n  \"rules\": []\n}\n", -EINVAL,
                "t.json:2:14: version: must be the integer 1", .name = "version-string"},
        {"{ \"version\": 1, \"sources\": [ { \"url\": \"https://x\" } ], \"benefits\": [], \"rules\": [] }",
                -EINVAL, "t.json:1:30: sources[0]: missing required key 'confirms'"},
        {"{ \"version\": 1, \"benefits\": {}, \"rules\": [] }", -EINVAL,
                "t.json:1:29: benefits: must be an array of benefits"},
};

static const TestRefusalCase load_benefits_cases[] = {
        {"{\n  \"version\": 1,\n  \"benefits\": [\n    { \"id\": \"FreeLunch\", \"title\": \"x\" }\n  ],\n"
         "  \"rules\": []\n}\n",
                -EINVAL,
                "t.json:4:13: benefits[0].id: unknown benefit 'FreeLunch' (expected one of: "
                "ExtendedSecurityUpdates, AzureVirtualDesktop, WindowsServerAzureEdition, "
                "AzurePolicyGuestConfiguration)"},
        {"{\n  \"version\": 1,\n  \"benefits\": [\n    { \"id\": \"AzureVirtualDesktop\", \"title\": \"a\" },\n"
         "    { \"id\": \"AzureVirtualDesktop\", \"title\": \"b\" }\n  ],\n  \"rules\": []\n}\n",
                -EINVAL, "t.json:5:13: benefits[1].id: benefit 'AzureVirtualDesktop' is declared twice"},
        {"{ \"version\": 1, \"benefits\": [ { \"id\": \"AzureVirtualDesktop\" } ], \"rules\": [] }", -EINVAL,
                "t.json:1:31: benefits[0]: missing required key 'title'"},
        {"{ \"version\": 1, \"benefits\": [ { \"id\": 7, \"title\": \"x\" } ], \"rules\": [] }", -EINVAL,
                "t.json:1:39: benefits[0].id: must be a string"},
};

static const TestRefusalCase load_rules_cases[] = {
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"^win\" } },\n"
                        "      \"transport\": \"tcp\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:20: rules[0].transport: unknown transport 'tcp' (expected \"vsock\" or \"legacy\")"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"^win\" } },\n"
                        "      \"transport\": 5\n"
                        "    }\n  ]\n}\n",
                -EINVAL, "t.json:9:20: rules[0].transport: must be a string"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"win(\" } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:39: rules[0].match.OsName.regex: invalid regular expression 'win(': "
                "Unmatched ( or \\("},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"multi-++session\" } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:39: rules[0].match.OsName.regex: regular expression 'multi-++session' is too complex: at "
                "most 256 characters and 8 repetition operators, none directly after another, counts in {} up to 16"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"(a{2}){17}\" } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:39: rules[0].match.OsName.regex: regular expression '(a{2}){17}' is too complex: at "
                "most 256 characters and 8 repetition operators, none directly after another, counts in {} up to 16"},
        {HEAD RULE_OPEN "      \"match\": { \"OsVersion\": { \"atLeast\": \"10.0.x\" } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:44: rules[0].match.OsVersion.atLeast: '10.0.x' is not a dotted numeric version such "
                "as 10.0.22621.3447"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"atLeast\": \"10.0\" } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:30: rules[0].match.OsName.atLeast: 'atLeast' applies only to version properties, "
                "not OsName"},
        {HEAD RULE_OPEN "      \"match\": { \"Colour\": { \"regex\": \"blue\" } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:18: rules[0].match.Colour: unknown VM property (expected one of: OsName, OsVersion, "
                "SqlVersion, ArcAgentVersion, Sku, LicenseType)"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\", \"like\": \"x\" } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:44: rules[0].match.OsName.like: unknown key (expected one of: regex, atLeast, below, "
                "present)"},
        {HEAD RULE_OPEN
                "      \"match\": { \"OsVersion\": { \"atLeast\": \"10.0.2\", \"below\": \"10.0.1\" } },\n"
                "      \"transport\": \"vsock\"\n"
                "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:31: rules[0].match.OsVersion: atLeast 10.0.2 is not below 10.0.1: the condition can "
                "never match"},
        {HEAD RULE_OPEN "      \"match\": { \"ArcAgentVersion\": { \"present\": false } },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:50: rules[0].match.ArcAgentVersion.present: must be true (a condition never matches "
                "an absent property, so there is no \"present\": false)"},
        {HEAD RULE_OPEN "      \"match\": [ \"OsName\" ],\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL, "t.json:8:16: rules[0].match: must be an object of VM property conditions"},
        {HEAD RULE_OPEN "      \"match\": {},\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL, "t.json:8:16: rules[0].match: must hold at least one condition"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": {} },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:8:28: rules[0].match.OsName: a condition needs at least one of regex, atLeast, below, "
                "present"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                        "      \"minimum\": { \"OsName\": \"10.0\" },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:20: rules[0].minimum.OsName: unknown VM property (expected one of: OsVersion, "
                "SqlVersion, ArcAgentVersion)"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                        "      \"minimum\": { \"OsVersion\": \"10.0.22621.3447-beta\" },\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:33: rules[0].minimum.OsVersion: '10.0.22621.3447-beta' is not a dotted numeric "
                "version such as 10.0.22621.3447"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                        "      \"update\": \"5036893\",\n"
                        "      \"transport\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:17: rules[0].update: '5036893' is not a knowledge base article such as KB5036893"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } },\n"
                        "      \"transprot\": \"vsock\"\n"
                        "    }\n  ]\n}\n",
                -EINVAL,
                "t.json:9:7: rules[0].transprot: unknown key (expected one of: benefit, description, match, "
                "minimum, update, transport)"},
        {HEAD RULE_OPEN "      \"match\": { \"OsName\": { \"regex\": \"w\" } }\n"
                        "    }\n  ]\n}\n",
                -EINVAL, "t.json:5:5: rules[0]: missing required key 'transport'"},
        {HEAD "  \"rules\": [\n"
              "    { \"benefit\": \"WindowsServerAzureEdition\", \"description\": \"x\",\n"
              "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"vsock\" }\n"
              "  ]\n}\n",
                -EINVAL,
                "t.json:5:18: rules[0].benefit: benefit 'WindowsServerAzureEdition' is not declared in "
                "\"benefits\""},
        {HEAD "  \"rules\": [\n"
              "    { \"benefit\": \"AzureVirtualDesktop\", \"description\": 3,\n"
              "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"vsock\" }\n"
              "  ]\n}\n",
                -EINVAL, "t.json:5:56: rules[0].description: must be a string"},
        /* The second rule is broken: the position points into it, not into the first. */
        {HEAD "  \"rules\": [\n"
              "    { \"benefit\": \"AzureVirtualDesktop\", \"description\": \"a\",\n"
              "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"vsock\" },\n"
              "    { \"benefit\": \"AzureVirtualDesktop\", \"description\": \"b\",\n"
              "      \"match\": { \"OsName\": { \"regex\": \"w\" } }, \"transport\": \"legacy \" }\n"
              "  ]\n}\n",
                -EINVAL,
                "t.json:8:61: rules[1].transport: unknown transport 'legacy ' (expected \"vsock\" or "
                "\"legacy\")"},
        {HEAD "  \"rules\": [ 42 ]\n}\n", -EINVAL, "t.json:4:14: rules[0]: a rule must be an object"},
};

/* ---- Bounds of the rule language ---------------------------------------------------------------- */

/* HEAD and RULE_OPEN with one rule for AzureVirtualDesktop over vsock: the given match and, if
 * not NULL, minimum (the members inside the braces). */
static char *one_rule(const char *match, const char *minimum) {
        return g_strdup_printf(HEAD RULE_OPEN "      \"match\": { %s },\n%s%s%s"
                                              "      \"transport\": \"vsock\"\n"
                                              "    }\n  ]\n}\n",
                match, minimum ? "      \"minimum\": { " : "", minimum ?: "", minimum ? " },\n" : "");
}

/* atLeast and minimum hold at their version, below does not; missing components count as 0. */
static void test_bounds_language(void) {
        g_autofree char *data = one_rule("\"OsVersion\": { \"atLeast\": \"2.5\", \"below\": \"4.1\" }",
                "\"OsVersion\": \"3.3\"");
        _cleanup_(benefit_rules_freep) BenefitRules *rules = expect_loads(data);
        const Case base = {.os_name = "Any OS", .gsi = true};
        static const struct {
                const char *bound, *version;
                Expect expect;
        } probes[] = {
                {"one below atLeast", "2.4", EXPECT_NONE},
                {"just below atLeast", "2.4." N9, EXPECT_NONE},
                {"at atLeast", "2.5", EXPECT_INSTALL},
                {"at atLeast", "2.5.0.0", EXPECT_INSTALL},
                {"just above atLeast", "2.5.0.1", EXPECT_INSTALL},
                {"one above atLeast", "2.6", EXPECT_INSTALL},
                {"one below minimum", "3.2", EXPECT_INSTALL},
                {"closest below minimum", "3.2." N9 "." N9 "." N9 "." N9 "." N9 "." N9, EXPECT_INSTALL},
                {"at minimum", "3.3", EXPECT_ACTIVE},
                {"at minimum", "3.3.0", EXPECT_ACTIVE},
                {"just above minimum", "3.3.0.1", EXPECT_ACTIVE},
                {"one above minimum", "3.4", EXPECT_ACTIVE},
                {"one below below", "4.0", EXPECT_ACTIVE},
                {"closest below below", "4.0." N9 "." N9 "." N9 "." N9 "." N9 "." N9, EXPECT_ACTIVE},
                {"at below", "4.1", EXPECT_NONE},
                {"at below", "4.1.0.0.0", EXPECT_NONE},
                {"just above below", "4.1.0.1", EXPECT_NONE},
                {"one above below", "4.2", EXPECT_NONE},
        };

        for (size_t i = 0; i < ELEMENTSOF(probes); i++)
                check_probe(rules, base, AVD, probes[i].bound, probes[i].version, probes[i].expect);
}

#define TOO_COMPLEX                                                                                 \
        "' is too complex: at most 256 characters and 8 repetition operators, none directly after " \
        "another, counts in {} up to 16"

/* What the loader accepts, at and one past each of its limits. */
static void test_bounds_loader(void) {
        const char *accepted[] = {
                /* atLeast must be below below: one component apart is enough */
                "\"OsVersion\": { \"atLeast\": \"4.0\", \"below\": \"4.1\" }",
                "\"OsVersion\": { \"atLeast\": \"4.0." N9 "\", \"below\": \"4.1\" }",
                /* versions: up to 8 components of up to 9 digits */
                "\"OsVersion\": { \"atLeast\": \"1.2.3.4.5.6.7.8\" }",
                "\"OsVersion\": { \"below\": \"" N9 "\" }",
                /* regular expressions: 8 repetition operators, counts up to 16, 256 characters */
                "\"OsName\": { \"regex\": \"a?b*c+d{2}e?f*g+h{1,16}\" }",
                "\"OsName\": { \"regex\": \"a{16}\" }",
        };
        g_autofree char *long_regex = g_strnfill(256, 'w'), *too_long_regex = g_strnfill(257, 'w');
        g_autofree char *long_match = g_strdup_printf("\"OsName\": { \"regex\": \"%s\" }", long_regex);
        g_autofree char *too_long_match =
                g_strdup_printf("\"OsName\": { \"regex\": \"%s\" }", too_long_regex);
        g_autofree char *too_long_message = NULL;

        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                g_autofree char *data = one_rule(accepted[i], NULL);
                _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;

                g_test_message("accepted: %s", accepted[i]);
                rules = expect_loads(data);
        }
        {
                g_autofree char *data = one_rule(long_match, NULL);
                _cleanup_(benefit_rules_freep) BenefitRules *rules = expect_loads(data);
        }
        {
                g_autofree char *data = one_rule("\"OsName\": { \"regex\": \"w\" }",
                        "\"ArcAgentVersion\": \"1.2.3.4.5.6.7." N9 "\"");
                _cleanup_(benefit_rules_freep) BenefitRules *rules = expect_loads(data);
        }

        too_long_message = g_strdup_printf(
                "t.json:8:39: rules[0].match.OsName.regex: regular expression '%s" TOO_COMPLEX,
                too_long_regex);
        {
                g_autofree char *data = one_rule(too_long_match, NULL);
                expect_error(data, -EINVAL, too_long_message);
        }
}

/* What the loader refuses one past its limits: the match, the minimum (NULL: none) and the exact
 * message. */
typedef struct LoaderErrorCase {
        const char *match, *minimum, *message;
} LoaderErrorCase;

static const LoaderErrorCase loader_error_cases[] = {
        {"\"OsVersion\": { \"atLeast\": \"4.1\", \"below\": \"4.1\" }", NULL,
                "t.json:8:31: rules[0].match.OsVersion: atLeast 4.1 is not below 4.1: the condition can never "
                "match"},
        {"\"OsVersion\": { \"atLeast\": \"4.1.0\", \"below\": \"4.1\" }", NULL,
                "t.json:8:31: rules[0].match.OsVersion: atLeast 4.1.0 is not below 4.1: the condition can never "
                "match"},
        {"\"OsVersion\": { \"atLeast\": \"1.2.3.4.5.6.7.8.9\" }", NULL,
                "t.json:8:44: rules[0].match.OsVersion.atLeast: '1.2.3.4.5.6.7.8.9' is not a dotted numeric "
                "version such as 10.0.22621.3447"},
        {"\"OsVersion\": { \"below\": \"1000000000\" }", NULL,
                "t.json:8:42: rules[0].match.OsVersion.below: '1000000000' is not a dotted numeric version "
                "such as 10.0.22621.3447"},
        {"\"OsName\": { \"regex\": \"w\" }", "\"ArcAgentVersion\": \"1.2.3.4.5.6.7.8.9\"",
                "t.json:9:39: rules[0].minimum.ArcAgentVersion: '1.2.3.4.5.6.7.8.9' is not a dotted numeric "
                "version such as 10.0.22621.3447"},
        {"\"OsName\": { \"regex\": \"a?b*c+d{2}e?f*g+h{1,16}i?\" }", NULL,
                "t.json:8:39: rules[0].match.OsName.regex: regular expression 'a?b*c+d{2}e?f*g+h{1,16}i?" TOO_COMPLEX},
        {"\"OsName\": { \"regex\": \"a{17}\" }", NULL,
                "t.json:8:39: rules[0].match.OsName.regex: regular expression 'a{17}" TOO_COMPLEX},
        {"\"OsName\": { \"regex\": \"a{1,17}\" }", NULL,
                "t.json:8:39: rules[0].match.OsName.regex: regular expression 'a{1,17}" TOO_COMPLEX},
};

static void test_loader_error_case(const void *data) {
        const LoaderErrorCase *c = data;
        g_autofree char *rule = one_rule(c->match, c->minimum);

        expect_error(rule, -EINVAL, c->message);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        test_add_cases("/benefits/avd/windows11", avd_windows11_cases, what, test_case);
        test_add_cases("/benefits/avd/windows10", avd_windows10_cases, what, test_case);
        test_add_cases("/benefits/azure-edition", azure_edition_cases, what, test_case);
        test_add_cases("/benefits/esu", esu_cases, what, test_case);
        test_add_cases("/benefits/guest-configuration", guest_configuration_cases, what, test_case);
        test_add_cases("/benefits/statuses-and-actions", statuses_and_actions_cases, what, test_case);
        g_test_add_func("/benefits/evaluate-replaces-previous", test_evaluate_replaces_previous);
        g_test_add_func("/benefits/real-file-has-every-benefit", test_real_file_has_every_benefit);
        test_add_cases("/benefits/bounds/esu", bounds_esu_cases, what, test_case);
        g_test_add_func("/benefits/bounds/avd-and-azure-edition", test_bounds_avd_and_azure_edition);
        test_add_cases("/benefits/bounds/guest-configuration", bounds_guest_configuration_cases, what,
                test_case);
        g_test_add_func("/benefits/load/minimal", test_load_minimal);
        g_test_add_func("/benefits/load/syntax-error", test_load_syntax_error);
        g_test_add_func("/benefits/load/missing-file", test_load_missing_file);
        test_add_refusal_cases("/benefits/load/top-level", load_rules, load_top_level_cases,
                ELEMENTSOF(load_top_level_cases), TEST_REFUSAL_NAME_MESSAGE);
        test_add_refusal_cases("/benefits/load/benefits", load_rules, load_benefits_cases,
                ELEMENTSOF(load_benefits_cases), TEST_REFUSAL_NAME_MESSAGE);
        test_add_refusal_cases("/benefits/load/rules", load_rules, load_rules_cases,
                ELEMENTSOF(load_rules_cases), TEST_REFUSAL_NAME_MESSAGE);
        g_test_add_func("/benefits/bounds/language", test_bounds_language);
        g_test_add_func("/benefits/bounds/loader", test_bounds_loader);
        test_add_cases("/benefits/bounds/loader", loader_error_cases, match, test_loader_error_case);

        return g_test_run();
}
