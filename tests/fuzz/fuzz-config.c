/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The configuration loader (/etc/azshci/attestation.json) on arbitrary text. Properties: it
 * never crashes or leaks, a failure always comes with a message naming the file, and a loaded
 * configuration holds values in the documented ranges. */

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        Config c;
        int r;

        text = fuzz_text(data, size);
        if (!text)
                return 0;

        config_init(&c);
        r = config_load_data(&c, "fuzz.json", text, &error);
        if (r < 0) {
                fuzz_check_refusal(r, error);
                if (error)
                        fuzz_check(strncmp(error, "fuzz.json", strlen("fuzz.json")) == 0);
        } else {
                fuzz_check(c.key_type >= 0 && c.key_type < _KEY_TYPE_MAX);
                fuzz_check(c.issuer_type >= 0 && c.issuer_type < _ISSUER_TYPE_MAX);
                fuzz_check(c.signing_threads <= 256);
                fuzz_check(key_type_to_string(c.key_type));
        }
        config_done(&c);
        return 0;
}
