#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Proves that every rule of the legacy firewall has a test that fails without it: for each rule
# line that service/legacynet/nft-rules.c renders, a copy of the source tree without that one line is
# built (legacynet-tool only) and test-legacynet.sh runs against it; the rule is "caught" when
# the run fails, and the failing checks are printed. Nothing of the checkout or its build
# directories is touched. Run by hand, as root (about a minute per rule):
#
#   tests/legacynet/rule-removal.sh [PATTERN]     only rules whose text contains PATTERN
#
# Exit 0 when every rule tried was caught.
set -u

SRC=$(realpath "$(dirname "$0")/../..")
PATTERN=${1:-}
WORK=$(mktemp -d /tmp/azshci-rule-removal.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The rule lines: the chain bodies of render_bridge() and render_inet(), without the chains'
# "type ... hook" lines.
mapfile -t RULES < <(grep -n '^ *"\\t\\t[a-z].*\\n"$' "$SRC/service/legacynet/nft-rules.c" |
        grep -v -e 'type filter hook' -e '\\t\\ttype ' |
        grep -F -- "$PATTERN")
[ ${#RULES[@]} -gt 0 ] || { echo "no rule matches '$PATTERN'"; exit 2; }

tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | (mkdir -p "$WORK/src" && tar -C "$WORK/src" -xf -)
cp "$WORK/src/service/legacynet/nft-rules.c" "$WORK/nft-rules.c.orig"
meson setup "$WORK/build" "$WORK/src" >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log"; exit 2; }

missed=0
for entry in "${RULES[@]}"; do
        line=${entry%%:*}
        text=$(sed -n "${line}p" "$WORK/nft-rules.c.orig" | sed 's/^ *"\\t\\t//; s/\\n"$//')
        sed "${line}d" "$WORK/nft-rules.c.orig" >"$WORK/src/service/legacynet/nft-rules.c"
        if ! meson compile -C "$WORK/build" tests/legacynet/legacynet-tool >"$WORK/build.log" 2>&1; then
                echo "BUILD FAILED without: $text"
                tail -5 "$WORK/build.log"
                missed=$((missed + 1))
                continue
        fi
        out=$("$SRC/tests/legacynet/test-legacynet.sh" "$WORK/build/tests/legacynet/legacynet-tool" 2>&1)
        if [ $? -eq 0 ]; then
                echo "NOT CAUGHT: $text"
                missed=$((missed + 1))
        else
                echo "caught:     $text"
                grep '^not ok' <<<"$out" | sed 's/^/              /'
        fi
done
cp "$WORK/nft-rules.c.orig" "$WORK/src/service/legacynet/nft-rules.c"
echo "$((${#RULES[@]} - missed)) of ${#RULES[@]} rules caught"
[ $missed -eq 0 ]
