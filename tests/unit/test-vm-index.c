/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hash index behind the VM lookups (vm-index.h): puts, gets and removals, chains of
 * colliding keys (including ones that wrap around the end of the table) with removals in the
 * middle of them, growth, keys read from the values, and the per-VM indexes with their
 * all-or-nothing adds. */

#define TEST_PREFIX "/vm-index"

#include <glib.h>

#include "test-util.h"
#include "vm-index.h"

#define ID1 "6f1c8a52-3b0e-4c7d-9a41-2d5e8f7b9c10"
#define ID2 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define ID3 "11111111-2222-4333-8444-555555555555"

/* Every key hashes to the same bucket: one long probe run. */
static uint64_t hash_constant(const void *key) {
        return 5;
}

/* The key is its own hash: the test decides where each key wants to go. */
static uint64_t hash_identity(const void *key) {
        return *(const uint32_t *)key;
}

/* Eight home buckets, whatever the size of the table. */
static uint64_t hash_mod8(const void *key) {
        return *(const uint32_t *)key % 8;
}

static bool u32_eq(const void *a, const void *b) {
        return *(const uint32_t *)a == *(const uint32_t *)b;
}

/* The u32 tests' values are the keys themselves. */
static const void *itself(const void *value) {
        return value;
}

static const HashIndexType constant_type = {hash_constant, u32_eq};
static const HashIndexType identity_type = {hash_identity, u32_eq};
static const HashIndexType mod8_type = {hash_mod8, u32_eq};

static void check_all(const HashIndex *h, const uint32_t *keys, const bool *present, size_t n) {
        size_t count = 0;

        for (size_t i = 0; i < n; i++) {
                void *v = hash_index_get(h, &keys[i]);
                if (present[i]) {
                        g_assert_true(v == &keys[i]);
                        count++;
                } else
                        g_assert_null(v);
        }
        g_assert_cmpuint(h->n_entries, ==, count);
}

/* The buckets from first on hold exactly these keys, in this order, and the next one is free. */
static void expect_run(const HashIndex *h, size_t first, const uint32_t *const *expected, size_t n) {
        size_t mask = h->n_buckets - 1;

        for (size_t i = 0; i < n; i++)
                g_assert_true(h->values[(first + i) & mask] == expected[i]);
        g_assert_null(h->values[(first + n) & mask]);
}
#define EXPECT_RUN(h, first, ...)                                    \
        expect_run(h, first, (const uint32_t *const[]){__VA_ARGS__}, \
                G_N_ELEMENTS(((const uint32_t *const[]){__VA_ARGS__})))

/* A value that holds its key, not at its start. */
typedef struct Named {
        int payload;
        char name[8];
} Named;

static const void *named_key(const void *value) {
        return ((const Named *)value)->name;
}

TEST(strings) {
        HashIndex h;
        Named va = {1, "alpha"}, vb = {2, "beta"}, va2 = {3, "alpha"};
        char a2[] = "alpha";

        hash_index_init(&h, &hash_index_string_type, named_key);
        g_assert_null(hash_index_get(&h, "alpha")); /* empty table, no buckets yet */
        g_assert_null(hash_index_remove(&h, "alpha"));
        g_assert_cmpuint(h.n_buckets, ==, 0);

        g_assert_cmpint(hash_index_put(&h, &va), ==, 0);
        g_assert_cmpint(hash_index_put(&h, &vb), ==, 0);
        g_assert_cmpuint(h.n_entries, ==, 2);
        g_assert_cmpuint(h.n_buckets, ==, 16);

        /* Lookups compare contents, not pointers. */
        g_assert_true(hash_index_get(&h, a2) == &va);
        g_assert_true(hash_index_get(&h, "beta") == &vb);
        g_assert_null(hash_index_get(&h, "gamma"));
        g_assert_null(hash_index_get(&h, "alph"));
        g_assert_null(hash_index_get(&h, ""));

        /* Same key: the same value again is fine, another value is refused and changes nothing. */
        g_assert_cmpint(hash_index_put(&h, &va), ==, 0);
        g_assert_cmpint(hash_index_put(&h, &va2), ==, -EEXIST);
        g_assert_true(hash_index_get(&h, "alpha") == &va);
        g_assert_cmpuint(h.n_entries, ==, 2);

        g_assert_true(hash_index_remove(&h, "alpha") == &va);
        g_assert_null(hash_index_remove(&h, "alpha"));
        g_assert_null(hash_index_get(&h, "alpha"));
        g_assert_true(hash_index_get(&h, "beta") == &vb);
        g_assert_cmpuint(h.n_entries, ==, 1);

        /* A removed key can be put again, with another value. */
        g_assert_cmpint(hash_index_put(&h, &va2), ==, 0);
        g_assert_true(hash_index_get(&h, "alpha") == &va2);

        hash_index_done(&h);
        g_assert_null(h.values);
        g_assert_cmpuint(h.n_entries, ==, 0);
        hash_index_done(&h); /* twice is fine */
}

