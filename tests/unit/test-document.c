/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Attested documents: payload bytes per api-version, time and nonce formats, and PKCS#7
 * sign → verify round trips with the embedded CA for both key types, plus every way a
 * document must be rejected. The real Azure document in tests/vectors/ is verified too. */

#define TEST_PREFIX "/document"

#include <glib.h>
#include <pthread.h>

#include "document-verify.h"
#include "document.h"
#include "fileio.h"
#include "issuer.h"
#include "keystore.h"
#include "test-util.h"
#include "x509-util.h"

#define AZ_CREATED (UINT64_C(1582296802) * USEC_PER_SEC) /* 02/21/20 14:53:22 UTC */
#define AZ_EXPIRES (AZ_CREATED + 6 * USEC_PER_HOUR)
#define AZ_PAYLOAD                                                                                          \
        "{\"nonce\":\"20200221-205322\",\"plan\":{\"name\":\"\",\"product\":\"\",\"publisher\":\"\"},"      \
        "\"subscriptionId\":\"ce73a2b0-d2e7-4ff6-b987-b32d6908de4e\",\"timeStamp\":{\"createdOn\":\"02/21/" \
        "20 "                                                                                               \
        "14:53:22 -0000\",\"expiresOn\":\"02/21/20 20:53:22 -0000\"},\"vmId\":\"e01fcd50-213b-4559-8fdf-"   \
        "d98c0086cde4\"}"

#define DOMAIN  "metadata.azshci.local"
#define HOST_CN "host1." DOMAIN
#define VM_ID   "0f6a1f5e-7d0c-4bde-9a57-4a5e3a2c1b01"

static DocumentFields azure_fields(void) {
        return (DocumentFields){
                .vm_id = "e01fcd50-213b-4559-8fdf-d98c0086cde4",
                .nonce = "20200221-205322",
                .subscription_id = "ce73a2b0-d2e7-4ff6-b987-b32d6908de4e",
                .sku = "2019-Datacenter",
                .license_type = "Windows_Server",
                .plan_name = NULL,
                .created = AZ_CREATED,
                .expires = AZ_EXPIRES,
        };
}

TEST(payload_matches_azure) {
        DocumentFields f = azure_fields();
        char *json = NULL;

        /* What Azure signed for api-version 2019-08-15: no sku (2019-11-01+), no licenseType
         * (2020-09-01+). Byte for byte the content of the real document. */
        f.api_version = "2019-08-15";
        g_assert_cmpint(document_build_payload(&f, &json), ==, 0);
        g_assert_cmpstr(json, ==, AZ_PAYLOAD);
        free(json);
}

/* The payload of azure_fields() with a plan, for one api-version (NULL: the newest): its exact
 * text, or what it starts with, holds and lacks. */
typedef struct PayloadCase {
        const char *name;
        const char *api_version;
        bool no_license_type; /* licenseType "" */
        const char *exact, *prefix, *contains, *lacks;
} PayloadCase;

static const PayloadCase payload_cases[] = {
        {"newest-everything", NULL,
                .exact =
                        "{\"licenseType\":\"Windows_Server\",\"nonce\":\"20200221-205322\",\"plan\":{\"name\":\"n\","
                        "\"product\":\"p\",\"publisher\":\"pub\"},\"sku\":\"2019-Datacenter\",\"subscriptionId\":"
                        "\"ce73a2b0-d2e7-4ff6-b987-b32d6908de4e\",\"timeStamp\":{\"createdOn\":\"02/21/20 14:53:22 "
                        "-0000\",\"expiresOn\":\"02/21/20 20:53:22 -0000\"},\"vmId\":\"e01fcd50-213b-4559-8fdf-"
                        "d98c0086cde4\"}"},
        {"2020-09-01-first-with-licenseType", "2020-09-01",
                .prefix = "{\"licenseType\":\"Windows_Server\",\"nonce\""},
        {"2020-07-15-sku-no-licenseType", "2020-07-15", .prefix = "{\"nonce\"",
                .contains = "\"sku\":\"2019-Datacenter\",\"subscriptionId\""},
        {"2019-11-01-first-with-sku", "2019-11-01", .contains = "\"sku\":"},
        {"2018-10-01-no-sku-no-subscriptionId", "2018-10-01",
                .exact =
                        "{\"nonce\":\"20200221-205322\",\"plan\":{\"name\":\"n\",\"product\":\"p\",\"publisher\":"
                        "\"pub\"},\"timeStamp\":{\"createdOn\":\"02/21/20 14:53:22 -0000\",\"expiresOn\":\"02/21/20 "
                        "20:53:22 -0000\"},\"vmId\":\"e01fcd50-213b-4559-8fdf-d98c0086cde4\"}"},
        {"2019-04-30-first-with-subscriptionId", "2019-04-30", .contains = "\"subscriptionId\":\"ce73",
                .lacks = "\"sku\""},
        /* licenseType empty = not set: left out even on the newest version. */
        {"newest-empty-licenseType", NULL, .no_license_type = true, .lacks = "licenseType"},
};

