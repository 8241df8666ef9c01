/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "benefit-rules.h"
#include "vm.h"

/* The pure evaluator of the benefit rules (benefit-rules.h): turns a VM plus the cluster's
 * state into a status, the eligible and active benefits, and the actions that would make the
 * inactive ones active. No bus, no I/O. */

/* The cluster-side inputs of the evaluation. */
typedef struct BenefitContext {
        bool server_active;  /* the local server's State is "Active" */
        bool legacy_support; /* cluster-wide LegacyOsSupport is "On" */
} BenefitContext;

/* Evaluates vm. ret must be zero-initialised or hold a previous result (it is replaced). */
int benefit_evaluate(const BenefitRules *rules, const Vm *vm, const BenefitContext *ctx,
        BenefitEvaluation *ret);

/* Recommended-action names, as they appear on the bus. */
#define ACTION_INSTALL_UPDATES          "InstallUpdates"
#define ACTION_ENABLE_GUEST_SERVICE     "EnableGuestServiceInterface"
#define ACTION_ENABLE_LEGACY_OS_SUPPORT "EnableLegacyOsSupport"
#define ACTION_ENABLE_VM_LEGACY_ACCESS  "EnableVMLegacyAccess"
#define ACTION_ENABLE_DATA_EXCHANGE     "EnableDataExchange"
#define ACTION_SYNC_SERVER              "SyncServer"