TEST(collisions_one_run) {
        uint32_t keys[12];
        bool present[12];
        HashIndex h;

        hash_index_init(&h, &constant_type, itself);
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                keys[i] = (uint32_t)(i * 7 + 1);
                present[i] = true;
                g_assert_cmpint(hash_index_put(&h, &keys[i]), ==, 0);
        }
        g_assert_cmpuint(h.n_buckets, ==, 16); /* 12 = 3/4 of 16: no growth yet */
        check_all(&h, keys, present, G_N_ELEMENTS(keys));

        /* The run starts at bucket 5 and wraps around the end (16 buckets, 12 keys). */
        EXPECT_RUN(&h, 5, &keys[0], &keys[1], &keys[2], &keys[3], &keys[4], &keys[5], &keys[6], &keys[7],
                &keys[8], &keys[9], &keys[10], &keys[11]);

        /* Remove from the head, the middle and the tail of the run: the others stay found. */
        g_assert_true(hash_index_remove(&h, &keys[0]) == &keys[0]);
        present[0] = false;
        check_all(&h, keys, present, G_N_ELEMENTS(keys));
        g_assert_true(hash_index_remove(&h, &keys[6]) == &keys[6]);
        present[6] = false;
        check_all(&h, keys, present, G_N_ELEMENTS(keys));
        g_assert_true(hash_index_remove(&h, &keys[11]) == &keys[11]);
        present[11] = false;
        check_all(&h, keys, present, G_N_ELEMENTS(keys));
        /* Backward shift: the run is contiguous again from its home bucket, in order, no holes. */
        EXPECT_RUN(&h, 5, &keys[1], &keys[2], &keys[3], &keys[4], &keys[5], &keys[7], &keys[8], &keys[9],
                &keys[10]);

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
                if (present[i]) {
                        g_assert_true(hash_index_remove(&h, &keys[i]) == &keys[i]);
                        present[i] = false;
                        check_all(&h, keys, present, G_N_ELEMENTS(keys));
                }
        for (size_t i = 0; i < h.n_buckets; i++)
                g_assert_null(h.values[i]);
        hash_index_done(&h);
}

TEST(collisions_wrap_around) {
        /* Keys homed at the last buckets spill over to the first ones, where keys homed there
         * follow; removing a spilled one must not strand the keys behind it. */
        uint32_t keys[] = {14, 15, 30, 31, 0, 16, 1};
        bool present[G_N_ELEMENTS(keys)];
        HashIndex h;

        hash_index_init(&h, &identity_type, itself);
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                present[i] = true;
                g_assert_cmpint(hash_index_put(&h, &keys[i]), ==, 0);
        }
        g_assert_cmpuint(h.n_buckets, ==, 16);
        /* 14→14, 15→15, 30→0, 31→1, 0→2, 16→3, 1→4 */
        EXPECT_RUN(&h, 14, &keys[0], &keys[1], &keys[2], &keys[3], &keys[4], &keys[5], &keys[6]);

        /* 15 leaves: 30 and 31 (homes 14 and 15) move back across the end, 0 and 16 (home 0)
         * follow, and 1 (home 1) moves to bucket 3. */
        g_assert_true(hash_index_remove(&h, &keys[1]) == &keys[1]);
        present[1] = false;
        check_all(&h, keys, present, G_N_ELEMENTS(keys));
        EXPECT_RUN(&h, 14, &keys[0], &keys[2], &keys[3], &keys[4], &keys[5], &keys[6]);

        /* 14 leaves: 30 (home 14) moves up, 31 (home 15) moves to 15, and so on. */
        g_assert_true(hash_index_remove(&h, &keys[0]) == &keys[0]);
        present[0] = false;
        check_all(&h, keys, present, G_N_ELEMENTS(keys));
        EXPECT_RUN(&h, 14, &keys[2], &keys[3], &keys[4], &keys[5], &keys[6]);
        hash_index_done(&h);
}

