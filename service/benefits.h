/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "vm.h"

/* The benefit rules (data/benefits.json) and the pure evaluator that turns a VM plus the
 * cluster's state into a status, the eligible and active benefits, and the actions that
 * would make the inactive ones active. No bus, no I/O beyond loading the rule file. */

typedef struct BenefitRules BenefitRules;

/* Loads and checks a rule file. On a malformed file returns -EINVAL (or -EBADMSG for bad JSON)
 * and, if ret_error is not NULL, a message "FILE:LINE:COLUMN: problem" (line/column where
 * json-glib can tell them, else "FILE: problem"). */
int benefit_rules_load(const char *path, BenefitRules **ret, char **ret_error);
/* The same for rules held in memory; name is used in messages in place of the file name. */
int benefit_rules_load_data(const char *name, const char *data, BenefitRules **ret, char **ret_error);
BenefitRules *benefit_rules_free(BenefitRules *rules);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenefitRules *, benefit_rules_free);

/* The cluster-side inputs of the evaluation. */
typedef struct BenefitContext {
        bool server_active;  /* the local server's State is "Active" */
        bool legacy_support; /* cluster-wide LegacyOsSupport is "On" */
} BenefitContext;

/* Evaluates vm. ret must be zero-initialised or hold a previous result (it is replaced). */
int benefit_evaluate(const BenefitRules *rules, const Vm *vm, const BenefitContext *ctx,
        BenefitEvaluation *ret);

/* Benefit ids and recommended-action names, as they appear on the bus. */
#define BENEFIT_ESU           "ExtendedSecurityUpdates"
#define BENEFIT_AVD           "AzureVirtualDesktop"
#define BENEFIT_AZURE_EDITION "WindowsServerAzureEdition"
#define BENEFIT_GUEST_CONFIG  "AzurePolicyGuestConfiguration"

#define ACTION_INSTALL_UPDATES          "InstallUpdates"
#define ACTION_ENABLE_GUEST_SERVICE     "EnableGuestServiceInterface"
#define ACTION_ENABLE_LEGACY_OS_SUPPORT "EnableLegacyOsSupport"
#define ACTION_ENABLE_VM_LEGACY_ACCESS  "EnableVMLegacyAccess"
#define ACTION_ENABLE_DATA_EXCHANGE     "EnableDataExchange"
#define ACTION_SYNC_SERVER              "SyncServer"
