/* utc_time.h -- wall-clock times as recordings and their API write them:
 * ISO 8601 UTC with milliseconds ("2026-12-05T12:00:00.000Z"). Any thread. */
#ifndef VIGIL_COMMON_UTC_TIME_H
#define VIGIL_COMMON_UTC_TIME_H

#include <stddef.h>
#include <stdint.h>

/* `ms` since the epoch as "2026-12-05T12:00:00.000Z" into out (32 bytes
 * are enough). */
void vg_utc_format_ms(int64_t ms, char *out, size_t outlen);

#endif
