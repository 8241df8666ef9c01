#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The legacy network module end to end, with real traffic, inside network namespaces this
# script creates and always removes: HOST plays the host (bridge, firewall, listeners), A and B
# are guests with a veth each whose host end is a port of the bridge. The real host network is
# never touched. Only the module builds the network (through legacynet-tool); "ip" is used
# here solely to create the test's namespaces and veths, and to break things on purpose.
#
# Every rule of the firewall has a check below that fails without it (docs/legacy-networking.md
# lists them; tests/legacy/rule-removal.sh proves it by removing each rule in turn).
#
# Usage: test-legacynet.sh PATH/TO/legacynet-tool        TAP output; 77 = skipped (not root)
set -u

TOOL=${1:?usage: test-legacynet.sh legacynet-tool}
TOOL=$(realpath "$TOOL")

if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP needs root for network namespaces"
        exit 77
fi

ID=$$
HOST=azln-host-$ID
GA=azln-a-$ID
GB=azln-b-$ID
GC=azln-c-$ID
GR=azln-r-$ID
TMP=$(mktemp -d /tmp/azshci-legacynet.XXXXXX)
BR=azshci-imds0
MAC_A=02:00:5e:10:00:0a
MAC_B=02:00:5e:10:00:0b
MAC_C=02:00:5e:10:00:0c
IP_A=169.254.10.1
IP_B=169.254.10.2
IP_C=169.254.10.3
IP_R=10.98.0.2
HOSTIP=169.254.169.253
PIDS=()

