/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <syslog.h>

#include "xml-dlopen.h"

static void *libxml2_dl = NULL;

DLSYM_FUNCTION(xmlBufferContent);
DLSYM_FUNCTION(xmlBufferCreate);
DLSYM_FUNCTION(xmlBufferFree);
DLSYM_FUNCTION(xmlNodeDump);
DLSYM_FUNCTION(xmlDocGetRootElement);
DLSYM_FUNCTION(xmlFreeDoc);
DLSYM_FUNCTION(xmlReadMemory);
DLSYM_FUNCTION(xmlStrEqual);
DLSYM_FUNCTION(xmlXPathEvalExpression);
DLSYM_FUNCTION(xmlXPathFreeContext);
DLSYM_FUNCTION(xmlXPathFreeObject);
DLSYM_FUNCTION(xmlXPathNewContext);
DLSYM_FUNCTION(xmlXPathRegisterNs);

int dlopen_libxml2(void) {
        return dlopen_many_sym_or_warn(&libxml2_dl, LIBXML2_SONAME, LOG_ERR, DLSYM_ARG(xmlBufferContent),
                DLSYM_ARG(xmlBufferCreate), DLSYM_ARG(xmlBufferFree), DLSYM_ARG(xmlNodeDump),
                DLSYM_ARG(xmlDocGetRootElement), DLSYM_ARG(xmlFreeDoc), DLSYM_ARG(xmlReadMemory),
                DLSYM_ARG(xmlStrEqual), DLSYM_ARG(xmlXPathEvalExpression), DLSYM_ARG(xmlXPathFreeContext),
                DLSYM_ARG(xmlXPathFreeObject), DLSYM_ARG(xmlXPathNewContext), DLSYM_ARG(xmlXPathRegisterNs));
}