static void test_payload_case(const void *data) {
        const PayloadCase *c = data;
        DocumentFields f = azure_fields();
        _cleanup_free_ char *json = NULL;

        f.api_version = c->api_version;
        f.plan_name = "n";
        f.plan_product = "p";
        f.plan_publisher = "pub";
        if (c->no_license_type)
                f.license_type = "";
        g_assert_cmpint(document_build_payload(&f, &json), ==, 0);
        if (c->exact)
                g_assert_cmpstr(json, ==, c->exact);
        if (c->prefix)
                g_assert_true(g_str_has_prefix(json, c->prefix));
        if (c->contains)
                g_assert_nonnull(strstr(json, c->contains));
        if (c->lacks)
                g_assert_null(strstr(json, c->lacks));
}

TEST(payload_escaping) {
        DocumentFields f = azure_fields();
        char *json = NULL;

        f.api_version = "2019-08-15";
        f.plan_name = "a\"b\\c";
        g_assert_cmpint(document_build_payload(&f, &json), ==, 0);
        g_assert_nonnull(strstr(json, "\"plan\":{\"name\":\"a\\\"b\\\\c\",\"product\":\"\""));
        free(json);

        /* Escapes at both ends and next to each other, control characters, DEL; UTF-8 and
         * everything else passes through as it is. */
        f.plan_name = "\"\\\x01x\ty\x1f\x7f\"z\u00e9\\";
        g_assert_cmpint(document_build_payload(&f, &json), ==, 0);
        g_assert_nonnull(strstr(json,
                "\"plan\":{\"name\":\"\\\"\\\\\\u0001x\\u0009y\\u001f\\u007f\\\"z\u00e9\\\\\",\"product\":\"\""));
        free(json);
        f.plan_name = "";
        g_assert_cmpint(document_build_payload(&f, &json), ==, 0);
        g_assert_nonnull(strstr(json, "\"plan\":{\"name\":\"\",\"product\":\"\""));
        free(json);

        /* Every byte of every value escaped: the most the payload's buffer is sized for. */
        g_autofree char *ctl = g_strnfill(100, '\x01');
        DocumentFields w = {.vm_id = ctl,
                .nonce = ctl,
                .subscription_id = ctl,
                .sku = ctl,
                .license_type = ctl,
                .plan_name = ctl,
                .plan_product = ctl,
                .plan_publisher = ctl,
                .created = AZ_CREATED,
                .expires = AZ_EXPIRES};
        g_assert_cmpint(document_build_payload(&w, &json), ==, 0);
        g_assert_cmpuint(strlen(json), ==,
                strlen("{\"licenseType\":,\"nonce\":,\"plan\":{\"name\":,\"product\":,\"publisher\":},\"sku\":,"
                       "\"subscriptionId\":,\"timeStamp\":{\"createdOn\":,\"expiresOn\":},\"vmId\":}") +
                        8 * (6 * 100 + 2) + 2 * (23 + 2));
        g_assert_true(g_str_has_prefix(json, "{\"licenseType\":\"\\u0001\\u0001"));
        free(json);

        f.vm_id = NULL;
        g_assert_cmpint(document_build_payload(&f, &json), ==, -EINVAL);
}

