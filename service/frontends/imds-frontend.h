/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "imds-http.h"

/* What azshci-imdsd and azshci-vsockd share: options, the listening socket (inherited through
 * socket activation, or --listen), the bus backend (AttestForVersion, directly or on the system bus), the
 * event loop. They differ only in their transport. */

typedef struct ImdsTransportContext {
        const char *interface; /* --interface (the legacy bridge), NULL = not given; resolved per
                                * connection, since the bridge gets a new ifindex when it is rebuilt */
        void *userdata;
} ImdsTransportContext;

typedef struct ImdsTransportDef {
        const char *program;   /* "azshci-imdsd" */
        const char *transport; /* AttestForVersion's transport: "http" or "vsock" */
        const char *description;
        const char *listen_help; /* --listen syntax, for --help */
        bool http;               /* --interface and per-IP limits exist */
        /* Parses a --listen value into a socket address. */
        int (*parse_listen)(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
        /* Whether an inherited socket has the right family. */
        bool (*family_ok)(int family);
        /* data is the ImdsTransportContext. */
        ImdsIdentify identify;
        /* Optional: set up / free ctx->userdata. */
        int (*setup)(ImdsTransportContext *ctx);
        void (*teardown)(ImdsTransportContext *ctx);
} ImdsTransportDef;

int imds_frontend_main(const ImdsTransportDef *t, int argc, char *argv[]);
