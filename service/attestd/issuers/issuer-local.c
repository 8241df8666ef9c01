/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The embedded CA ("local" issuer): plays the cloud's role on a single host or an offline
 * site. Layout under the state directory:
 *
 *   <state_dir>/ca/          0700  the CA's private directory
 *   <state_dir>/ca/root.pem  0600  the root's private key followed by its certificate
 *   <state_dir>/ca.pem       0644  the root certificate alone: what verifiers trust
 *
 * root.pem is written atomically, so a crash while creating the CA leaves no CA or a whole
 * one; ca.pem is (re)exported from it on every start. The issuer keeps the root key in memory
 * and only reads it when signing, so concurrent enrolments are safe (the service runs one at a
 * time anyway). */

#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "issuer.h"
#include "keystore.h"
#include "x509-util.h"

#define ROOT_VALIDITY_DAYS 3650U
#define ROOT_FILE_MAX      (1024U * 1024U)
/* Leaf certificates start a minute in the past so that a verifier whose clock is slightly
 * behind still accepts them; the validity period stays exactly validity_days. */
#define LEAF_BACKDATE_SEC 60

typedef struct LocalIssuer {
        Issuer issuer;
        EVP_PKEY *key;
        X509 *root;
} LocalIssuer;

static int add_extension(X509 *cert, X509 *issuer, int nid, const char *value) {
        _cleanup_(X509_EXTENSION_freep) X509_EXTENSION *ext = NULL;
        X509V3_CTX ctx;

        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext || X509_add_ext(cert, ext, -1) != 1)
                return -EIO;
        return 0;
}

/* A random positive serial of 159 bits (RFC 5280: at most 20 octets, positive). */
static int set_random_serial(X509 *cert) {
        _cleanup_(BN_freep) BIGNUM *bn = NULL;

        bn = BN_new();
        if (!bn)
                return -ENOMEM;
        if (BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
                return -EIO;
        if (BN_is_zero(bn) && BN_set_word(bn, 1) != 1)
                return -EIO;
        if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
                return -EIO;
        return 0;
}

static int set_validity(X509 *cert, time_t not_before, unsigned days) {
        if (!X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &not_before) ||
                !X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, &not_before))
                return -EIO;
        return 0;
}

static int set_subject_cn(X509 *cert, const char *cn) {
        X509_NAME *name = X509_get_subject_name(cert);

        if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)
                return -EINVAL;
        return 0;
}

static int create_root(KeyType key_type, EVP_PKEY **ret_key, X509 **ret_cert, char **ret_error) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_free_ char *cn = NULL;
        char host[256] = "localhost";
        int r;

        r = generate_key_pair(key_type, &key);
        if (r < 0)
                return openssl_error(ret_error, r, "cannot generate the local CA key");

        if (gethostname(host, sizeof host - 1) < 0 || host[0] == 0)
                strcpy(host, "localhost");
        host[sizeof host - 1] = 0;
        if (asprintf(&cn, "azshci local attestation root (%s)", host) < 0)
                return -ENOMEM;
        /* CN is at most 64 characters (RFC 5280 ub-common-name). */
        if (strlen(cn) > 64)
                strcpy(cn + 60, "...)");

        cert = X509_new();
        if (!cert)
                return -ENOMEM;
        if (X509_set_version(cert, X509_VERSION_3) != 1 || set_random_serial(cert) < 0 ||
                set_validity(cert, time(NULL) - LEAF_BACKDATE_SEC, ROOT_VALIDITY_DAYS) < 0 ||
                set_subject_cn(cert, cn) < 0 ||
                X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1 ||
                X509_set_pubkey(cert, key) != 1 ||
                add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
                add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
                add_extension(cert, cert, NID_subject_key_identifier, "hash") < 0 ||
                X509_sign(cert, key, EVP_sha256()) <= 0)
                return openssl_error(ret_error, -EIO, "cannot create the local CA certificate");

        *ret_key = TAKE_PTR(key);
        *ret_cert = TAKE_PTR(cert);
        return 0;
}

