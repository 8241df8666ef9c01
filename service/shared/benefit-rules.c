/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Long file: one job, the rule file's loader. Every parse_*() reads through the Loader (the
 * JSON path its messages name, the first error), which no other file needs; a split would only
 * export it. */

#include <stdarg.h>

#include "benefit-rules.h"
#include "fileio.h"
#include "json-util.h"
#include "string-util.h"
#include "strv.h"
#include "validate.h"

/* The rule file format is described in docs/benefits.md; keep the two in sync. */

#define RULES_FILE_MAX       (4U * 1024U * 1024U)
#define RULES_FORMAT_VERSION 1
#define PATH_MAX_DEPTH       8

static const char *const transport_table[_TRANSPORT_MAX] = {
        [TRANSPORT_VSOCK] = "vsock",
        [TRANSPORT_LEGACY] = "legacy",
};

DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(transport, Transport);

/* The VM properties a rule may look at. Version properties also allow "atLeast"/"below" and may
 * appear under "minimum". */
typedef struct MatchKey {
        const char *name;
        bool version;
} MatchKey;

static const MatchKey match_keys[] = {
        {"OsName", false},
        {"OsVersion", true},
        {"SqlVersion", true},
        {"ArcAgentVersion", true},
        {"Sku", false},
        {"LicenseType", false},
};

/* The benefit ids the rest of the service knows about. */
static const char *const known_benefits[] = {
        BENEFIT_ESU,
        BENEFIT_AVD,
        BENEFIT_AZURE_EDITION,
        BENEFIT_GUEST_CONFIG,
};

static void rule_done(Rule *rule) {
        for (size_t i = 0; i < rule->n_conditions; i++) {
                Condition *c = &rule->conditions[i];
                if (c->has_regex)
                        regfree(&c->regex);
                free(c->at_least);
                free(c->below);
        }
        free(rule->conditions);
        for (size_t i = 0; i < rule->n_minimums; i++)
                free(rule->minimums[i].version);
        free(rule->minimums);
        free(rule->description);
        free(rule->update);
}

BenefitRules *benefit_rules_free(BenefitRules *rules) {
        if (!rules)
                return NULL;

        for (size_t i = 0; i < rules->n_benefits; i++) {
                free(rules->benefits[i].id);
                free(rules->benefits[i].title);
        }
        free(rules->benefits);
        for (size_t i = 0; i < rules->n_rules; i++)
                rule_done(&rules->rules[i]);
        free(rules->rules);
        return mfree(rules);
}

/* The loader tracks the JSON path of the node it is checking, so that an error can say where the
 * node is (json_text_locate()). */

typedef struct Loader {
        const char *name;
        const char *data;
        JsonPathStep path[PATH_MAX_DEPTH];
        size_t depth;
        char **ret_error;
} Loader;

static void loader_push_key(Loader *l, const char *key) {
        assert(l->depth < PATH_MAX_DEPTH);
        l->path[l->depth++] = (JsonPathStep){.key = key};
}

static void loader_push_index(Loader *l, size_t index) {
        assert(l->depth < PATH_MAX_DEPTH);
        l->path[l->depth++] = (JsonPathStep){.index = index};
}

static void loader_pop(Loader *l) {
        assert(l->depth > 0);
        l->depth--;
}

