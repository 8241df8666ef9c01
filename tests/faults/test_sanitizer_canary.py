# SPDX-License-Identifier: LGPL-2.1-or-later
"""Proves that the sanitizer build (.ci/sanitizers) makes memory errors visible in processes
started the way the harness starts the daemon: as the service user through setpriv, with a
clean environment (no ASAN_OPTIONS). tests/faults/sanitizer-canary makes a leak, a heap
overflow and a signed overflow; each must end the process with a non-zero status and leave a
report where .ci/sanitizers looks. The reports it caused are removed afterwards (they are
expected). Skipped in builds without sanitizers."""

import glob
import os
import re
import subprocess

from harness import SERVICE_USER, Harness, Skip, eq, testcase


def _canary(h):
    path = os.path.join(h.builddir, "tests", "faults", "sanitizer-canary")
    if not os.access(path, os.X_OK):
        raise Skip(f"{path} is not built")
    return path


def _run_as_service_user(h, argv):
    # Exactly how start_service() runs the daemon: setpriv, a minimal environment.
    return subprocess.run(["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups", "--",
                           *argv], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
                          capture_output=True, text=True, timeout=60, cwd="/")


@testcase(start_service=False)
def test_sanitizer_canary(h):
    canary = _canary(h)
    info = _run_as_service_user(h, [canary, "info"])
    eq(info.returncode, 0, "canary info")
    if "asan=1" not in info.stdout:
        raise Skip("not a sanitizer build (see .ci/sanitizers)")
    m = re.search(r"log_path=([^:\s]+)", info.stdout)
    if not m:
        raise AssertionError(f"no log_path in the linked sanitizer options: {info.stdout!r}")
    prefix = m.group(1)   # <dir>/asan: reports are <dir>/asan.<exe>.<pid>
    report_dir = os.path.dirname(prefix)

    eq(_run_as_service_user(h, [canary, "ok"]).returncode, 0, "canary ok")
    for what, kind, text in (("leak", "asan", "detected memory leaks"),
                             ("overflow", "asan", "heap-buffer-overflow"),
                             ("ubsan", "ubsan", "signed integer overflow")):
        before = set(glob.glob(os.path.join(report_dir, f"{kind}.sanitizer-canary.*")))
        p = _run_as_service_user(h, [canary, what])
        after = set(glob.glob(os.path.join(report_dir, f"{kind}.sanitizer-canary.*")))
        new = sorted(after - before)
        try:
            if p.returncode == 0:
                raise AssertionError(f"canary {what}: exited 0 under the sanitizers (stdout {p.stdout!r})")
            if new:
                with open(new[0], errors="replace") as f:
                    report, where = f.read(), os.path.basename(new[0])
            elif kind == "ubsan":
                # gcc's UBSAN runtime (next to ASAN) keeps writing to stderr: for the daemon
                # that is service.log, which the harness prints when the test fails.
                report, where = p.stderr, "stderr"
            else:
                raise AssertionError(f"canary {what}: exit {p.returncode} but no {kind} report in {report_dir}")
            if text not in report:
                raise AssertionError(f"canary {what}: report ({where}) does not say {text!r}:\n{report}")
            print(f"canary {what}: exit {p.returncode}, report in {where} ({text})")
        finally:
            for f in new:   # expected findings: not for .ci/sanitizers to count
                os.unlink(f)