TEST(growth) {
        enum { N = 10000 };
        uint32_t *keys = g_new(uint32_t, N);
        bool *present = g_new(bool, N);
        size_t last_buckets = 0;
        HashIndex h;

        hash_index_init(&h, &hash_index_u32_type, itself);
        for (size_t i = 0; i < N; i++) {
                keys[i] = (uint32_t)(i * 2654435761u); /* distinct: an odd multiplier mod 2^32 */
                present[i] = true;
                g_assert_cmpint(hash_index_put(&h, &keys[i]), ==, 0);
                g_assert_cmpuint(h.n_entries, ==, i + 1);
                /* Powers of two, at most 3/4 full, grown only when needed. */
                g_assert_cmpuint(h.n_buckets & (h.n_buckets - 1), ==, 0);
                g_assert_cmpuint(h.n_entries * 4, <=, h.n_buckets * 3);
                if (h.n_buckets != last_buckets) {
                        if (last_buckets > 0) {
                                g_assert_cmpuint(h.n_buckets, ==, last_buckets * 2);
                                g_assert_cmpuint(i, ==, last_buckets / 4 * 3);
                        }
                        last_buckets = h.n_buckets;
                }
        }
        g_assert_cmpuint(h.n_buckets, ==, 16384);
        check_all(&h, keys, present, N);

        /* Every key once more: nothing is added. */
        for (size_t i = 0; i < N; i++)
                g_assert_cmpint(hash_index_put(&h, &keys[i]), ==, 0);
        g_assert_cmpuint(h.n_entries, ==, N);

        /* Remove every odd one: the rest stay, the table does not shrink. */
        for (size_t i = 1; i < N; i += 2) {
                g_assert_true(hash_index_remove(&h, &keys[i]) == &keys[i]);
                present[i] = false;
        }
        check_all(&h, keys, present, N);
        g_assert_cmpuint(h.n_buckets, ==, 16384);

        /* reserve() grows once up front, and puts up to that size never grow again. */
        g_assert_cmpint(hash_index_reserve(&h, 20000), ==, 0);
        g_assert_cmpuint(h.n_buckets, ==, 32768);
        check_all(&h, keys, present, N);
        g_assert_cmpint(hash_index_reserve(&h, 100), ==, 0);
        g_assert_cmpuint(h.n_buckets, ==, 32768);

        hash_index_done(&h);
        g_free(keys);
        g_free(present);
}

TEST(random_against_model) {
        /* Heavy collisions (64 keys, 8 home buckets, so runs overlap and wrap) and a random mix
         * of puts and removes, compared with a plain array after every step. */
        enum { K = 64 };
        uint32_t keys[K];
        bool present[K] = {};
        GRand *rand = g_rand_new_with_seed(4242);
        HashIndex h;

        for (size_t i = 0; i < K; i++)
                keys[i] = (uint32_t)i * 3 + 5;
        hash_index_init(&h, &mod8_type, itself);
        for (unsigned step = 0; step < 20000; step++) {
                size_t i = g_rand_int_range(rand, 0, K);

                if (g_rand_boolean(rand)) {
                        g_assert_cmpint(hash_index_put(&h, &keys[i]), ==, 0);
                        present[i] = true;
                } else {
                        void *v = hash_index_remove(&h, &keys[i]);
                        g_assert_true(v == (present[i] ? &keys[i] : NULL));
                        present[i] = false;
                }
                check_all(&h, keys, present, K);
        }
        g_rand_free(rand);
        hash_index_done(&h);
}

