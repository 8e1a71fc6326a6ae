/* heap_trim.c -- the heap's free pages back to the system (heap_trim.h). */
#include "server/heap_trim.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

#define VG_HEAP_MMAP_THRESHOLD (128 * 1024)
#define VG_HEAP_ARENAS 2

#ifdef __GLIBC__
/* The operator chose this setting: its environment variable, or its
 * glibc.malloc tunable among GLIBC_TUNABLES ("a=1:b=2"). */
static bool operator_set(const char *env, const char *tunable) {
    if (getenv(env)) return true;
    const char *tunables = getenv("GLIBC_TUNABLES");
    return tunables && strstr(tunables, tunable);
}
#endif

void vg_heap_tune(void) {
#ifdef __GLIBC__
    if (!operator_set("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold="))
        mallopt(M_MMAP_THRESHOLD, VG_HEAP_MMAP_THRESHOLD);
    if (!operator_set("MALLOC_ARENA_MAX", "glibc.malloc.arena_max="))
        mallopt(M_ARENA_MAX, VG_HEAP_ARENAS);
#endif
}

void vg_heap_trim_tick(vg_heap_trim *t) {
    int64_t now_us = vg_monotonic_us();
    if (t->next_us == 0) t->next_us = now_us + VG_HEAP_TRIM_INTERVAL_US;
    if (now_us < t->next_us) return;
    t->next_us = now_us + VG_HEAP_TRIM_INTERVAL_US;
#ifdef __GLIBC__
    if (malloc_trim(0)) t->gave++;
    t->runs++;
    t->seconds += (double)(vg_monotonic_us() - now_us) / 1e6;
#endif
}
