/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* NULL-terminated arrays of strings that own their elements. NULL is an empty strv. */

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
bool strv_equal(char *const *a, char *const *b);
/* Appends value itself, not a copy: the strv owns it from now on, unless its owner frees only
 * the array (an array of borrowed strings, as a VM's benefit evaluation is). */
int strv_push(char ***l, char *value);
/* Appends a copy of value. */
int strv_extend(char ***l, const char *value);
/* Appends the formatted string. */
int strv_extendf(char ***l, const char *format, ...) _printf_(2, 3);
/* Appends a copy of value unless it is already there. */
int strv_extend_unique(char ***l, const char *value);
/* A deep copy; NULL when out of memory. */
char **strv_copy(char *const *l);
/* Joins with the separator; an empty strv gives "". */
char *strv_join(char *const *l, const char *separator);

#define STRV_MAKE(...) ((char *[]){__VA_ARGS__, NULL})

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
