/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

#include "macro.h"

/* The legacy firewall in nft's JSON form (libnftables-json(5)), pure: no kernel, no libnftables.
 * nft-rules.c runs what these functions build and hands them what nft lists. */

/* The three tables (bridge, inet, netdev) as `nft -j -t list table` prints them, without the
 * handles: an array of {"table"|"set"|"map"|"chain"|"rule": {...}} objects in listing order.
 * The same objects, fed back to libnftables, create the tables. */
int nft_json_ruleset(const char *table, const char *bridge, JsonNode **ret);

/* The transaction that replaces the three tables with ours and adds the port bindings back:
 * pairs (ifname, mac) and marks (ifname, "0x%08x"), as the getters of nft-rules.h return them;
 * a mark's destination MAC comes from the binding of the same ifname. */
int nft_json_install(const char *table, const char *bridge, char **pairs, char **marks, char **ret);

/* Whether `nft -j list tables` lists table family/name. -EBADMSG when listing is not nft's JSON. */
int nft_json_has_table(const char *listing, const char *family, const char *name, bool *ret);

typedef enum NftElements {
        NFT_ELEMENTS_NAMES,     /* "name": a strv of names */
        NFT_ELEMENTS_NAME_MAC,  /* {"concat": ["name", "aa:bb:..."]}: pairs name, mac (lowercase) */
        NFT_ELEMENTS_NAME_MARK, /* ["name", 2768240643]: pairs name, "0xa5000003" */
} NftElements;

/* The elements of the set or map that `nft -j list set|map` printed in listing: NULL when it has
 * none. -EBADMSG when the listing or an element is not what kind says. */
int nft_json_elements(const char *listing, NftElements kind, char ***ret);

/* Compares one of our tables, as `nft -j -t list table family table` printed it (listing; NULL
 * when the table is missing), with the objects of that family in want (nft_json_ruleset()).
 * Appends one line per difference to *drift: a missing table, each missing or unexpected
 * object (with its JSON), or objects out of order. Handles, set elements and a netdev chain's
 * device (nft 1.0.6 does not list it) are not compared. -EBADMSG when listing is not nft's
 * JSON. */
int nft_json_drift(JsonNode *want, const char *family, const char *table, const char *listing,
        char ***drift);