TEST(time_format) {
        char buf[DOCUMENT_TIME_MAX];
        usec_t t;

        g_assert_cmpstr(document_format_time(AZ_CREATED, buf), ==, "02/21/20 14:53:22 -0000");
        g_assert_cmpstr(document_format_time(0, buf), ==, "01/01/70 00:00:00 -0000");
        /* sub-second parts are cut, not rounded */
        g_assert_cmpstr(document_format_time(AZ_CREATED + 999999, buf), ==, "02/21/20 14:53:22 -0000");
        g_assert_cmpstr(document_format_time(UINT64_C(4102444799) * USEC_PER_SEC, buf), ==,
                "12/31/99 23:59:59 -0000"); /* 2099-12-31 */

        g_assert_cmpint(document_parse_time("02/21/20 14:53:22 -0000", &t), ==, 0);
        g_assert_cmpuint(t, ==, AZ_CREATED);
        g_assert_cmpint(document_parse_time("02/21/20 14:53:22 +0100", &t), ==, -EINVAL);
        g_assert_cmpint(document_parse_time("2/21/20 14:53:22 -0000", &t), ==, -EINVAL);
        g_assert_cmpint(document_parse_time("02/30/20 14:53:22 -0000", &t), ==, -EINVAL);
        g_assert_cmpint(document_parse_time("13/01/20 14:53:22 -0000", &t), ==, -EINVAL);
        g_assert_cmpint(document_parse_time("02/21/20 14:53:22 -0000 ", &t), ==, -EINVAL);
        g_assert_cmpint(document_parse_time("", &t), ==, -EINVAL);
}

TEST(default_nonce) {
        char buf[DOCUMENT_NONCE_MAX];

        g_assert_cmpstr(document_default_nonce(AZ_CREATED, buf), ==, "20200221-145322");
        g_assert_cmpstr(document_default_nonce(0, buf), ==, "19700101-000000");
        g_assert_cmpstr(document_default_nonce(UINT64_C(1767225599) * USEC_PER_SEC + 5, buf), ==,
                "20251231-235959");
}

TEST(dns_names) {
        g_assert_true(dns_name_under_domain("metadata.azure.com", "metadata.azure.com"));
        g_assert_true(dns_name_under_domain("westeurope.metadata.azure.com", "metadata.azure.com"));
        g_assert_true(dns_name_under_domain("*.metadata.azure.com", "metadata.azure.com"));
        g_assert_true(dns_name_under_domain("WestEurope.Metadata.Azure.Com.", "metadata.azure.com"));
        g_assert_false(dns_name_under_domain("evilmetadata.azure.com", "metadata.azure.com"));
        g_assert_false(dns_name_under_domain("metadata.azure.com.evil.org", "metadata.azure.com"));
        g_assert_false(dns_name_under_domain(".metadata.azure.com", "metadata.azure.com"));
        g_assert_false(dns_name_under_domain("azure.com", "metadata.azure.com"));
        g_assert_false(dns_name_under_domain("x", ""));
}

/* --- signing with the embedded CA --- */

typedef struct Fixture {
        char *dir;
        Issuer *issuer;
        SigningIdentity *id;
        X509_STORE *trust;
        char *root_path;
} Fixture;

static void make_identity(Issuer *issuer, KeyType type, const char *cn, unsigned days,
        SigningIdentity **ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_free_ char *error = NULL;

        g_assert_cmpint(generate_key_pair(type, &key), ==, 0);
        IssuerRequest req = {.key = key, .subject_cn = cn, .san_dns = cn, .validity_days = days};
        g_assert_cmpint(issuer_enroll(issuer, &req, &cert, &chain, &error), ==, 0);
        g_assert_null(error);
        g_assert_cmpint(certificate_check_acceptable(cert, key, days, time(NULL), &error), ==, 0);
        g_assert_cmpint(signing_identity_new(key, cert, chain, ret), ==, 0);
}

static void fixture_setup(Fixture *fx, KeyType type) {
        _cleanup_free_ char *error = NULL;

        fx->dir = test_make_tmpdir("azshci-test-document-XXXXXX");
        g_assert_cmpint(issuer_local_new(fx->dir, type, &fx->issuer, &error), ==, 0);
        make_identity(fx->issuer, type, HOST_CN, 30, &fx->id);
        fx->root_path = g_strdup_printf("%s/ca.pem", fx->dir);
        g_assert_cmpint(trust_store_new(fx->root_path, &fx->trust, &error), ==, 0);
}

static void fixture_teardown(Fixture *fx) {
        signing_identity_unref(fx->id);
        issuer_free(fx->issuer);
        X509_STORE_free(fx->trust);
        test_rm_rf(fx->dir);
        g_free(fx->dir);
        g_free(fx->root_path);
}

