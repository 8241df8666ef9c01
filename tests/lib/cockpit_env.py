# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page's world: the integration harness (private system bus with the project's
policy, the real polkitd, the real azshci-attestd), the real Cockpit web server and bridge
from Debian on that bus, and a real headless Chromium driven over the DevTools protocol.

    world = CockpitWorld(srcdir, builddir, name)     # root only
    world.start()                                    # bus, polkitd, service (synced)
    world.start_cockpit(user=None)                   # cockpit-ws + bridge as root (or a user)
    page = world.open_page()                         # Chromium on .../azshci/index.html
    page.wait("document.querySelectorAll('#vms-table tbody tr').length === 11")
    world.close(failed)

What the Cockpit session needs on a private bus (found here, Cockpit 287):
  - `cockpit-ws --no-tls --local-session=/usr/bin/cockpit-bridge --port P --address
    127.0.0.1` starts one bridge per browser session as the user cockpit-ws runs as; the
    bridge inherits DBUS_SYSTEM_BUS_ADDRESS (the harness's bus) and finds packages in
    $XDG_DATA_DIRS/cockpit/<pkg>/manifest.json, read once at its start.
  - The page is opened directly at /cockpit/@localhost/azshci/index.html. The shell at /
    waits for host services (systemd, hostnamed, ...) that a private bus does not have and
    stays on its loading bar.
  - The bus must answer: the harness's bus takes the host's system.conf policies (with their
    receive rules); a hand-written policy without them makes every cockpit.dbus call time out.
  - As a non-root user the bridge wants a writable HOME and XDG_RUNTIME_DIR: both are made
    in the test's directory and owned by that user.

Python 3 standard library plus python3-websocket (Debian package) for the DevTools socket.
"""

import base64
import json
import os
import pwd
import shutil
import subprocess
import time
import urllib.request

import harness
from harness import DEFAULT_TIMEOUT, HarnessError, Skip, deadline_loop, free_tcp_port, wait_tcp_listening

COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"
COCKPIT_BRIDGE = "/usr/bin/cockpit-bridge"
CHROMIUM = "/usr/bin/chromium"
PACKAGE = "azshci"
PACKAGE_SRC = ("client", "cockpit")
PAGE_TIMEOUT = 30.0   # seconds a page may take to show something (2 loaded cores)


def check_environment():
    harness.Harness.check_environment()
    missing = [p for p, pkg in ((COCKPIT_WS, "cockpit-ws"), (COCKPIT_BRIDGE, "cockpit-bridge"),
                                (CHROMIUM, "chromium")) if not os.access(p, os.X_OK)]
    try:
        import websocket  # noqa: F401
    except ImportError:
        missing.append("python3-websocket")
    if missing:
        # The suite is registered by `make check`, which installs these: a missing one is a
        # broken setup, not a reason to skip.
        raise HarnessError("missing: " + ", ".join(missing) + " (make deps installs cockpit-ws, "
                           "cockpit-bridge, chromium, python3-websocket)")


class DevTools:
    """A minimal Chrome DevTools Protocol client over one target's websocket: send() waits for
    the answer with the same id; events are kept (and logged) for who wants them."""

    def __init__(self, ws_url, log_path):
        import websocket
        self.ws = websocket.create_connection(ws_url, timeout=DEFAULT_TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.log = open(log_path, "a")

    def send(self, method, timeout=DEFAULT_TIMEOUT, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise HarnessError(f"DevTools: no answer to {method} within {timeout:.0f}s")
            self.ws.settimeout(left)
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise HarnessError(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
                self._log_event(msg)

    def _log_event(self, msg):
        p = msg.get("params", {})
        if msg["method"] == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.log.write(f"console.{p.get('type')}: {text}\n")
        elif msg["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.log.write(f"exception: {d.get('exception', {}).get('description', d.get('text'))}\n")
        elif msg["method"] == "Log.entryAdded":
            e = p.get("entry", {})
            self.log.write(f"log {e.get('level')}: {e.get('text')} {e.get('url', '')}\n")
        self.log.flush()

    def close(self):
        try:
            self.ws.close()
        finally:
            self.log.close()


class Page:
    """The page in Chromium: evaluate JavaScript, wait for a condition (polling the DOM with a
    deadline: the page itself is driven by bus signals, the test only looks), click, shoot."""

    def __init__(self, devtools):
        self.dt = devtools

    def js(self, expr):
        r = self.dt.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise AssertionError(f"JavaScript failed: {expr}\n{d.get('exception', {}).get('description', d)}")
        return r["result"].get("value")

    def wait(self, expr, what=None, timeout=PAGE_TIMEOUT):
        """Polls expr until it is truthy; returns its value."""
        last = None
        try:
            for _ in deadline_loop(timeout, what or expr, 0.05):
                last = self.js(expr)
                if last:
                    return last
        except HarnessError as e:
            raise AssertionError(f"{e} (last value {last!r})")

    def click(self, selector):
        """A real mouse click (pressed and released by the browser's input pipeline) at the
        element's centre, after scrolling it into view."""
        box = self.js(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return null;
            el.scrollIntoView({{block: "center"}});
            const r = el.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height];
        }})()""")
        if not box:
            raise AssertionError(f"nothing to click: {selector}")
        x, y, w, h = box
        if w == 0 or h == 0:
            raise AssertionError(f"{selector} is not visible")
        for kind in ("mousePressed", "mouseReleased"):
            self.dt.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type_text(self, selector, text):
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.dt.send("Input.insertText", text=text)

    def color_scheme(self, dark):
        """The browser prefers a dark (or light) colour scheme; returns once the page follows."""
        self.dt.send("Emulation.setEmulatedMedia", features=[
            {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}])
        want = "true" if dark else "false"
        self.wait(f"document.documentElement.classList.contains('pf-v5-theme-dark') === {want}",
                  "the page to follow prefers-color-scheme")

    def screenshot(self, path, dark=False):
        self.color_scheme(dark)
        # The whole page at 1280 pixels wide, down to the end of its content.
        self.dt.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1,
                     mobile=False)
        height = self.js("Math.ceil(document.getElementById('app').getBoundingClientRect().bottom + window.scrollY)")
        data = self.dt.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})["data"]
        self.dt.send("Emulation.clearDeviceMetricsOverride")
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path


class CockpitWs:
    """cockpit-ws with a local session on a harness's bus, serving the package from the
    source tree (staged under the harness's tmp, as meson installs it). Also `make demo`'s."""

    def __init__(self, h):
        self.h = h
        self.proc = None
        self.session_bus = None
        self.port = None
        self.log_path = os.path.join(h.tmp, "cockpit-ws.log")

    def stage_package(self, extra=None):
        """The package as meson installs it (client/cockpit minus meson.build) under
        tmp/xdg/cockpit/azshci, for XDG_DATA_DIRS; extra: {file name: text} to add."""
        src = os.path.join(self.h.srcdir, *PACKAGE_SRC)
        xdg = os.path.join(self.h.tmp, "xdg")
        dst = os.path.join(xdg, "cockpit", PACKAGE)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("meson.build"))
        for name, text in (extra or {}).items():
            with open(os.path.join(dst, name), "w") as f:
                f.write(text)
        for root, dirs, files in os.walk(xdg):
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        return xdg

    def start(self, user=None, address="127.0.0.1", port=None, stage_extra=None):
        """The bridge runs as the user cockpit-ws runs as (root, or user through setpriv)."""
        xdg = self.stage_package(stage_extra)
        home = os.path.join(self.h.tmp, "home")
        runtime = os.path.join(self.h.tmp, "runtime")
        for d, mode in ((home, 0o755), (runtime, 0o700)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, mode)
            if user:
                pw = pwd.getpwnam(user)
                os.chown(d, pw.pw_uid, pw.pw_gid)
        self.address = address
        self.port = port or free_tcp_port()
        # The bridge wants a session bus and, finding none, starts its own dbus-daemon, which
        # outlives cockpit-ws (reparented to init: one leaked daemon and inotify instance per
        # test). The harness starts it instead, as the same user, and stops it in stop().
        session_address = f"unix:path={runtime}/bus"
        self.session_bus = subprocess.Popen(
            self.h.user_prefix(user) + ["dbus-daemon", "--session", "--nofork", "--nosyslog",
                                        f"--address={session_address}", "--print-address"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            cwd="/", text=True)
        if not self.session_bus.stdout.readline():  # printed once it listens
            raise AssertionError("the session dbus-daemon for the Cockpit bridge did not start")
        env = self.h.client_env({"XDG_DATA_DIRS": f"{xdg}:/usr/share", "HOME": home,
                                 "XDG_RUNTIME_DIR": runtime, "USER": user or "root",
                                 "DBUS_SESSION_BUS_ADDRESS": session_address})
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            self.h.user_prefix(user) + [COCKPIT_WS, "--no-tls", f"--local-session={COCKPIT_BRIDGE}",
                                        "--port", str(self.port), "--address", address],
            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd="/")
        log.close()
        wait_tcp_listening(self.port, self.proc, "cockpit-ws")
        return self

    def url(self):
        return f"http://{self.address}:{self.port}/cockpit/@localhost/{PACKAGE}/index.html"

    def stop(self):
        if self.proc:
            harness.Harness._terminate(self.proc)
            self.proc = None
        if self.session_bus:
            harness.Harness._terminate(self.session_bus)
            self.session_bus.stdout.close()
            self.session_bus = None


class CockpitWorld:
    """A Harness plus cockpit-ws and Chromium; start()/close(failed) for the shared runner."""

    def __init__(self, srcdir, builddir, name="cockpit", verbose=False):
        self.h = harness.Harness(srcdir, builddir, name, verbose=verbose)
        self.name = name
        self.ws = None
        self.browser_proc = None
        self.devtools = None

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        check_environment()
        self.h.setup()

    def close(self, failed=False):
        if self.devtools:
            self.devtools.close()
            self.devtools = None
        if self.browser_proc:
            harness.Harness._terminate(self.browser_proc)
            self.browser_proc = None
        if self.ws:
            self.ws.stop()
        if failed and self.h.tmp:
            for name in ("cockpit-ws.log", "browser.log", "page.log"):
                path = os.path.join(self.h.tmp, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print(f"----- {name} -----\n{f.read().rstrip() or '(empty)'}")
        if self.h.tmp:
            self.h.teardown(failed=failed)

    def check_page_log(self):
        """The page threw no uncaught exception and the browser logged no error (a CSP
        refusal, a file that did not load) during the test."""
        path = os.path.join(self.h.tmp, "page.log")
        with open(path, errors="replace") as f:
            bad = [line for line in f if line.startswith(("exception:", "log error:", "console.error:"))]
        if bad:
            raise AssertionError("the page reported errors:\n" + "".join(bad))

    def start_cockpit(self, user=None, stage_extra=None):
        self.ws = CockpitWs(self.h).start(user=user, stage_extra=stage_extra)

    def page_url(self):
        return self.ws.url()

    def start_browser(self):
        profile = os.path.join(self.h.tmp, "chromium")
        os.makedirs(profile)
        self.downloads = os.path.join(self.h.tmp, "downloads")
        os.makedirs(self.downloads)
        log = open(os.path.join(self.h.tmp, "browser.log"), "a")
        self.browser_proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,900",
             "about:blank"],
            env={"PATH": "/usr/bin:/bin", "HOME": profile, "LANG": "C.UTF-8"},
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd="/")
        log.close()
        # Chromium writes its port to DevToolsActivePort once it listens.
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in deadline_loop(PAGE_TIMEOUT, "Chromium's DevToolsActivePort"):
            if self.browser_proc.poll() is not None:
                raise HarnessError(f"chromium exited with {self.browser_proc.returncode}: see browser.log")
            if os.path.exists(port_file):
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].isdigit():
                    dt_port = int(lines[0])
                    break
        for _ in deadline_loop(PAGE_TIMEOUT, "Chromium's page target"):
            with urllib.request.urlopen(f"http://127.0.0.1:{dt_port}/json/list", timeout=5) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            if targets:
                break
        self.devtools = DevTools(targets[0]["webSocketDebuggerUrl"], os.path.join(self.h.tmp, "page.log"))
        for domain in ("Page", "Runtime", "Log"):
            self.devtools.send(f"{domain}.enable")
        self.devtools.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=self.downloads)
        self.devtools.send("Emulation.setEmulatedMedia", features=[
            {"name": "prefers-color-scheme", "value": "light"}])

    def open_page(self):
        """Chromium (started once) on the page; returns once the page shows the service's
        state (the ObjectManager answered)."""
        if not self.devtools:
            self.start_browser()
        self.devtools.send("Page.navigate", url=self.page_url())
        page = Page(self.devtools)
        page.wait("document.readyState === 'complete' && "
                  "document.getElementById('app').getAttribute('aria-busy') === 'false'",
                  "the page to load the service's state")
        return page

    def screenshot_dir(self):
        d = os.path.join(self.h.builddir, "tests", "cockpit", "screenshots")
        os.makedirs(d, exist_ok=True)
        return d
