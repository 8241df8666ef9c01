/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "fileio.h"
#include "json-util.h"

#define JSON_FILE_MAX (16U * 1024U * 1024U)

int json_error(char **ret_error, int error, const char *format, ...) {
        va_list ap;

        assert(error < 0);

        if (ret_error) {
                free(*ret_error);
                *ret_error = NULL;
                va_start(ap, format);
                if (vasprintf(ret_error, format, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return error;
}

int json_parse_data(const char *name, const char *data, JsonParser **ret, char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        int r;

        assert(ret);

        parser = json_parser_new_immutable();
        r = json_parser_load(parser, name, data, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(parser);
        return 0;
}

/* Where the first JSON value in data ends, or NULL when it does not end (json-glib then says
 * what is wrong). Only brackets and strings are followed; anything else is json-glib's to judge. */
static const char *json_value_end(const char *p) {
        unsigned depth = 0;

        p += strspn(p, " \t\r\n");
        if (*p != '{' && *p != '[') {
                if (*p != '"') /* a literal or a number: up to the next separator */
                        return p + strcspn(p, " \t\r\n{}[],:\"");
        }
        for (; *p; p++)
                switch (*p) {
                case '"':
                        for (p++; *p && *p != '"'; p++)
                                if (*p == '\\' && p[1])
                                        p++;
                        if (!*p)
                                return NULL;
                        if (depth == 0)
                                return p + 1;
                        break;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        if (depth == 0 || --depth == 0)
                                return p + 1;
                        break;
                }
        return NULL;
}

int json_parser_load(JsonParser *parser, const char *name, const char *data, char **ret_error) {
        _cleanup_(g_error_freep) GError *gerror = NULL;
        const char *end;

        assert(parser);
        assert(name);
        assert(data);

        /* One value, as RFC 8259 says. json-glib (1.6) also reads on after the first one, and
         * then loses the first root's nodes for good: refuse such data before it sees it. */
        end = json_value_end(data);
        if (end && end[strspn(end, " \t\r\n")] != '\0') {
                unsigned line = 1, column = 1;

                end += strspn(end, " \t\r\n");
                for (const char *c = data; c < end; c++)
                        if (*c == '\n') {
                                line++;
                                column = 1;
                        } else
                                column++;
                return json_error(ret_error, -EBADMSG,
                        "%s:%u:%u: Parse error: data after the top-level value", name, line, column);
        }

        if (!json_parser_load_from_data(parser, data, -1, &gerror)) {
                /* json-glib's messages already start with "<data>:LINE:COLUMN: "; put our name
                 * in front of the position in place of its "<data>". */
                const char *msg = gerror ? gerror->message : "parse error";
                if (strncmp(msg, "<data>", 6) == 0)
                        msg += 6;
                else if (*msg != ':')
                        return json_error(ret_error, -EBADMSG, "%s: %s", name, msg);
                return json_error(ret_error, -EBADMSG, "%s%s", name, msg);
        }
        if (!json_parser_get_root(parser))
                return json_error(ret_error, -EBADMSG, "%s: empty document", name);
        return 0;
}

int json_parse_file(const char *path, JsonParser **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        assert(path);

        r = read_full_file(path, JSON_FILE_MAX, &data, &size);
        if (r < 0)
                return json_error(ret_error, r, "%s: %s", path, strerror(-r));
        if (strlen(data) != size)
                return json_error(ret_error, -EBADMSG, "%s: contains a NUL byte", path);

        return json_parse_data(path, data, ret, ret_error);
}

bool json_node_is_string(JsonNode *n) {
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING;
}

bool json_node_is_bool(JsonNode *n) {
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN;
}

bool json_node_is_integer(JsonNode *n) {
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64;
}

char *json_node_to_malloc_string(JsonNode *node, bool pretty) {
        _cleanup_(g_object_unrefp) JsonGenerator *gen = NULL;
        gchar *s;
        char *r;

        gen = json_generator_new();
        json_generator_set_pretty(gen, pretty);
        json_generator_set_indent(gen, 2);
        json_generator_set_root(gen, node);
        s = json_generator_to_data(gen, NULL);
        if (!s)
                return NULL;
        /* Hand out malloc() memory, so that callers free() it like everything else. */
        r = strdup(s);
        g_free(s);
        return r;
}

void json_write_string(FILE *f, const char *s) {
        assert(f);
        assert(s);

        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                const unsigned char *plain = p;

                /* Runs of characters that need no escape go out in one write. */
                while (*p && *p != '"' && *p != '\\' && *p >= 0x20 && *p != 0x7f)
                        p++;
                if (p > plain)
                        fwrite(plain, 1, (size_t)(p - plain), f);
                if (!*p)
                        break;
                if (*p == '"' || *p == '\\') {
                        fputc('\\', f);
                        fputc(*p, f);
                } else
                        fprintf(f, "\\u%04x", *p);
                p++;
        }
        fputc('"', f);
}
