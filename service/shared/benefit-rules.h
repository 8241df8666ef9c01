/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* The benefit rules (data/benefits.json, described in docs/benefits.md): their model and their
 * loader, which checks a file and says where a problem is. benefits.h evaluates them. */

/* Benefit ids, as they appear in the rule file and on the bus. */
#define BENEFIT_ESU           "ExtendedSecurityUpdates"
#define BENEFIT_AVD           "AzureVirtualDesktop"
#define BENEFIT_AZURE_EDITION "WindowsServerAzureEdition"
#define BENEFIT_GUEST_CONFIG  "AzurePolicyGuestConfiguration"

typedef enum Transport {
        TRANSPORT_VSOCK,
        TRANSPORT_LEGACY,
        _TRANSPORT_MAX,
        _TRANSPORT_INVALID = -EINVAL,
} Transport;

typedef struct Condition {
        size_t key; /* see benefit_property_name() */
        bool has_regex;
        regex_t regex;
        char *at_least;
        char *below;
} Condition;

typedef struct Minimum {
        size_t key; /* see benefit_property_name(), always a version key */
        char *version;
} Minimum;

typedef struct Rule {
        size_t benefit; /* index into BenefitRules.benefits */
        char *description;
        Condition *conditions;
        size_t n_conditions;
        Minimum *minimums;
        size_t n_minimums;
        char *update;
        Transport transport;
} Rule;

typedef struct Benefit {
        char *id;
        char *title;
} Benefit;

typedef struct BenefitRules {
        Benefit *benefits;
        size_t n_benefits;
        Rule *rules;
        size_t n_rules;
} BenefitRules;

/* Loads and checks a rule file. On a malformed file returns -EINVAL (or -EBADMSG for bad JSON)
 * and, if ret_error is not NULL, a message "FILE:LINE:COLUMN: problem" (line/column where
 * json-glib can tell them, else "FILE: problem"). */
int benefit_rules_load(const char *path, BenefitRules **ret, char **ret_error);
/* The same for rules held in memory; name is used in messages in place of the file name. */
int benefit_rules_load_data(const char *name, const char *data, BenefitRules **ret, char **ret_error);
BenefitRules *benefit_rules_free(BenefitRules *rules);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenefitRules *, benefit_rules_free);

/* The VM property a condition or minimum looks at ("OsName", "OsVersion", ...). */
const char *benefit_property_name(size_t key) _const_;
