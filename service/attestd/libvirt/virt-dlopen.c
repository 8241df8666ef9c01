/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <syslog.h>

#include "virt-dlopen.h"

static void *libvirt_dl = NULL;

DLSYM_FUNCTION(virDomainAgentSetResponseTimeout);
DLSYM_FUNCTION(virConnectClose);
DLSYM_FUNCTION(virConnectDomainEventDeregisterAny);
DLSYM_FUNCTION(virConnectDomainEventRegisterAny);
DLSYM_FUNCTION(virConnectListAllDomains);
DLSYM_FUNCTION(virConnectOpen);
DLSYM_FUNCTION(virConnectRegisterCloseCallback);
DLSYM_FUNCTION(virConnectSetKeepAlive);
DLSYM_FUNCTION(virConnectUnregisterCloseCallback);
DLSYM_FUNCTION(virDomainAttachDeviceFlags);
DLSYM_FUNCTION(virDomainDetachDeviceAlias);
DLSYM_FUNCTION(virDomainFree);
DLSYM_FUNCTION(virDomainGetGuestInfo);
DLSYM_FUNCTION(virDomainGetName);
DLSYM_FUNCTION(virDomainGetState);
DLSYM_FUNCTION(virDomainGetUUIDString);
DLSYM_FUNCTION(virDomainGetXMLDesc);
DLSYM_FUNCTION(virDomainIsActive);
DLSYM_FUNCTION(virDomainLookupByUUIDString);
DLSYM_FUNCTION(virEventRegisterImpl);
DLSYM_FUNCTION(virGetLastErrorCode);
DLSYM_FUNCTION(virGetLastErrorMessage);
DLSYM_FUNCTION(virSetErrorFunc);
DLSYM_FUNCTION(virTypedParamsFree);
DLSYM_FUNCTION(virTypedParamsGetString);

int dlopen_libvirt(void) {
        int r;

        r = dlopen_many_sym_or_warn(&libvirt_dl, LIBVIRT_SONAME, LOG_ERR, DLSYM_ARG(virConnectClose),
                DLSYM_ARG(virConnectDomainEventDeregisterAny), DLSYM_ARG(virConnectDomainEventRegisterAny),
                DLSYM_ARG(virConnectListAllDomains), DLSYM_ARG(virConnectOpen),
                DLSYM_ARG(virConnectRegisterCloseCallback), DLSYM_ARG(virConnectSetKeepAlive),
                DLSYM_ARG(virConnectUnregisterCloseCallback), DLSYM_ARG(virDomainAttachDeviceFlags),
                DLSYM_ARG(virDomainDetachDeviceAlias), DLSYM_ARG(virDomainFree),
                DLSYM_ARG(virDomainGetGuestInfo), DLSYM_ARG(virDomainGetName), DLSYM_ARG(virDomainGetState),
                DLSYM_ARG(virDomainGetUUIDString), DLSYM_ARG(virDomainGetXMLDesc),
                DLSYM_ARG(virDomainIsActive), DLSYM_ARG(virDomainLookupByUUIDString),
                DLSYM_ARG(virEventRegisterImpl), DLSYM_ARG(virGetLastErrorCode),
                DLSYM_ARG(virGetLastErrorMessage), DLSYM_ARG(virSetErrorFunc), DLSYM_ARG(virTypedParamsFree),
                DLSYM_ARG(virTypedParamsGetString));
        if (r < 0)
                return r;
        if (!sym_virDomainAgentSetResponseTimeout)
                sym_virDomainAgentSetResponseTimeout =
                        (typeof(sym_virDomainAgentSetResponseTimeout))dlsym(libvirt_dl,
                                "virDomainAgentSetResponseTimeout");
        return 0;
}