static char *loader_path_string(const Loader *l) {
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < l->depth; i++) {
                if (l->path[i].key)
                        fprintf(f, "%s%s", i > 0 ? "." : "", l->path[i].key);
                else
                        fprintf(f, "[%zu]", l->path[i].index);
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

/* Sets "NAME:LINE:COLUMN: PATH: message" and returns -EINVAL. */
_printf_(3, 4) static int loader_error(const Loader *l, bool at_key, const char *format, ...) {
        _cleanup_free_ char *message = NULL, *path = NULL;
        const char *pos;
        va_list ap;
        int r;

        if (!l->ret_error)
                return -EINVAL;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        path = loader_path_string(l);
        if (!path)
                return -ENOMEM;

        pos = json_text_locate(l->data, l->path, l->depth, at_key);
        if (pos) {
                unsigned line, column;

                json_text_position(l->data, pos, &line, &column);
                return json_error(l->ret_error, -EINVAL, "%s:%u:%u: %s%s%s", l->name, line, column, path,
                        *path ? ": " : "", message);
        }
        return json_error(l->ret_error, -EINVAL, "%s: %s%s%s", l->name, path, *path ? ": " : "", message);
}

/* Rejects members not in allowed and reports the first missing one of required. */
static int loader_check_members(Loader *l, JsonObject *o, const char *const *allowed,
        const char *const *required) {
        JsonObjectIter iter;
        const char *name;
        JsonNode *node;

        json_object_iter_init_ordered(&iter, o);
        while (json_object_iter_next_ordered(&iter, &name, &node))
                if (!strv_contains((char *const *)allowed, name)) {
                        _cleanup_free_ char *expected = strv_join((char *const *)allowed, ", ");
                        int r;

                        if (!expected)
                                return -ENOMEM;
                        loader_push_key(l, name);
                        r = loader_error(l, true, "unknown key (expected one of: %s)", expected);
                        loader_pop(l);
                        return r;
                }

        for (; required && *required; required++)
                if (!json_object_has_member(o, *required))
                        return loader_error(l, false, "missing required key '%s'", *required);
        return 0;
}

/* n as an object with the members loader_check_members() accepts; not_an_object is the error
 * when it is none. */
static int loader_get_object(Loader *l, JsonNode *n, const char *not_an_object, const char *const *allowed,
        const char *const *required, JsonObject **ret) {
        *ret = NULL;
        if (!JSON_NODE_HOLDS_OBJECT(n))
                return loader_error(l, false, "%s", not_an_object);
        *ret = json_node_get_object(n);
        return loader_check_members(l, *ret, allowed, required);
}

/* n as an array; "must be an array of <what>" when it is none. */
static int loader_get_array(Loader *l, JsonNode *n, const char *what, JsonArray **ret) {
        *ret = NULL;
        if (!JSON_NODE_HOLDS_ARRAY(n))
                return loader_error(l, false, "must be an array of %s", what);
        *ret = json_node_get_array(n);
        return 0;
}

static int loader_get_string(Loader *l, JsonNode *n, bool allow_empty, const char **ret) {
        const char *s;

        if (!json_node_is_string(n))
                return loader_error(l, false, "must be a string");
        s = json_node_get_string(n);
        if (!allow_empty && isempty(s))
                return loader_error(l, false, "must not be empty");
        *ret = s;
        return 0;
}

static int loader_dup_string(Loader *l, JsonNode *n, char **ret) {
        const char *s;
        int r;

        r = loader_get_string(l, n, false, &s);
        if (r < 0)
                return r;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int loader_dup_version(Loader *l, JsonNode *n, char **ret) {
        const char *s;
        int r;

        r = loader_get_string(l, n, false, &s);
        if (r < 0)
                return r;
        if (!version_is_valid(s))
                return loader_error(l, false, "'%s' is not a dotted numeric version such as 10.0.22621.3447",
                        s);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static ssize_t match_key_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(match_keys); i++)
                if (streq(match_keys[i].name, name))
                        return (ssize_t)i;
        return -ENOENT;
}

static char *match_key_list(bool versions_only) {
        char *s = NULL;
        size_t size = 0;
        FILE *f;
        bool first = true;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(match_keys); i++) {
                if (versions_only && !match_keys[i].version)
                        continue;
                fprintf(f, "%s%s", first ? "" : ", ", match_keys[i].name);
                first = false;
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static int loader_unknown_property(Loader *l, bool versions_only) {
        _cleanup_free_ char *list = match_key_list(versions_only);
        if (!list)
                return -ENOMEM;
        return loader_error(l, true, "unknown VM property (expected one of: %s)", list);
}

/* glibc's regcomp() copies a repeated subexpression for every repetition operator, so stacked
 * or nested repetitions grow exponentially (a pattern of a hundred '+' took gigabytes: found by
 * fuzz-benefits). The conditions of a rules file need nothing of the sort: keep them small. */
#define REGEX_MAX_LENGTH      256U
#define REGEX_MAX_QUANTIFIERS 8U
#define REGEX_MAX_COUNT       16U

static bool regex_is_tame(const char *s) {
        unsigned quantifiers = 0;
        bool after_quantifier = false;

        if (strlen(s) > REGEX_MAX_LENGTH)
                return false;
        for (const char *p = s; *p; p++) {
                bool quantifier = false;

                switch (*p) {
                case '\\':
                        if (p[1])
                                p++;
                        break;
                case '[': /* a bracket expression: ']' first is literal */
                        p++;
                        if (*p == '^')
                                p++;
                        if (*p == ']')
                                p++;
                        while (*p && *p != ']')
                                p++;
                        if (!*p)
                                return true; /* unterminated: regcomp() says so */
                        break;
                case '*':
                case '+':
                case '?':
                        quantifier = true;
                        break;
                case '{':
                        quantifier = true;
                        for (p++; *p && *p != '}'; p++)
                                if (*p >= '0' && *p <= '9' && strtoul(p, NULL, 10) > REGEX_MAX_COUNT)
                                        return false;
                        if (!*p)
                                return true; /* unterminated: regcomp() says so */
                        break;
                }
                if (quantifier && (after_quantifier || ++quantifiers > REGEX_MAX_QUANTIFIERS))
                        return false;
                after_quantifier = quantifier;
        }
        return true;
}

static int parse_condition(Loader *l, size_t key, JsonNode *n, Condition *c) {
        static const char *const allowed[] = {"regex", "atLeast", "below", "present", NULL};
        JsonObject *o;
        JsonNode *m;
        int r;

        c->key = key;

        if (!JSON_NODE_HOLDS_OBJECT(n))
                return loader_error(l, false, "a condition must be an object");
        o = json_node_get_object(n);
        r = loader_check_members(l, o, allowed, NULL);
        if (r < 0)
                return r;
        if (json_object_get_size(o) == 0)
                return loader_error(l, false,
                        "a condition needs at least one of regex, atLeast, below, present");

        m = json_object_get_member(o, "regex");
        if (m) {
                const char *s;

                loader_push_key(l, "regex");
                r = loader_get_string(l, m, false, &s);
                if (r < 0)
                        return r;
                if (!regex_is_tame(s))
                        return loader_error(l, false,
                                "regular expression '%s' is too complex: at most %u characters and %u "
                                "repetition operators, none directly after another, counts in {} up to %u",
                                s, REGEX_MAX_LENGTH, REGEX_MAX_QUANTIFIERS, REGEX_MAX_COUNT);
                r = regcomp(&c->regex, s, REG_EXTENDED | REG_ICASE | REG_NOSUB);
                if (r != 0) {
                        char buf[256];

                        (void)regerror(r, &c->regex, buf, sizeof buf);
                        return loader_error(l, false, "invalid regular expression '%s': %s", s, buf);
                }
                c->has_regex = true;
                loader_pop(l);
        }

        for (size_t i = 0; i < 2; i++) {
                const char *op = i == 0 ? "atLeast" : "below";
                char **dest = i == 0 ? &c->at_least : &c->below;

                m = json_object_get_member(o, op);
                if (!m)
                        continue;
                loader_push_key(l, op);
                if (!match_keys[key].version)
                        return loader_error(l, true, "'%s' applies only to version properties, not %s", op,
                                match_keys[key].name);
                r = loader_dup_version(l, m, dest);
                if (r < 0)
                        return r;
                loader_pop(l);
        }

        m = json_object_get_member(o, "present");
        if (m) {
                loader_push_key(l, "present");
                if (!json_node_is_bool(m) || !json_node_get_boolean(m))
                        return loader_error(l, false,
                                "must be true (a condition never matches an absent property, so there is no "
                                "\"present\": false)");
                loader_pop(l);
        }

        if (c->at_least && c->below && version_compare(c->at_least, c->below) >= 0)
                return loader_error(l, false, "atLeast %s is not below %s: the condition can never match",
                        c->at_least, c->below);
        return 0;
}

/* n must be a non-empty object keyed by VM property (version properties only, when
 * versions_only); *array gets room for one element_size element per member, and each member goes
 * to parse with the loader's path at it. */
static int parse_by_property(Loader *l, JsonNode *n, bool versions_only, const char *not_an_object,
        const char *empty, void **array, size_t element_size, Rule *rule,
        int (*parse)(Loader *l, size_t key, JsonNode *m, Rule *rule)) {
        JsonObjectIter iter;
        const char *name;
        JsonNode *m;
        JsonObject *o;
        int r;

        if (!JSON_NODE_HOLDS_OBJECT(n))
                return loader_error(l, false, "%s", not_an_object);
        o = json_node_get_object(n);
        if (json_object_get_size(o) == 0)
                return loader_error(l, false, "%s", empty);

        *array = calloc(json_object_get_size(o), element_size);
        if (!*array)
                return -ENOMEM;

        json_object_iter_init_ordered(&iter, o);
        while (json_object_iter_next_ordered(&iter, &name, &m)) {
                ssize_t key = match_key_find(name);

                loader_push_key(l, name);
                if (key < 0 || (versions_only && !match_keys[key].version))
                        return loader_unknown_property(l, versions_only);
                r = parse(l, (size_t)key, m, rule);
                if (r < 0)
                        return r;
                loader_pop(l);
        }
        return 0;
}

static int parse_match_member(Loader *l, size_t key, JsonNode *m, Rule *rule) {
        return parse_condition(l, key, m, &rule->conditions[rule->n_conditions++]);
}

static int parse_match(Loader *l, JsonNode *n, Rule *rule) {
        return parse_by_property(l, n, false, "must be an object of VM property conditions",
                "must hold at least one condition", (void **)&rule->conditions, sizeof(Condition), rule,
                parse_match_member);
}

static int parse_minimum_member(Loader *l, size_t key, JsonNode *m, Rule *rule) {
        Minimum *min = &rule->minimums[rule->n_minimums++];

        min->key = key;
        return loader_dup_version(l, m, &min->version);
}

static int parse_minimum(Loader *l, JsonNode *n, Rule *rule) {
        return parse_by_property(l, n, true, "must be an object mapping version properties to versions",
                "must not be empty (leave \"minimum\" out instead)", (void **)&rule->minimums,
                sizeof(Minimum), rule, parse_minimum_member);
}

static bool update_name_is_valid(const char *s) {
        size_t digits;

        if (strncmp(s, "KB", 2) != 0)
                return false;
        digits = strspn(s + 2, "0123456789");
        return digits > 0 && digits <= 9 && s[2 + digits] == 0;
}

static int parse_rule(Loader *l, const BenefitRules *rules, JsonNode *n, Rule *rule) {
        static const char *const allowed[] = {
                "benefit",
                "description",
                "match",
                "minimum",
                "update",
                "transport",
                NULL,
        };
        static const char *const required[] = {"benefit", "description", "match", "transport", NULL};
        const char *s;
        JsonObject *o;
        JsonNode *m;
        bool found = false;
        int r;

        r = loader_get_object(l, n, "a rule must be an object", allowed, required, &o);
        if (r < 0)
                return r;

        loader_push_key(l, "benefit");
        r = loader_get_string(l, json_object_get_member(o, "benefit"), false, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rules->n_benefits; i++)
                if (streq(rules->benefits[i].id, s)) {
                        rule->benefit = i;
                        found = true;
                }
        if (!found)
                return loader_error(l, false, "benefit '%s' is not declared in \"benefits\"", s);
        loader_pop(l);

        loader_push_key(l, "description");
        r = loader_dup_string(l, json_object_get_member(o, "description"), &rule->description);
        if (r < 0)
                return r;
        loader_pop(l);

        loader_push_key(l, "match");
        r = parse_match(l, json_object_get_member(o, "match"), rule);
        if (r < 0)
                return r;
        loader_pop(l);

        m = json_object_get_member(o, "minimum");
        if (m) {
                loader_push_key(l, "minimum");
                r = parse_minimum(l, m, rule);
                if (r < 0)
                        return r;
                loader_pop(l);
        }

        m = json_object_get_member(o, "update");
        if (m) {
                loader_push_key(l, "update");
                r = loader_get_string(l, m, false, &s);
                if (r < 0)
                        return r;
                if (!update_name_is_valid(s))
                        return loader_error(l, false,
                                "'%s' is not a knowledge base article such as KB5036893", s);
                rule->update = strdup(s);
                if (!rule->update)
                        return -ENOMEM;
                loader_pop(l);
        }

        loader_push_key(l, "transport");
        r = loader_get_string(l, json_object_get_member(o, "transport"), true, &s);
        if (r < 0)
                return r;
        rule->transport = transport_from_string(s);
        if (rule->transport < 0)
                return loader_error(l, false, "unknown transport '%s' (expected \"vsock\" or \"legacy\")",
                        s);
        loader_pop(l);

        return 0;
}

static int parse_rules(Loader *l, JsonNode *n, BenefitRules *rules) {
        JsonArray *a;
        int r;

        r = loader_get_array(l, n, "rules", &a);
        if (r < 0)
                return r;

        rules->rules = calloc(json_array_get_length(a) + 1, sizeof(Rule));
        if (!rules->rules)
                return -ENOMEM;

        for (size_t i = 0; i < json_array_get_length(a); i++) {
                loader_push_index(l, i);
                r = parse_rule(l, rules, json_array_get_element(a, i), &rules->rules[rules->n_rules++]);
                if (r < 0)
                        return r;
                loader_pop(l);
        }
        return 0;
}

static int parse_benefits(Loader *l, JsonNode *n, BenefitRules *rules) {
        static const char *const allowed[] = {"id", "title", NULL};
        JsonArray *a;
        int r;

        r = loader_get_array(l, n, "benefits", &a);
        if (r < 0)
                return r;

        rules->benefits = calloc(json_array_get_length(a) + 1, sizeof(Benefit));
        if (!rules->benefits)
                return -ENOMEM;

        for (size_t i = 0; i < json_array_get_length(a); i++) {
                JsonNode *e = json_array_get_element(a, i);
                Benefit *b = &rules->benefits[rules->n_benefits];
                const char *id;
                JsonObject *o;
                bool known = false;

                loader_push_index(l, i);
                r = loader_get_object(l, e, "a benefit must be an object", allowed, allowed, &o);
                if (r < 0)
                        return r;

                loader_push_key(l, "id");
                r = loader_get_string(l, json_object_get_member(o, "id"), false, &id);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < ELEMENTSOF(known_benefits); k++)
                        if (streq(known_benefits[k], id))
                                known = true;
                if (!known)
                        return loader_error(l, false,
                                "unknown benefit '%s' (expected one of: %s, %s, %s, %s)", id, BENEFIT_ESU,
                                BENEFIT_AVD, BENEFIT_AZURE_EDITION, BENEFIT_GUEST_CONFIG);
                for (size_t k = 0; k < rules->n_benefits; k++)
                        if (streq(rules->benefits[k].id, id))
                                return loader_error(l, false, "benefit '%s' is declared twice", id);
                b->id = strdup(id);
                if (!b->id)
                        return -ENOMEM;
                rules->n_benefits++;
                loader_pop(l);

                loader_push_key(l, "title");
                r = loader_dup_string(l, json_object_get_member(o, "title"), &b->title);
                if (r < 0)
                        return r;
                loader_pop(l);

                loader_pop(l);
        }
        return 0;
}

static int parse_sources(Loader *l, JsonNode *n) {
        static const char *const allowed[] = {"url", "confirms", NULL};
        JsonArray *a;
        int r;

        r = loader_get_array(l, n, "{\"url\", \"confirms\"} objects", &a);
        if (r < 0)
                return r;

        for (size_t i = 0; i < json_array_get_length(a); i++) {
                JsonNode *e = json_array_get_element(a, i);
                JsonObject *o;
                const char *s;

                loader_push_index(l, i);
                r = loader_get_object(l, e, "a source must be an object", allowed, allowed, &o);
                if (r < 0)
                        return r;
                for (const char *const *k = allowed; *k; k++) {
                        loader_push_key(l, *k);
                        r = loader_get_string(l, json_object_get_member(o, *k), false, &s);
                        if (r < 0)
                                return r;
                        loader_pop(l);
                }
                loader_pop(l);
        }
        return 0;
}

int benefit_rules_load_data(const char *name, const char *data, BenefitRules **ret, char **ret_error) {
        static const char *const allowed[] = {"version", "sources", "benefits", "rules", NULL};
        static const char *const required[] = {"version", "benefits", "rules", NULL};
        _cleanup_(g_object_unrefp) JsonParser *parser = NULL;
        _cleanup_(benefit_rules_freep) BenefitRules *rules = NULL;
        Loader l = {.name = name, .data = data, .ret_error = ret_error};
        JsonNode *root, *n;
        JsonObject *o;
        int r;

        assert(name);
        assert(data);
        assert(ret);

        r = json_parse_data(name, data, &parser, ret_error);
        if (r < 0)
                return r;

        root = json_parser_get_root(parser);
        r = loader_get_object(&l, root, "the rule file must hold a JSON object", allowed, required, &o);
        if (r < 0)
                return r;

        loader_push_key(&l, "version");
        n = json_object_get_member(o, "version");
        if (!json_node_is_integer(n) || json_node_get_int(n) != RULES_FORMAT_VERSION)
                return loader_error(&l, false, "must be the integer %d", RULES_FORMAT_VERSION);
        loader_pop(&l);

        rules = calloc(1, sizeof(BenefitRules));
        if (!rules)
                return -ENOMEM;

        n = json_object_get_member(o, "sources");
        if (n) {
                loader_push_key(&l, "sources");
                r = parse_sources(&l, n);
                if (r < 0)
                        return r;
                loader_pop(&l);
        }

        loader_push_key(&l, "benefits");
        r = parse_benefits(&l, json_object_get_member(o, "benefits"), rules);
        if (r < 0)
                return r;
        loader_pop(&l);

        loader_push_key(&l, "rules");
        r = parse_rules(&l, json_object_get_member(o, "rules"), rules);
        if (r < 0)
                return r;
        loader_pop(&l);

        *ret = TAKE_PTR(rules);
        return 0;
}

int benefit_rules_load(const char *path, BenefitRules **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        int r;

        assert(path);
        assert(ret);

        r = json_read_text_file(path, RULES_FILE_MAX, &data, ret_error);
        if (r < 0)
                return r;
        return benefit_rules_load_data(path, data, ret, ret_error);
}

const char *benefit_property_name(size_t key) {
        return key < ELEMENTSOF(match_keys) ? match_keys[key].name : NULL;
}