/* A value with its key behind other data. */
typedef struct Record {
        uint64_t payload;
        uint32_t key;
} Record;

static const void *record_key(const void *value) {
        return &((const Record *)value)->key;
}

TEST(key_of_value) {
        /* A slot holds only the value (one pointer); the key is read from the value wherever
         * the index needs it: to put, to find, to move entries when the table grows and when a
         * removal shifts a probe run back. The payloads hash elsewhere than the keys, so an
         * index that took the value for its key would lose them. */
        enum { N = 200 };
        Record *recs = g_new0(Record, N);
        HashIndex h;

        hash_index_init(&h, &mod8_type, record_key);
        g_assert_cmpuint(sizeof(h.values[0]), ==, sizeof(void *));
        for (size_t i = 0; i < N; i++) {
                recs[i] = (Record){.payload = UINT64_MAX - i, .key = (uint32_t)i * 3 + 5};
                g_assert_cmpint(hash_index_put(&h, &recs[i]), ==, 0);
        }
        g_assert_cmpuint(h.n_entries, ==, N);
        g_assert_cmpuint(h.n_buckets, ==, 512); /* grew 16 → 512 */
        for (size_t i = 0; i < N; i++)
                g_assert_true(hash_index_get(&h, &recs[i].key) == &recs[i]);

        /* Another value with a key that is there: refused, whatever its payload. */
        g_assert_cmpint(hash_index_put(&h, &(Record){.payload = 7, .key = 5}), ==, -EEXIST);

        for (size_t i = 0; i < N; i += 2)
                g_assert_true(hash_index_remove(&h, &(uint32_t){(uint32_t)i * 3 + 5}) == &recs[i]);
        g_assert_cmpuint(h.n_entries, ==, N / 2);
        for (size_t i = 0; i < N; i++)
                g_assert_true(hash_index_get(&h, &(uint32_t){(uint32_t)i * 3 + 5}) ==
                              (i % 2 == 1 ? &recs[i] : NULL));

        hash_index_done(&h);
        g_free(recs);
}

static Vm *make_vm(const char *id, const char *name, uint32_t cid, const char *mac, const char *ifname) {
        Vm *vm = vm_new();

        g_assert_nonnull(vm);
        g_assert_cmpint(vm_set_field(vm, "Id", &(VmValue){.type = 's', .s = id}, NULL), ==, 0);
        g_assert_cmpint(vm_set_field(vm, "Name", &(VmValue){.type = 's', .s = name}, NULL), ==, 0);
        g_assert_cmpint(vm_set_field(vm, "VsockCid", &(VmValue){.type = 'u', .u = cid}, NULL), ==, 0);
        g_assert_cmpint(vm_set_field(vm, "LegacyMac", &(VmValue){.type = 's', .s = mac}, NULL), ==, 0);
        g_assert_cmpint(vm_set_field(vm, "LegacyInterface", &(VmValue){.type = 's', .s = ifname}, NULL), ==,
                0);
        return vm;
}

