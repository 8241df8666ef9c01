#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make bench`: the benchmark table (docs/hardening.md). Needs root (a private bus, polkitd and
# the real service through tests/lib/harness.py, network namespaces for the HTTP
# guests) and a built tree.
#
#   bench/run.sh BUILDDIR [--seconds S] [--keys rsa-2048,ecdsa-p256] [--scale-vms N] [--http-vms N]
#                [--open-seconds S]
#
# The programs come from BUILDDIR/bench (when the build includes bench/), else they are compiled
# here from the build's static libraries into BUILDDIR/bench-standalone.
set -euo pipefail
builddir=${1:?usage: bench/run.sh BUILDDIR [options]}
shift
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "$builddir" && pwd)

bindir="$builddir/bench"
if [ ! -x "$bindir/bench-sign" ] || [ ! -x "$bindir/bench-bus" ] || [ ! -x "$bindir/bench-http" ] ||
        [ ! -x "$bindir/bench-static" ]; then
        bindir="$builddir/bench-standalone"
        mkdir -p "$bindir"
        libs=(service/libazshci-attest.a service/libazshci-document.a service/libazshci-core.a
                service/libazshci-basic.a)
        ninja -C "$builddir" "${libs[@]}" >/dev/null
        libs=("${libs[@]/#/$builddir/}")
        cflags=(-O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -I"$builddir")
        for d in basic shared attestd attestd/issuers; do cflags+=(-I"$srcdir/service/$d"); done
        pc=$(pkg-config --cflags --libs libsystemd openssl json-glib-1.0)
        # shellcheck disable=SC2086
        cc "${cflags[@]}" "$srcdir/bench/bench-sign.c" "${libs[@]}" $pc -pthread -o "$bindir/bench-sign"
        # shellcheck disable=SC2086
        cc "${cflags[@]}" "$srcdir/bench/bench-bus.c" $pc -o "$bindir/bench-bus"
        # shellcheck disable=SC2086
        cc "${cflags[@]}" "$srcdir/bench/bench-http.c" $pc -o "$bindir/bench-http"
        # shellcheck disable=SC2086
        cc "${cflags[@]}" "$srcdir/bench/bench-static.c" $(pkg-config --cflags --libs libmicrohttpd) -pthread \
                -o "$bindir/bench-static"
fi

python3 "$srcdir/bench/bench.py" --srcdir "$srcdir" --builddir "$builddir" --bindir "$bindir" "$@"
# The libvirt inventory: 1,000 defined domains reconciled at start (docs/libvirt.md).
exec python3 "$srcdir/bench/bench-libvirt.py" --srcdir "$srcdir" --builddir "$builddir" --domains 1000
