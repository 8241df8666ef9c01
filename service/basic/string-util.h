/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* The value of a hexadecimal digit, -EINVAL for anything else. */
int unhexchar(char c) _const_;

/* s for a one-line message or a terminal, whatever it holds: a backslash doubled, and every byte
 * outside printable ASCII (0x20..0x7e) as \xNN. NULL when out of memory. */
char *escape_unprintable(const char *s);

/* The index of s in table (n entries; NULL entries never match), -EINVAL when it is not there or
 * s is NULL: the _from_string() of an enum whose names are a table. */
int string_table_lookup(const char *const *table, size_t n, const char *s) _pure_;
