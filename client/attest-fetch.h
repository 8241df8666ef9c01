/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* azshci-attest fetch: the guest side. Gets an attested document from the host — over vsock
 * first (the guest service interface), then over HTTP at 169.254.169.253 (legacy OS
 * support), as the seed's guests do — prints the response body, and optionally verifies it. */

int verb_fetch(int argc, char *argv[]);
