# SPDX-License-Identifier: LGPL-2.1-or-later
"""Puts tests/lib/ (the shared test harness: harness, frontend, libvirt_env, ...) on sys.path
for the bench scripts, which import this module first: the one place bench/ names that path."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "lib"))
