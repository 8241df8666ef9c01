/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* The IMDS api-versions this service speaks for attested documents (the ones Azure lists
 * from 2018-10-01, when the attested category appeared, on). Shared by the service, which
 * shapes documents by version, and the frontends, which answer /metadata/versions and
 * reject unknown versions. */

extern const char *const imds_api_versions[]; /* oldest first, NULL-terminated */

bool imds_api_version_is_supported(const char *v);
