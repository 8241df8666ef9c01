/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;
#define USEC_INFINITY UINT64_MAX

usec_t now_usec(clockid_t clock);
/* "2026-11-29 01:33:12 UTC", "n/a" for 0. buf must hold 32 bytes. */
const char *format_timestamp_utc(char *buf, size_t size, usec_t t);
