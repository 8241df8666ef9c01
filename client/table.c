/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "table.h"

typedef struct Cell {
        char *text;
        const char *color; /* static string */
} Cell;

struct Table {
        size_t n_columns;
        char **headers;
        Cell *cells;
        size_t n_cells;
        size_t n_allocated;
};

Table *table_new(size_t n_columns, const char *const *headers) {
        Table *t;

        assert(n_columns > 0);
        assert(headers);

        t = calloc(1, sizeof(Table));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->headers = calloc(n_columns, sizeof(char *));
        if (!t->headers)
                return table_free(t);
        for (size_t i = 0; i < n_columns; i++) {
                t->headers[i] = strdup(headers[i]);
                if (!t->headers[i])
                        return table_free(t);
        }
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        if (t->headers)
                for (size_t i = 0; i < t->n_columns; i++)
                        free(t->headers[i]);
        free(t->headers);
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i].text);
        free(t->cells);
        return mfree(t);
}

int table_add_cell(Table *t, const char *text, const char *color) {
        char *s;

        assert(t);

        if (t->n_cells >= t->n_allocated) {
                size_t n = MAX(t->n_allocated * 2, t->n_columns * 8);
                Cell *c = reallocarray(t->cells, n, sizeof(Cell));
                if (!c)
                        return -ENOMEM;
                t->cells = c;
                t->n_allocated = n;
        }

        s = strdup(isempty(text) ? "-" : text);
        if (!s)
                return -ENOMEM;
        t->cells[t->n_cells++] = (Cell){.text = s, .color = color};
        return 0;
}

size_t table_get_rows(const Table *t) {
        assert(t);
        return t->n_cells / t->n_columns;
}

size_t utf8_width(const char *s) {
        size_t n = 0;

        assert(s);
        /* Count every byte that does not continue a multi-byte sequence. */
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if ((*p & 0xC0) != 0x80)
                        n++;
        return n;
}

static void print_cell(FILE *f, const char *text, const char *color, size_t width, bool last,
        bool use_color) {
        if (use_color && color)
                fputs(color, f);
        fputs(text, f);
        if (use_color && color)
                fputs(ANSI_NORMAL, f);
        if (!last)
                for (size_t w = utf8_width(text); w < width + 2; w++)
                        fputc(' ', f);
}

int table_print(const Table *t, FILE *f, bool header, bool color) {
        _cleanup_free_ size_t *widths = NULL;

        assert(t);
        assert(f);
        assert(t->n_cells % t->n_columns == 0);

        widths = calloc(t->n_columns, sizeof(size_t));
        if (!widths)
                return -ENOMEM;
        for (size_t i = 0; header && i < t->n_columns; i++)
                widths[i] = utf8_width(t->headers[i]);
        for (size_t i = 0; i < t->n_cells; i++)
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], utf8_width(t->cells[i].text));

        if (header) {
                for (size_t i = 0; i < t->n_columns; i++)
                        print_cell(f, t->headers[i], ANSI_HIGHLIGHT, widths[i], i + 1 == t->n_columns,
                                color);
                fputc('\n', f);
        }
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                bool last = col + 1 == t->n_columns;

                print_cell(f, t->cells[i].text, t->cells[i].color, widths[col], last, color);
                if (last)
                        fputc('\n', f);
        }
        return fflush(f) == EOF ? -errno : 0;
}
