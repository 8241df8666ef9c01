/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Methods of the main object (org.azshci.Attestation1) that report VM by VM, and FixVM:
 * manager-bus.c lists them in its vtable through MANAGER_LEGACY_EX_METHODS.
 *   EnableLegacyEx(b enable, t flags) -> a(ssss): EnableLegacy, with flag 0x1 (off: revoke
 *     every VM's access, removing their NICs), and what happened to each VM;
 *   SetVMAccessEx(s vm, b enable) -> a(ssss): SetVMAccess, "*" grants what it can;
 *   FixVM(s vm, s action) -> s: carries out one recommended action on the VM. */
/* All three: the message's member says which. */
int method_legacy_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error);

#define MANAGER_LEGACY_EX_METHODS                                                                     \
        SD_BUS_METHOD_WITH_ARGS("EnableLegacyEx", SD_BUS_ARGS("b", enable, "t", flags),               \
                SD_BUS_RESULT("a(ssss)", vms), method_legacy_ex, SD_BUS_VTABLE_UNPRIVILEGED),         \
                SD_BUS_METHOD_WITH_ARGS("SetVMAccessEx", SD_BUS_ARGS("s", vm, "b", enable),           \
                        SD_BUS_RESULT("a(ssss)", vms), method_legacy_ex, SD_BUS_VTABLE_UNPRIVILEGED), \
                SD_BUS_METHOD_WITH_ARGS("FixVM", SD_BUS_ARGS("s", vm, "s", action),                   \
                        SD_BUS_RESULT("s", message), method_legacy_ex, SD_BUS_VTABLE_UNPRIVILEGED)
