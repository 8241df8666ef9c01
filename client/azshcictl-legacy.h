/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "azshcictl-util.h"

int verb_legacy(Context *c, char **args);
int verb_legacy_status(Context *c, char **args);
int verb_legacy_reapply(Context *c, char **args);
int verb_vm_access(Context *c, char **args);
int verb_vm_fix(Context *c, char **args);
