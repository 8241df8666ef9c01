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
5. no dead functions: every function a header declares is named somewhere besides its
   declaration and its definition (called by the product, its tests or its benchmarks, or named
   by a cleanup macro).

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

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# A declaration at file scope: "type name(args);" possibly over several lines.
DECL = re.compile(r"^(?!static|typedef|#|\s|/|\*|})[^;{}()]*?\b([a-z_][a-z0-9_]*)\s*\([^;{}]*\)\s*(?:_[a-z_]+_(?:\([^)]*\))?\s*)*;",
                  re.M)


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

    problems = {"includes": [], "layers": [], "basic-config": [], "one-header-per-c": [], "no-dead-functions": []}

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
            for fn in DECL.findall(p.read_text()):
                if not re.search(r"^[^;\n]*\b" + re.escape(fn) + r"\([^;]*?\)\s*\{", body, re.M | re.S):
                    problems["one-header-per-c"].append(f"{rel} declares {fn}(), which {twin.name} does not define")

    # Every C file of the tree, the tests' and benchmarks' included: where a function is named.
    corpus = "\n".join(q.read_text() for folder in ("service", "client", "tests", "bench")
                       for q in sorted((root / folder).rglob("*.[ch]")))
    for p in files:
        if p.suffix != ".h" or p.name in IMPLEMENTS.values():
            continue
        for fn in DECL.findall(p.read_text()):
            if len(re.findall(r"\b" + re.escape(fn) + r"\b", corpus)) <= 2:   # the declaration, the definition
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
