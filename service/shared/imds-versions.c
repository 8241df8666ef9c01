/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "imds-versions.h"
#include "macro.h"

const char *const imds_api_versions[] = {
        "2018-10-01",
        "2019-03-11",
        "2019-04-30",
        "2019-06-01",
        "2019-06-04",
        "2019-08-01",
        "2019-08-15",
        "2019-11-01",
        "2020-06-01",
        "2020-07-15",
        "2020-09-01",
        "2020-10-01",
        "2020-12-01",
        "2021-01-01",
        "2021-02-01",
        "2021-03-01",
        "2021-05-01",
        "2021-08-01",
        "2021-10-01",
        "2021-11-01",
        "2021-11-15",
        "2021-12-13",
        "2023-07-01",
        "2023-11-15",
        "2024-03-15",
        "2024-07-17",
        "2025-04-07",
        NULL,
};

bool imds_api_version_is_supported(const char *v) {
        if (!v)
                return false;
        for (size_t i = 0; imds_api_versions[i]; i++)
                if (streq(imds_api_versions[i], v))
                        return true;
        return false;
}
