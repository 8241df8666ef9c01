# SPDX-License-Identifier: LGPL-2.1-or-later
"""`systemd-analyze security --offline=true` on a unit file: its overall exposure. For the checks of
the units' sandboxing (faults: security-scores, frontends: units-verify)."""

import os
import re
import subprocess

ENV = dict(os.environ, SYSTEMD_LOG_LEVEL="notice", SYSTEMD_PAGER="", SYSTEMD_COLORS="0", LANG="C.UTF-8")


def exposure(unit_dir, name):
    """(value, rating) of the unit name in unit_dir, e.g. (1.7, "OK"); AssertionError when
    systemd-analyze reports none."""
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", name], cwd=unit_dir,
                       capture_output=True, text=True, env=ENV, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", p.stdout + p.stderr)
    if not m:
        raise AssertionError(f"no exposure for {name}: {p.stdout}{p.stderr}")
    return float(m.group(1)), m.group(2)
