#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Proves that every rule of the legacy firewall has a test that fails without it: for each rule
# of the tables service/legacynet/nft-json.c writes (one JSON object a line, in
# ruleset_template), a copy of the source tree without that one line is
# built (legacynet-tool only) and test-legacynet.sh runs against it; the rule is "caught" when
# the run fails, and the failing checks are printed. Nothing of the checkout or its build
# directories is touched. Run by hand, as root (about a minute per rule):
#
#   tests/legacy/rule-removal.sh [PATTERN]     only rules whose text contains PATTERN
#
# Exit 0 when every rule tried was caught.
set -u

SRC=$(realpath "$(dirname "$0")/../..")
PATTERN=${1:-}
WORK=$(mktemp -d /tmp/azshci-rule-removal.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The rule lines of ruleset_template: ' , {"rule": {...}}'.
FILE=service/legacynet/nft-json.c
mapfile -t RULES < <(grep -n '^ *, {"rule": ' "$SRC/$FILE" | grep -F -- "$PATTERN")
[ ${#RULES[@]} -gt 0 ] || { echo "no rule matches '$PATTERN'"; exit 2; }

tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | (mkdir -p "$WORK/src" && tar -C "$WORK/src" -xf -)
cp "$WORK/src/$FILE" "$WORK/nft-json.c.orig"
meson setup "$WORK/build" "$WORK/src" >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log"; exit 2; }

missed=0
for entry in "${RULES[@]}"; do
        line=${entry%%:*}
        # family, chain and comment (or the expression) of the rule
        text=$(sed -n "${line}p" "$WORK/nft-json.c.orig" |
                sed -E 's/^ *, \{"rule": \{"family": "([a-z]+)", "table": "@TABLE@", "chain": "([a-z]+)", (.*)\}\}$/\1 \2 \3/')
        sed "${line}d" "$WORK/nft-json.c.orig" >"$WORK/src/$FILE"
        if ! meson compile -C "$WORK/build" tests/legacy/legacynet-tool >"$WORK/build.log" 2>&1; then
                echo "BUILD FAILED without: $text"
                tail -5 "$WORK/build.log"
                missed=$((missed + 1))
                continue
        fi
        out=$("$SRC/tests/legacy/test-legacynet.sh" "$WORK/build/tests/legacy/legacynet-tool" 2>&1)
        if [ $? -eq 0 ]; then
                echo "NOT CAUGHT: $text"
                missed=$((missed + 1))
        else
                echo "caught:     $text"
                grep '^not ok' <<<"$out" | sed 's/^/              /'
        fi
done
cp "$WORK/nft-json.c.orig" "$WORK/src/$FILE"
echo "$((${#RULES[@]} - missed)) of ${#RULES[@]} rules caught"
[ $missed -eq 0 ]
