/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* azshci-attest fetch: the guest side. Gets an attested document from the host — over vsock
 * first (the guest service interface), then over HTTP at 169.254.169.253 (legacy OS
 * support), as the seed's guests do — prints the response body, and optionally verifies it. */

#include "document-verify.h"

#define EXIT_USAGE 1

int verb_fetch(int argc, char *argv[]);

/* Says on standard error why document_verify() returned r and returns the exit status for it:
 * the number of the check that failed, or EXIT_USAGE when no check failed (out of memory and
 * the like). Shared by `verify` and `fetch --verify`. */
int verify_failure(int r, DocumentCheck check, const char *error);
