/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "macro.h"
#include "time-util.h"
#include "validate.h" /* cluster_server_name_is_valid(), cluster_prefix_is_valid() */

/* What the servers of a cluster share in etcd, as pure functions: the key layout under the
 * prefix and the JSON value of each record (docs/cluster.md lists them).
 *
 *   <prefix>/settings          {"legacySupport":bool}                   the cluster settings
 *   <prefix>/grants/<vm uuid>  {"legacyAccess":bool}                    one VM's legacy access
 *   <prefix>/servers/<name>    {"state":…,"lastSync":…,…}  (leased)     one server's status
 *   <prefix>/members/<name>    {"joined":usec}                          a server of the cluster
 *   <prefix>/reapply/<name>    {"requested":usec}                       re-apply legacy support there
 *   <prefix>/ca                {"server":…,"url":…,"root":PEM}          the cluster CA (public only)
 *
 * A member whose status record is gone (its lease expired: it stopped) is shown as
 * "Disconnected".
 *
 * Values are JSON objects; readers refuse unknown shapes (a bad record is reported, never
 * applied) but ignore members they do not know, so a newer server may add some. */

typedef enum ClusterKeyKind {
        CLUSTER_KEY_SETTINGS,
        CLUSTER_KEY_GRANT,
        CLUSTER_KEY_SERVER,
        CLUSTER_KEY_MEMBER,
        CLUSTER_KEY_REAPPLY,
        CLUSTER_KEY_CA,
        _CLUSTER_KEY_KIND_MAX,
        _CLUSTER_KEY_KIND_INVALID = -EINVAL,
} ClusterKeyKind;

int cluster_key_settings(const char *prefix, char **ret);
int cluster_key_grant(const char *prefix, const char *vm_id, char **ret);
int cluster_key_server(const char *prefix, const char *server, char **ret);
int cluster_key_member(const char *prefix, const char *server, char **ret);
int cluster_key_reapply(const char *prefix, const char *server, char **ret);
int cluster_key_ca(const char *prefix, char **ret);
/* The prefix of every key of the cluster ("<prefix>/"). */
int cluster_key_all(const char *prefix, char **ret);
/* Which record key is, and its name (VM id or server name; NULL for the settings and the CA). Keys under
 * the prefix that are none of these give -EBADMSG. */
int cluster_key_parse(const char *prefix, const char *key, ClusterKeyKind *ret_kind, char **ret_name);

typedef struct ClusterSettings {
        bool legacy_support;
} ClusterSettings;

int cluster_settings_to_json(const ClusterSettings *s, char **ret);
int cluster_settings_from_json(const char *data, ClusterSettings *ret, char **ret_error);

typedef struct ClusterGrant {
        bool legacy_access;
} ClusterGrant;

int cluster_grant_to_json(const ClusterGrant *g, char **ret);
int cluster_grant_from_json(const char *data, ClusterGrant *ret, char **ret_error);

typedef struct ClusterServerRecord {
        char *state;               /* "Active", "Expired", "Inactive", "Error" */
        usec_t last_sync;          /* CLOCK_REALTIME, 0 = never */
        usec_t certificate_expiry; /* CLOCK_REALTIME, 0 = no certificate */
        bool legacy_applied;       /* the bridge and firewall are up as the settings say */
        char *error;               /* "" when none */
} ClusterServerRecord;

/* The state shown for a member without a status record. */
#define CLUSTER_STATE_DISCONNECTED "Disconnected"

int cluster_member_to_json(usec_t joined, char **ret);
int cluster_reapply_to_json(usec_t requested, char **ret);

void cluster_server_record_done(ClusterServerRecord *r);
int cluster_server_record_to_json(const ClusterServerRecord *r, char **ret);
int cluster_server_record_from_json(const char *data, ClusterServerRecord *ret, char **ret_error);

/* The cluster CA, published by the CA server (cluster.caServer): where peers enrol over CMP
 * and the root certificate they (and guests) trust. Public data only: never a key or secret. */
typedef struct ClusterCaRecord {
        char *server; /* the CA server's name */
        char *url;    /* http://ADDR:PORT/cmp */
        char *root;   /* PEM of the root certificate */
} ClusterCaRecord;

void cluster_ca_record_done(ClusterCaRecord *r);
int cluster_ca_record_to_json(const ClusterCaRecord *r, char **ret);
/* Refuses a record whose root is not one PEM certificate or that holds anything private. */
int cluster_ca_record_from_json(const char *data, ClusterCaRecord *ret, char **ret_error);