TEST(vm_indexes) {
        _cleanup_(vm_freep) Vm *a = make_vm(ID1, "a", 3, "52:54:00:00:00:01", "tap1");
        _cleanup_(vm_freep) Vm *b = make_vm(ID2, "b", 0, "", "");
        _cleanup_(vm_freep) Vm *c = NULL;
        VmIndexes ix;
        VmKey key = _VM_KEY_INVALID;
        uint32_t cid;

        g_assert_cmpstr(vm_key_to_string(VM_KEY_ID), ==, "Id");
        g_assert_cmpstr(vm_key_to_string(VM_KEY_LEGACY_INTERFACE), ==, "LegacyInterface");
        g_assert_null(vm_key_to_string(_VM_KEY_MAX));

        vm_indexes_init(&ix);
        g_assert_cmpint(vm_indexes_add(&ix, a), ==, 0);
        g_assert_cmpint(vm_indexes_add(&ix, b), ==, 0);
        g_assert_cmpint(vm_indexes_add(&ix, a), ==, 0); /* again: nothing changes */

        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_ID], ID1) == a);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_NAME], "b") == b);
        cid = 3;
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_VSOCK_CID], &cid) == a);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_LEGACY_MAC], "52:54:00:00:00:01") == a);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_LEGACY_INTERFACE], "tap1") == a);
        /* "None" values are not indexed: b has CID 0 and no MAC or interface. */
        cid = 0;
        g_assert_null(hash_index_get(&ix.by_key[VM_KEY_VSOCK_CID], &cid));
        g_assert_cmpuint(ix.by_key[VM_KEY_VSOCK_CID].n_entries, ==, 1);
        g_assert_cmpuint(ix.by_key[VM_KEY_LEGACY_MAC].n_entries, ==, 1);
        g_assert_cmpuint(ix.by_key[VM_KEY_LEGACY_INTERFACE].n_entries, ==, 1);

        /* Clashes, key by key, in the order Id, Name, VsockCid, LegacyMac, LegacyInterface. */
        c = make_vm(ID3, "c", 0, "", "");
        g_assert_null(vm_indexes_find_clash(&ix, c, NULL, &key));
        g_assert_cmpint(key, ==, _VM_KEY_INVALID);
        c->vsock_cid = 3;
        g_assert_true(vm_indexes_find_clash(&ix, c, NULL, &key) == a);
        g_assert_cmpint(key, ==, VM_KEY_VSOCK_CID);
        g_assert_null(vm_indexes_find_clash(&ix, c, a, &key)); /* a itself is allowed */
        c->vsock_cid = 4;
        g_assert_cmpint(vm_set_field(c, "LegacyInterface", &(VmValue){.type = 's', .s = "tap1"}, NULL), ==,
                0);
        g_assert_true(vm_indexes_find_clash(&ix, c, NULL, &key) == a);
        g_assert_cmpint(key, ==, VM_KEY_LEGACY_INTERFACE);
        g_assert_cmpint(vm_set_field(c, "LegacyMac", &(VmValue){.type = 's', .s = "52:54:00:00:00:01"},
                                NULL),
                ==, 0);
        g_assert_true(vm_indexes_find_clash(&ix, c, NULL, &key) == a);
        g_assert_cmpint(key, ==, VM_KEY_LEGACY_MAC);
        g_assert_cmpint(vm_set_field(c, "Name", &(VmValue){.type = 's', .s = "b"}, NULL), ==, 0);
        g_assert_true(vm_indexes_find_clash(&ix, c, NULL, &key) == b);
        g_assert_cmpint(key, ==, VM_KEY_NAME);

        /* All or nothing: c clashes (name "b"), so none of its other keys get in. */
        g_assert_cmpint(vm_indexes_add(&ix, c), ==, -EEXIST);
        g_assert_null(hash_index_get(&ix.by_key[VM_KEY_ID], ID3));
        cid = 4;
        g_assert_null(hash_index_get(&ix.by_key[VM_KEY_VSOCK_CID], &cid));
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_LEGACY_MAC], "52:54:00:00:00:01") == a);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_NAME], "b") == b);

        /* Removing c (never added) leaves a's and b's keys alone. */
        vm_indexes_remove(&ix, c);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_LEGACY_MAC], "52:54:00:00:00:01") == a);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_NAME], "b") == b);

        /* Once a is gone, c fits except for b's name; renamed it goes in. */
        vm_indexes_remove(&ix, a);
        for (VmKey k = 0; k < _VM_KEY_MAX; k++)
                g_assert_cmpuint(ix.by_key[k].n_entries, ==, k == VM_KEY_ID || k == VM_KEY_NAME ? 1 : 0);
        g_assert_cmpint(vm_set_field(c, "Name", &(VmValue){.type = 's', .s = "c"}, NULL), ==, 0);
        g_assert_cmpint(vm_indexes_add(&ix, c), ==, 0);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_LEGACY_MAC], "52:54:00:00:00:01") == c);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_LEGACY_INTERFACE], "tap1") == c);
        g_assert_true(vm_indexes_find_clash(&ix, a, NULL, &key) == c);
        g_assert_cmpint(key, ==, VM_KEY_LEGACY_MAC);

        g_assert_cmpint(vm_indexes_reserve(&ix, 1000), ==, 0);
        for (VmKey k = 0; k < _VM_KEY_MAX; k++)
                g_assert_cmpuint(ix.by_key[k].n_buckets, ==, 2048);
        g_assert_true(hash_index_get(&ix.by_key[VM_KEY_ID], ID3) == c);
        vm_indexes_done(&ix);
}

