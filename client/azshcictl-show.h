/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "azshcictl-util.h"

int verb_status(Context *c, char **args);
int verb_servers(Context *c, char **args);
int verb_vms(Context *c, char **args);
int verb_vm_show(Context *c, char **args);
