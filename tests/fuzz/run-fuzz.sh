#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fuzzes every target of a libFuzzer build (`make fuzz` sets that build up) for SECONDS each,
# one after the other, and prints executions, coverage and findings per target.
#
#   tests/fuzz/run-fuzz.sh BUILDDIR SECONDS [TARGET...]
#
# Each target starts from its seed corpus (tests/fuzz/corpus/<t>, read only) plus the inputs
# earlier runs found (BUILDDIR/fuzz-corpus/<t>, where new ones are written). A crash, leak,
# timeout or violated property is saved as tests/fuzz/corpus/<t>/crash-* (leak-*, timeout-*,
# ...), where `meson test --suite fuzz` then replays it as a regression input. Exit status:
# 0 when no target found anything.

set -u
builddir=${1:?usage: run-fuzz.sh BUILDDIR SECONDS [TARGET...]}
seconds=${2:?usage: run-fuzz.sh BUILDDIR SECONDS [TARGET...]}
shift 2
srcdir=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "$builddir" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
        for f in "$builddir"/tests/fuzz/fuzz-*; do
                [ -x "$f" ] && [ -f "$f" ] && targets+=("$(basename "$f")")
        done
fi
if [ ${#targets[@]} -eq 0 ]; then
        echo "no fuzz targets in $builddir/tests/fuzz (build them: meson compile -C $builddir fuzz-targets)" >&2
        exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
# GLib's slice allocator hides what leaks through it (json-glib's nodes) from LeakSanitizer:
# plain malloc, as in the service's unit.
export G_SLICE=always-malloc
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

logdir="$builddir/fuzz-logs"
mkdir -p "$logdir"
summary=()
failed=0
for t in "${targets[@]}"; do
        name=${t#fuzz-}
        seeds="$srcdir/corpus/$name"
        work="$builddir/fuzz-corpus/$name"
        log="$logdir/$t.log"
        mkdir -p "$work" "$seeds"
        echo "=== $t: ${seconds}s (log: $log)"
        before=$(ls "$seeds" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-')
        "$builddir/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
                -print_final_stats=1 -artifact_prefix="$seeds/" "$work" "$seeds" >"$log" 2>&1
        rc=$?
        after=$(ls "$seeds" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-')
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
        corp=$(ls "$work" | wc -l)
        status=ok
        if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
                status="FOUND (exit $rc): $(ls -t "$seeds" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | head -1)"
                failed=1
                echo "--- $t: finding; the stack:"
                grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9]+ |.*fuzz property violated|.*runtime error)' "$log" | head -40
        fi
        summary+=("$(printf '%-22s %12s %8s/s  %-22s %6s  %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$corp" "$status")")
done

echo
printf '%-22s %12s %10s  %-22s %6s  %s\n' target executions rate coverage corpus result
for l in "${summary[@]}"; do
        echo "$l"
done
exit $failed
