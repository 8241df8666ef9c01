/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>

#include "bus-util.h"

int bus_message_read_dict(sd_bus_message *m,
        int (*read_value)(sd_bus_message *m, const char *key, void *userdata), void *userdata) {
        int r;

        assert(m);
        assert(read_value);

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = read_value(m, key, userdata);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}