static char *sign_now(Fixture *fx, const char *nonce, bool embed_chain, usec_t now) {
        DocumentFields f = {
                .vm_id = VM_ID,
                .nonce = nonce,
                .subscription_id = "sub",
                .created = now,
                .expires = now + 6 * USEC_PER_HOUR,
        };
        _cleanup_free_ char *payload = NULL;
        char *body = NULL;

        g_assert_cmpint(document_build_payload(&f, &payload), ==, 0);
        g_assert_cmpint(document_sign(fx->id, payload, embed_chain, &body), ==, 0);
        return body;
}

static DocumentCheck verify(Fixture *fx, const char *body, DocumentVerifyOptions *o,
        DocumentInfo **ret_info) {
        _cleanup_free_ char *error = NULL;
        DocumentCheck check = DOCUMENT_CHECK_OK;
        int r;

        if (!o->trust && !o->skip_chain)
                o->trust = fx->trust;
        r = document_verify(body, strlen(body), o, ret_info, &check, &error);
        if (r < 0) {
                g_assert_cmpint(check, !=, DOCUMENT_CHECK_OK);
                g_assert_nonnull(error);
                g_assert_null(strchr(error, '\n'));
                g_test_message("rejected (%s): %s", document_check_to_string(check), error);
        } else
                g_assert_cmpint(check, ==, DOCUMENT_CHECK_OK);
        return check;
}

static void roundtrip(KeyType type) {
        _cleanup_(document_info_freep) DocumentInfo *info = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        Fixture fx = {};
        g_autofree char *body = NULL, *body2 = NULL;

        fixture_setup(&fx, type);
        body = sign_now(&fx, "abc_-123", false, now);
        g_assert_true(g_str_has_prefix(body, "{\"encoding\":\"pkcs7\",\"signature\":\""));
        g_assert_null(strchr(body, '\n'));

        DocumentVerifyOptions o = {.nonce = "abc_-123", .vm_id = VM_ID, .metadata_domain = DOMAIN};
        g_assert_cmpint(verify(&fx, body, &o, &info), ==, DOCUMENT_CHECK_OK);
        g_assert_cmpstr(info->nonce, ==, "abc_-123");
        g_assert_cmpstr(info->vm_id, ==, VM_ID);
        g_assert_cmpstr(info->subscription_id, ==, "sub");
        g_assert_cmpuint(info->created, ==, now / USEC_PER_SEC * USEC_PER_SEC);
        g_assert_true(info->chain_verified);
        g_assert_true(info->time_verified);
        g_assert_cmpuint(info->n_certificates, ==, 1);
        g_assert_cmpstr(info->signer_dns_names[0], ==, HOST_CN);

        /* with the chain embedded: leaf + root */
        body2 = sign_now(&fx, "n", true, now);
        DocumentVerifyOptions o2 = {.nonce = "n"};
        document_info_free(TAKE_PTR(info));
        g_assert_cmpint(verify(&fx, body2, &o2, &info), ==, DOCUMENT_CHECK_OK);
        g_assert_cmpuint(info->n_certificates, ==, 2);

        fixture_teardown(&fx);
}

TEST(roundtrip_rsa) {
        roundtrip(KEY_TYPE_RSA_2048);
}

TEST(roundtrip_ecdsa) {
        roundtrip(KEY_TYPE_ECDSA_P256);
}

/* Flips one byte of the signed content inside the DER and re-encodes the body. */
static char *tamper(const char *body, const char *needle, char replacement) {
        _cleanup_free_ unsigned char *der = NULL;
        _cleanup_free_ char *b64 = NULL;
        const char *sig;
        size_t size;
        unsigned char *p;

        sig = strstr(body, "\"signature\":\"") + 13;
        g_assert_cmpint(base64_decode(sig, strlen(sig) - 2, &der, &size), ==, 0);
        p = memmem(der, size, needle, strlen(needle));
        g_assert_nonnull(p);
        p[0] = (unsigned char)replacement;
        g_assert_cmpint(base64_encode(der, size, &b64), ==, 0);
        return g_strdup_printf("{\"encoding\":\"pkcs7\",\"signature\":\"%s\"}", b64);
}

/* Verifying a document signed now by the fixture's identity with these options: what each
 * check says. now_offset moves the verifier's clock (0: the current time). */
typedef struct VerifyCase {
        const char *name;
        DocumentVerifyOptions options;
        int64_t now_offset;
        DocumentCheck expected;
} VerifyCase;

