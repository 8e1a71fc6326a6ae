/* loop_lag.c -- the service tick's lateness histogram (see loop_lag.h). */
#include "server/loop_lag.h"

#include "common/clock.h"

const double vg_loop_lag_bounds_s[VG_LOOP_LAG_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,  0.1,    0.25,  1};

void vg_loop_lag_scheduled(vg_loop_lag *l, int64_t in_us) {
    l->due_us = vg_monotonic_us() + in_us;
}

void vg_loop_lag_ran(vg_loop_lag *l) {
    if (!l->due_us) return;
    int64_t late_us = vg_monotonic_us() - l->due_us;
    l->due_us = 0;
    double late_s = late_us > 0 ? (double)late_us / 1e6 : 0.0;
    l->count++;
    l->sum_s += late_s;
    for (int i = 0; i < VG_LOOP_LAG_BUCKETS; i++)
        if (late_s <= vg_loop_lag_bounds_s[i]) {
            l->in[i]++;
            break;
        }
}
