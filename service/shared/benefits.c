/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "benefits.h"
#include "strv.h"
#include "validate.h"

/* The recommended actions, in the canonical order they are reported in. */
typedef enum Action {
        ACTION_SYNC,
        ACTION_INSTALL,
        ACTION_GSI,
        ACTION_LEGACY_OS,
        ACTION_VM_LEGACY,
        ACTION_DATA_EXCHANGE,
        _ACTION_MAX,
} Action;

static const char *const action_table[_ACTION_MAX] = {
        [ACTION_SYNC] = ACTION_SYNC_SERVER,
        [ACTION_INSTALL] = ACTION_INSTALL_UPDATES,
        [ACTION_GSI] = ACTION_ENABLE_GUEST_SERVICE,
        [ACTION_LEGACY_OS] = ACTION_ENABLE_LEGACY_OS_SUPPORT,
        [ACTION_VM_LEGACY] = ACTION_ENABLE_VM_LEGACY_ACCESS,
        [ACTION_DATA_EXCHANGE] = ACTION_ENABLE_DATA_EXCHANGE,
};

/* The value of a string property, NULL when unset. */
static const char *vm_string(const Vm *vm, size_t key) {
        VmValue v;

        if (vm_get_field(vm, benefit_property_name(key), &v) < 0 || v.type != 's' || isempty(v.s))
                return NULL;
        return v.s;
}

static bool condition_matches(const Condition *c, const Vm *vm) {
        const char *value = vm_string(vm, c->key);

        if (!value)
                return false;
        if (c->has_regex && regexec(&c->regex, value, 0, NULL, 0) != 0)
                return false;
        if (c->at_least || c->below) {
                if (!version_is_valid(value))
                        return false;
                if (c->at_least && version_compare(value, c->at_least) < 0)
                        return false;
                if (c->below && version_compare(value, c->below) >= 0)
                        return false;
        }
        return true;
}

static bool rule_matches(const Rule *rule, const Vm *vm) {
        for (size_t i = 0; i < rule->n_conditions; i++)
                if (!condition_matches(&rule->conditions[i], vm))
                        return false;
        return true;
}

static bool rule_minimums_met(const Rule *rule, const Vm *vm) {
        for (size_t i = 0; i < rule->n_minimums; i++) {
                const char *value = vm_string(vm, rule->minimums[i].key);

                if (!value || !version_is_valid(value) ||
                        version_compare(value, rule->minimums[i].version) < 0)
                        return false;
        }
        return true;
}

/* What a rule whose minimums are not met asks to install, for RequiredUpdates. */
static int rule_required_update(const Rule *rule, char **ret) {
        _cleanup_free_ char *versions = NULL;

        for (size_t i = 0; i < rule->n_minimums; i++) {
                char *s;

                if (asprintf(&s, "%s%s%s %s", strempty(versions), versions ? ", " : "",
                            benefit_property_name(rule->minimums[i].key), rule->minimums[i].version) < 0)
                        return -ENOMEM;
                free_and_replace_string(&versions, s);
        }
        if (!rule->update) {
                *ret = TAKE_PTR(versions);
                return 0;
        }
        return asprintf(ret, "%s (%s)", rule->update, strempty(versions)) < 0 ? -ENOMEM : 0;
}

static const Rule *benefit_rules_find(const BenefitRules *rules, size_t benefit, const Vm *vm) {
        for (size_t i = 0; i < rules->n_rules; i++)
                if (rules->rules[i].benefit == benefit && rule_matches(&rules->rules[i], vm))
                        return &rules->rules[i];
        return NULL;
}

int benefit_evaluate(const BenefitRules *rules, const Vm *vm, const BenefitContext *ctx,
        BenefitEvaluation *ret) {
        _cleanup_(benefit_evaluation_done) BenefitEvaluation e = {};
        bool needed[_ACTION_MAX] = {};
        int r;

        assert(rules);
        assert(vm);
        assert(ctx);
        assert(ret);

        if (!vm->data_exchange) {
                e.status = VM_STATUS_UNKNOWN;
                needed[ACTION_DATA_EXCHANGE] = true;
        } else {
                bool all_active = true;

                for (size_t b = 0; b < rules->n_benefits; b++) {
                        const Rule *rule = benefit_rules_find(rules, b, vm);
                        bool active = true;

                        if (!rule)
                                continue;

                        /* Borrowed, not copied: the evaluation points into the rules (vm.h). */
                        r = strv_push(&e.eligible, rules->benefits[b].id);
                        if (r < 0)
                                return r;

                        if (!ctx->server_active) {
                                needed[ACTION_SYNC] = true;
                                active = false;
                        }
                        if (!rule_minimums_met(rule, vm)) {
                                _cleanup_free_ char *update = NULL;

                                needed[ACTION_INSTALL] = true;
                                active = false;
                                r = rule_required_update(rule, &update);
                                if (r < 0)
                                        return r;
                                if (!strv_contains(e.required_updates, update)) {
                                        r = strv_extend(&e.required_updates, update);
                                        if (r < 0)
                                                return r;
                                }
                        }
                        switch (rule->transport) {
                        case TRANSPORT_VSOCK:
                                if (!vm->guest_service_interface) {
                                        needed[ACTION_GSI] = true;
                                        active = false;
                                }
                                break;
                        case TRANSPORT_LEGACY:
                                if (!ctx->legacy_support) {
                                        needed[ACTION_LEGACY_OS] = true;
                                        active = false;
                                }
                                if (!vm->legacy_access) {
                                        needed[ACTION_VM_LEGACY] = true;
                                        active = false;
                                }
                                break;
                        default:
                                assert(false);
                        }

                        if (active) {
                                r = strv_push(&e.active, rules->benefits[b].id);
                                if (r < 0)
                                        return r;
                        } else
                                all_active = false;
                }

                if (!e.eligible)
                        e.status = VM_STATUS_NO_APPLICABLE_BENEFITS;
                else
                        e.status = all_active ? VM_STATUS_ACTIVE_BENEFITS : VM_STATUS_INACTIVE_BENEFITS;
        }

        for (Action a = 0; a < _ACTION_MAX; a++)
                if (needed[a]) {
                        r = strv_push(&e.recommended_actions, (char *)action_table[a]);
                        if (r < 0)
                                return r;
                }

        benefit_evaluation_done(ret);
        *ret = e;
        e = (BenefitEvaluation){};
        return 0;
}
