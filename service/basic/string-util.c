/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "string-util.h"

int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

char *escape_unprintable(const char *s) {
        static const char hex[] = "0123456789abcdef";
        char *buf, *q;

        assert(s);

        buf = malloc(strlen(s) * 4 + 1);
        if (!buf)
                return NULL;
        q = buf;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p == '\\') {
                        *q++ = '\\';
                        *q++ = '\\';
                } else if (*p >= 0x20 && *p < 0x7f)
                        *q++ = (char)*p;
                else {
                        *q++ = '\\';
                        *q++ = 'x';
                        *q++ = hex[*p >> 4];
                        *q++ = hex[*p & 15];
                }
        *q = 0;
        return buf;
}

int string_table_lookup(const char *const *table, size_t n, const char *s) {
        assert(table);

        for (size_t i = 0; s && i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int)i;
        return -EINVAL;
}
