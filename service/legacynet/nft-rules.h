/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "macro.h"

/* The legacy network's firewall, through libnftables (no nft child process). Two tables of
 * our own with the same name:
 *
 *   table bridge <t>: sets "ports" (ifname) and "port_mac" (ifname . ether_addr), map
 *     "port_mark" (ifname : mark) and set "port_id" (ifname . mark) with the same pairs;
 *     prerouting: frames from a port go through chain "guest": source MAC and ARP sender
 *       must be the port's bound MAC, and what passes gets the port's mark (legacy-mark.h):
 *       the identity the HTTP frontend reads from the accepted socket;
 *     forward: nothing from or to a port is bridged (guest isolation, with the ports'
 *       IFLA_BRPORT_ISOLATED flag);
 *     input: from a port only ARP for 169.254.169.253 and TCP 80 to it reach the host (with
 *       forward, this is the DHCP and router guard: a guest's DHCP replies, router
 *       advertisements and redirects reach nobody);
 *     output: a frame of the host that carries a port's mark (a reply on a connection that
 *       port opened) leaves through that port only, whatever the neighbour table says.
 *   table inet <t>: input from the bridge: only TCP 80 to 169.254.169.253; forward: nothing
 *     is routed into or out of the bridge.
 *   table netdev <t>: map "port_dest" (mark : ether_addr, each port's mark to its bound MAC);
 *     egress on the bridge device: a frame of the host that carries a port's mark is addressed
 *     to that port's MAC before the bridge picks the port (the neighbour table, which a
 *     guest's ARP can repoint, decides nothing for marked frames). Created with the other two
 *     once the bridge exists (older kernels refuse a netdev chain for a missing device).
 *
 * The tables are written once, in the form `nft -j list` prints (nft-json.c): installed from
 * that JSON, and checked by comparing the kernel's JSON listing object by object with it. What
 * libnftables reports as an error is passed on as the message; the errno says what was
 * attempted (-EIO for a change or a listing that failed, -ENOENT for a listing of a missing
 * table), never read from the message. */

/* Replaces the tables atomically with ours, keeping the current port bindings and marks. The
 * bridge must exist. */
int nft_rules_install(const char *table, const char *bridge, char **ret_error);

/* Deletes the tables; absent tables are fine. */
int nft_rules_remove(const char *table, char **ret_error);

/* Reads the port bindings: a strv of pairs ifname, mac. -ENOENT when the table is missing. */
int nft_rules_get_bindings(const char *table, char ***ret_pairs, char **ret_error);

/* Reads the names in the "ports" set. -ENOENT when the table is missing. */
int nft_rules_get_ports(const char *table, char ***ret_names, char **ret_error);

/* Reads the port marks: a strv of pairs ifname, "0x%08x". -ENOENT when the table is missing. */
int nft_rules_get_marks(const char *table, char ***ret_pairs, char **ret_error);

/* The value of key in a strv of pairs (as the getters above return), or NULL. */
const char *nft_rules_pairs_get(char **pairs, const char *key);

/* Binds ifname to mac (mac normalised, lowercase) and to mark, dropping other bindings and
 * marks of ifname. */
int nft_rules_bind(const char *table, const char *ifname, const char *mac, uint32_t mark, char **ret_error);

/* Removes every binding and mark of ifname. Missing binding or table: fine. */
int nft_rules_unbind(const char *table, const char *ifname, char **ret_error);

/* Compares the kernel's tables with ours. ret_present: all three exist; ret_drift receives one
 * line per difference (NULL when none). */
int nft_rules_check(const char *table, const char *bridge, bool *ret_present, char ***ret_drift);

/* Runs an nft command (text) with libnftables; for tests and docs. ret_output may be NULL.
 * -EINVAL when libnftables refuses or fails it. */
int nft_rules_run(const char *cmd, bool terse, char **ret_output, char **ret_error);
