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

/* An enum whose names are a table, the way systemd writes it (src/basic/string-table.h): the
 * header says DECLARE_STRING_TABLE_LOOKUP(foo, Foo); and the .c, beside a
 *         static const char *const foo_table[_FOO_MAX] = { [FOO_BAR] = "bar", ... };
 * says DEFINE_STRING_TABLE_LOOKUP(foo, Foo); which writes
 *         const char *foo_to_string(Foo i);   NULL for a value out of the table or without a name
 *         Foo foo_from_string(const char *s); -EINVAL for a name not in the table, or NULL
 * The _TO_STRING and _FROM_STRING variants write one of the two, the PRIVATE ones write them
 * static (for an enum of one .c). tests/test-layout.py knows these names: keep them. */
#define DECLARE_STRING_TABLE_LOOKUP_TO_STRING(name, type)   const char *name##_to_string(type i) _const_
#define DECLARE_STRING_TABLE_LOOKUP_FROM_STRING(name, type) type name##_from_string(const char *s) _pure_
#define DECLARE_STRING_TABLE_LOOKUP(name, type)            \
        DECLARE_STRING_TABLE_LOOKUP_TO_STRING(name, type); \
        DECLARE_STRING_TABLE_LOOKUP_FROM_STRING(name, type)

#define _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, scope)                                \
        scope const char *name##_to_string(type i) {                                            \
                return i >= 0 && (size_t)i < ELEMENTSOF(name##_table) ? name##_table[i] : NULL; \
        }
#define _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, scope)                           \
        scope type name##_from_string(const char *s) {                                       \
                return (type)string_table_lookup(name##_table, ELEMENTSOF(name##_table), s); \
        }
#define _DEFINE_STRING_TABLE_LOOKUP(name, type, scope)           \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, scope) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, scope)

#define DEFINE_STRING_TABLE_LOOKUP(name, type)           _DEFINE_STRING_TABLE_LOOKUP(name, type, )
#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type) _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )
#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, )
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP(name, type) _DEFINE_STRING_TABLE_LOOKUP(name, type, static)
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, static)
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, static)
