/* samples.c -- microsecond samples and percentiles (see samples.h). */
#include "bench/samples.h"

#include <stdlib.h>

void samples_add(samples *s, int64_t value) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint32_t *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) return;
        s->v = nv;
        s->cap = cap;
    }
    if (value < 0) value = 0;
    if (value > UINT32_MAX) value = UINT32_MAX;
    s->v[s->n++] = (uint32_t)value;
    s->sorted = 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int64_t samples_quantile(samples *s, double q) {
    if (s->n == 0) return -1;
    if (!s->sorted) {
        qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
        s->sorted = 1;
    }
    size_t i = (size_t)(q * (double)s->n);
    if (i >= s->n) i = s->n - 1;
    return s->v[i];
}

void samples_free(samples *s) {
    free(s->v);
    *s = (samples){0};
}
