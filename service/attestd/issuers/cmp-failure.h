/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include <openssl/cmp.h>

/* Turns a failed OSSL_CMP_exec_certreq() into a negative errno and a one-line reason, from the
 * thread's OpenSSL error queue (which this clears) and the CMP status: unreachable, timed out,
 * TLS, an unacceptable certificate (cert_problem, from the certConf callback, "" if none), a
 * wrong MAC, an unauthenticated response, a rejection. *ret_rejected says whether the server
 * rejected the request at the CMP level (then a KUR may be retried as an IR). */
int cmp_failure_explain(OSSL_CMP_CTX *ctx, const char *url, unsigned timeout_sec, const char *cert_problem,
        bool mac_protected, bool *ret_rejected, char **ret_error);
