/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include "dlopen-util.h"

/* libxml2, for reading libvirt's domain XML, loaded with the libvirt inventory provider
 * (dlopen-util.h). */

#define LIBXML2_SONAME "libxml2.so.2"

DLSYM_PROTOTYPE(xmlBufferContent);
DLSYM_PROTOTYPE(xmlBufferCreate);
DLSYM_PROTOTYPE(xmlBufferFree);
DLSYM_PROTOTYPE(xmlNodeDump);
DLSYM_PROTOTYPE(xmlDocGetRootElement);
DLSYM_PROTOTYPE(xmlFreeDoc);
DLSYM_PROTOTYPE(xmlReadMemory);
DLSYM_PROTOTYPE(xmlStrEqual);
DLSYM_PROTOTYPE(xmlXPathEvalExpression);
DLSYM_PROTOTYPE(xmlXPathFreeContext);
DLSYM_PROTOTYPE(xmlXPathFreeObject);
DLSYM_PROTOTYPE(xmlXPathNewContext);
DLSYM_PROTOTYPE(xmlXPathRegisterNs);

/* Loads libxml2.so.2 once and resolves the symbols above; -EOPNOTSUPP, logged with the file's name,
 * when it is not installed. */
int dlopen_libxml2(void);