/* 10,000 VMs, as at the service's scale: every VM is found by each of its keys after the
 * indexes grew, and after every other VM left; no clash is reported among distinct keys. Also
 * the workload of the lookup-speed measurements in docs/hardening.md. */
TEST(vm_indexes_many) {
        enum { N = 10000 };
        Vm **vms = g_new0(Vm *, N);
        VmIndexes ix;

        vm_indexes_init(&ix);
        for (size_t i = 0; i < N; i++) {
                g_autofree char *id = g_strdup_printf("6f1c8a52-3b0e-4c7d-9a41-%012zx", i);
                g_autofree char *name = g_strdup_printf("vm-%05zu", i);
                g_autofree char *mac =
                        g_strdup_printf("52:54:00:%02zx:%02zx:%02zx", i >> 16, (i >> 8) & 0xff, i & 0xff);
                g_autofree char *ifname = g_strdup_printf("tap%zu", i);

                /* Every third VM has no vsock CID, every fifth no legacy port. */
                vms[i] = make_vm(id, name, i % 3 == 0 ? 0 : (uint32_t)i + 3, i % 5 == 0 ? "" : mac,
                        i % 5 == 0 ? "" : ifname);
                g_assert_cmpint(vm_indexes_add(&ix, vms[i]), ==, 0);
        }
        g_assert_cmpuint(ix.by_key[VM_KEY_ID].n_entries, ==, N);
        g_assert_cmpuint(ix.by_key[VM_KEY_VSOCK_CID].n_entries, ==, N - (N + 2) / 3);
        g_assert_cmpuint(ix.by_key[VM_KEY_LEGACY_MAC].n_entries, ==, N - N / 5);

        for (unsigned round = 0; round < 2; round++) {
                for (size_t i = 0; i < N; i++) {
                        const Vm *vm = vms[i];
                        bool gone = round == 1 && i % 2 == 1;

                        for (VmKey k = 0; k < _VM_KEY_MAX; k++) {
                                const void *key = k == VM_KEY_ID          ? (const void *)vm->id
                                                  : k == VM_KEY_NAME      ? (const void *)vm->name
                                                  : k == VM_KEY_VSOCK_CID ? (const void *)&vm->vsock_cid
                                                  : k == VM_KEY_LEGACY_MAC
                                                          ? (const void *)vm->legacy_mac
                                                          : (const void *)vm->legacy_interface;
                                bool indexed = k == VM_KEY_VSOCK_CID ? vm->vsock_cid != 0 : !isempty(key);

                                g_assert_true(hash_index_get(&ix.by_key[k], key ?: "") ==
                                              (indexed && !gone ? vm : NULL));
                        }
                        g_assert_null(vm_indexes_find_clash(&ix, vm, gone ? NULL : vm, NULL));
                }
                if (round == 0)
                        for (size_t i = 1; i < N; i += 2)
                                vm_indexes_remove(&ix, vms[i]);
        }
        g_assert_cmpuint(ix.by_key[VM_KEY_ID].n_entries, ==, N / 2);
        g_assert_cmpuint(ix.by_key[VM_KEY_NAME].n_entries, ==, N / 2);

        vm_indexes_done(&ix);
        for (size_t i = 0; i < N; i++)
                vm_free(vms[i]);
        g_free(vms);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        return g_test_run();
}
