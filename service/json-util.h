/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "macro.h"

/* Small helpers around json-glib, used by the loaders of config, state and rules. */

/* For any GObject pointer (JsonParser, JsonBuilder, JsonGenerator). */
static inline void g_object_unrefp(void *p) {
        if (*(void **)p)
                g_object_unref(*(void **)p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(JsonNode *, json_node_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(GError *, g_error_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(GList *, g_list_free);

/* Parses data; on failure returns -EBADMSG and "NAME:LINE:COLUMN: message" in ret_error. */
int json_parse_data(const char *name, const char *data, JsonParser **ret, char **ret_error);

/* The same with a parser the caller made (and maybe connected to). Refuses, before json-glib
 * sees them, the inputs json-glib 1.6 leaks memory on: data after the top-level value, and \u
 * escapes that are not four hex digits or are UTF-16 surrogates outside a high-low pair. */
int json_parser_load(JsonParser *parser, const char *name, const char *data, char **ret_error);

/* Reads and parses a file (at most 16 MiB). */
int json_parse_file(const char *path, JsonParser **ret, char **ret_error);

/* Type checks that never abort on a wrong type. */
bool json_node_is_string(JsonNode *n);
bool json_node_is_bool(JsonNode *n);
bool json_node_is_integer(JsonNode *n);

/* Formats an error message into *ret_error (if not NULL) and returns error. */
int json_error(char **ret_error, int error, const char *format, ...) _printf_(3, 4);

/* Writes s as a JSON string literal: '"' and '\\' escaped, control characters as \\u00XX,
 * everything else (UTF-8 included: callers pass validated text) as it is. For the writers that
 * do without a JsonBuilder tree (the state file, the signed payload). */
void json_write_string(FILE *f, const char *s);

/* Serialises a node: pretty (2-space indent) for files, compact otherwise. */
char *json_node_to_malloc_string(JsonNode *node, bool pretty);
/* The finished builder's document, compact; -ENOMEM when it has none. */
int json_builder_to_malloc_string(JsonBuilder *b, char **ret);
