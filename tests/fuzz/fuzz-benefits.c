/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The benefit rules (benefits.json) on arbitrary text, and the evaluator on whatever rules
 * load. Properties: no crash or leak; a failure comes with a message; an accepted rule file
 * evaluates every sample VM in every cluster context, with active benefits a subset of the
 * eligible ones and a status in range. */

#include "benefits.h"
#include "fuzz.h"
#include "strv.h"

/* A string property set (none when value is NULL). */
static void set_string(Vm *vm, const char *field, const char *value) {
        if (value)
                fuzz_check(vm_set_field(vm, field, &(VmValue){.type = 's', .s = value}, NULL) >= 0);
}

static Vm *sample_vm(unsigned i) {
        static const struct {
                const char *os_name, *os_version, *sql, *arc;
                uint32_t generation, cid;
                bool gsi, kvp;
                const char *mac;
        } samples[] = {
                {"Windows Server 2012 R2 Datacenter", "6.3.9600.21620", "11.0.7001.0", NULL, 2, 3, false,
                        true, "52:54:00:00:00:01"},
                {"Windows 11 Enterprise multi-session", "10.0.22621.3447", NULL, "1.39", 2, 4, true, true,
                        NULL},
                {"Windows Server 2022 Datacenter: Azure Edition", "10.0.20348.2402", NULL, "1.40.0", 2, 5,
                        true, true, NULL},
                {"Windows 10 Enterprise multi-session", "10.0.19045.4291", NULL, NULL, 1, 0, false, true,
                        "52:54:00:00:00:02"},
                {NULL, NULL, NULL, NULL, 1, 0, false, false, NULL},
                {"Ubuntu", "22.04", NULL, "1.39", 2, 6, true, true, NULL},
        };
        Vm *vm;

        i %= ELEMENTSOF(samples);
        vm = vm_new();
        fuzz_check(vm);
        set_string(vm, "Id", "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10");
        set_string(vm, "Name", "vm");
        fuzz_check(vm_set_field(vm, "Generation", &(VmValue){.type = 'u', .u = samples[i].generation},
                           NULL) >= 0);
        fuzz_check(vm_set_field(vm, "GuestServiceInterface", &(VmValue){.type = 'b', .b = samples[i].gsi},
                           NULL) >= 0);
        fuzz_check(
                vm_set_field(vm, "DataExchange", &(VmValue){.type = 'b', .b = samples[i].kvp}, NULL) >= 0);
        set_string(vm, "OsName", samples[i].os_name);
        set_string(vm, "OsVersion", samples[i].os_version);
        set_string(vm, "SqlVersion", samples[i].sql);
        set_string(vm, "ArcAgentVersion", samples[i].arc);
        if (samples[i].cid)
                fuzz_check(vm_set_field(vm, "VsockCid", &(VmValue){.type = 'u', .u = samples[i].cid},
                                   NULL) >= 0);
        set_string(vm, "LegacyMac", samples[i].mac);
        vm->legacy_access = i % 2 == 0;
        return vm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        int r;

        text = fuzz_text(data, size);
        if (!text)
                return 0;

        r = benefit_rules_load_data("benefits.json", text, &rules, &error);
        if (r < 0) {
                fuzz_check_refusal(r, error);
                fuzz_check(!rules);
                return 0;
        }
        fuzz_check(rules);

        for (unsigned i = 0; i < 6; i++) {
                _cleanup_(vm_freep) Vm *vm = sample_vm(i);
                BenefitEvaluation e = {};

                for (unsigned k = 0; k < 4; k++) {
                        BenefitContext ctx = {.server_active = k & 1, .legacy_support = k & 2};

                        r = benefit_evaluate(rules, vm, &ctx, &e);
                        fuzz_check(r >= 0);
                        fuzz_check(e.status >= 0 && e.status < _VM_STATUS_MAX);
                        STRV_FOREACH (a, e.active)
                                fuzz_check(strv_contains(e.eligible, *a));
                }
                benefit_evaluation_done(&e);
        }
        return 0;
}
