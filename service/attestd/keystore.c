/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "fileio.h"
#include "keystore.h"
#include "log.h"
#include "x509-util.h"

#define IDENTITY_FILE_MAX (1024U * 1024U)

int generate_key_pair(KeyType type, EVP_PKEY **ret) {
        EVP_PKEY *k;

        assert(ret);

        switch (type) {
        case KEY_TYPE_RSA_2048:
                k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
                break;
        case KEY_TYPE_ECDSA_P256:
                k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
                break;
        default:
                return -EINVAL;
        }
        if (!k) {
                ERR_clear_error();
                return -EIO;
        }
        *ret = k;
        return 0;
}

typedef struct FileKeystore {
        Keystore keystore;
        char *dir;
} FileKeystore;

static FileKeystore *file_keystore(Keystore *ks) {
        return (FileKeystore *)ks;
}

static int file_generate_key(Keystore *ks, KeyType type, EVP_PKEY **ret) {
        assert(ks);
        return generate_key_pair(type, ret);
}

static void erase_and_free(char *p, size_t size) {
        if (p) {
                OPENSSL_cleanse(p, size);
                free(p);
        }
}

/* Parses "private key PEM, certificate PEM, chain PEM..." into an identity. */
static int identity_from_pem(const char *data, size_t size, SigningIdentity **ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        int r;

        r = pem_decode_private_key(data, size, &key);
        if (r < 0)
                return r;
        r = pem_decode_certificates(data, size, &certs);
        if (r == -ENOENT)
                return -EBADMSG;
        if (r < 0)
                return r;
        cert = sk_X509_shift(certs);
        return signing_identity_new(key, cert, certs, ret);
}

static int identity_load_file(const char *path, SigningIdentity **ret) {
        char *data = NULL;
        size_t size = 0;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_uid != geteuid())
                return -EPERM;
        if ((st.st_mode & 077) != 0 && chmod(path, 0600) < 0)
                return negative_errno();

        r = read_full_file(path, IDENTITY_FILE_MAX, &data, &size);
        if (r < 0)
                return r;
        r = identity_from_pem(data, size, ret);
        erase_and_free(data, size);
        return r;
}

static int file_load(Keystore *ks, SigningIdentity **ret) {
        FileKeystore *f = file_keystore(ks);
        _cleanup_free_ char *cur = NULL, *old = NULL;
        int r, q;

        assert(ret);

        if (asprintf(&cur, "%s/" KEYSTORE_IDENTITY_FILE, f->dir) < 0 ||
                asprintf(&old, "%s/" KEYSTORE_IDENTITY_OLD_FILE, f->dir) < 0)
                return -ENOMEM;

        r = identity_load_file(cur, ret);
        if (r >= 0 || r == -ENOMEM)
                return r;

        /* The current file is gone or unreadable (it cannot be half-written: it is replaced by
         * rename): fall back to the previous pair, if any. Loudly: the current pair is lost, and
         * the next store must not make the broken file the previous pair (file_store()). */
        q = identity_load_file(old, ret);
        if (q >= 0) {
                log_warning_errno(r, "Cannot use %s (%m); using the previous key and certificate from %s.",
                        cur, old);
                return 0;
        }
        return r;
}

/* Whether the current pair may become the previous one: only a pair that loads. A broken
 * current file (the one file_load() fell back from) must not replace the good previous pair. */
static int current_is_good(const char *cur) {
        _cleanup_(signing_identity_unrefp) SigningIdentity *current = NULL;
        int r;

        r = identity_load_file(cur, &current);
        if (r == -ENOENT)
                return false; /* the first store */
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning_errno(r,
                        "Not keeping %s as the previous key and certificate (%m): "
                        "the previous pair stays as it is.",
                        cur);
                return false;
        }
        return true;
}

static int file_store(Keystore *ks, const SigningIdentity *id) {
        FileKeystore *f = file_keystore(ks);
        _cleanup_(BIO_free_allp) BIO *pem = NULL;
        _cleanup_free_ char *cur = NULL;
        const char *data;
        size_t size;
        int r;

        assert(id);

        if (asprintf(&cur, "%s/" KEYSTORE_IDENTITY_FILE, f->dir) < 0)
                return -ENOMEM;

        r = pem_encode_private(id->key, id->cert, id->chain, &pem, &data, &size);
        if (r < 0)
                return r;

        r = current_is_good(cur);
        if (r > 0)
                r = write_file_atomic_keep_old(cur, data, size, 0600);
        else if (r == 0)
                r = write_file_atomic(cur, data, size, 0600);
        return r;
}

static int file_import(Keystore *ks, const char *key_pem_path, const char *cert_pem_path, char **ret_error) {
        _cleanup_(signing_identity_unrefp) SigningIdentity *id = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        char *data = NULL;
        size_t size = 0;
        int r;

        assert(key_pem_path);
        assert(cert_pem_path);

        r = read_full_file(key_pem_path, IDENTITY_FILE_MAX, &data, &size);
        if (r < 0)
                return x509_error(ret_error, r, "%s: %s", key_pem_path, strerror(-r));
        r = pem_decode_private_key(data, size, &key);
        erase_and_free(data, size);
        if (r < 0)
                return x509_error(ret_error, r, "%s: no unencrypted PEM private key found", key_pem_path);

        r = pem_read_certificates_file(cert_pem_path, &certs, ret_error);
        if (r < 0)
                return r;
        cert = sk_X509_shift(certs);

        r = signing_identity_new(key, cert, certs, &id);
        if (r == -EKEYREJECTED)
                return x509_error(ret_error, r, "%s does not certify the key in %s", cert_pem_path,
                        key_pem_path);
        if (r < 0)
                return x509_error(ret_error, r, "cannot use %s: %s", cert_pem_path, strerror(-r));

        r = file_store(ks, id);
        if (r < 0)
                return x509_error(ret_error, r, "cannot store the imported key: %s", strerror(-r));
        return 0;
}

static void file_free(Keystore *ks) {
        FileKeystore *f = file_keystore(ks);

        free(f->dir);
        free(f);
}

static const KeystoreOps file_keystore_ops = {
        .name = "file",
        .generate_key = file_generate_key,
        .load = file_load,
        .store = file_store,
        .import = file_import,
        .free = file_free,
};

int keystore_file_open(const char *dir, Keystore **ret) {
        _cleanup_free_ char *cur = NULL;
        FileKeystore *f;
        struct stat st;
        int r;

        assert(dir);
        assert(ret);

        r = mkdir_safe(dir, 0700);
        if (r < 0)
                return r;
        if (stat(dir, &st) < 0)
                return negative_errno();
        if (st.st_uid != geteuid())
                return -EPERM;

        if (asprintf(&cur, "%s/" KEYSTORE_IDENTITY_FILE, dir) < 0)
                return -ENOMEM;
        /* A kill in the middle of a store leaves its temporary files: a complete or partial copy
         * of a key, never read. */
        r = file_remove_interrupted_writes(cur);
        if (r < 0)
                return r;
        if (r > 0)
                log_notice("Removed %d temporary file(s) left by an interrupted write of %s.", r, cur);

        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->keystore.ops = &file_keystore_ops;
        f->dir = strdup(dir);
        if (!f->dir) {
                free(f);
                return -ENOMEM;
        }
        *ret = &f->keystore;
        return 0;
}
