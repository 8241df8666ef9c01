/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "azshcictl-util.h"

int verb_sync(Context *c, char **args);
int verb_ca_export(Context *c, char **args);
