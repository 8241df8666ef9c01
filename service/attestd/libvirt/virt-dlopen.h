/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include "dlopen-util.h"

/* libvirt, loaded only when the libvirt inventory provider is configured (dlopen-util.h): the
 * default configuration does not map it, nor the libraries it pulls in. */

#define LIBVIRT_SONAME "libvirt.so.0"

DLSYM_PROTOTYPE(virConnectClose);
DLSYM_PROTOTYPE(virConnectDomainEventDeregisterAny);
DLSYM_PROTOTYPE(virConnectDomainEventRegisterAny);
DLSYM_PROTOTYPE(virConnectListAllDomains);
DLSYM_PROTOTYPE(virConnectOpen);
DLSYM_PROTOTYPE(virConnectRegisterCloseCallback);
DLSYM_PROTOTYPE(virConnectSetKeepAlive);
DLSYM_PROTOTYPE(virConnectUnregisterCloseCallback);
DLSYM_PROTOTYPE(virDomainAttachDeviceFlags);
DLSYM_PROTOTYPE(virDomainDetachDeviceAlias);
DLSYM_PROTOTYPE(virDomainFree);
DLSYM_PROTOTYPE(virDomainGetGuestInfo);
DLSYM_PROTOTYPE(virDomainGetName);
DLSYM_PROTOTYPE(virDomainGetState);
DLSYM_PROTOTYPE(virDomainGetUUIDString);
DLSYM_PROTOTYPE(virDomainGetXMLDesc);
DLSYM_PROTOTYPE(virDomainIsActive);
DLSYM_PROTOTYPE(virDomainLookupByUUIDString);
DLSYM_PROTOTYPE(virEventRegisterImpl);
DLSYM_PROTOTYPE(virGetLastErrorCode);
DLSYM_PROTOTYPE(virGetLastErrorMessage);
DLSYM_PROTOTYPE(virSetErrorFunc);
DLSYM_PROTOTYPE(virTypedParamsFree);
DLSYM_PROTOTYPE(virTypedParamsGetString);

/* libvirt ≥ 5.10, resolved apart and not required: NULL with an older libvirt, whose guest
 * agents are then never asked (their queries could not be bounded). */
DLSYM_PROTOTYPE(virDomainAgentSetResponseTimeout);

/* Loads libvirt.so.0 once and resolves the symbols above; -EOPNOTSUPP, logged with the file's name,
 * when it is not installed. */
int dlopen_libvirt(void);