static const VerifyCase verify_cases[] = {
        /* wrong nonce, wrong vmId, wrong domain */
        {"wrong-nonce", {.nonce = "nonce2"}, 0, DOCUMENT_CHECK_NONCE},
        {"wrong-vm-id", {.vm_id = "0f6a1f5e-7d0c-4bde-9a57-4a5e3a2c1b02"}, 0, DOCUMENT_CHECK_VM_ID},
        {"vm-id-upper-case", {.vm_id = "0F6A1F5E-7D0C-4BDE-9A57-4A5E3A2C1B01"}, 0, DOCUMENT_CHECK_OK},
        {"wrong-domain", {.metadata_domain = "metadata.azure.com"}, 0, DOCUMENT_CHECK_NAME},
        {"domain-of-the-host", {.metadata_domain = "host1.metadata.azshci.local"}, 0, DOCUMENT_CHECK_OK},
        {"domain-local", {.metadata_domain = "local"}, 0, DOCUMENT_CHECK_OK},
        /* time: expired (beyond the skew), just within the skew, not yet valid */
        {"expired-beyond-skew", {}, 6 * USEC_PER_HOUR + 5 * USEC_PER_MINUTE, DOCUMENT_CHECK_TIME},
        {"expired-within-skew", {}, 6 * USEC_PER_HOUR + 4 * USEC_PER_MINUTE, DOCUMENT_CHECK_OK},
        {"certificate-not-yet-valid", {}, -10 * (int64_t)USEC_PER_MINUTE, DOCUMENT_CHECK_CHAIN},
        {"not-yet-valid-skip-chain", {.skip_chain = true}, -10 * (int64_t)USEC_PER_MINUTE,
                DOCUMENT_CHECK_TIME},
        {"certificate-expired", {}, 40 * USEC_PER_DAY, DOCUMENT_CHECK_CHAIN},
        {"certificate-expired-ignore-time", {.ignore_time = true}, 40 * USEC_PER_DAY, DOCUMENT_CHECK_OK},
        /* without the chain check any root will do */
        {"skip-chain", {.skip_chain = true}, 0, DOCUMENT_CHECK_OK},
};

/* Bodies that are no attested document at all. */
static const char *const malformed_bodies[] = {
        "",
        "[]",
        "{\"encoding\":\"pkcs7\"}",
        "{\"encoding\":\"pkcs7\",\"signature\":\"!!\"}",
        "{\"encoding\":\"pkcs7\",\"signature\":\"AAAA\"}",
};

TEST(rejections) {
        usec_t now = now_usec(CLOCK_REALTIME);
        Fixture fx = {}, other = {};
        g_autofree char *body = NULL, *bad = NULL, *b = NULL;
        DocumentVerifyOptions o = {};

        fixture_setup(&fx, KEY_TYPE_RSA_2048);
        body = sign_now(&fx, "nonce1", false, now);

        /* tampered content: one character of the nonce */
        bad = tamper(body, "nonce1", 'N');
        g_assert_cmpint(verify(&fx, bad, &o, NULL), ==, DOCUMENT_CHECK_SIGNATURE);

        for (size_t i = 0; i < ELEMENTSOF(verify_cases); i++) {
                const VerifyCase *c = &verify_cases[i];

                g_test_message("case %s", c->name);
                o = c->options;
                if (c->now_offset != 0)
                        o.now = now + c->now_offset;
                g_assert_cmpint(verify(&fx, body, &o, NULL), ==, c->expected);
        }

        /* another CA's root is not trusted */
        fixture_setup(&other, KEY_TYPE_ECDSA_P256);
        o = (DocumentVerifyOptions){.trust = other.trust};
        g_assert_cmpint(verify(&fx, body, &o, NULL), ==, DOCUMENT_CHECK_CHAIN);
        fixture_teardown(&other);

        /* malformed bodies */
        o = (DocumentVerifyOptions){};
        for (size_t i = 0; i < ELEMENTSOF(malformed_bodies); i++) {
                g_test_message("case malformed body '%s'", malformed_bodies[i]);
                g_assert_cmpint(verify(&fx, malformed_bodies[i], &o, NULL), ==, DOCUMENT_CHECK_FORMAT);
        }
        b = g_strdup(body);
        memcpy(strstr(b, "pkcs7"), "PKCS7", 5);
        g_assert_cmpint(verify(&fx, b, &o, NULL), ==, DOCUMENT_CHECK_FORMAT);

        fixture_teardown(&fx);
}

/* Several threads sign with one identity at once; every document verifies. */
typedef struct ThreadArg {
        Fixture *fx;
        int failures;
} ThreadArg;

