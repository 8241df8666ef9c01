/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Reads an a{sv} dictionary (the message must be positioned at it): for each entry, its key,
 * then read_value() with the message at the variant, which it must read or skip. Returns
 * read_value()'s or sd-bus's negative errno, which ends the walk, or 0. */
int bus_message_read_dict(sd_bus_message *m,
        int (*read_value)(sd_bus_message *m, const char *key, void *userdata), void *userdata);
