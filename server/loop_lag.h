/* loop_lag.h -- how late the service loop runs its periodic tick: the
 * service-loop lag of GET /metrics (vigil_service_loop_lag_seconds).
 *
 * The tick (server.c, on_tick) asks lws to run it again TICK_US later; when
 * it runs, the time past that schedule is how long the loop was busy with
 * something else (or the machine starved it). Each run is counted in a
 * histogram with fixed buckets, in seconds, as Prometheus wants it.
 *
 * Thread: the lws service thread only (the tick and the metrics both run
 * there); no lock. */
#ifndef VIGIL_SERVER_LOOP_LAG_H
#define VIGIL_SERVER_LOOP_LAG_H

#include <stdint.h>

#define VG_LOOP_LAG_BUCKETS 9

/* The buckets' upper bounds in seconds, ascending (+Inf is implied). */
extern const double vg_loop_lag_bounds_s[VG_LOOP_LAG_BUCKETS];

typedef struct vg_loop_lag {
    int64_t due_us; /* monotonic time the next run is due; 0: none scheduled */
    /* runs per bucket, not cumulative: in[i] took at most bounds[i] and more
     * than bounds[i - 1]; later ones are only in count */
    uint64_t in[VG_LOOP_LAG_BUCKETS];
    uint64_t count;
    double sum_s;
} vg_loop_lag;

/* The tick was scheduled to run `in_us` from now. */
void vg_loop_lag_scheduled(vg_loop_lag *l, int64_t in_us);
/* The tick runs now: counts how late it is (nothing when none was scheduled). */
void vg_loop_lag_ran(vg_loop_lag *l);

#endif
