#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` into a DESTDIR produces a complete installation: every file in place, the
# unit, activation file and bus policy point at installed paths, the XML files parse, and the
# installed programs run.
set -euo pipefail

builddir=$1
destdir=$(mktemp -d /tmp/azshci-install-XXXXXX)
trap 'rm -rf "$destdir"' EXIT

meson install -C "$builddir" --no-rebuild --destdir "$destdir" --quiet

prefix=$(meson introspect "$builddir" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libexecdir=$prefix/$(meson introspect "$builddir" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libexecdir"][0])')

fail=0
expect() {
        local n
        n=$(find "$destdir" -path "$destdir$1" | wc -l)
        if [ "$n" -ne 1 ]; then echo "not ok: missing $1"; fail=1; else echo "ok: $1"; fi
}

expect "$libexecdir/azshci-attestd"
expect "$prefix/bin/azshcictl"
expect "$prefix/bin/azshci-attest"
expect "*/dbus-1/system.d/org.azshci.Attestation1.conf"
expect "*/dbus-1/system-services/org.azshci.Attestation1.service"
expect "*/dbus-1/interfaces/org.azshci.Attestation1.xml"
expect "*/polkit-1/actions/org.azshci.attestation.policy"
expect "*/systemd/system/azshci-attestd.service"
expect "*/systemd/system/azshci-attestd.socket"
expect "*/sysusers.d/azshci.conf"
expect "*/tmpfiles.d/azshci-attestation.conf"
expect "$prefix/share/azshci/benefits.json"
expect "$prefix/share/azshci/demo/vms.json"
expect "*/azshci/attestation.json"

# Installed paths inside the installed files.
unit=$(find "$destdir" -name azshci-attestd.service -path '*systemd*')
grep -qx "ExecStart=$libexecdir/azshci-attestd" "$unit" || { echo "not ok: unit ExecStart"; fail=1; }
act=$(find "$destdir" -name org.azshci.Attestation1.service -path '*system-services*')
grep -qx "Exec=$libexecdir/azshci-attestd" "$act" || { echo "not ok: activation Exec"; fail=1; }
grep -qx "SystemdService=azshci-attestd.service" "$act" || { echo "not ok: activation SystemdService"; fail=1; }

# XML parses.
for f in $(find "$destdir" -name '*.conf' -path '*dbus-1*') $(find "$destdir" -name '*.policy') \
         $(find "$destdir" -name '*.xml' -path '*interfaces*'); do
        python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$f" \
                || { echo "not ok: $f does not parse"; fail=1; }
done

# The installed programs run, and the installed config and rules load.
"$destdir$libexecdir/azshci-attestd" --version | grep -q '^azshci-attestd ' || { echo "not ok: --version"; fail=1; }
"$destdir$prefix/bin/azshcictl" --help >/dev/null || { echo "not ok: azshcictl --help"; fail=1; }
"$destdir$prefix/bin/azshci-attest" --help >/dev/null || { echo "not ok: azshci-attest --help"; fail=1; }

exit $fail
