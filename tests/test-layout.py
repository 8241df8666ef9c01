#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layout rules of docs/architecture.md, checked on the source tree (TAP).

1. every #include "..." of service/ and client/ names a header of the tree (or the generated
   build-config.h), found in exactly one place;
2. basic/ includes only basic/; shared/ includes basic/ and shared/; a program folder includes
   basic/, shared/ and itself (attestd/ also legacynet/): nothing includes upward or sideways;
3. basic/ does not include build-config.h (it holds the project's paths and user names);
4. one header per .c: foo.c (other than a program's main) has foo.h beside it, every .h but the
   header-only ones has its .c, and every function foo.h declares is defined in foo.c;
5. sizes: every .c and .h under service/ and client/ has at most MAX_FILE_LINES lines, and
   every function at most MAX_FUNCTION_LINES (from the first line of its signature to its
   closing brace), unless a reason is written beside it:
     - a file: a comment line starting "/* Long file:" within its first 30 lines;
     - a function: a comment starting "/* Long function:" in the comment right above it.
   A function is what clang-format writes (.clang-format): a line in column 0 (not a
   preprocessor line, comment or initializer) whose signature, possibly continued on indented
   lines, ends with "{", up to the next line that is "}" alone in column 0. A "}" alone in
   column 0 that closes no such signature fails the check: the file is not written that way.
6. no dead functions: every function a header declares is named somewhere besides its
   declaration and its definition (called by the product, its tests or its benchmarks, or named
   by a cleanup macro).

Rules 4 and 6 read the string-table macros of service/basic/string-util.h as what they write:
DECLARE_STRING_TABLE_LOOKUP(foo, Foo) in foo.h declares foo_to_string() and foo_from_string()
(the _TO_STRING and _FROM_STRING variants one of them), DEFINE_STRING_TABLE_LOOKUP(foo, Foo) in
foo.c defines them (the PRIVATE variants define static ones, which no header may declare). Their
names stand in neither the declaration nor the definition, so a generated function is dead when
nothing else names it.

Usage: test-layout.py SOURCE_ROOT
"""

import re
import sys
from pathlib import Path

# folder (relative to the source root) -> the layer it belongs to
LAYERS = {
    "service/basic": "basic",
    "service/shared": "shared",
    "service/legacynet": "legacynet",
    "service/frontends": "frontends",
    "service/attestd": "attestd",
    "service/attestd/issuers": "attestd",
    "service/attestd/libvirt": "attestd",
    "service/attestd/cluster": "attestd",
    "client": "client",
}
# layer -> the layers it may include
ALLOWED = {
    "basic": {"basic"},
    "shared": {"basic", "shared"},
    "legacynet": {"basic", "shared", "legacynet"},
    "frontends": {"basic", "shared", "frontends"},
    "client": {"basic", "shared", "client"},
    "attestd": {"basic", "shared", "legacynet", "attestd"},
}
GENERATED = {"build-config.h"}
# Headers with no .c of their own: macros and constants, or an interface with several
# implementations (issuer.h: issuer-local.c, issuer-cmp.c).
HEADER_ONLY = {"macro.h", "bus-names.h", "fault.h", "issuer.h", "legacy-mark.h"}
# Programs' mains: no header.
MAINS = {"attestd.c", "imdsd.c", "vsockd.c", "azshcictl.c", "azshci-attest.c"}
# Implementations of an interface header: issuer.h is the interface, each issuer-*.c one
# implementation, declared there by its constructor.
IMPLEMENTS = {"issuer-cmp.c": "issuer.h", "issuer-local.c": "issuer.h", "issuer-cluster.c": "issuer.h"}

MAX_FILE_LINES = 750
MAX_FUNCTION_LINES = 120
LONG_FILE = "/* Long file:"
LONG_FUNCTION = "/* Long function:"
# Where a file's reason may stand: within its first lines.
LONG_FILE_WITHIN = 30

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# A declaration at file scope: "type name(args);" possibly over several lines.
DECL = re.compile(r"^(?!static|typedef|#|\s|/|\*|})[^;{}()]*?\b([a-z_][a-z0-9_]*)\s*\([^;{}]*\)\s*(?:_[a-z_]+_(?:\([^)]*\))?\s*)*;",
                  re.M)

# The string-table macros (service/basic/string-util.h) and the suffixes of what they write.
TABLE_SUFFIXES = {"": ("_to_string", "_from_string"), "_TO_STRING": ("_to_string",),
                  "_FROM_STRING": ("_from_string",)}
TABLE_DECL = re.compile(r"^DECLARE_STRING_TABLE_LOOKUP(_TO_STRING|_FROM_STRING)?\(\s*([a-z_][a-z0-9_]*)\s*,", re.M)
TABLE_DEF = re.compile(r"^DEFINE_STRING_TABLE_LOOKUP(_TO_STRING|_FROM_STRING)?\(\s*([a-z_][a-z0-9_]*)\s*,", re.M)


def table_functions(pattern, text):
    """The functions the string-table macros matched by pattern write in text."""
    return [name + suffix for variant, name in pattern.findall(text) for suffix in TABLE_SUFFIXES[variant]]


def declarations(text):
    """(name, generated) of each function a header declares: written out, or by a
    DECLARE_STRING_TABLE_LOOKUP macro."""
    return [(fn, False) for fn in DECL.findall(text)] + [(fn, True) for fn in table_functions(TABLE_DECL, text)]


def defines(body, fn, generated):
    """Whether the .c text body defines fn (generated: by a DEFINE_STRING_TABLE_LOOKUP macro)."""
    if generated:
        return fn in table_functions(TABLE_DEF, body)
    return re.search(r"^[^;\n]*\b" + re.escape(fn) + r"\([^;]*?\)\s*\{", body, re.M | re.S) is not None


def functions(lines):
    """(name, first line index, line count) of each function definition in a clang-format'd C
    file, given as its list of lines."""
    found = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line or line[0] in " \t#/*}":
            i += 1
            continue
        # The signature: this line and its indented continuation lines, up to "{" or ";".
        j = i
        while not lines[j].rstrip().endswith(("{", ";")) and j + 1 < len(lines) and \
                lines[j + 1][:1] in (" ", "\t"):
            j += 1
        head = " ".join(l.strip() for l in lines[i:j + 1])
        name = re.match(r"[^=(]*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", head)
        if not head.endswith("{") or "=" in head or not name:
            i = j + 1
            continue
        end = j + 1
        while end < len(lines) and lines[end].rstrip() != "}":
            end += 1
        found.append((name.group(1), i, end - i + 1))
        i = end + 1
    return found


def reason_above(lines, index, marker):
    """Whether the comment right above lines[index] holds marker."""
    k = index - 1
    while k >= 0:
        t = lines[k].strip()
        if not (t.startswith(("/*", "*", "//")) or t.endswith("*/")):
            break
        if t.startswith(marker):
            return True
        k -= 1
    return False


def check_sizes(root):
    problems = []
    for top in ("service", "client"):
        for p in sorted((root / top).rglob("*.[ch]")):
            rel = p.relative_to(root)
            lines = p.read_text().split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if len(lines) > MAX_FILE_LINES and \
                    not any(l.startswith(LONG_FILE) for l in lines[:LONG_FILE_WITHIN]):
                problems.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE_LINES} without a "
                                f"\"{LONG_FILE}\" reason at the top)")
            found = functions(lines)
            # Every "}" alone in column 0 closes a function (a struct or an initializer closes
            # with "};" or "} Name;"): one that does not is code this check cannot read, say a
            # brace on a line of its own, which would hide a long function.
            closers = sum(1 for l in lines if l.rstrip() == "}")
            if closers != len(found):
                problems.append(f"{rel}: {closers} function end(s) but {len(found)} signature(s) "
                                f"ending in \"{{\" found (not clang-format'd?)")
            for name, first, n in found:
                if n > MAX_FUNCTION_LINES and not reason_above(lines, first, LONG_FUNCTION):
                    problems.append(f"{rel}:{first + 1}: {name}() has {n} lines (at most "
                                    f"{MAX_FUNCTION_LINES} without a \"{LONG_FUNCTION}\" reason "
                                    f"right above it)")
    return problems


def main():
    root = Path(sys.argv[1]).resolve()
    files = {}
    for folder in LAYERS:
        for p in sorted((root / folder).glob("*.[ch]")):
            files[p] = LAYERS[folder]
    headers = {}
    for p in files:
        if p.suffix == ".h":
            headers.setdefault(p.name, []).append(p)

    problems = {"includes": [], "layers": [], "basic-config": [], "one-header-per-c": []}

    for p, layer in files.items():
        rel = p.relative_to(root)
        for name in INCLUDE.findall(p.read_text()):
            if name in GENERATED:
                if layer == "basic":
                    problems["basic-config"].append(f"{rel} includes {name}")
                continue
            found = headers.get(Path(name).name, [])
            if len(found) != 1 or "/" in name:
                problems["includes"].append(f"{rel}: \"{name}\" is {'ambiguous' if found else 'not a header of the tree'}")
                continue
            target = files[found[0]]
            if target not in ALLOWED[layer]:
                problems["layers"].append(
                    f"{rel} ({layer}) includes {found[0].relative_to(root)} ({target})")

    for p in files:
        rel = p.relative_to(root)
        twin = p.with_suffix(".h" if p.suffix == ".c" else ".c")
        if p.suffix == ".c" and p.name not in MAINS and not twin.exists():
            if p.name in IMPLEMENTS and (p.parent / IMPLEMENTS[p.name]).exists():
                continue
            problems["one-header-per-c"].append(f"{rel} has no {twin.name}")
        if p.suffix == ".h" and p.name in IMPLEMENTS.values():
            body = "".join((p.parent / c).read_text() for c, h in IMPLEMENTS.items() if h == p.name)
            for fn in DECL.findall(p.read_text()):
                if not re.search(r"^[^;\n]*\b" + re.escape(fn) + r"\([^;]*?\)\s*\{", body, re.M | re.S):
                    problems["one-header-per-c"].append(f"{rel} declares {fn}(), which no implementation defines")
        if p.suffix == ".h" and p.name not in HEADER_ONLY:
            if not twin.exists():
                problems["one-header-per-c"].append(f"{rel} has no {twin.name}")
                continue
            body = twin.read_text()
            for fn, generated in declarations(p.read_text()):
                if not defines(body, fn, generated):
                    problems["one-header-per-c"].append(f"{rel} declares {fn}(), which {twin.name} does not define")

    problems["sizes"] = check_sizes(root)
    # Every C file of the tree, the tests' and benchmarks' included: where a function is named.
    problems["no-dead-functions"] = []
    corpus = "\n".join(q.read_text() for folder in ("service", "client", "tests", "bench")
                       for q in sorted((root / folder).rglob("*.[ch]")))
    for p in files:
        if p.suffix != ".h" or p.name in IMPLEMENTS.values():
            continue
        for fn, generated in declarations(p.read_text()):
            # Written out, the name stands in the declaration and the definition; generated, in neither.
            if len(re.findall(r"\b" + re.escape(fn) + r"\b", corpus)) <= (0 if generated else 2):
                problems["no-dead-functions"].append(f"{p.relative_to(root)} declares {fn}(), which nothing calls")

    print(f"1..{len(problems)}")
    failed = 0
    for i, (name, found) in enumerate(problems.items(), 1):
        if found:
            failed += 1
            print(f"not ok {i} {name}")
            for f in found:
                print(f"# {f}")
        else:
            print(f"ok {i} {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
