/* utc_time.c -- ISO 8601 UTC times (see utc_time.h). */
#include "common/utc_time.h"

#include <stdio.h>
#include <time.h>

void vg_utc_format_ms(int64_t ms, char *out, size_t outlen) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)(ms % 1000));
}