static int load_root(const char *path, EVP_PKEY **ret_key, X509 **ret_cert, char **ret_error) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        char *data = NULL;
        size_t size = 0;
        int r;

        r = read_full_file(path, ROOT_FILE_MAX, &data, &size);
        if (r < 0)
                return r; /* -ENOENT: not created yet */

        r = pem_decode_private_key(data, size, &key);
        if (r >= 0)
                r = pem_decode_certificates(data, size, &certs);
        OPENSSL_cleanse(data, size);
        free(data);
        if (r < 0)
                return x509_error(ret_error, -EBADMSG, "%s: not a private key followed by a certificate",
                        path);
        if (!certificate_matches_key(sk_X509_value(certs, 0), key))
                return x509_error(ret_error, -EKEYREJECTED, "%s: the certificate does not match the key",
                        path);

        *ret_key = TAKE_PTR(key);
        *ret_cert = sk_X509_shift(certs);
        return 0;
}

static int save_root(const char *path, EVP_PKEY *key, X509 *cert, char **ret_error) {
        _cleanup_(BIO_free_allp) BIO *pem = NULL;
        const char *data;
        size_t size;
        int r;

        r = pem_encode_private(key, cert, NULL, &pem, &data, &size);
        if (r == -EIO)
                return x509_error(ret_error, r, "cannot encode the local CA");
        if (r < 0)
                return r;
        r = write_file_atomic(path, data, size, 0600);
        if (r < 0)
                return x509_error(ret_error, r, "%s: %s", path, strerror(-r));
        return 0;
}

static int export_root(const char *path, X509 *cert, char **ret_error) {
        _cleanup_free_ char *pem = NULL, *cur = NULL;
        int r;

        r = pem_encode_certificates(cert, NULL, &pem);
        if (r < 0)
                return x509_error(ret_error, r, "cannot encode the local CA certificate");

        /* Rewrite only when it differs, so readers never see a needless change. */
        if (read_full_file(path, ROOT_FILE_MAX, &cur, NULL) >= 0 && streq(cur, pem)) {
                if (chmod(path, 0644) < 0)
                        return x509_error(ret_error, negative_errno(), "%s: %m", path);
                return 0;
        }
        r = write_file_atomic(path, pem, strlen(pem), 0644);
        if (r < 0)
                return x509_error(ret_error, r, "%s: %s", path, strerror(-r));
        return 0;
}

