#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The installation, for meson's default prefix (/usr/local) and for /usr: a build of the source
# tree for each, `meson install` into a staging root, then
#  - exactly the expected files at their exact paths (programs, frontends, units, sysusers.d,
#    tmpfiles.d, bus policy and activation file, polkit policy, data, docs), nothing else;
#  - the paths inside them: ExecStart= of every unit, the activation file, the sockets, the
#    state directory setting of the service unit (StateDirectory= below /var/lib, else
#    ReadWritePaths=), LimitCORE=0, the tmpfiles.d and sysusers.d lines, the compiled-in
#    configuration path (--help), the frontends' compiled-in direct socket;
#  - systemd-sysusers and systemd-tmpfiles --root accept the installed files;
#  - the installed service, started the way its unit starts it (user, capability, the
#    activated direct socket, the unit's environment) in a mount namespace that shows the
#    staging root over the real tree read-only except the directory the unit makes writable
#    (what ProtectSystem=strict leaves), from a working directory holding planted relative
#    configuration files: it reads the installed configuration, not the planted one, keeps
#    its state in the compiled-in state directory, and is not dumpable;
#  - the installed service refuses an inline CMP secret in a world-readable configuration.
# Usage: test-install.sh SRCDIR. Root (namespaces, setpriv); exit 77 otherwise.
set -euo pipefail

SERVICE_USER=azshci
SUBSCRIPTION=1b4e28ba-2fa1-11d2-883f-0016d3cca427
TIMEOUT=60

