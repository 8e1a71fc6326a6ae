/* samples.h -- a growable array of microsecond samples and its percentiles. */
#ifndef VIGIL_BENCH_SAMPLES_H
#define VIGIL_BENCH_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

typedef struct samples {
    uint32_t *v;
    size_t n, cap;
    int sorted;
} samples;

/* Appends one value (clamped to 0..UINT32_MAX); silently drops it on OOM. */
void samples_add(samples *s, int64_t value);
/* The q-quantile (0..1) by nearest rank; -1 when empty. Sorts on first use. */
int64_t samples_quantile(samples *s, double q);
void samples_free(samples *s);

#endif
