#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`systemd-analyze security --offline=true` on every service unit the build configures;
fails when a unit's exposure is above the value recorded in data/security-scores.txt, when its
rating is worse than the recorded one, when a frontend is rated worse than OK, or when a unit
has no recorded value. A copy of the HTTP frontend's unit without its sandboxing must score
worse (the check can fail). Usage: test_security_scores.py SRCDIR BUILDDIR. Exit 0 pass,
1 fail, 77 skip."""

import glob
import os
import shutil
import sys
import tempfile

from unit_security import exposure

# systemd 252's names for exposure bands (src/analyze/analyze-security.c), best first.
RATINGS = ["PERFECT", "SAFE", "OK", "MEDIUM", "EXPOSED", "UNSAFE", "DANGEROUS"]
FRONTENDS = ("azshci-imds.service", "azshci-vsock.service")


def recorded(path):
    scores = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if len(line) != 3 or line[2] not in RATINGS:
                raise SystemExit(f"FAIL: {path}: bad line {' '.join(line)!r}")
            scores[line[0]] = (float(line[1]), line[2])
    return scores


def main():
    src, build = (os.path.abspath(a) for a in sys.argv[1:3])
    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze is missing (package systemd)")
        return 77
    scores = recorded(os.path.join(src, "data", "security-scores.txt"))
    units = sorted(os.path.basename(u) for u in glob.glob(os.path.join(build, "data", "*.service")))
    failed = False
    for need in ("azshci-attestd.service",) + FRONTENDS:
        if need not in units:
            print(f"FAIL: {need} was not configured")
            failed = True
    for name in units:
        value, rating = exposure(os.path.join(build, "data"), name)
        if name not in scores:
            print(f"FAIL: {name}: exposure {value} {rating}, but no value recorded in data/security-scores.txt")
            failed = True
            continue
        max_value, max_rating = scores[name]
        problems = []
        if value > max_value + 1e-9:
            problems.append(f"exposure {value} is worse than the recorded {max_value}")
        if RATINGS.index(rating) > RATINGS.index(max_rating):
            problems.append(f"rating {rating} is worse than the recorded {max_rating}")
        if name in FRONTENDS and RATINGS.index(rating) > RATINGS.index("OK"):
            problems.append(f"a frontend must be rated OK or better, not {rating}")
        if problems:
            print(f"FAIL: {name}: " + "; ".join(problems))
            failed = True
        else:
            better = f" (better than the recorded {max_value}: lower it)" if value < max_value - 1e-9 else ""
            print(f"ok: {name}: {value} {rating} (recorded {max_value} {max_rating}){better}")

    # Negative control: without its sandboxing the same unit must score worse.
    with tempfile.TemporaryDirectory(prefix="azshci-security-") as tmp:
        with open(os.path.join(build, "data", "azshci-imds.service")) as f:
            text = f.read()
        head, _, _ = text.partition("CapabilityBoundingSet=")
        with open(os.path.join(tmp, "azshci-imds.service"), "w") as f:
            f.write(head)
        value, rating = exposure(tmp, "azshci-imds.service")
        if value <= scores.get("azshci-imds.service", (0.0, ""))[0]:
            print(f"FAIL: an unsandboxed copy scores {value} {rating}: the check proves nothing")
            failed = True
        else:
            print(f"ok: an unsandboxed copy of azshci-imds.service scores {value} {rating}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