fail=0
ok() { echo "ok: $*"; }
not_ok() { echo "not ok: $*"; fail=1; }
check() { # check DESCRIPTION COMMAND...
        local what=$1
        shift
        if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# The lines of FILE that are not comments or empty.
settings() { grep -v -e '^#' -e '^$' "$1"; }
has_line() { grep -qxF -- "$2" "$1"; }
lacks_key() { ! grep -q "^$2=" "$1"; }

# ------------------------------------------------------------------ inside the namespace
# in_namespace DEST PREFIX STATEDIR SYSCONFDIR RUN: runs in a private mount and network
# namespace (unshare, below). Prints ok/not ok lines; exit status 1 on any failure.
in_namespace() {
        local dest=$1 prefix=$2 statedir=$3 sysconfdir=$4 run=$5
        local unit=$prefix/lib/systemd/system/azshci-attestd.service top writable exec_start pid uid i
        local ctl=$prefix/bin/azshcictl status_json=""
        bus_pid="" svc_pid=""
        trap '[ -n "$svc_pid" ] && kill -KILL "$svc_pid" 2>/dev/null; [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null; true' EXIT

        # What the unit makes writable: systemd creates StateDirectory= (below /var/lib, owned
        # by User=, StateDirectoryMode=) itself; a ReadWritePaths= directory must exist already.
        unit_value() { sed -n "s/^$1=//p" "$dest$unit"; }
        if [ -n "$(unit_value StateDirectory)" ]; then
                writable=/var/lib/$(unit_value StateDirectory)
                mkdir -p "$dest$writable"
                chown "$(unit_value User):$(unit_value Group)" "$dest$writable"
                chmod "$(unit_value StateDirectoryMode)" "$dest$writable"
        else
                writable=$(unit_value ReadWritePaths)
        fi
        [ -d "$dest$writable" ] || { not_ok "the unit's writable directory $writable does not exist"; return 1; }

        # The staging root over the real tree, read-only (an overlay without an upper layer),
        # and only the unit's writable directory writable: what ProtectSystem=strict leaves.
        for top in "$dest"/*; do
                mount -t overlay overlay -o "lowerdir=$top:/${top##*/}" "/${top##*/}"
        done
        mount --bind "$dest$writable" "$writable"
        mount -t tmpfs -o mode=0755 tmpfs /run

        # A private system bus with the host's default policy and the installed bus policy.
        python3 - "$run/bus.conf" "$run/bus" "$prefix/share/dbus-1/system.d/org.azshci.Attestation1.conf" <<'EOF'
import sys, xml.etree.ElementTree as ET
conf, sock, policy = sys.argv[1:]
host = ET.parse("/usr/share/dbus-1/system.conf").getroot()
with open(conf, "w") as f:
    f.write("<busconfig>\n  <type>system</type>\n  <listen>unix:path=%s</listen>\n  <auth>EXTERNAL</auth>\n" % sock)
    f.writelines("  " + ET.tostring(p, encoding="unicode").strip() + "\n" for p in host.findall("policy"))
    f.write("  <include>%s</include>\n</busconfig>\n" % policy)
EOF
        dbus-daemon --config-file="$run/bus.conf" --fork --nopidfile --nosyslog --print-pid=3 3>"$run/bus.pid"
        bus_pid=$(cat "$run/bus.pid")
        export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$run/bus

        # Relative configuration files where a relative compiled-in path would find them.
        mkdir -p "$run/cwd/etc/azshci" "$run/cwd/${sysconfdir#/}/azshci"
        for i in "$run/cwd/etc/azshci/attestation.json" "$run/cwd/${sysconfdir#/}/azshci/attestation.json"; do
                printf '{"serverName": "planted", "stateDirectory": "%s/planted-state"}\n' "$run" > "$i"
        done

        # The service as its unit starts it: ExecStart=, User=/Group=, the capability, the
        # unit's Environment=, and azshci-attestd.socket's socket passed as fd 3.
        exec_start=$(unit_value ExecStart)
        ( cd "$run/cwd" && exec python3 - "$(sed -n 's/^ListenStream=//p' "$dest$prefix/lib/systemd/system/azshci-attestd.socket")" \
                env "$(unit_value Environment)" \
                setpriv --reuid="$(unit_value User)" --regid="$(unit_value Group)" --init-groups \
                --bounding-set=-all,+net_admin --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin -- \
                "$exec_start" <<'EOF'
import grp, os, pwd, socket, subprocess, sys
path, argv = sys.argv[1], sys.argv[2:]
os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chown(path, pwd.getpwnam("azshci").pw_uid, grp.getgrnam("azshci-frontend").gr_gid)
os.chmod(path, 0o660)
s.listen(128)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="azshci-attestd.socket")
# The socket is in place: from now on /run is read-only, as ProtectSystem=strict has it.
subprocess.run(["mount", "-o", "remount,ro", "/run"], check=True)
os.execvp(argv[0], argv)
EOF
        ) >"$run/service.log" 2>&1 &
        svc_pid=$!

        # Ready: the server is Active (the local issuer enrolled), or the service died.
        for ((i = 0; i < TIMEOUT * 10; i++)); do
                kill -0 "$svc_pid" 2>/dev/null || break
                status_json=$("$ctl" status --json 2>/dev/null) || status_json=""
                if [ -n "$status_json" ] && python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(not any(x["State"] == "Active" for x in s["servers"]))' "$status_json"; then
                        break
                fi
                sleep 0.1
        done
        if ! kill -0 "$svc_pid" 2>/dev/null; then
                not_ok "the installed service exited: $(cat "$run/service.log")"
                return 1
        fi

        check "the installed configuration is read (SubscriptionId from it)" \
                python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["cluster"]["SubscriptionId"] != sys.argv[2])' \
                "$status_json" "$SUBSCRIPTION"
        check "the planted relative configuration is not read (one server, Active, not \"planted\")" \
                python3 -c 'import json,sys; s=json.loads(sys.argv[1])["servers"]; sys.exit(not (len(s) == 1 and s[0]["Name"] != "planted" and s[0]["State"] == "Active"))' \
                "$status_json"
        check "no planted state directory" test ! -e "$run/planted-state"
        check "state in $statedir: ca.pem, keystore/identity.pem, state.json" \
                test -f "$statedir/ca.pem" -a -f "$statedir/keystore/identity.pem" -a -f "$statedir/state.json"
        check "the service serves the activated direct socket" \
                grep -qxF "azshci-attestd: Frontends may connect directly on the socket passed by the service manager." "$run/service.log"

        # Not dumpable: the files in /proc/PID belong to root although the service runs as its
        # user (the directory itself keeps the user's uid, whatever the dumpable flag), and
        # another process of that user cannot read its environ. A dumpable process of the same
        # user (sleep) shows that the check can tell the difference.
        pid=$svc_pid
        uid=$(id -u "$SERVICE_USER")
        check "the service runs as $SERVICE_USER" grep -qE "^Uid:[[:space:]]+${uid}[[:space:]]+${uid}" "/proc/$pid/status"
        check "the service is not dumpable: /proc/$pid/status belongs to root" test "$(stat -c %u "/proc/$pid/status")" = 0
        check "the service's user cannot read its /proc/PID/environ" \
                bash -c "! setpriv --reuid=$uid --regid=$uid --clear-groups cat /proc/$pid/environ >/dev/null 2>&1"
        setpriv --reuid="$uid" --regid="$uid" --clear-groups sleep 30 &
        for ((i = 0; i < TIMEOUT * 10; i++)); do # until setpriv has become sleep
                [ "$(cat "/proc/$!/comm" 2>/dev/null)" = sleep ] && break
                sleep 0.1
        done
        check "control: a dumpable process of $SERVICE_USER is its own in /proc" \
                bash -c "test \"\$(stat -c %u /proc/$!/status)\" = $uid && setpriv --reuid=$uid --regid=$uid --clear-groups cat /proc/$!/environ >/dev/null"
        kill $! 2>/dev/null || true

        kill -TERM "$svc_pid"
        if wait "$svc_pid"; then ok "the service exits 0 on SIGTERM"; else not_ok "exit status $? on SIGTERM"; fi
        svc_pid=""
        return $fail
}

