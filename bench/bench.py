#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The benchmark behind `make bench` (bench/run.sh runs it; docs/hardening.md explains it).
In one run, for each key type: raw in-process signing (1 thread, all cores), Attest over the
bus from a member of azshci-frontend against the real service on a private bus
(tests/lib/harness.py), and HTTP end to end through azshci-imdsd from simulated VMs
(one network namespace, one macvlan with its own MAC and address per VM, keep-alive, a fresh
nonce per request), closed loop and then open loop at 50 % and 90 % of the closed-loop rate;
the same load client against bench-static (the transport limit). Then the scale run: 10,000
VMs registered, GetManagedObjects,
`azshcictl vms`, EnableLegacy re-evaluation, memory. Prints tables; asserts nothing about speed.
Python 3 standard library only."""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import threading
import time

import benchpath  # noqa: F401  (tests/lib on the path)

sys.dont_write_bytecode = True


def parse_kv(out):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", out)}


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakRss:
    """Samples a process's RSS every 20 ms while a load runs (VmHWM would include start-up)."""

    def __init__(self, pid, field="VmRSS", interval=0.02):
        self.pid, self.field, self.interval, self.peak, self._stop = pid, field, interval, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            v = rss_kib(self.pid, self.field)
            if v:
                self.peak = max(self.peak, v)
            time.sleep(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join()
        return self.peak


TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """CPU seconds (user + system) of each thread of pid, summed by thread name; the signing
    threads (signer-N) count as one "signers"."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        name = "signers" if comm.startswith("signer") else "main"
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def idle_seconds():
    """CPU time the whole machine spent idle (idle + iowait in /proc/stat), in seconds."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return (int(fields[4]) + int(fields[5])) / TICK


class CpuMeter:
    """Where the CPU time of one load goes: each named process (threads split into main and
    signers), the load client (this script's children), what the CPUs spent idle (/proc/stat:
    the pipeline left them nothing to do) and on anything else (other processes on a shared
    machine, softirqs run by ksoftirqd)."""

    def __init__(self, procs):
        self.procs = {name: pid for name, pid in procs.items() if pid}
        self.start = {name: thread_cpu(pid) for name, pid in self.procs.items()}
        self.children = self._children()
        self.idle = idle_seconds()
        self.wall = time.monotonic()

    @staticmethod
    def _children():
        r = os.times()
        return r.children_user + r.children_system

    def stop(self, documents):
        wall = time.monotonic() - self.wall
        used = {}
        for name, pid in self.procs.items():
            end = thread_cpu(pid)
            for part, v in end.items():
                key = name if part == "main" else f"{name} {part}"
                used[key] = v - self.start[name].get(part, 0.0)
        used["load client"] = self._children() - self.children
        idle = idle_seconds() - self.idle
        used["other"] = max(0.0, (os.cpu_count() or 1) * wall - sum(used.values()) - idle)
        used["idle"] = idle
        return {k: v * 1e6 / documents for k, v in used.items()} if documents else {}


def within(kib, limit_mib):
    return "n/a" if not kib else ("under" if kib < limit_mib * 1024 else "OVER")


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib else "n/a"


class Bench:
    def __init__(self, a):
        self.a = a
        import harness
        self.harness = harness
        try:
            import frontend
            self.frontend = frontend
        except ImportError:
            self.frontend = None
        self.rows = []
        self.cpu = []   # (key, load, {component: CPU µs per document})
        self.memory = []
        self.open_loop = []   # (key, closed-loop result, [(fraction, open-loop result)])
        self.notes = []

    def tool(self, name):
        # Absolute: the load clients run as other users (setpriv) from other directories.
        return os.path.join(os.path.abspath(self.a.bindir), name)

    def run(self, argv, **kw):
        p = subprocess.run(argv, capture_output=True, text=True, **kw)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stdout}{p.stderr}")
        return p.stdout

    # ------------------------------------------------------------------ pieces

    def evp_compare(self, key):
        """bench-sign --compare (when this bench-sign has it): per thread and CPU-second, the
        private-key operation alone on a precomputed digest (raw=), and the document path
        (document=, document_ratio=). None when bench-sign does not know --compare."""
        p = subprocess.run([self.tool("bench-sign"), "--compare", f"--key={key}", "--threads=1",
                            f"--seconds={self.a.seconds}"], capture_output=True, text=True)
        if p.returncode != 0:
            self.notes.append(f"raw EVP rate ({key}): bench-sign --compare is not available here")
            return None
        return parse_kv(p.stdout)

    def raw(self, key, threads):
        out = self.run([self.tool("bench-sign"), f"--key={key}", f"--threads={threads}",
                        f"--seconds={self.a.seconds}"])
        return parse_kv(out)

    def start_service(self, name, **config):
        h = self.harness.Harness(self.a.srcdir, self.a.builddir, name)
        h.setup(start_service=False)
        # automaticSync off + an explicit Sync: the benchmark does not depend on the timing of
        # the automatic first sync.
        h.write_config(automaticSync=False, **config)
        h.start_service(wait_sync=False)
        h.call("Sync")
        h.wait_server_state("Active")
        return h

    def bus_load(self, h, calls, n_vms, direct=False):
        """Attest from one client with many calls in flight, as the frontend user: through
        dbus-daemon, or (direct) on the service's frontend socket."""
        pid = h.service_proc.pid
        peak = PeakRss(pid)
        via = [f"--direct={h.frontend_socket}"] if direct else []
        cpu = CpuMeter({"service": pid, "dbus-daemon": None if direct else h.bus_proc.pid})
        p = h.run([self.tool("bench-bus"), "attest", f"--calls={calls}", f"--inflight={self.a.inflight}",
                   f"--peers=101:{n_vms}", *via], user=self.harness.TEST_FRONTEND_USER, timeout=900)
        res = parse_kv(p.stdout)
        self.cpu.append((h.config.get("keyType"), "Attest " + ("direct" if direct else "dbus"), cpu.stop(calls)))
        return res, peak.stop()

    @contextlib.contextmanager
    def guest_vms(self, n_vms, marks=True):
        """n_vms macvlans in one guest namespace, MACs = the registered VMs' LegacyMac; yields the
        guest and the load client's --sources. The frontend identifies a VM by the port mark of
        its connection (service/shared/legacy-mark.h); here all VMs share one veth, so (marks) a
        table of the benchmark's own marks each source address with the mark of that VM's
        LegacyInterface (vm_port(), a veth pair that only gives the name an ifindex): the
        frontend does the same work per connection as behind the legacy bridge."""
        from vmdata import vm_mac, vm_port
        g = self.frontend.Guest("b")
        ports = []
        table = f"azbench{os.getpid()}"
        try:
            net = g.host_ip.rsplit(".", 1)[0]
            batch = []
            sources = []
            for i in range(n_vms):
                ifname, ip = f"mv{i}", f"{net}.{10 + i}"
                batch += [f"link add link {g.guest_if} name {ifname} address {vm_mac(i + 1)} type macvlan mode bridge",
                          f"addr add {ip}/24 dev {ifname}", f"link set {ifname} up"]
                sources.append(f"{ip}@{ifname}")
            # Each VM answers ARP only for its own address, with its own MAC (no ARP flux
            # through the veth), so the host's neighbour table maps every address to its VM.
            for k, v in (("all.arp_ignore", "1"), ("all.arp_announce", "2"), ("default.arp_ignore", "1")):
                subprocess.run(["ip", "netns", "exec", g.ns, "sysctl", "-q", f"net.ipv4.conf.{k}={v}"], check=True)
            subprocess.run(["ip", "-n", g.ns, "-batch", "-"], input="\n".join(batch) + "\n", text=True, check=True,
                           capture_output=True)
            rules = []
            for i in range(n_vms if marks else 0):
                port = vm_port(i + 1)
                subprocess.run(["ip", "link", "add", port, "type", "veth", "peer", "name", f"{port}p"], check=True,
                               capture_output=True)
                ports.append(port)
                mark = self.frontend.MARK_TAG | self.frontend.ifindex(port)
                rules.append(f"  iifname \"{g.host_if}\" ip saddr {sources[i].split('@')[0]} meta mark set {mark:#x}")
            if rules:
                # After the guest's own marking table (priority -150), so these marks win.
                subprocess.run(["nft", "-f", "-"], check=True, capture_output=True, text=True,
                               input=f"table inet {table} {{\n chain pre {{\n"
                                     f"  type filter hook prerouting priority -140; policy accept;\n"
                                     + "\n".join(rules) + "\n }\n}\n")
            yield g, sources
        finally:
            subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
            for port in ports:
                subprocess.run(["ip", "link", "del", port], capture_output=True)
            g.close()

    def http_client(self, g, sources, requests, rate=None, any_document=False):
        p = g.run([self.tool("bench-http"), f"--target={g.host_ip}:80", f"--sources={','.join(sources)}",
                   f"--requests={requests}", *([f"--rate={rate:.0f}"] if rate else []),
                   *(["--any-document"] if any_document else [])], timeout=900)
        if p.returncode != 0:
            raise RuntimeError(f"bench-http failed: {p.stdout.decode()}{p.stderr.decode()}")
        return parse_kv(p.stdout.decode())

    def http_available(self):
        if self.frontend is None:
            self.notes.append("HTTP: tests/lib/frontend.py is missing; skipped")
            return False
        if not os.access(os.path.join(self.a.builddir, "service", "azshci-imdsd"), os.X_OK):
            self.notes.append("HTTP: azshci-imdsd is not built; skipped")
            return False
        return True

    def http_load(self, h, calls, n_vms, via_bus=False, open_loop=()):
        """HTTP end to end from n_vms simulated VMs (guest_vms()), closed loop; then, for each
        fraction in open_loop, at that fraction of the closed-loop rate (open loop, bench-http
        --rate). The frontend asks the service on its direct socket, or (via_bus) through
        dbus-daemon."""
        if not self.http_available():
            return None
        with self.guest_vms(n_vms) as (g, sources):
            h.call("EnableLegacy", "b", True)   # also gives every existing VM legacy access
            # --rate=0: the per-VM limit is off, so the pipeline, not the limit, is measured
            # (with the default 5/s a run at 1,000 documents/s needs 200+ simulated VMs).
            fe = self.frontend.Frontend(h, f"{g.host_ip}:80",
                                        args=["--log-level=info", "--rate=0", "--max-connections-per-ip=0",
                                              *(["--service-socket="] if via_bus else []),
                                              *self.a.frontend_args.split()])
            try:
                # The first connection execs the frontend (socket activation): warm up.
                warm = g.run([self.tool("bench-http"), f"--target={g.host_ip}:80", f"--sources={sources[0]}",
                              "--requests=3"], timeout=60)
                if warm.returncode != 0:
                    raise RuntimeError(f"HTTP warm-up failed: {warm.stdout}{warm.stderr}\n{fe.log()}")
                fe_pid = fe.proc.pid
                fe_idle = rss_kib(fe_pid)
                svc_peak = PeakRss(h.service_proc.pid)
                fe_peak = PeakRss(fe_pid)
                cpu = CpuMeter({"service": h.service_proc.pid, "frontend": fe_pid,
                                "dbus-daemon": h.bus_proc.pid if via_bus else None})
                res = self.http_client(g, sources, calls)
                self.cpu.append((h.config.get("keyType"), "HTTP " + ("dbus" if via_bus else "direct"), cpu.stop(calls)))
                opened = []
                for fraction in open_loop:
                    rate = float(res["rate"]) * fraction
                    print(f"--- {h.config.get('keyType')}: HTTP open loop at {fraction:.0%} of {float(res['rate']):.0f}/s "
                          f"({rate:.0f}/s for {self.a.open_seconds:g} s)", flush=True)
                    opened.append((fraction, self.http_client(g, sources, max(int(rate * self.a.open_seconds), 100),
                                                              rate=rate)))
                svc, fpk = svc_peak.stop(), fe_peak.stop()
                return res, fe_idle, fpk, svc, opened
            finally:
                fe.stop()

    def static_load(self, key, calls, n_vms):
        """The transport limit: the same load client, VMs and route against bench-static, which
        answers every request with the same pre-built 1.8 KB document (no service, no signing)."""
        if not self.http_available():
            return None
        with self.guest_vms(n_vms, marks=False) as (g, sources):
            srv = subprocess.Popen([self.tool("bench-static"), f"--listen={g.host_ip}:80", "--size=1800"],
                                   stdout=subprocess.PIPE, text=True)
            try:
                if srv.stdout.readline().strip() != "listening":
                    raise RuntimeError(f"bench-static did not start ({srv.wait()})")
                self.http_client(g, sources[:1], 3, any_document=True)
                cpu = CpuMeter({"responder": srv.pid})
                res = self.http_client(g, sources, calls, any_document=True)
                self.cpu.append((key, "HTTP static", cpu.stop(calls)))
                return res
            finally:
                srv.terminate()
                srv.wait()

    # ------------------------------------------------------------------ runs

    def key_run(self, key):
        print(f"--- {key}: raw signing", flush=True)
        raw1 = self.raw(key, 1)
        rawn = self.raw(key, 0)
        evp = self.evp_compare(key)
        if evp:
            raw1 = {**raw1, **{f"evp_{k}": v for k, v in evp.items()}}
        calls = int(min(max(float(rawn["rate"]) * self.a.seconds, 500), 100000))
        h = self.start_service(f"bench-{key}", keyType=key)
        failed = True
        try:
            self.run([self.tool("bench-bus"), "register", f"--vms={self.a.http_vms}"],
                     env=h.client_env())
            idle = rss_kib(h.service_proc.pid)
            print(f"--- {key}: Attest through dbus-daemon ({calls} calls)", flush=True)
            bus, bus_peak = self.bus_load(h, calls, self.a.http_vms)
            print(f"--- {key}: Attest on the direct socket ({calls} calls)", flush=True)
            direct, _ = self.bus_load(h, calls, self.a.http_vms, direct=True)
            http = http_bus = static = None
            if not self.a.no_http:
                for via_bus in (True, False):
                    path = "through dbus-daemon" if via_bus else "on the direct socket"
                    print(f"--- {key}: HTTP end to end, frontend {path} ({calls} requests, {self.a.http_vms} VMs)",
                          flush=True)
                    try:
                        res = self.http_load(h, calls, self.a.http_vms, via_bus=via_bus,
                                             open_loop=() if via_bus else (0.5, 0.9))
                    except Exception as e:   # noqa: BLE001 - the rest of the table is still worth printing
                        self.notes.append(f"HTTP {path} ({key}): {e}")
                        res = None
                    if via_bus:
                        http_bus = res
                    else:
                        http = res
                n_static = max(calls, 20000)
                print(f"--- {key}: transport limit, bench-static ({n_static} requests, {self.a.http_vms} VMs)",
                      flush=True)
                try:
                    static = self.static_load(key, n_static, self.a.http_vms)
                except Exception as e:   # noqa: BLE001
                    self.notes.append(f"HTTP static responder ({key}): {e}")
            failed = False
        finally:
            h.teardown(failed=failed)
        self.rows.append((key, raw1, rawn, bus, direct, http_bus[0] if http_bus else None, http[0] if http else None,
                          static))
        if http:
            self.open_loop.append((key, http[0], http[4]))
        self.memory.append((key, idle, bus_peak, http))

    def scale_run(self):
        """RegisterVM over the bus for the first VMs (its rate); then, on an empty inventory,
        all N VMs over the bus with ImportVMs (at most 10,000 per call, one state write each);
        then the service restarted with N VMs, and the readers and the re-evaluation timed on
        that."""
        n, n_reg = self.a.scale_vms, min(self.a.scale_vms, self.a.register_vms)
        print(f"--- scale: RegisterVM x{n_reg}, then ImportVMs of {n} VMs", flush=True)
        h = self.start_service("bench-scale")
        failed = True
        try:
            idle = rss_kib(h.service_proc.pid)
            t = time.monotonic()
            self.run([self.tool("bench-bus"), "register", f"--vms={n_reg}", "--inflight=64"], env=h.client_env(),
                     timeout=3600)
            reg = time.monotonic() - t
            reg_rss = rss_kib(h.service_proc.pid)

            # The same service, from an empty inventory again (the keystore stays).
            h.stop_service()
            os.unlink(os.path.join(h.state_dir, "state.json"))
            h.start_service(wait_sync=False)
            h.wait_server_state("Active")
            imp = parse_kv(self.run([self.tool("bench-bus"), "import", f"--vms={n}", "--batch=10000"],
                                    env=h.client_env(), timeout=3600))
            imp_rss = rss_kib(h.service_proc.pid)
            h.stop_service()

            t = time.monotonic()
            h.start_service(wait_sync=False)
            start = time.monotonic() - t
            h.wait_server_state("Active")
            pid = h.service_proc.pid
            loaded = rss_kib(pid)
            loaded_anon, loaded_file = rss_kib(pid, "RssAnon"), rss_kib(pid, "RssFile")
            start_hwm = rss_kib(pid, "VmHWM")   # the peak of loading the state file
            anon_peak, file_peak = PeakRss(pid, "RssAnon"), PeakRss(pid, "RssFile")
            gmo = parse_kv(self.run([self.tool("bench-bus"), "managed-objects"], env=h.client_env(), timeout=600))
            gmo_hwm = rss_kib(pid, "VmHWM")
            gmo_anon, gmo_file = anon_peak.stop(), file_peak.stop()
            t = time.monotonic()
            out = h.ctl("vms").stdout
            ctl = time.monotonic() - t
            ctl_lines = len(out.strip().splitlines())
            ctl_hwm = rss_kib(pid, "VmHWM")
            leg = parse_kv(self.run([self.tool("bench-bus"), "enable-legacy", "true"], env=h.client_env(), timeout=600))
            after = rss_kib(pid)
            hwm = rss_kib(pid, "VmHWM")
            failed = False
        finally:
            h.teardown(failed=failed)
        self.scale = dict(n=n, n_reg=n_reg, idle=idle, reg=reg, reg_rss=reg_rss, imp=imp, imp_rss=imp_rss, start=start,
                          loaded=loaded, gmo=gmo, ctl=ctl, ctl_lines=ctl_lines, leg=leg, after=after, hwm=hwm,
                          start_hwm=start_hwm, gmo_hwm=gmo_hwm, ctl_hwm=ctl_hwm, gmo_anon=gmo_anon, gmo_file=gmo_file,
                          anon=loaded_anon, file=loaded_file)

    # ------------------------------------------------------------------ output

    def print_tables(self):
        ncpu = os.cpu_count()
        print()
        print(f"== Throughput (documents/s; {ncpu} CPUs; load {os.getloadavg()[0]:.2f} at the end; "
              f"Attest: one client, {self.a.inflight} calls in flight; HTTP: {self.a.http_vms} keep-alive "
              "connections, one per VM)")
        print("   'dbus' = through dbus-daemon (the system bus); 'direct' = on the service's frontend socket,")
        print("   the frontends' default; e2e = HTTP direct; ratios against raw signing in the same run;")
        print("   EVP/thr = the private-key operation alone on a precomputed digest, per thread and CPU-second;")
        print("   doc/EVP = the document path against it, same measure (bench-sign --compare);")
        print("   transport = the same HTTP load against bench-static, a pre-built 1.8 KB document (the most any")
        print("   frontend design could reach on this route); e2e/tr = e2e / transport")

        def rate(d):
            return float(d["rate"]) if d else None

        def num(v):
            return f"{v:.0f}" if v else "n/a"

        def lat(d):
            return f"{d['p50_ms']}/{d['p99_ms']}" if d else "n/a"

        def ratio(a, b):
            return f"{a / b:.2f}" if a and b else "n/a"

        def evp(raw):
            return float(raw["evp_raw"]) if raw and "evp_raw" in raw else None

        def doc_evp(raw):
            return raw.get("evp_document_ratio", "n/a") if raw else "n/a"

        hdr = (f"{'key':<11} {'EVP/thr':>7} {'doc/EVP':>7} {'raw 1 thr':>9} {'raw all':>8} {'Attest dbus':>11} {'Attest direct':>13} "
               f"{'HTTP dbus':>9} {'HTTP direct':>11} {'transport':>9} {'direct p50/p99 ms':>17} {'e2e/all':>7} "
               f"{'e2e/1thr':>8} {'dbus e2e/all':>12} {'e2e/tr':>6} {'direct/dbus':>11}")
        print(hdr)
        for key, raw1, rawn, bus, direct, http_bus, http, static in self.rows:
            r1, rn = rate(raw1), rate(rawn)
            e, eb, tr = rate(http), rate(http_bus), rate(static)
            print(f"{key:<11} {num(evp(raw1)):>7} {doc_evp(raw1):>7} {r1:>9.0f} {rn:>8.0f} {num(rate(bus)):>11} {num(rate(direct)):>13} "
                  f"{num(eb):>9} {num(e):>11} {num(tr):>9} {lat(http):>17} {ratio(e, rn):>7} {ratio(e, r1):>8} "
                  f"{ratio(eb, rn):>12} {ratio(e, tr):>6} {ratio(e, eb):>11}")
            print(f"{'':<11} latency p50/p99 ms: Attest dbus {lat(bus)}, Attest direct {lat(direct)}, "
                  f"HTTP dbus {lat(http_bus)}")
            print(f"{'':<11} transport limit p50/p99 ms {lat(static)}")
            for what, d in (("Attest dbus", bus), ("Attest direct", direct), ("HTTP dbus", http_bus),
                            ("HTTP direct", http), ("HTTP static", static)):
                if d and d.get("errors", "0") != "0":
                    self.notes.append(f"{key} {what}: {d['errors']} errors")
        if self.open_loop:
            print()
            print(f"== Open-loop latency (HTTP direct, {self.a.http_vms} VMs: requests at a fixed rate whatever the "
                  "answers, latency from when each was due; goal at 50%: p99 < 2 ms)")
            print(f"{'key':<11} {'load':>5} {'offered/s':>9} {'done/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'p99.9 ms':>8} "
                  f"{'max ms':>7} {'errors':>6}")
            for key, closed, runs in self.open_loop:
                for fraction, d in runs:
                    print(f"{key:<11} {fraction:>5.0%} {float(d['offered']):>9.0f} {float(d['rate']):>7.0f} "
                          f"{d['p50_ms']:>7} {d['p99_ms']:>7} {d['p999_ms']:>8} {d['max_ms']:>7} {d['errors']:>6}")
        if self.cpu:
            print()
            print("== CPU per document (µs; user + system; 'idle' = CPUs idle (/proc/stat), 'other' = the rest of "
                  "CPUs x wall time: other processes, ksoftirqd)")
            cols = ["service", "service signers", "dbus-daemon", "frontend", "responder", "load client", "idle",
                    "other"]
            print(f"{'key':<11} {'load':<14} " + " ".join(f"{c:>15}" for c in cols) + f" {'all but signing':>15}")
            for key, load, d in self.cpu:
                other = sum(v for k, v in d.items() if k not in ("service signers", "other", "idle"))
                print(f"{key or '':<11} {load:<14} " +
                      " ".join(f"{d[c]:>15.0f}" if c in d else f"{'-':>15}" for c in cols) + f" {other:>15.0f}")
            for key, raw1, *_ in self.rows:
                print(f"{key:<11} one signature, raw 1 thread: {1e6 / float(raw1['rate']):.0f} µs")
        print()
        print("== Memory (RSS)")
        for key, idle, bus_peak, http in self.memory:
            line = f"{key:<11} service idle {mib(idle)}, peak under bus load {mib(bus_peak)}"
            if http:
                _, fe_idle, fe_peak, svc, _ = http
                line += (f"; under HTTP load {mib(svc)}; azshci-imdsd idle {mib(fe_idle)}, peak {mib(fe_peak)} "
                         f"({within(fe_peak, 8)} 8 MiB)")
            print(line)
        if getattr(self, "scale", None):
            s = self.scale
            per_vm = (s["loaded"] - s["idle"]) * 1024 / s["n"] if s["loaded"] and s["idle"] else None
            print()
            print(f"== Scale ({s['n']} VMs, rsa-2048)")
            print(f"RegisterVM x{s['n_reg']} (64 in flight): {s['reg']:.2f} s ({s['n_reg'] / s['reg']:.0f}/s); "
                  f"RSS then {mib(s['reg_rss'])}")
            imp = s["imp"]
            print(f"ImportVMs x{imp['vms']} ({imp['calls']} call(s)): {float(imp['seconds']):.2f} s "
                  f"({float(imp['rate']):.0f}/s, {float(imp['rate']) * s['reg'] / s['n_reg']:.0f}x RegisterVM); "
                  f"RSS then {mib(s['imp_rss'])}")
            print(f"start with {s['n']} VMs in the state file: {s['start'] * 1000:.0f} ms to READY")
            print(f"GetManagedObjects: {float(s['gmo']['seconds']) * 1000:.0f} ms ({s['gmo']['objects']} objects)")
            print(f"azshcictl vms: {s['ctl'] * 1000:.0f} ms ({s['ctl_lines']} lines)")
            print(f"EnableLegacy(true), re-evaluating every VM: {float(s['leg']['seconds']) * 1000:.0f} ms")
            line = (f"service RSS: idle {mib(s['idle'])}, with {s['n']} VMs {mib(s['loaded'])}, after EnableLegacy "
                    f"{mib(s['after'])}, peak {mib(s['hwm'])}")
            if per_vm:
                line += f"; {per_vm:.0f} bytes per VM"
            print(line)
            print(f"memory targets at {s['n']} VMs: service peak {mib(s['hwm'])} ({within(s['hwm'], 32)} 32 MiB), "
                  f"GetManagedObjects adds {mib(s['gmo_hwm'] - s['start_hwm']) if s['gmo_hwm'] > s['start_hwm'] else '0'} "
                  "over the READY peak")
            print(f"  of which: with {s['n']} VMs heap and stacks (RssAnon) {mib(s['anon'])}, mapped files (RssFile: "
                  f"the binary and its shared libraries) {mib(s['file'])}; during GetManagedObjects, sampled every "
                  f"20 ms: RssAnon up to {mib(s['gmo_anon'])}, RssFile {mib(s['gmo_file'])}")
            print(f"service peak RSS (VmHWM) after each step: READY {mib(s['start_hwm'])}, GetManagedObjects "
                  f"{mib(s['gmo_hwm'])}, azshcictl vms {mib(s['ctl_hwm'])}, EnableLegacy {mib(s['hwm'])}")
        if self.notes:
            print()
            for n in self.notes:
                print(f"note: {n}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--srcdir", required=True)
    p.add_argument("--builddir", required=True)
    p.add_argument("--bindir", required=True)
    p.add_argument("--seconds", type=float, default=5.0, help="raw signing time, and load size (rate x seconds)")
    p.add_argument("--keys", default="rsa-2048,ecdsa-p256")
    p.add_argument("--inflight", type=int, default=64)
    p.add_argument("--http-vms", type=int, default=32)
    p.add_argument("--scale-vms", type=int, default=10000)
    p.add_argument("--register-vms", type=int, default=1000, help="how many of them RegisterVM adds over the bus")
    p.add_argument("--open-seconds", type=float, default=4.0, help="length of each open-loop run")
    p.add_argument("--frontend-args", default="", help="more options for azshci-imdsd (A/B runs)")
    p.add_argument("--no-http", action="store_true")
    p.add_argument("--no-scale", action="store_true")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (private bus, polkitd, setpriv, network namespaces)", file=sys.stderr)
        return 77
    b = Bench(a)
    for key in filter(None, a.keys.split(",")):
        b.key_run(key)
    if not a.no_scale:
        b.scale_run()
    b.print_tables()
    return 0


if __name__ == "__main__":
    sys.exit(main())
