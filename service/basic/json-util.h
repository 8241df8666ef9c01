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

/* The same for data whose top level must be an object: -EBADMSG and "NAME: not a JSON object"
 * otherwise. *ret belongs to *ret_parser. */
int json_parse_object(const char *name, const char *data, JsonParser **ret_parser, JsonObject **ret,
        char **ret_error);

/* The same with a parser the caller made (and maybe connected to). Refuses, before json-glib
 * sees them, the inputs json-glib 1.6 leaks memory on: data after the top-level value, and \u
 * escapes that are not four hex digits or are UTF-16 surrogates outside a high-low pair. */
int json_parser_load(JsonParser *parser, const char *name, const char *data, char **ret_error);

/* Reads a text file of at most max_size bytes: -EBADMSG when it holds a NUL byte; the reason
 * ("PATH: ...") in ret_error. */
int json_read_text_file(const char *path, size_t max_size, char **ret, char **ret_error);

/* Reads and parses a file (at most 16 MiB). */
int json_parse_file(const char *path, JsonParser **ret, char **ret_error);

/* The JSON text behind a parsed tree, for messages that say where a problem is: json-glib 1.6
 * keeps no node positions, so a loader tracks the path to the node it checks and, on an error,
 * finds the node in the text. One step of that path: an object member (key set) or an array
 * element. */
typedef struct JsonPathStep {
        const char *key; /* NULL: an array element */
        size_t index;
} JsonPathStep;

/* Where the node at path starts in data (text json_parser_load() accepted): its value, or its
 * key when at_key and the last step is a member. NULL when it is not there. */
const char *json_text_locate(const char *data, const JsonPathStep *path, size_t n_path, bool at_key);
/* The 1-based line and column of at in data. */
void json_text_position(const char *data, const char *at, unsigned *ret_line, unsigned *ret_column);

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

/* The most json_put_string() writes for a string of n bytes: the quotes and every byte as \u00XX. */
#define JSON_STRING_SIZE_MAX(n) (6 * (size_t)(n) + 2)
/* The same into a buffer of at least JSON_STRING_SIZE_MAX(strlen(s)) bytes, for a writer that
 * knows its bound and goes without a stream; returns the end of what it wrote (no NUL). */
char *json_put_string(char *out, const char *s);

/* The finished builder's document, compact; -ENOMEM when it has none. */
int json_builder_to_malloc_string(JsonBuilder *b, char **ret);
