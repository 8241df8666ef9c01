/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "azshcictl-util.h"

int verb_vm_add(Context *c, char **args);
int verb_vm_update(Context *c, char **args);
int verb_vm_remove(Context *c, char **args);
