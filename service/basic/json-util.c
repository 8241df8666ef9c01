/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "fileio.h"
#include "json-util.h"
#include "string-util.h"

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

int json_parse_object(const char *name, const char *data, JsonParser **ret_parser, JsonObject **ret,
        char **ret_error) {
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        JsonNode *root;
        int r;

        assert(ret_parser);
        assert(ret);

        r = json_parse_data(name, data, &parser, ret_error);
        if (r < 0)
                return r;
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
                return json_error(ret_error, -EBADMSG, "%s: not a JSON object", name);
        *ret = json_node_get_object(root);
        *ret_parser = TAKE_PTR(parser);
        return 0;
}

/* The UTF-16 code unit of the four hex digits at p, or -1 when they are not four hex digits. */
static int hex4(const char *p) {
        int v = 0;

        for (int i = 0; i < 4; i++) {
                int d = unhexchar(p[i]);
                if (d < 0)
                        return -1;
                v = v << 4 | d;
        }
        return v;
}

/* Whether the \u escape at p (p[0] == '\\', p[1] == 'u') is well formed: four hex digits, and
 * UTF-16 surrogates only as a high one directly followed by an escaped low one (RFC 8259 §7, §8.2).
 * On success *ret_len is the length of the escape (6, or 12 for a pair). */
static bool unicode_escape_ok(const char *p, size_t *ret_len) {
        int hi = hex4(p + 2), lo;

        if (hi < 0 || (hi >= 0xdc00 && hi <= 0xdfff))
                return false;
        if (hi < 0xd800 || hi > 0xdbff) {
                *ret_len = 6;
                return true;
        }
        if (p[6] != '\\' || p[7] != 'u')
                return false;
        lo = hex4(p + 8);
        if (lo < 0xdc00 || lo > 0xdfff)
                return false;
        *ret_len = 12;
        return true;
}

/* Where the first JSON value in data ends, or NULL when it does not end (json-glib then says
 * what is wrong). Only brackets and strings are followed; anything else is json-glib's to judge,
 * except what it must never see: then *ret_bad points there, *ret_why says why, and NULL is
 * returned. */
