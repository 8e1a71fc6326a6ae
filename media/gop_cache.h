/* gop_cache.h -- a relay's most recent keyframe and every frame since.
 *
 * A new viewer gets these at once, so it can start decoding immediately
 * instead of waiting up to a GOP for the next keyframe. Bounded: a GOP longer
 * than the cache is dropped, and new viewers then wait for the next keyframe.
 *
 * Thread: owned by the lws service thread (inside a vg_relay); no lock. */
#ifndef VIGIL_MEDIA_GOP_CACHE_H
#define VIGIL_MEDIA_GOP_CACHE_H

#include <stdint.h>

#include "media/frame.h"

typedef struct vg_gop_cache {
    vg_frame **frames;
    uint32_t cap, count;
} vg_gop_cache;

int vg_gop_cache_init(vg_gop_cache *c, uint32_t cap);
void vg_gop_cache_free(vg_gop_cache *c);
void vg_gop_cache_clear(vg_gop_cache *c);
/* Offers a media frame; the cache takes its own reference if it keeps it. */
void vg_gop_cache_add(vg_gop_cache *c, vg_frame *f);

#endif
