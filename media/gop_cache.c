/* gop_cache.c -- bounded cache of the current GOP (see gop_cache.h). */
#include "media/gop_cache.h"

#include <stdlib.h>

int vg_gop_cache_init(vg_gop_cache *c, uint32_t cap) {
    c->frames = calloc(cap ? cap : 1, sizeof(*c->frames));
    c->cap = cap;
    c->count = 0;
    return c->frames ? 0 : -1;
}

void vg_gop_cache_clear(vg_gop_cache *c) {
    for (uint32_t i = 0; i < c->count; i++)
        vg_frame_unref(c->frames[i]);
    c->count = 0;
}

void vg_gop_cache_free(vg_gop_cache *c) {
    vg_gop_cache_clear(c);
    free(c->frames);
    c->frames = NULL;
}

void vg_gop_cache_add(vg_gop_cache *c, vg_frame *f) {
    if (vg_frame_is_keyframe(f))
        vg_gop_cache_clear(c);
    else if (c->count == 0)
        return;               /* no keyframe to start from */
    if (c->count == c->cap) { /* GOP too long to keep */
        vg_gop_cache_clear(c);
        return;
    }
    c->frames[c->count++] = vg_frame_ref(f);
}