static const char *json_value_end(const char *p, const char **ret_bad, const char **ret_why) {
        unsigned depth = 0;

        *ret_bad = NULL;
        p += strspn(p, " \t\r\n");
        if (*p != '{' && *p != '[') {
                if (*p != '"') /* a literal or a number: up to the next separator */
                        return p + strcspn(p, " \t\r\n{}[],:\"");
        }
        for (; *p; p++)
                switch (*p) {
                case '"':
                        for (p++; *p && *p != '"'; p++) {
                                size_t len;

                                if (*p != '\\' || !p[1])
                                        continue;
                                if (p[1] != 'u') {
                                        p++;
                                        continue;
                                }
                                if (!unicode_escape_ok(p, &len)) {
                                        *ret_bad = p;
                                        *ret_why =
                                                "invalid \\u escape (four hex digits; surrogates only as a high-low pair)";
                                        return NULL;
                                }
                                p += len - 1;
                        }
                        if (!*p)
                                return NULL;
                        if (depth == 0)
                                return p + 1;
                        break;
                case '/':
                        /* json-glib skips "/.../" and C comments, and reads '...' as a string:
                         * what it reads is then not what this scan sees (a second top-level
                         * value, for one). */
                        *ret_bad = p;
                        *ret_why = "'/' outside a string (JSON has no comments)";
                        return NULL;
                case '\'':
                        *ret_bad = p;
                        *ret_why = "single quote outside a string (JSON strings take double quotes)";
                        return NULL;
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

void json_text_position(const char *data, const char *at, unsigned *ret_line, unsigned *ret_column) {
        unsigned line = 1, column = 1;

        assert(data);
        assert(at);
        assert(ret_line);
        assert(ret_column);

        for (const char *c = data; c < at; c++)
                if (*c == '\n') {
                        line++;
                        column = 1;
                } else
                        column++;
        *ret_line = line;
        *ret_column = column;
}

static int parse_error_at(char **ret_error, const char *name, const char *data, const char *at,
        const char *what) {
        unsigned line, column;

        json_text_position(data, at, &line, &column);
        return json_error(ret_error, -EBADMSG, "%s:%u:%u: Parse error: %s", name, line, column, what);
}

static const char *skip_space(const char *p) {
        return p + strspn(p, " \t\r\n");
}

/* The end of the value at p in text json_parser_load() accepted, NULL if it has none. */
static const char *skip_value(const char *p) {
        const char *bad, *why;

        return json_value_end(p, &bad, &why);
}

/* Past the value at p and the ',' after it; NULL when no ',' follows. */
static const char *skip_value_and_comma(const char *p) {
        p = skip_value(p);
        if (!p)
                return NULL;
        p = skip_space(p);
        return *p == ',' ? p + 1 : NULL;
}

const char *json_text_locate(const char *data, const JsonPathStep *path, size_t n_path, bool at_key) {
        const char *p;

        assert(data);
        assert(path || n_path == 0);

        p = skip_space(data);
        for (size_t i = 0; i < n_path; i++) {
                const JsonPathStep *s = &path[i];

                if (s->key) {
                        size_t len = strlen(s->key);

                        if (*p != '{')
                                return NULL;
                        p++;
                        for (;;) {
                                const char *key, *end;

                                p = skip_space(p);
                                if (*p != '"')
                                        return NULL;
                                key = p;
                                end = skip_value(p);
                                if (!end)
                                        return NULL;
                                p = skip_space(end);
                                if (*p != ':')
                                        return NULL;
                                p = skip_space(p + 1);
                                if ((size_t)(end - key) == len + 2 && memcmp(key + 1, s->key, len) == 0) {
                                        if (i + 1 == n_path && at_key)
                                                return key;
                                        break;
                                }
                                p = skip_value_and_comma(p);
                                if (!p)
                                        return NULL;
                        }
                } else {
                        if (*p != '[')
                                return NULL;
                        p = skip_space(p + 1);
                        for (size_t j = 0; j < s->index; j++) {
                                p = skip_value_and_comma(p);
                                if (!p)
                                        return NULL;
                                p = skip_space(p);
                        }
                }
        }
        return p;
}

int json_parser_load(JsonParser *parser, const char *name, const char *data, char **ret_error) {
        _cleanup_(g_error_freep) GError *gerror = NULL;
        const char *end, *bad, *why = NULL;

        assert(parser);
        assert(name);
        assert(data);

        /* Some input makes json-glib (1.6) lose memory for good, so it is refused before
         * json-glib sees it: data after the first value (RFC 8259 allows one; json-glib reads on
         * and drops the first root's nodes), a \u escape of a UTF-16 surrogate not followed by
         * its pair (json-glib drops the string it was building), and comments and single-quoted
         * strings, which JSON does not have and json-glib reads in its own way ("{/x/}{}" and
         * "['\"']{}" are two values to it). */
        end = json_value_end(data, &bad, &why);
        if (bad)
                return parse_error_at(ret_error, name, data, bad, why);
        if (end && end[strspn(end, " \t\r\n")] != '\0')
                return parse_error_at(ret_error, name, data, end + strspn(end, " \t\r\n"),
                        "data after the top-level value");

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

int json_read_text_file(const char *path, size_t max_size, char **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        assert(path);
        assert(ret);

        r = read_full_file(path, max_size, &data, &size);
        if (r < 0)
                return json_error(ret_error, r, "%s: %s", path, strerror(-r));
        if (strlen(data) != size)
                return json_error(ret_error, -EBADMSG, "%s: contains a NUL byte", path);
        *ret = TAKE_PTR(data);
        return 0;
}

int json_parse_file(const char *path, JsonParser **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        int r;

        r = json_read_text_file(path, JSON_FILE_MAX, &data, ret_error);
        if (r < 0)
                return r;
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

static char *json_node_to_malloc_string(JsonNode *node, bool pretty) {
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

int json_builder_to_malloc_string(JsonBuilder *b, char **ret) {
        _cleanup_(json_node_unrefp) JsonNode *root = NULL;
        char *s;

        assert(b);
        assert(ret);

        root = json_builder_get_root(b);
        if (!root)
                return -ENOMEM;
        s = json_node_to_malloc_string(root, false);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
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

char *json_put_string(char *out, const char *s) {
        static const char hex[] = "0123456789abcdef";

        assert(out);
        assert(s);

        *out++ = '"';
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p == '"' || *p == '\\') {
                        *out++ = '\\';
                        *out++ = (char)*p;
                } else if (*p < 0x20 || *p == 0x7f) {
                        out = mempcpy(out, "\\u00", 4);
                        *out++ = hex[*p >> 4];
                        *out++ = hex[*p & 0xf];
                } else
                        *out++ = (char)*p;
        *out++ = '"';
        return out;
}