static void *sign_thread(void *p) {
        ThreadArg *a = p;
        for (int i = 0; i < 25; i++) {
                g_autofree char *nonce = g_strdup_printf("t%d", i);
                g_autofree char *body = sign_now(a->fx, nonce, true, now_usec(CLOCK_REALTIME));
                DocumentVerifyOptions o = {.trust = a->fx->trust, .nonce = nonce};
                if (document_verify(body, strlen(body), &o, NULL, NULL, NULL) < 0)
                        a->failures++;
        }
        return NULL;
}

/* The identity hands its idle signing contexts from thread to thread: each key type once. */
static void concurrent_signing(KeyType type) {
        Fixture fx = {};
        pthread_t t[4];
        ThreadArg args[4];

        fixture_setup(&fx, type);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                args[i] = (ThreadArg){.fx = &fx};
                g_assert_cmpint(pthread_create(&t[i], NULL, sign_thread, &args[i]), ==, 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                g_assert_cmpint(pthread_join(t[i], NULL), ==, 0);
                g_assert_cmpint(args[i].failures, ==, 0);
        }
        fixture_teardown(&fx);
}

TEST(concurrent_signing_ecdsa) {
        concurrent_signing(KEY_TYPE_ECDSA_P256);
}

TEST(concurrent_signing_rsa) {
        concurrent_signing(KEY_TYPE_RSA_2048);
}

/* The real Azure document: verifies with chain and time checks off, rejected otherwise. */
TEST(azure_vector) {
        _cleanup_(document_info_freep) DocumentInfo *info = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *system_trust = NULL;
        g_autofree char *path = NULL;
        _cleanup_free_ char *body = NULL;
        const char *src = g_getenv("AZSHCI_SOURCE_DIR");
        Fixture fx = {};

        /* part of the tree (tests/vectors/README.md): a missing vector fails here */
        path = g_strdup_printf("%s/tests/vectors/azure-attested-2019-08-15.json", src ? src : ".");
        g_assert_cmpint(read_full_file(path, DOCUMENT_BODY_MAX, &body, NULL), ==, 0);

        DocumentVerifyOptions o = {
                .skip_chain = true,
                .ignore_time = true,
                .nonce = "20200221-205322",
                .vm_id = "e01fcd50-213b-4559-8fdf-d98c0086cde4",
                .metadata_domain = "metadata.azure.com",
        };
        g_assert_cmpint(verify(&fx, body, &o, &info), ==, DOCUMENT_CHECK_OK);
        g_assert_cmpstr(info->payload, ==, AZ_PAYLOAD);
        g_assert_cmpstr(info->subscription_id, ==, "ce73a2b0-d2e7-4ff6-b987-b32d6908de4e");
        g_assert_cmpstr(info->created_on, ==, "02/21/20 14:53:22 -0000");
        g_assert_cmpstr(info->expires_on, ==, "02/21/20 20:53:22 -0000");
        g_assert_cmpuint(info->created, ==, AZ_CREATED);
        g_assert_cmpuint(info->expires, ==, AZ_EXPIRES);
        g_assert_cmpstr(info->signer_subject, ==, "CN=metadata.azure.com");

        /* without the insecure flags: the chain (intermediate missing) and the time fail */
        g_assert_cmpint(trust_store_new(NULL, &system_trust, NULL), ==, 0);
        o = (DocumentVerifyOptions){.trust = system_trust};
        g_assert_cmpint(verify(&fx, body, &o, NULL), ==, DOCUMENT_CHECK_CHAIN);
        o = (DocumentVerifyOptions){.skip_chain = true};
        g_assert_cmpint(verify(&fx, body, &o, NULL), ==, DOCUMENT_CHECK_TIME);
        /* the right time window passes */
        o = (DocumentVerifyOptions){.skip_chain = true, .now = AZ_CREATED + USEC_PER_HOUR};
        g_assert_cmpint(verify(&fx, body, &o, NULL), ==, DOCUMENT_CHECK_OK);
        o = (DocumentVerifyOptions){.skip_chain = true, .ignore_time = true, .metadata_domain = DOMAIN};
        g_assert_cmpint(verify(&fx, body, &o, NULL), ==, DOCUMENT_CHECK_NAME);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        test_add_cases("/document/payload-versions", payload_cases, name, test_payload_case);
        return g_test_run();
}
