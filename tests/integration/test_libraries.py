# SPDX-License-Identifier: LGPL-2.1-or-later
"""The optional libraries (docs/hardening.md, "Memory"): libvirt (with libxml2), libcurl and
libmicrohttpd are loaded at start only when the configuration asks for the libvirt inventory,
a cluster or the cluster's CA, and a missing one stops the service with a message naming it. A missing library is made by
hiding the installed one behind /dev/null in a private mount namespace of the service."""

import subprocess

from harness import eq, testcase

LIBVIRT, LIBXML2, LIBCURL, LIBMHD = "libvirt.so.0", "libxml2.so.2", "libcurl.so.4", "libmicrohttpd.so.12"
UNREACHABLE_LIBVIRT = {"provider": "libvirt", "uri": "qemu+unix:///system?socket=/nonexistent"}


def _mapped(h):
    """The sonames of the optional libraries the running service maps."""
    with open(f"/proc/{h.service_proc.pid}/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    return sorted(so for so in (LIBVIRT, LIBXML2, LIBCURL, LIBMHD)
                  if any(p.rsplit("/", 1)[-1].startswith(so.split(".so")[0] + ".so") for p in paths))


def _installed(soname):
    """Where the dynamic loader finds soname (ld.so.cache)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths = [line.split(" => ")[1].strip() for line in out.splitlines()
             if line.strip().startswith(soname + " ") and "x86-64" in line]
    if not paths:
        raise AssertionError(f"{soname} is not installed: the build needs it")
    return paths


def _start_without(h, soname, *log_texts):
    """Starts the service with soname hidden; it must exit non-zero, its log saying log_texts."""
    argv = h.service_argv
    hide = " && ".join(f"mount --bind /dev/null {p}" for p in _installed(soname))
    h.service_argv = lambda args=(): ["unshare", "--mount", "--propagation", "private", "--",
                                      "sh", "-c", hide + ' && exec "$@"', "sh", *argv(args)]
    log_before = len(h.service_log())
    try:
        h.start_service(wait_ready=False)
        rc = h.wait_service_exit()
    finally:
        h.service_argv = argv
    log = h.service_log()[log_before:]
    if rc == 0:
        raise AssertionError(f"the service started without {soname}:\n{log}")
    for text in log_texts:
        if text not in log:
            raise AssertionError(f"the log does not say {text!r}:\n{log}")


@testcase()
def test_optional_libraries_not_mapped(h):
    """The default configuration (manual inventory, standalone) maps none of them; the libvirt
    inventory maps libvirt and libxml2 (and neither libcurl nor libmicrohttpd) as soon as the
    service is ready."""
    eq(_mapped(h), [], "optional libraries mapped with the default configuration")
    h.stop_service()
    h.write_config(inventory=UNREACHABLE_LIBVIRT)
    h.start_service()
    eq(_mapped(h), [LIBVIRT, LIBXML2], "optional libraries mapped with the libvirt inventory")


@testcase()
def test_missing_libvirt_refused(h):
    """The libvirt inventory without libvirt installed: the service does not start."""
    h.stop_service()
    h.write_config(inventory=UNREACHABLE_LIBVIRT)
    _start_without(h, LIBVIRT, f"{LIBVIRT} is not installed",
                   f"The libvirt inventory provider needs {LIBVIRT} and {LIBXML2}.")
    h.write_config()
    h.start_service()


@testcase()
def test_missing_libcurl_refused(h):
    """Cluster mode without libcurl installed: the service does not start."""
    h.stop_service()
    h.write_config(serverName="node1", cluster={"endpoints": ["http://127.0.0.1:9"]})
    _start_without(h, LIBCURL, f"{LIBCURL} is not installed", f"Cluster mode needs {LIBCURL}.")
    h.write_config()
    h.start_service()
