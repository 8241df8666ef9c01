/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* How a guest on the legacy bridge is identified: by the bridge port its frames entered
 * through. The legacy firewall (nft-rules.c) sets the packet mark of every frame from a VM
 * port to LEGACY_MARK_TAG | the port's ifindex; with net.ipv4.tcp_fwmark_accept=1 the socket
 * accept() returns carries the mark of the SYN, and the HTTP frontend reads it (SO_MARK). The
 * kernel scrubs the mark of packets that come from another network namespace (veth) or are
 * built from a tap's frames, so a guest cannot choose it. Marks outside the tag (0 above all:
 * connections from the host itself, from ports the service did not attach, or with
 * tcp_fwmark_accept off) identify nobody. Header-only and pure, for the service, the frontend
 * and the tests. */

#define LEGACY_MARK_TAG         UINT32_C(0xa5000000)
#define LEGACY_MARK_MASK        UINT32_C(0xff000000)
#define LEGACY_MARK_IFINDEX_MAX 0x00ffffff

/* The mark of the port with this ifindex. -ERANGE when the ifindex does not fit (above
 * LEGACY_MARK_IFINDEX_MAX: more than 16 million interfaces were created since boot). */
static inline int legacy_mark_from_ifindex(int ifindex, uint32_t *ret) {
        assert(ret);

        if (ifindex <= 0 || ifindex > LEGACY_MARK_IFINDEX_MAX)
                return -ERANGE;
        *ret = LEGACY_MARK_TAG | (uint32_t)ifindex;
        return 0;
}

/* The ifindex a mark names, or -ENOENT when the mark is not one of ours. */
static inline int legacy_mark_to_ifindex(uint32_t mark) {
        if ((mark & LEGACY_MARK_MASK) != LEGACY_MARK_TAG || (mark & ~LEGACY_MARK_MASK) == 0)
                return -ENOENT;
        return (int)(mark & ~LEGACY_MARK_MASK);
}
