/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* The requests to and replies from etcd's v3 JSON gateway, as pure functions: the bodies of
 * /v3/kv/range, /v3/kv/put, /v3/kv/txn, /v3/lease/grant, /v3/lease/keepalive and /v3/watch,
 * and the parsed key-values and watch events. Keys and values travel base64-encoded; 64-bit
 * numbers arrive as JSON strings (the gateway's protobuf mapping) or integers. */

typedef struct EtcdKv {
        char *key;
        char *value; /* NUL-terminated copy of the bytes, NULL for a deleted key */
        size_t value_size;
        int64_t create_revision;
        int64_t mod_revision;
        int64_t lease;
} EtcdKv;

typedef struct EtcdKvList {
        EtcdKv *kvs;
        size_t n_kvs;
        int64_t revision; /* the store's revision when the reply was made */
} EtcdKvList;

void etcd_kv_list_done(EtcdKvList *l);

typedef enum EtcdEventType {
        ETCD_EVENT_PUT,
        ETCD_EVENT_DELETE,
} EtcdEventType;

typedef struct EtcdWatchMessage {
        bool created;
        bool canceled;
        int64_t compact_revision; /* > 0: the start revision was compacted, resync */
        int64_t revision;
        char *cancel_reason;
        EtcdEventType *types; /* indexed like events.kvs */
        EtcdKvList events;
} EtcdWatchMessage;

void etcd_watch_message_done(EtcdWatchMessage *m);

/* The end of the range that holds every key starting with prefix ("/a/" → "/a0"). */
int etcd_prefix_range_end(const char *prefix, char **ret);

/* Request bodies. range_end may be NULL (one key); lease 0 means none. */
int etcd_build_range(const char *key, const char *range_end, char **ret);
int etcd_build_put(const char *key, const char *value, int64_t lease, char **ret);
/* One key of a compare-and-swap: put value at key if its mod_revision is still mod_revision
 * (0: the key must not exist). */
typedef struct EtcdCas {
        const char *key;
        int64_t mod_revision;
        const char *value;
        int64_t lease;
} EtcdCas;

/* A transaction that puts every value only if every key is still as the caller saw it, else
 * reads the keys back (in this order): all or nothing. */
int etcd_build_txn_cas(const EtcdCas *ops, size_t n_ops, char **ret);
int etcd_build_lease_grant(int64_t ttl_sec, char **ret);
int etcd_build_lease_keepalive(int64_t lease, char **ret);
/* Watches [key, range_end) from start_revision (0: from now). */
int etcd_build_watch_create(const char *key, const char *range_end, int64_t start_revision, char **ret);

/* Replies. Every parser refuses what is not the documented shape with -EBADMSG. An error reply
 * ({"error":…,"code":…}) gives -EIO with the message in ret_error. */
int etcd_parse_range(const char *data, EtcdKvList *ret, char **ret_error);
int etcd_parse_put(const char *data, int64_t *ret_revision, char **ret_error);
/* ret_succeeded: whether the compares held; on failure ret_current holds the keys as they are
 * now (keys that do not exist are left out). */
int etcd_parse_txn_cas(const char *data, bool *ret_succeeded, int64_t *ret_revision, EtcdKvList *ret_current,
        char **ret_error);
/* ret_ttl: the seconds left, 0 when the lease is gone. */
int etcd_parse_lease(const char *data, int64_t *ret_id, int64_t *ret_ttl, char **ret_error);
/* One message of the watch stream ({"result":{…}}). */
int etcd_parse_watch(const char *data, EtcdWatchMessage *ret, char **ret_error);