static int local_enroll(Issuer *issuer, const IssuerRequest *req, X509 **ret_cert,
        STACK_OF(X509) * *ret_chain, char **ret_error) {
        LocalIssuer *l = (LocalIssuer *)issuer;
        _cleanup_(X509_freep) X509 *cert = NULL, *root = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *san = NULL;

        assert(req);
        assert(req->key);
        assert(req->subject_cn);
        assert(ret_cert);

        if (req->validity_days == 0 || req->validity_days > ROOT_VALIDITY_DAYS)
                return x509_error(ret_error, -EINVAL, "invalid certificate validity of %u days",
                        req->validity_days);
        if (isempty(req->subject_cn) || strlen(req->subject_cn) > 64)
                return x509_error(ret_error, -EINVAL, "invalid certificate subject \"%s\"", req->subject_cn);
        if (!isempty(req->san_dns) && (strchr(req->san_dns, ',') || strchr(req->san_dns, ':')))
                return x509_error(ret_error, -EINVAL, "invalid DNS name \"%s\"", req->san_dns);
        if (!isempty(req->san_dns) && asprintf(&san, "DNS:%s", req->san_dns) < 0)
                return -ENOMEM;

        cert = X509_new();
        if (!cert)
                return -ENOMEM;
        if (X509_set_version(cert, X509_VERSION_3) != 1 || set_random_serial(cert) < 0 ||
                set_validity(cert, time(NULL) - LEAF_BACKDATE_SEC, req->validity_days) < 0 ||
                X509_set_issuer_name(cert, X509_get_subject_name(l->root)) != 1 ||
                X509_set_pubkey(cert, req->key) != 1)
                return openssl_error(ret_error, -EIO, "cannot create the certificate");
        if (set_subject_cn(cert, req->subject_cn) < 0)
                return openssl_error(ret_error, -EINVAL, "invalid certificate subject \"%s\"",
                        req->subject_cn);
        /* EKU: Azure's signing certificates carry serverAuth and clientAuth, which verifiers
         * modeled on Go's x509 (SPIRE, coder) require; emailProtection makes a plain
         * "openssl smime -verify" accept the certificate for S/MIME signing. */
        if (add_extension(cert, l->root, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
                add_extension(cert, l->root, NID_key_usage, "critical,digitalSignature") < 0 ||
                add_extension(cert, l->root, NID_ext_key_usage, "serverAuth,clientAuth,emailProtection") <
                        0 ||
                add_extension(cert, l->root, NID_subject_key_identifier, "hash") < 0 ||
                add_extension(cert, l->root, NID_authority_key_identifier, "keyid:always") < 0 ||
                (san && add_extension(cert, l->root, NID_subject_alt_name, san) < 0))
                return openssl_error(ret_error, -EIO, "cannot add the certificate extensions");
        if (X509_sign(cert, l->key, EVP_sha256()) <= 0)
                return openssl_error(ret_error, -EIO, "cannot sign the certificate");

        if (ret_chain) {
                chain = sk_X509_new_null();
                if (!chain || X509_up_ref(l->root) != 1)
                        return -ENOMEM;
                root = l->root;
                if (sk_X509_push(chain, root) <= 0)
                        return -ENOMEM;
                TAKE_PTR(root);
                *ret_chain = TAKE_PTR(chain);
        }
        *ret_cert = TAKE_PTR(cert);
        return 0;
}

static int local_get_trust_anchor(Issuer *issuer, char **ret_pem) {
        LocalIssuer *l = (LocalIssuer *)issuer;

        assert(ret_pem);
        return pem_encode_certificates(l->root, NULL, ret_pem);
}

static void local_free(Issuer *issuer) {
        LocalIssuer *l = (LocalIssuer *)issuer;

        EVP_PKEY_free(l->key);
        X509_free(l->root);
        free(l);
}

static const IssuerOps local_issuer_ops = {
        .name = "local",
        .enroll = local_enroll,
        .get_trust_anchor = local_get_trust_anchor,
        .free = local_free,
};

int issuer_local_get_ca(Issuer *issuer, X509 **ret_cert) {
        LocalIssuer *l = (LocalIssuer *)issuer;

        assert(issuer);
        assert(ret_cert);

        if (issuer->ops != &local_issuer_ops)
                return -EOPNOTSUPP;
        if (X509_up_ref(l->root) != 1)
                return -ENOMEM;
        *ret_cert = l->root;
        return 0;
}

int issuer_local_new(const char *state_dir, KeyType key_type, Issuer **ret, char **ret_error) {
        _cleanup_free_ char *ca_dir = NULL, *root_path = NULL, *export_path = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        LocalIssuer *l;
        struct stat st;
        int r;

        assert(state_dir);
        assert(ret);

        if (asprintf(&ca_dir, "%s/ca", state_dir) < 0 ||
                asprintf(&root_path, "%s/ca/root.pem", state_dir) < 0 ||
                asprintf(&export_path, "%s/ca.pem", state_dir) < 0)
                return -ENOMEM;

        r = mkdir_safe(ca_dir, 0700);
        if (r < 0)
                return x509_error(ret_error, r, "%s: %s", ca_dir, strerror(-r));
        if (stat(ca_dir, &st) < 0)
                return x509_error(ret_error, negative_errno(), "%s: %m", ca_dir);
        if (st.st_uid != geteuid())
                return x509_error(ret_error, -EPERM, "%s: not owned by uid %u", ca_dir, (unsigned)geteuid());

        r = load_root(root_path, &key, &cert, ret_error);
        if (r == -ENOENT) {
                r = create_root(key_type, &key, &cert, ret_error);
                if (r < 0)
                        return r;
                r = save_root(root_path, key, cert, ret_error);
        } else if (r >= 0 && chmod(root_path, 0600) < 0)
                r = x509_error(ret_error, negative_errno(), "%s: %m", root_path);
        else if (r < 0 && ret_error && !*ret_error)
                r = x509_error(ret_error, r, "%s: %s", root_path, strerror(-r));
        if (r < 0)
                return r;

        r = export_root(export_path, cert, ret_error);
        if (r < 0)
                return r;

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->issuer.ops = &local_issuer_ops;
        l->key = TAKE_PTR(key);
        l->root = TAKE_PTR(cert);
        *ret = &l->issuer;
        return 0;
}
