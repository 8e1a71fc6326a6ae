/* heap_trim.h -- hands the heap's free pages back to the system now and then.
 *
 * glibc keeps freed memory in its arenas (one per thread that allocates, up
 * to eight per core). A camera that restarts builds its pipeline on new
 * GStreamer threads and frees it on others, so free space scatters across
 * arenas: the soak (tests/soak/soak.mjs) saw RSS grow by the heap's free
 * bytes while the bytes allocated stayed flat. malloc_trim(0) gives every
 * whole free page of every arena back (madvise), not only the top of the
 * main heap, which is all glibc returns by itself.
 *
 * Thread: the lws service thread only (the server's tick calls it, the
 * metrics read it); no lock. */
#ifndef VIGIL_SERVER_HEAP_TRIM_H
#define VIGIL_SERVER_HEAP_TRIM_H

#include <stdint.h>

/* How often: rare enough that its cost (a walk of every arena, under each
 * arena's lock) stays out of the way, often enough that a restart's free
 * space does not sit for long. */
#define VG_HEAP_TRIM_INTERVAL_US (30 * 1000000LL)

typedef struct vg_heap_trim {
    int64_t next_us;  /* vg_monotonic_us() of the next trim; 0: not yet set */
    uint64_t runs;    /* trims done */
    uint64_t gave;    /* trims that gave memory back */
    double seconds;   /* time spent trimming, in all */
} vg_heap_trim;

/* Sets how malloc lays the heap out, before any thread starts; main() calls
 * it first. The soak measured RSS growth after warm-up of 8.6 % with glibc's
 * defaults (trim alone), 1.6 % with a fixed 128 KiB mmap threshold and 0.1 %
 * with the threshold and two arenas (docs/OPERATIONS.md):
 *  - glibc raises its mmap threshold each time a large block is freed, so
 *    after the first keyframes every fragment and GStreamer buffer of more
 *    than 128 KiB lands in an arena and leaves holes there; fixed at 128 KiB
 *    they are mapped and unmapped whole.
 *  - two arenas instead of eight per core keep the streaming threads' free
 *    space in fewer places, where it is reused.
 * An operator's own choice wins, setting by setting: MALLOC_MMAP_THRESHOLD_
 * or glibc.malloc.mmap_threshold in GLIBC_TUNABLES leaves the threshold
 * alone, MALLOC_ARENA_MAX or glibc.malloc.arena_max the arenas. */
void vg_heap_tune(void);

/* Trims when the interval since the last one has passed (the first call
 * only sets the schedule). */
void vg_heap_trim_tick(vg_heap_trim *t);

#endif
