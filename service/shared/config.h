/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "string-util.h"

/* The service configuration (/etc/azshci/attestation.json; docs/configuration.md lists every
 * key). Loading is strict: unknown keys and wrong types are errors that name the key, so a
 * typo never silently falls back to a default. */

typedef enum KeyType {
        KEY_TYPE_RSA_2048,
        KEY_TYPE_ECDSA_P256,
        _KEY_TYPE_MAX,
        _KEY_TYPE_INVALID = -EINVAL,
} KeyType;

DECLARE_STRING_TABLE_LOOKUP(key_type, KeyType);

typedef enum IssuerType {
        ISSUER_LOCAL,
        ISSUER_CMP,
        _ISSUER_TYPE_MAX,
        _ISSUER_TYPE_INVALID = -EINVAL,
} IssuerType;

DECLARE_STRING_TABLE_LOOKUP(issuer_type, IssuerType);

typedef struct CmpConfig {
        char *server;         /* http(s)://host[:port]/path */
        char *trust_anchor;   /* PEM file with the CA certificate(s) that sign CMP responses */
        char *reference;      /* IR: the registration reference (senderKID) */
        char *secret;         /* IR: the shared secret ... */
        char *secret_file;    /* ... or a file holding it */
        char *tls_trust;      /* PEM file to verify an HTTPS server; NULL = trust_anchor */
        char *subject;        /* certificate subject requested, NULL = CN=<server>.<domain> */
        unsigned timeout_sec; /* whole transaction */
} CmpConfig;

/* Where the VM inventory comes from (docs/libvirt.md). */
typedef enum InventoryProvider {
        INVENTORY_MANUAL,  /* RegisterVM, ImportVMs, UpdateVM, UnregisterVM */
        INVENTORY_LIBVIRT, /* the domains of a libvirt connection */
        _INVENTORY_PROVIDER_MAX,
        _INVENTORY_PROVIDER_INVALID = -EINVAL,
} InventoryProvider;

DECLARE_STRING_TABLE_LOOKUP_FROM_STRING(inventory_provider, InventoryProvider);
/* The "cluster" section (docs/cluster.md): without endpoints the service is standalone. */
typedef struct ClusterConfig {
        char **endpoints; /* etcd client URLs, http:// or https:// */
        char *prefix;     /* where the cluster's keys live */
        char *ca_file;    /* PEM CA that verifies the etcd members, NULL = the system's */
        char *cert_file;  /* PEM client certificate and key for etcd, or NULL */
        char *key_file;
        unsigned lease_ttl_sec; /* this server's status record lives this long without renewal */
        unsigned timeout_sec;   /* one call to etcd */
        /* One root for the cluster with the embedded issuer (docs/trust-model.md, "Cluster"):
         * the server that runs the CA, where it answers CMP, and the enrolment secret. */
        char *ca_server;      /* NULL = every server has its own root */
        char *ca_listen;      /* "ADDR:PORT" on the CA server, never a wildcard */
        char *ca_secret_file; /* the shared enrolment secret, a file only its owner reads */
        char *ca_fingerprint; /* the root's SHA-256 (64 lowercase hex digits), or NULL: first use */
} ClusterConfig;

typedef struct Config {
        bool enabled;
        char *server_name; /* NULL = the host name */
        char *subscription_id;
        char *state_directory;
        char *benefits_file;
        char *metadata_domain;
        KeyType key_type;
        unsigned certificate_validity_days;     /* what Sync asks the issuer for */
        unsigned certificate_max_validity_days; /* what Sync accepts */
        bool rotate_key_on_sync;                /* false: re-certify the current key */
        unsigned document_validity_minutes;
        unsigned sync_interval_hours;
        bool automatic_sync; /* false: only Sync() renews */
        bool embed_chain;
        unsigned signing_threads; /* 0 = one per CPU */
        bool legacy_network;      /* manage the bridge, ports and firewall of legacy OS support */
        char *legacy_bridge;
        char *frontend_socket; /* where the frontends connect directly, unless activation passes it */
        IssuerType issuer_type;
        CmpConfig cmp;
        InventoryProvider inventory_provider;
        char *inventory_uri; /* libvirt's connection URI, NULL = qemu:///system */
        ClusterConfig cluster;
} Config;

/* Fills in the defaults. */
void config_init(Config *c);
void config_done(Config *c);

/* Loads a configuration file over the defaults. A missing file is not an error when
 * missing_ok is set (the defaults stand). An inline "issuer.secret" in a file that others may
 * read is refused with -EPERM. Errors carry "FILE: problem" in ret_error. */
int config_load(Config *c, const char *path, bool missing_ok, char **ret_error);
int config_load_data(Config *c, const char *name, const char *data, char **ret_error);
