# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the fault tests: a guest-namespace client driven over a pipe (netns_client.py),
a second guest with its own subnet, a tmpfs state directory, a service whose log lines carry
their syslog level (so a test can assert "no warning or error"), and the service under valgrind
memcheck (tests/faults and tests/libvirt)."""

import glob
import json
import os
import pwd
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading

import harness
from harness import SERVICE_USER, HarnessError, Skip
from frontend import Guest

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = "/metadata/attested/document"
B_UNREACHABLE = '{"error":"Service unavailable: the attestation service is not reachable, retry later"}'


class NetnsClient:
    """netns_client.py MODE ARGS... inside guest's namespace; one JSON object per line."""

    _n = 0

    def __init__(self, h, guest, *args):
        NetnsClient._n += 1
        self.log_path = os.path.join(h.tmp, f"netns-client-{NetnsClient._n}.log")
        self._log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", guest.ns, sys.executable, os.path.join(HERE, "netns_client.py"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self._q = queue.Queue()
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()

    def _reader(self):
        for line in self.proc.stdout:
            self._q.put(line)
        self._q.put(None)

    def read(self, timeout=harness.DEFAULT_TIMEOUT):
        try:
            line = self._q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"netns client: no answer within {timeout}s; log: {self.errors()}")
        if line is None:
            raise AssertionError(f"netns client exited ({self.proc.poll()}): {self.errors()}")
        return json.loads(line)

    def status(self, timeout=harness.DEFAULT_TIMEOUT):
        self.proc.stdin.write("status\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def errors(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def other_guest(env, first, tag):
    """A second guest namespace whose subnet differs from first's (Guest picks it at random),
    with a host route to first's host address, so that it reaches a frontend listening there."""
    for _ in range(20):
        g = Guest(tag)
        if g.host_ip != first.host_ip:
            env.guests.append(g)
            subprocess.run(["ip", "-n", g.ns, "route", "add", f"{first.host_ip}/32", "dev", g.guest_if],
                           check=True, capture_output=True)
            return g
        g.close()
    raise HarnessError("no free subnet for a second guest")


def frontend_pid(f):
    """The frontend's pid: systemd-socket-activate execs setpriv, which execs the frontend."""
    return f.proc.pid


def poll_until(what, fn, timeout, interval=0.1):
    """Calls fn() until it returns a true value (returned); fails after timeout seconds."""
    for _ in harness.deadline_loop(timeout, what, interval):
        v = fn()
        if v:
            return v


class TmpfsStateDir:
    """The service's state directory on a tmpfs of its own (size in KiB), unmounted in
    close(). Must be set up before the first write_config()/start_service()."""

    def __init__(self, h, size_kib=1024):
        self.path = h.state_dir
        os.makedirs(self.path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "azshci-faults", self.path],
                       check=True, capture_output=True)
        self.mounted = True

    def fill(self):
        """Fills the file system as root (tmpfs limits root too); returns the filler's path."""
        path = os.path.join(self.path, "zz-filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        chunk = b"\0" * 4096
        try:
            while True:
                os.write(fd, chunk)
        except OSError as e:
            if e.errno != 28:   # ENOSPC
                raise
        # The last partial page too.
        try:
            while True:
                os.write(fd, b"\0")
        except OSError as e:
            if e.errno != 28:
                raise
        finally:
            os.close(fd)
        st = os.statvfs(self.path)
        if st.f_bavail != 0:
            raise HarnessError(f"the tmpfs still has {st.f_bavail} free blocks")
        return path

    def remount(self, opt):
        subprocess.run(["mount", "-o", f"remount,{opt}", self.path], check=True, capture_output=True)

    def close(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.path], capture_output=True)
            self.mounted = False


def use_leveled_log(h):
    """start_service() then runs the service with JOURNAL_STREAM set (through a wrapper that
    execs it: same pid), so that each log line starts with <LEVEL> as in the journal."""
    wrapper = os.path.join(h.tmp, "attestd-leveled-log")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nJOURNAL_STREAM=8:0 exec {h.service_bin} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    h.service_bin = wrapper


def log_problems(text, allowed=()):
    """Lines at warning level or worse (<0>..<4>) that match none of the allowed regexes."""
    out = []
    for line in text.splitlines():
        m = re.match(r"<([0-7])>", line)
        if m and int(m.group(1)) <= 4 and not any(re.search(a, line) for a in allowed):
            out.append(line)
    return out


# ---------------------------------------------------------------- valgrind memcheck

VALGRIND_EXIT = 99


def _is_sanitizer_build(path):
    with open(path, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__ubsan_handle" in data


def use_valgrind(h):
    """Makes start_service() run azshci-attestd under memcheck, through a wrapper that execs
    valgrind (same pid: the harness's signals reach it) with logs in a directory the service
    user can write."""
    valgrind = shutil.which("valgrind")
    if not valgrind:
        raise Skip("valgrind is missing (Debian package valgrind)")
    real = os.path.join(h.builddir, "service", "azshci-attestd")
    if _is_sanitizer_build(real):
        raise Skip("azshci-attestd is built with sanitizers: valgrind runs on the normal build")
    logdir = os.path.join(h.tmp, "valgrind")
    os.makedirs(logdir)
    pw = pwd.getpwnam(SERVICE_USER)
    os.chown(logdir, pw.pw_uid, pw.pw_gid)
    wrapper = os.path.join(h.tmp, "attestd-valgrind")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                f"exec {valgrind} --tool=memcheck --leak-check=full --show-leak-kinds=definite "
                f"--errors-for-leak-kinds=definite --error-exitcode={VALGRIND_EXIT} --num-callers=40 "
                f"--track-origins=yes --log-file={logdir}/memcheck.%p.log {real} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    h.service_bin = wrapper
    return logdir


def check_valgrind_logs(logdir):
    logs = sorted(glob.glob(os.path.join(logdir, "memcheck.*.log")))
    if not logs:
        raise AssertionError("valgrind wrote no log")
    problems = []
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        m = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
        lost = re.search(r"definitely lost: ([\d,]+) bytes", text)
        errors = int(m.group(1).replace(",", "")) if m else None
        lost_bytes = int(lost.group(1).replace(",", "")) if lost else 0
        print(f"{os.path.basename(path)}: errors={errors} definitely-lost={lost_bytes} bytes")
        if errors is None or errors > 0 or lost_bytes > 0:
            problems.append(f"----- {path}\n{text}")
    if problems:
        raise AssertionError("valgrind memcheck found problems:\n" + "\n".join(problems))


def stop_under_valgrind(h, timeout=180):
    """SIGTERM, and time for valgrind's leak check (the harness's own stop waits 10 s)."""
    proc = h.service_proc
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the service under valgrind did not exit {timeout}s after SIGTERM")
    h.service_proc = None
    h.service_exits.append(rc)
    return rc
