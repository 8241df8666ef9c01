/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the load clients: does a response body carry the document for our nonce? */

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The signed content is inside the DER as plain bytes: look for "nonce":"<nonce>" there.
 * body[size] must be a NUL byte (both clients keep their buffers terminated). */
static inline bool document_has_nonce(const char *body, size_t size, const char *nonce) {
        static const char key[] = "\"signature\":\"";
        const char *p = memmem(body, size, key, strlen(key));
        unsigned char *der;
        char needle[64];
        bool found;
        size_t n;
        int k;

        if (!p)
                return false;
        p += strlen(key);
        n = strcspn(p, "\"");
        der = malloc(n / 4 * 3 + 4);
        if (!der)
                return false;
        k = EVP_DecodeBlock(der, (const unsigned char *)p, (int)n);
        snprintf(needle, sizeof needle, "\"nonce\":\"%s\"", nonce);
        found = k > 0 && memmem(der, (size_t)k, needle, strlen(needle));
        free(der);
        return found;
}
