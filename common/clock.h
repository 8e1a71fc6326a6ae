/* clock.h -- monotonic time in microseconds, like lws's own timers: a step
 * of the wall clock is never a delay. Any thread. */
#ifndef VIGIL_COMMON_CLOCK_H
#define VIGIL_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t vg_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
