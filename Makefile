# Entry points for a fresh Debian 12 machine (as root):
#   make demo   — install build dependencies, build, run the service end to end
#   make check  — install dependencies, build, run every test
# Everything else is meson: `meson setup build && meson compile -C build && meson test -C build`.

BUILDDIR ?= build
MESON_OPTIONS ?= -Dwerror=true

# Debian 12 packages, and why:
#  meson ninja-build pkg-config gcc     the build
#  libsystemd-dev                       sd-bus, sd-event (the service and its clients)
#  systemd                              systemd.pc (unit dirs), busctl, systemd-sysusers, systemd-analyze
#  libjson-glib-dev                     JSON: config, state, benefit rules, documents
#  libssl-dev openssl                   keys, certificates, PKCS#7, CMP; openssl is the independent peer in tests
#  libmicrohttpd-dev                    the HTTP frontend
#  libpolkit-gobject-1-dev              polkit's policy directory (pkg-config)
#  libdbus-1-dev                        dbus-1.pc (bus directories)
#  dbus-daemon polkitd                  the real bus and authority the integration tests run
#  libglib2.0-bin                       gdbus, an independent D-Bus client in tests
#  python3                              the integration test harness (standard library only)
#  libmnl-dev libnftables-dev           netlink (links, neighbours) and nftables for legacy OS support
#  curl iproute2 nftables               independent HTTP client, network namespaces and nft listings in tests
#  util-linux passwd                    setpriv/unshare and useradd for the test users
#  valgrind                             the memcheck fault test
#  clang                                libFuzzer for `make fuzz`
#  cockpit-ws cockpit-bridge            the Cockpit page's web server and bridge (tests/cockpit, make demo)
#  chromium python3-websocket           the headless browser the Cockpit tests drive over DevTools
#  libvirt-dev libxml2-dev              the libvirt inventory provider (libvirt's C API; libxml2 reads domain XML)
#  libvirt-daemon-driver-qemu           the private libvirtd (with its QEMU driver) the libvirt tests and demo run
#  libvirt-clients                      virsh, which the libvirt tests change domains with
#  libvirt-daemon-system                creates the libvirt-qemu user libvirtd needs even when QEMU runs as root
#  qemu-system-x86                      the real guests of the libvirt tests and demo (TCG)
#  busybox-static cpio                  the test guests' initramfs: busybox (with wget) and its archive
#  linux-image-amd64                    the test guests' kernel and virtio modules
#  qemu-guest-agent                     the guest agent copied into the test guests (OS facts)
#  libcurl4-openssl-dev                 libcurl: the service talks to etcd's JSON gateway (cluster mode)
#  etcd-server                          the etcd members of the cluster tests and `make demo-cluster`
#  etcd-client                          etcdctl, an independent etcd client in the cluster tests
DEBIAN_PACKAGES = meson ninja-build pkg-config gcc libc6-dev \
	libsystemd-dev systemd libjson-glib-dev libssl-dev openssl libmicrohttpd-dev \
	libpolkit-gobject-1-dev libdbus-1-dev dbus-daemon polkitd libglib2.0-bin \
	libmnl-dev libnftables-dev python3 curl iproute2 nftables util-linux passwd valgrind clang \
	cockpit-ws cockpit-bridge chromium python3-websocket \
	libvirt-dev libxml2-dev libvirt-daemon-driver-qemu libvirt-clients libvirt-daemon-system \
	qemu-system-x86 busybox-static cpio linux-image-amd64 qemu-guest-agent \
	libcurl4-openssl-dev etcd-server etcd-client

.PHONY: all deps build check demo demo-ui demo-cluster install clean

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${db:Status-Status}\n' $$p 2>/dev/null | grep -qx installed || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing build dependencies:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "Run as root (or install: $$missing)" >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILDDIR)/build.ninja:
	meson setup $(BUILDDIR) $(MESON_OPTIONS)

build: deps $(BUILDDIR)/build.ninja
	meson compile -C $(BUILDDIR)

check: build
	meson test -C $(BUILDDIR) --print-errorlogs $(TESTOPTS)

demo: build
	python3 tests/demo.py --build-dir $(BUILDDIR)

# The demo, then the stack and its Cockpit page stay up until Ctrl-C.
demo-ui: build
	python3 tests/demo.py --build-dir $(BUILDDIR) --keep

# Three servers of one cluster converging through etcd (docs/cluster.md, "Demo").
demo-cluster: build
	python3 tests/cluster/demo.py --build-dir $(BUILDDIR)

install: build
	meson install -C $(BUILDDIR)

clean:
	rm -rf $(BUILDDIR)

# ---- hardening (issue 6): fuzzing and benchmarks; see docs/hardening.md ----
# make fuzz [FUZZ_SECONDS=600] [FUZZ_TARGETS="fuzz-state ..."]: a clang + libFuzzer + ASAN/UBSAN
# build in $(FUZZ_BUILDDIR), then each target fuzzed for FUZZ_SECONDS (findings land in
# tests/fuzz/corpus/<target>/crash-*). Needs clang (Debian package clang).
# make bench: builds $(BUILDDIR) and prints the benchmark table (bench/run.sh, as root).
FUZZ_BUILDDIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
FUZZ_MESON_OPTIONS = -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
	"-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined"

.PHONY: fuzz bench

$(FUZZ_BUILDDIR)/build.ninja:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)" >&2; exit 1; }
	CC=clang meson setup $(FUZZ_BUILDDIR) $(FUZZ_MESON_OPTIONS)

fuzz: deps $(FUZZ_BUILDDIR)/build.ninja
	meson compile -C $(FUZZ_BUILDDIR) fuzz-targets
	tests/fuzz/run-fuzz.sh $(FUZZ_BUILDDIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build
	bench/run.sh $(BUILDDIR) $(BENCHOPTS)