cleanup() {
        for p in "${PIDS[@]}"; do
                kill "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        for ns in "$GA" "$GB" "$GC" "$GR" "$HOST"; do
                ip netns del "$ns" 2>/dev/null
        done
        rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

N=0
FAILED=0
ok() {
        N=$((N + 1))
        echo "ok $N - $1"
}
not_ok() {
        N=$((N + 1))
        FAILED=$((FAILED + 1))
        echo "not ok $N - $1"
        [ -n "${2:-}" ] && sed 's/^/# /' <<<"$2"
        return 0
}
# check DESCRIPTION COMMAND...: the command must succeed.
check() {
        local d=$1 out
        shift
        if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "$out"; fi
}
# refute DESCRIPTION COMMAND...: the command must fail.
refute() {
        local d=$1 out
        shift
        if out=$("$@" 2>&1); then not_ok "$d" "unexpectedly succeeded: $out"; else ok "$d"; fi
}
# expect_output DESCRIPTION EXPECTED COMMAND...: the command succeeds and prints exactly EXPECTED.
expect_output() {
        local d=$1 want=$2 out
        shift 2
        if out=$("$@" 2>&1) && [ "$out" = "$want" ]; then ok "$d"; else not_ok "$d" "got: $out"; fi
}
# expect_grep DESCRIPTION PATTERN COMMAND...: output (any exit status) contains PATTERN.
expect_grep() {
        local d=$1 pat=$2 out
        shift 2
        out=$("$@" 2>&1)
        if grep -qF -- "$pat" <<<"$out"; then ok "$d"; else not_ok "$d" "no '$pat' in: $out"; fi
}

inhost() { ip netns exec "$HOST" "$TOOL" "$@"; }
ina() { ip netns exec "$GA" "$TOOL" "$@"; }
inb() { ip netns exec "$GB" "$TOOL" "$@"; }
inc() { ip netns exec "$GC" "$TOOL" "$@"; }
inr() { ip netns exec "$GR" "$TOOL" "$@"; }

# sniff_while NETNS IFNAME SOURCE COMMAND...: counts the IPv4 frames from SOURCE that reach
# IFNAME in NETNS (whatever their destination MAC) while COMMAND runs: the capture starts
# before it and lasts 2.5 s, a window longer than the 1.5 s commands it is used with.
sniff_while() {
        local ns=$1 ifname=$2 src=$3 ready=$TMP/sniff-ready-$RANDOM out=$TMP/sniff-$RANDOM pid
        shift 3
        ip netns exec "$ns" "$TOOL" sniff "$ifname" "$src" 2500 "$ready" >"$out" &
        pid=$!
        wait_file "$ready" || return 1
        "$@" >/dev/null 2>&1
        wait "$pid"
        cat "$out"
}

# Waits for a file to appear, polling with a deadline.
wait_file() {
        local deadline=$((SECONDS + 10))
        while [ ! -e "$1" ]; do
                [ $SECONDS -ge $deadline ] && return 1
                sleep 0.02
        done
}
# serve NETNS ADDRESS PORT REPLY: background TCP server, waits until it listens.
serve() {
        local ready=$TMP/ready-$1-$2-$3
        ip netns exec "$1" "$TOOL" serve "$2" "$3" "$4" "$ready" &
        PIDS+=($!)
        wait_file "$ready"
}

# ---- setup (namespaces and veths only: the module builds the rest) ----
ip netns add "$HOST" && ip netns add "$GA" && ip netns add "$GB" && ip netns add "$GC" && ip netns add "$GR" || {
        echo "1..0 # SKIP cannot create network namespaces"
        exit 77
}
ip -n "$HOST" link set lo up
# What azshci-imds.service's ExecStartPre= sets: accepted sockets carry their SYN's mark.
ip netns exec "$HOST" sysctl -q -w net.ipv4.tcp_fwmark_accept=1
# br_netfilter (loaded on many hosts, here too) hands bridged IPv4 to the inet forward chain,
# whose "not routable" rules then isolate the ports as well: off in HOST, so that the bridge
# chains' own rules are what the isolation checks test (with it on, isolation only gets
# stronger).
for k in iptables ip6tables arptables; do
        if ip netns exec "$HOST" test -e /proc/sys/net/bridge/bridge-nf-call-$k; then
                ip netns exec "$HOST" sysctl -q -w net.bridge.bridge-nf-call-$k=0
        fi
done
for g in A B C; do
        ns=$GA mac=$MAC_A addr=$IP_A
        [ $g = B ] && ns=$GB mac=$MAC_B addr=$IP_B
        [ $g = C ] && ns=$GC mac=$MAC_C addr=$IP_C
        port=vm-${g,,}
        ip -n "$HOST" link add "$port" type veth peer name eth0 netns "$ns"
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 address "$mac"
        ip -n "$ns" addr add "$addr/16" dev eth0
        ip -n "$ns" link set eth0 up
done
# A route from A to a second host address that is not the endpoint.
ip -n "$HOST" addr add 10.99.0.1/32 dev lo
ip -n "$GA" route add 10.99.0.0/24 via "$HOSTIP"
# R: a machine on another link of the host (10.98.0.0/24), which routes: nothing may be routed
# between it and the bridge, nor may it reach the endpoint.
# R's link is a port of another bridge of the host (other0): our bridge rules must leave
# other bridges alone.
ip -n "$HOST" link add other0 type bridge
ip -n "$HOST" link add r0 type veth peer name eth0 netns "$GR"
ip -n "$HOST" link set r0 master other0 up
ip -n "$HOST" addr add 10.98.0.1/24 dev other0
ip -n "$HOST" link set other0 up
ip -n "$GR" addr add "$IP_R/24" dev eth0
ip -n "$GR" link set eth0 up
ip -n "$GR" link set lo up
ip -n "$GR" route add 169.254.0.0/16 via 10.98.0.1
ip netns exec "$HOST" sysctl -q -w net.ipv4.ip_forward=1
ip -n "$GA" route add 10.98.0.0/24 via "$HOSTIP"
ip -n "$GC" route add 10.98.0.0/24 via "$HOSTIP"

# ---- enable and attach ----
refute "attach before enable fails" inhost attach vm-a "$MAC_A"
expect_grep "attach before enable names the missing bridge" "Legacy bridge $BR does not exist" \
        inhost attach vm-a "$MAC_A"
check "enable" inhost enable
check "enable again (idempotent)" inhost enable
check "attach A" inhost attach vm-a "$MAC_A"
check "attach B" inhost attach vm-b "$MAC_B"
check "attach A again (idempotent)" inhost attach vm-a "$MAC_A"
refute "attach with a bad MAC fails" inhost attach vm-a 01:00:00:00:00:01
refute "attach of a missing interface fails" inhost attach vm-nope "$MAC_A"
expect_grep "missing interface is named" "Legacy interface vm-nope does not exist" inhost attach vm-nope "$MAC_A"
check "status: no drift" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
# A libvirt domain's port must be a tap (legacy_net_attach_tap): a veth is refused and left
# alone, a real tap (ip tuntap) is attached.
expect_grep "attach-tap refuses a veth, naming its kind" "Legacy interface vm-c is not a tap (kind 'veth')" \
        inhost attach-tap vm-c 02:00:00:00:0c:01
refute "the refused veth has no master" bash -c "ip -n '$HOST' link show vm-c | grep -F master"
check "a tap for attach-tap" ip -n "$HOST" tuntap add dev azgtaptest mode tap
check "attach-tap attaches a tap" inhost attach-tap azgtaptest 02:00:00:00:0c:02
expect_grep "the tap is a port of the bridge" "master $BR" ip -n "$HOST" link show azgtaptest
check "detach the tap" inhost detach azgtaptest
check "delete the tap" ip -n "$HOST" link del azgtaptest

# Independent views of what the module built (ip/nft listings, never used to build it).
expect_grep "bridge has the alias" "alias AZSHCI_HOST-IMDS_DO_NOT_MODIFY" ip -n "$HOST" -d link show "$BR"
expect_grep "bridge has the address" "inet $HOSTIP/16" ip -n "$HOST" addr show dev "$BR"
expect_grep "bridge is up" "state UP" ip -n "$HOST" link show "$BR"
expect_grep "bridge has no IPv6 link-local address generation" "addrgenmode none" ip -n "$HOST" -d link show "$BR"
BRMAC=$(ip -n "$HOST" -o link show "$BR" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
expect_grep "port A is isolated" "isolated on" ip -n "$HOST" -d link show vm-a
expect_grep "port B is isolated" "isolated on" ip -n "$HOST" -d link show vm-b
expect_grep "port A is a port of the bridge" "master $BR" ip -n "$HOST" link show vm-a
expect_grep "A's MAC is bound" "\"vm-a\" . $MAC_A" inhost nft "list set bridge azshci port_mac"
expect_grep "B's MAC is bound" "\"vm-b\" . $MAC_B" inhost nft "list set bridge azshci port_mac"

# ---- traffic ----
# The endpoint answers with the port it finds in the connection's mark, as azshci-imdsd does.
serve "$HOST" "$HOSTIP" 80 @port
serve "$HOST" 0.0.0.0 8080 other-port
serve "$HOST" 10.99.0.1 80 other-address
serve "$GB" "$IP_B" 80 guest-b

expect_output "A reaches $HOSTIP:80, identified by its port" vm-a ina connect "$HOSTIP" 80 3000
expect_output "B reaches $HOSTIP:80, identified by its port" vm-b inb connect "$HOSTIP" 80 3000
expect_output "the host itself (lo) carries no port mark" unidentified inhost connect "$HOSTIP" 80 3000
expect_output "control: B's listener is up" guest-b inb connect "$IP_B" 80 3000
refute "the host cannot open connections to B (only TCP 80 to the host is allowed)" inhost connect "$IP_B" 80 1500
refute "A cannot reach B (isolation)" ina connect "$IP_B" 80 1500
refute "A cannot reach host port 8080" ina connect "$HOSTIP" 8080 1500
refute "A cannot reach another host address" ina connect 10.99.0.1 80 1500
refute "A cannot ping the host" ina ping "$HOSTIP" 1500
expect_output "control: the host reaches its own port 8080" other-port inhost connect "$HOSTIP" 8080 3000

expect_output "another bridge of the host is not filtered: R reaches host port 8080" other-port \
        inr connect 10.98.0.1 8080 3000
refute "R (another link) cannot reach the endpoint" inr connect "$HOSTIP" 80 1500

# Spoofing: A takes B's MAC and gets nothing; with its own MAC back it works again.
ip -n "$GA" link set eth0 address "$MAC_B"
ip -n "$GA" neigh flush all
refute "A spoofing B's MAC cannot reach the endpoint" ina connect "$HOSTIP" 80 1500
ip -n "$GA" link set eth0 address "$MAC_A"
expect_output "A with its own MAC again reaches the endpoint" vm-a ina connect "$HOSTIP" 80 3000

# Spoofing without ARP: A takes B's MAC and address and pins the endpoint's MAC in its
# neighbour table, so only the source-MAC rule stands between it and the endpoint (the host
# still has B's entry and would answer B's MAC, which the bridge would then learn on A's port).
# restore_a puts A back as it was.
restore_a() {
        ip -n "$GA" link set eth0 address "$MAC_A"
        ip -n "$GA" addr flush dev eth0
        ip -n "$GA" addr add "$IP_A/16" dev eth0
        ip -n "$GA" route replace 10.99.0.0/24 via "$HOSTIP"
        ip -n "$GA" route replace 10.98.0.0/24 via "$HOSTIP"
        ip -n "$GA" neigh flush all
}
ip -n "$GA" link set eth0 address "$MAC_B"
ip -n "$GA" addr flush dev eth0
ip -n "$GA" addr add "$IP_B/16" dev eth0
ip -n "$GA" neigh replace "$HOSTIP" lladdr "$BRMAC" dev eth0 nud permanent
refute "A with B's MAC and address and a static neighbour entry cannot reach the endpoint" \
        ina connect "$HOSTIP" 80 1500
expect_output "nothing A sends with B's MAC and address reaches the host" 0 \
        sniff_while "$HOST" "$BR" "$IP_B" ina connect "$HOSTIP" 80 1500
expect_output "B is still served as itself" vm-b inb connect "$HOSTIP" 80 3000
restore_a

# Spoofing the address with its own MAC (ARP carries B's address with A's MAC, which the
# firewall lets through and which repoints the host's entry for B's address to A): A is
# identified as A all the same.
ip -n "$GA" addr flush dev eth0
ip -n "$GA" addr add "$IP_B/16" dev eth0
expect_output "A with B's address and its own MAC is identified as A" vm-a ina connect "$HOSTIP" 80 3000
expect_grep "the host's entry for B's address now points to A (the repointing is real)" "lladdr $MAC_A" \
        ip -n "$HOST" neigh show "$IP_B" dev "$BR"
# B, which still knows the host's MAC and so does not ARP, opens a connection: the host's
# answers carry B's port mark, so the netdev table addresses them to B's MAC whatever the
# host's entry says: B is served, and A sees none of them.
expect_output "A receives none of the host's frames of B's connection" 0 \
        sniff_while "$GA" eth0 "$HOSTIP" inb connect "$HOSTIP" 80 1500
expect_output "B is served as itself while the host's entry for its address points to A" vm-b \
        inb connect "$HOSTIP" 80 3000
restore_a
# The bridge floods a frame for a MAC it has not learnt (here: B's port learns nothing) to every
# port: the output chain lets the copies of B's frames out through B's port only.
ip -n "$HOST" link set vm-b type bridge_slave learning off fdb_flush
refute "control: the bridge does not know B's MAC" bash -c "bridge -n '$HOST' fdb show br '$BR' | grep -F '$MAC_B'"
expect_output "A receives none of the host's frames of B's connection when they are flooded" 0 \
        sniff_while "$GA" eth0 "$HOSTIP" inb connect "$HOSTIP" 80 1500
expect_output "B is served through the flood" vm-b inb connect "$HOSTIP" 80 3000
ip -n "$HOST" link set vm-b type bridge_slave learning on
# Once B asks ARP again (its own address, its own MAC) the host's entry is B's again.
ip -n "$GB" neigh flush all
expect_output "B, after its own ARP, is served as itself" vm-b inb connect "$HOSTIP" 80 3000
expect_output "A is served as itself" vm-a ina connect "$HOSTIP" 80 3000

# An ARP frame with A's own source MAC but B's MAC as the sender hardware address: dropped
# (else the host's entry for A's address would point to B's MAC, and A's replies would go to
# B's port, where the output chain would drop them).
check "A sends ARP with its own source MAC and B's as sender" \
        ina arp eth0 request "$MAC_A" "$MAC_B" "$IP_A" 00:00:00:00:00:00 "$HOSTIP"
expect_output "A is still served (the host kept A's MAC for A's address)" vm-a ina connect "$HOSTIP" 80 3000
refute "the host never took B's MAC for A's address" bash -c \
        "ip -n '$HOST' neigh show '$IP_A' dev '$BR' | grep -F '$MAC_B'"

# Nothing but the endpoint's ARP: A asks the host for another of its addresses (on-link
# route), the host would answer for any local address (arp_ignore=0): no answer.
ip -n "$GA" route add 10.99.0.1/32 dev eth0
refute "A cannot reach another host address on-link" ina connect 10.99.0.1 80 1500
refute "the host did not answer ARP for its other address" bash -c \
        "ip -n '$GA' neigh show 10.99.0.1 | grep -F lladdr"
ip -n "$GA" route del 10.99.0.1/32 dev eth0
ip -n "$GA" neigh flush all

# Routing: nothing is routed between the bridge and R's link (the host forwards: ip_forward=1).
serve "$GR" "$IP_R" 8080 guest-r
expect_output "control: R's listener is up" guest-r inr connect "$IP_R" 8080 3000
expect_output "nothing from A reaches R (A's packets are not routed)" 0 \
        sniff_while "$GR" eth0 "$IP_A" ina connect "$IP_R" 8080 1500
expect_output "nothing from R reaches A (nothing is routed into the bridge)" 0 \
        sniff_while "$GA" eth0 "$IP_R" inr connect "$IP_A" 8080 1500

# A port attached by hand (C: not in the firewall's sets, not isolated): the endpoint takes it
# for nobody, the host is closed to it but for TCP 80 to the endpoint, and between it and the
# VM ports nothing passes in either direction (the kernel's isolation does not stop it: only
# isolated ports are kept apart).
ip -n "$HOST" link set vm-c master "$BR" up
serve "$GC" "$IP_C" 8080 guest-c
serve "$GA" "$IP_A" 8080 guest-a
expect_output "a hand-attached port reaches the endpoint but is identified as nobody" unidentified \
        inc connect "$HOSTIP" 80 3000
refute "a hand-attached port cannot reach host port 8080" inc connect "$HOSTIP" 8080 1500
ip -n "$GA" neigh replace "$IP_C" lladdr "$MAC_C" dev eth0 nud permanent
ip -n "$GC" neigh replace "$IP_A" lladdr "$MAC_A" dev eth0 nud permanent
expect_output "nothing from A reaches the hand-attached port" 0 \
        sniff_while "$GC" eth0 "$IP_A" ina connect "$IP_C" 8080 1500
expect_output "nothing from the hand-attached port reaches A" 0 \
        sniff_while "$GA" eth0 "$IP_C" inc connect "$IP_A" 8080 1500
expect_output "nothing from the hand-attached port is routed to R" 0 \
        sniff_while "$GR" eth0 "$IP_C" inc connect "$IP_R" 8080 1500
ip -n "$HOST" link set vm-c nomaster
ip -n "$GA" neigh flush all

# Controls: the firewall itself is what blocks (its removal opens port 8080 and ping) ...
check "control: delete the tables by hand" inhost nft "delete table inet azshci; delete table bridge azshci"
expect_grep "status notices the missing tables" "nftables table bridge azshci is missing" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
expect_output "control: without the firewall A reaches port 8080" other-port ina connect "$HOSTIP" 8080 3000
check "control: without the firewall A can ping the host" ina ping "$HOSTIP" 3000
refute "without the firewall A still cannot reach B (port isolation)" ina connect "$IP_B" 80 1500
expect_output "control: without the firewall the host reaches B's listener" guest-b inhost connect "$IP_B" 80 3000
check "enable repairs the firewall" inhost enable
# The bindings went with the tables: re-attaching restores them (as the service does at start).
check "re-attach A" inhost attach vm-a "$MAC_A"
check "re-attach B" inhost attach vm-b "$MAC_B"
check "status: no drift after repair" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
refute "A cannot reach host port 8080 again" ina connect "$HOSTIP" 8080 1500

# Tampering with a rule is drift; enable puts it right and keeps the bindings.
check "tamper: add an accept rule" inhost nft "add rule inet azshci input accept"
expect_grep "status flags the extra rule" 'nftables table inet azshci: unexpected rule in chain input: {"expr":[{"accept":null}]}' inhost status
check "enable replaces the tampered table" inhost enable
check "status: no drift, bindings kept" inhost status vm-a="$MAC_A" vm-b="$MAC_B"

# Port isolation turned off by hand is drift.
ip -n "$HOST" link set vm-b type bridge_slave isolated off
expect_grep "status flags the non-isolated port" "port vm-b: not isolated" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
check "attach again re-isolates" inhost attach vm-b "$MAC_B"

# ---- detach ----
check "detach B" inhost detach vm-b
refute "detached B cannot reach the endpoint" inb connect "$HOSTIP" 80 1500
refute "B is no longer a port of the bridge" bash -c "ip -n '$HOST' link show vm-b | grep -F master"
refute "B's binding is gone" bash -c "ip netns exec '$HOST' '$TOOL' nft 'list set bridge azshci port_mac' | grep -F vm-b"
check "status without B: no drift" inhost status vm-a="$MAC_A"
expect_grep "status flags B as not attached while still expected" "port vm-b: not attached" \
        inhost status vm-a="$MAC_A" vm-b="$MAC_B"
check "detach B again (idempotent)" inhost detach vm-b
check "re-attach B" inhost attach vm-b "$MAC_B"
expect_output "B reaches the endpoint again" vm-b inb connect "$HOSTIP" 80 3000

# A port recreated under the same name (the VM restarted) has a new ifindex: its frames carry
# the old mark, which names no interface, until it is attached again; the status says so.
ip -n "$HOST" link del vm-b
ip -n "$HOST" link add vm-b type veth peer name eth0 netns "$GB"
ip -n "$GB" link set eth0 address "$MAC_B"
ip -n "$GB" addr add "$IP_B/16" dev eth0
ip -n "$GB" link set eth0 up
ip -n "$HOST" link set vm-b master "$BR" up
ip -n "$HOST" link set vm-b type bridge_slave isolated on
expect_grep "status flags the recreated port's old mark" "port vm-b: identity mark 0xa5" \
        inhost status vm-a="$MAC_A" vm-b="$MAC_B"
expect_output "the recreated port's frames identify nobody" unidentified inb connect "$HOSTIP" 80 3000
check "attach the recreated port" inhost attach vm-b "$MAC_B"
check "status: no drift with the recreated port attached" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
expect_output "B is identified by its recreated port" vm-b inb connect "$HOSTIP" 80 3000

# ---- the bridge deleted by hand: detected, repaired by disable + enable + attach ----
ip -n "$HOST" link del "$BR"
expect_grep "status detects the deleted bridge" "bridge $BR does not exist" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
refute "status exit code shows drift" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
refute "A cannot reach the endpoint without the bridge" ina connect "$HOSTIP" 80 1500
check "disable" inhost disable
check "enable" inhost enable
check "attach A" inhost attach vm-a "$MAC_A"
check "attach B" inhost attach vm-b "$MAC_B"
check "status: no drift after off/on" inhost status vm-a="$MAC_A" vm-b="$MAC_B"
expect_output "the recreated bridge has the same MAC (guests' ARP caches stay valid)" "$BRMAC" \
        bash -c "ip -n '$HOST' -o link show '$BR' | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'"
expect_output "A reaches the endpoint after repair, identified by its port" vm-a ina connect "$HOSTIP" 80 3000
refute "A still cannot reach B after repair" ina connect "$IP_B" 80 1500

# ---- disable removes everything ----
check "disable" inhost disable
check "bridge and tables are gone (netlink + libnftables)" inhost absent
refute "no bridge link left" ip -n "$HOST" link show "$BR"
refute "no table bridge azshci left" inhost nft "list table bridge azshci"
refute "no table inet azshci left" inhost nft "list table inet azshci"
refute "no table netdev azshci left" inhost nft "list table netdev azshci"
expect_grep "the ports are free again" "vm-a" ip -n "$HOST" link show vm-a
refute "port A has no master" bash -c "ip -n '$HOST' link show vm-a | grep -F master"
refute "A's fetch fails after disable" ina connect "$HOSTIP" 80 1500
check "disable again (idempotent)" inhost disable

echo "1..$N"
[ $FAILED -eq 0 ]
