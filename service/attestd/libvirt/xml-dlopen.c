/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <syslog.h>

#include "xml-dlopen.h"

static void *libxml2_dl = NULL;

DLSYM_FUNCTION(xmlDocGetRootElement);
DLSYM_FUNCTION(xmlFreeDoc);
DLSYM_FUNCTION(xmlReadMemory);
DLSYM_FUNCTION(xmlStrEqual);
DLSYM_FUNCTION(xmlXPathEvalExpression);
DLSYM_FUNCTION(xmlXPathFreeContext);
DLSYM_FUNCTION(xmlXPathFreeObject);
DLSYM_FUNCTION(xmlXPathNewContext);
DLSYM_FUNCTION(xmlXPathNewString);
DLSYM_FUNCTION(xmlXPathRegisterNs);
DLSYM_FUNCTION(xmlXPathRegisterVariable);

int dlopen_libxml2(void) {
        return dlopen_many_sym_or_warn(&libxml2_dl, LIBXML2_SONAME, LOG_ERR, DLSYM_ARG(xmlDocGetRootElement),
                DLSYM_ARG(xmlFreeDoc), DLSYM_ARG(xmlReadMemory), DLSYM_ARG(xmlStrEqual),
                DLSYM_ARG(xmlXPathEvalExpression), DLSYM_ARG(xmlXPathFreeContext),
                DLSYM_ARG(xmlXPathFreeObject), DLSYM_ARG(xmlXPathNewContext), DLSYM_ARG(xmlXPathNewString),
                DLSYM_ARG(xmlXPathRegisterNs), DLSYM_ARG(xmlXPathRegisterVariable));
}
