/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "macro.h"

/* A text table with aligned columns, in the manner of systemctl list-units: a header line in
 * upper case, then one line per row, columns separated by two spaces, no trailing blanks.
 * Cells are filled row by row; a cell may carry an ANSI colour that is printed only when the
 * caller asks for colour, and never counts towards the width. */

typedef struct Table Table;

/* headers: n_columns column titles. */
Table *table_new(size_t n_columns, const char *const *headers);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Adds the next cell (left to right, then the next row). NULL or "" prints as "-".
 * color is an ANSI SGR sequence such as ANSI_RED, or NULL. */
int table_add_cell(Table *t, const char *text, const char *color);

size_t table_get_rows(const Table *t);

/* Prints the table; header=false leaves out the title line. The last row must be complete. */
int table_print(const Table *t, FILE *f, bool header, bool color);

/* Display width of UTF-8 text: code points, not bytes (wide characters count as one). */
size_t utf8_width(const char *s);

#define ANSI_RED       "\x1B[0;31m"
#define ANSI_GREEN     "\x1B[0;32m"
#define ANSI_YELLOW    "\x1B[0;33m"
#define ANSI_GREY      "\x1B[0;90m"
#define ANSI_HIGHLIGHT "\x1B[0;1;39m"
#define ANSI_NORMAL    "\x1B[0m"