if [ "${1:-}" = --in-namespace ]; then
        shift
        in_namespace "$@"
        exit $?
fi

# ------------------------------------------------------------------ outside
srcdir=$(realpath "$1")
if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the install test needs root (mount namespaces, setpriv to the service user)"
        exit 77
fi
for tool in meson unshare setpriv dbus-daemon systemd-sysusers systemd-tmpfiles flock python3; do
        command -v "$tool" >/dev/null || { echo "not ok: $tool is missing"; exit 1; }
done

work=$(mktemp -d /tmp/azshci-install-XXXXXX)
trap 'rm -rf "$work"' EXIT

# check_prefix LABEL PREFIX SYSCONFDIR STATEDIR [MESON SETUP ARGS...]
check_prefix() {
        local label=$1 prefix=$2 sysconfdir=$3 statedir=$4
        shift 4
        local build=$work/$label/build dest=$work/$label/root run=$work/$label/run
        local unitdir=$prefix/lib/systemd/system libexec=$prefix/libexec expected actual f u
        echo "# prefix $prefix (meson setup ${*:-with no options})"
        mkdir -p "$run"
        chmod 0755 "$work" "$work/$label" "$run"

        if ! { meson setup "$build" "$srcdir" -Dtests=false --buildtype=plain "$@" &&
                meson compile -C "$build" &&
                meson install -C "$build" --no-rebuild --destdir "$dest" --quiet; } >"$work/$label/build.log" 2>&1; then
                cat "$work/$label/build.log"
                not_ok "build and install for prefix $prefix"
                return
        fi
        check "meson's prefix is $prefix" test "$(meson introspect "$build" --buildoptions |
                python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')" = "$prefix"

        # Every installed file, and nothing else.
        expected=$(
                printf '%s\n' \
                        "$prefix/bin/azshci-attest" "$prefix/bin/azshcictl" \
                        "$libexec/azshci-attestd" "$libexec/azshci-imdsd" "$libexec/azshci-vsockd" \
                        "$sysconfdir/azshci/attestation.json" \
                        "$unitdir/azshci-attestd.service" "$unitdir/azshci-attestd.socket" \
                        "$unitdir/azshci-imds.service" "$unitdir/azshci-imds.socket" \
                        "$unitdir/azshci-vsock.service" "$unitdir/azshci-vsock.socket" \
                        "$prefix/lib/sysusers.d/azshci.conf" "$prefix/lib/tmpfiles.d/azshci-attestation.conf" \
                        "$prefix/share/azshci/benefits.json" "$prefix/share/azshci/demo/vms.json" \
                        "$prefix/share/azshci/examples/50-azshci-attestation.rules.example" \
                        "$prefix/share/dbus-1/interfaces/org.azshci.Attestation1.xml" \
                        "$prefix/share/dbus-1/system-services/org.azshci.Attestation1.service" \
                        "$prefix/share/dbus-1/system.d/org.azshci.Attestation1.conf" \
                        "$prefix/share/polkit-1/actions/org.azshci.attestation.policy" \
                        "$prefix/share/doc/azshci-attestation/README.md"
                for f in manifest.json index.html azshci.js theme.js azshci.css; do
                        echo "$prefix/share/cockpit/azshci/$f"
                done
                for f in "$srcdir"/docs/*; do echo "$prefix/share/doc/azshci-attestation/docs/${f##*/}"; done
        )
        expected=$(sort <<<"$expected")
        actual=$(cd "$dest" && find . -type f -o -type l | sed 's/^\.//' | sort)
        if [ "$actual" = "$expected" ]; then
                ok "exactly the $(wc -l <<<"$expected") expected files"
        else
                not_ok "installed files differ (- expected, + installed):"
                diff <(echo "$expected") <(echo "$actual") | sed -n 's/^</  -/p; s/^>/  +/p' || true
        fi
        for f in "$prefix/bin/azshci-attest" "$prefix/bin/azshcictl" "$libexec/azshci-attestd" \
                "$libexec/azshci-imdsd" "$libexec/azshci-vsockd"; do
                check "$f is executable" test -x "$dest$f"
        done

        # The paths inside the installed files.
        u=$dest$unitdir
        check "azshci-attestd.service: ExecStart=$libexec/azshci-attestd" has_line "$u/azshci-attestd.service" "ExecStart=$libexec/azshci-attestd"
        check "azshci-imds.service: ExecStart=$libexec/azshci-imdsd ..." grep -q "^ExecStart=$libexec/azshci-imdsd --interface=azshci-imds0 " "$u/azshci-imds.service"
        check "azshci-vsock.service: ExecStart=$libexec/azshci-vsockd ..." grep -q "^ExecStart=$libexec/azshci-vsockd --rate=" "$u/azshci-vsock.service"
        check "azshci-attestd.socket: ListenStream=/run/azshci/frontend.socket" has_line "$u/azshci-attestd.socket" "ListenStream=/run/azshci/frontend.socket"
        check "azshci-imds.socket: ListenStream=169.254.169.253:80" has_line "$u/azshci-imds.socket" "ListenStream=169.254.169.253:80"
        check "azshci-vsock.socket: ListenStream=vsock::5151" has_line "$u/azshci-vsock.socket" "ListenStream=vsock::5151"
        check "azshci-imds.service: Requires=azshci-imds.socket" has_line "$u/azshci-imds.service" "Requires=azshci-imds.socket"
        check "azshci-vsock.service: Requires=azshci-vsock.socket" has_line "$u/azshci-vsock.service" "Requires=azshci-vsock.socket"
        for f in azshci-imds.service azshci-vsock.service; do
                check "$f: User=azshci-frontend, ProtectSystem=strict" \
                        bash -c "grep -qx User=azshci-frontend '$u/$f' && grep -qx ProtectSystem=strict '$u/$f'"
        done
        f=$u/azshci-attestd.service
        check "azshci-attestd.service: ProtectSystem=strict" has_line "$f" "ProtectSystem=strict"
        check "azshci-attestd.service: LimitCORE=0" has_line "$f" "LimitCORE=0"
        check "azshci-attestd.service: no ConfigurationDirectory=" lacks_key "$f" ConfigurationDirectory
        if [ "${statedir#/var/lib/}" != "$statedir" ]; then
                check "azshci-attestd.service: StateDirectory=${statedir#/var/lib/}, mode 0755, no ReadWritePaths=" \
                        bash -c "grep -qx 'StateDirectory=${statedir#/var/lib/}' '$f' && grep -qx StateDirectoryMode=0755 '$f' && ! grep -q ^ReadWritePaths= '$f'"
        else
                check "azshci-attestd.service: ReadWritePaths=$statedir, no StateDirectory=" \
                        bash -c "grep -qx 'ReadWritePaths=$statedir' '$f' && ! grep -q ^StateDirectory '$f'"
        fi
        f=$dest$prefix/share/dbus-1/system-services/org.azshci.Attestation1.service
        check "activation file: Exec=$libexec/azshci-attestd" has_line "$f" "Exec=$libexec/azshci-attestd"
        check "activation file: SystemdService=azshci-attestd.service" has_line "$f" "SystemdService=azshci-attestd.service"
        check "tmpfiles.d: exactly the state and configuration directories" test "$(settings "$dest$prefix/lib/tmpfiles.d/azshci-attestation.conf")" = \
                "$(printf 'd %s 0755 azshci azshci -\nd %s/azshci 0755 root root -' "$statedir" "$sysconfdir")"
        check "sysusers.d: the users, the service's home is $statedir" test "$(settings "$dest$prefix/lib/sysusers.d/azshci.conf")" = \
                "$(printf 'u azshci - "azshci attestation service" %s -\nu azshci-frontend - "azshci attestation guest frontends" - -' "$statedir")"
        check "azshci-attestd --help: the configuration is $sysconfdir/azshci/attestation.json" \
                bash -c "'$dest$libexec/azshci-attestd' --help | grep -qF '(default: $sysconfdir/azshci/attestation.json;'"
        for f in azshci-imdsd azshci-vsockd; do
                check "$f --help: the direct socket is /run/azshci/frontend.socket" \
                        bash -c "'$dest$libexec/$f' --help | grep -qF '/run/azshci/frontend.socket);'"
        done

        # XML parses; the installed programs run.
        for f in "$prefix/share/dbus-1/system.d/org.azshci.Attestation1.conf" \
                "$prefix/share/polkit-1/actions/org.azshci.attestation.policy" \
                "$prefix/share/dbus-1/interfaces/org.azshci.Attestation1.xml"; do
                check "$f parses" python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$dest$f"
        done
        for f in "$libexec/azshci-attestd" "$libexec/azshci-imdsd" "$libexec/azshci-vsockd"; do
                check "$f --version" bash -c "'$dest$f' --version | grep -q '^${f##*/} '"
        done
        check "azshcictl --help" bash -c "'$dest$prefix/bin/azshcictl' --help >/dev/null"
        check "azshci-attest --help" bash -c "'$dest$prefix/bin/azshci-attest' --help >/dev/null"

        # An inline CMP secret in a world-readable configuration: the installed service refuses it.
        f=$run/cmp-inline-secret.json
        printf '{"issuer": {"type": "cmp", "server": "http://ca.invalid/", "trustAnchor": "/nonexistent.pem", "reference": "r", "secret": "s"}}\n' >"$f"
        chmod 0644 "$f"
        if "$dest$libexec/azshci-attestd" --config "$f" >"$run/cmp.log" 2>&1; then
                not_ok "an inline secret in a 0644 configuration is accepted"
        else
                check "an inline secret in a 0644 configuration is refused" grep -qxF \
                        "azshci-attestd: Invalid configuration: $f: key \"issuer.secret\" in a file that every user can read (mode 0644): put the secret in a file of its own named by \"issuer.secretFile\", or make $f unreadable to others (chmod o-r)" \
                        "$run/cmp.log"
        fi

        # sysusers (the users on this host, as the integration tests create them) and tmpfiles
        # (into the staging root, resolving the users of this host) accept the installed files.
        check "systemd-sysusers accepts the installed sysusers.d file" \
                flock /run/azshci-integration-users.lock systemd-sysusers "$dest$prefix/lib/sysusers.d/azshci.conf"
        mkdir -p "$dest/etc"
        getent passwd root azshci azshci-frontend >"$dest/etc/passwd"
        getent group root azshci azshci-frontend >"$dest/etc/group"
        # By name: tmpfiles looks for it in its own directories below the root (an absolute
        # path would be taken outside the root).
        if systemd-tmpfiles --root="$dest" --create azshci-attestation.conf >"$run/tmpfiles.log" 2>&1 &&
                ! [ -s "$run/tmpfiles.log" ]; then
                ok "systemd-tmpfiles --create accepts the installed tmpfiles.d file"
        else
                not_ok "systemd-tmpfiles: $(cat "$run/tmpfiles.log")"
        fi
        rm -f "$dest/etc/passwd" "$dest/etc/group"
        rmdir --ignore-fail-on-non-empty "$dest/etc"
        check "tmpfiles made $statedir (azshci, 0755)" test "$(stat -c '%U %a' "$dest$statedir" 2>&1)" = "azshci 755"
        check "tmpfiles made $sysconfdir/azshci (root, 0755)" test "$(stat -c '%U %a' "$dest$sysconfdir/azshci" 2>&1)" = "root 755"

        # The installed service with the installed configuration (as an administrator edits it).
        sed -i "s/\"subscriptionId\": \"\"/\"subscriptionId\": \"$SUBSCRIPTION\"/" "$dest$sysconfdir/azshci/attestation.json" || true
        check "the installed configuration names the test subscription" grep -q "$SUBSCRIPTION" "$dest$sysconfdir/azshci/attestation.json"
        if unshare --mount --net --propagation private -- "$0" --in-namespace "$dest" "$prefix" "$statedir" "$sysconfdir" "$run"; then
                ok "the installed service ran from the staging root"
        else
                not_ok "the installed service from the staging root (log: $(cat "$run/service.log" 2>/dev/null))"
        fi
        check "its state went to the staging root's $statedir" test -f "$dest$statedir/ca.pem"
}

check_prefix default /usr/local /usr/local/etc /var/local/lib/azshci
check_prefix usr /usr /etc /var/lib/azshci --prefix=/usr

exit $fail
