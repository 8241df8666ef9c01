/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "azshcictl-util.h"

int verb_vm_import(Context *c, char **args);
