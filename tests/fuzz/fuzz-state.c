/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The state file (STATEDIR/state.json) on arbitrary text. Properties: no crash or leak; an
 * accepted file serialises again, and that output parses back to the same serialisation
 * (what the service writes it can always read, and nothing is lost on the way). */

#include "fuzz.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *error = NULL, *json = NULL, *json2 = NULL, *error2 = NULL;
        StateData s = {}, s2 = {};
        int r;

        text = fuzz_text(data, size);
        if (!text)
                return 0;

        r = state_deserialize("state.json", text, &s, &error);
        if (r < 0) {
                fuzz_check_refusal(r, error);
                state_data_done(&s);
                return 0;
        }

        r = state_serialize(s.legacy_support, s.last_sync, s.vms, s.n_vms, &json);
        fuzz_check(r >= 0);
        r = state_deserialize("state.json", json, &s2, &error2);
        if (r < 0)
                fprintf(stderr, "re-reading our own serialisation failed: %s\n%s\n", error2 ?: "", json);
        fuzz_check(r >= 0);
        fuzz_check(s2.n_vms == s.n_vms);
        fuzz_check(s2.legacy_support == s.legacy_support);
        fuzz_check(s2.last_sync == s.last_sync);
        r = state_serialize(s2.legacy_support, s2.last_sync, s2.vms, s2.n_vms, &json2);
        fuzz_check(r >= 0);
        fuzz_check(strcmp(json, json2) == 0);

        state_data_done(&s);
        state_data_done(&s2);
        return 0;
}
