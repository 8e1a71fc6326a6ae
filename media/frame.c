/* frame.c -- refcounted immutable media frames (see frame.h). */
#include "media/frame.h"

#include <stdlib.h>
#include <string.h>

void vg_frame_header_write(uint8_t out[VG_FRAME_HEADER_LEN], uint8_t kind, uint8_t flags,
                           uint32_t channel, int64_t time_us) {
    uint64_t t = (uint64_t)time_us;
    out[0] = 1; /* version */
    out[1] = kind;
    out[2] = flags;
    out[3] = 0;
    for (int i = 0; i < 4; i++)
        out[4 + i] = (uint8_t)(channel >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(t >> (56 - 8 * i));
}

/* RFC 6455 section 5.2: FIN and the binary opcode, then the length in 7, 16
 * or 64 bits (network order); a server's messages are not masked. Returns
 * the header's length, written to end right at `end`. */
static uint8_t ws_header_write(uint8_t *end, size_t len) {
    _Static_assert(VG_FRAME_HEADROOM >= 10, "the headroom holds the longest WebSocket header");
    uint8_t n = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    uint8_t *h = end - n;
    h[0] = 0x80 | 0x2;
    if (n == 2) {
        h[1] = (uint8_t)len;
    } else if (n == 4) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    return n;
}

vg_frame *vg_frame_new(uint8_t kind, uint8_t flags, uint32_t channel, int64_t time_us,
                       size_t payload_len) {
    if (payload_len > SIZE_MAX - sizeof(vg_frame) - VG_FRAME_HEADROOM - VG_FRAME_HEADER_LEN)
        return NULL;
    vg_frame *f = malloc(sizeof(*f) + VG_FRAME_HEADROOM + VG_FRAME_HEADER_LEN + payload_len);
    if (!f) return NULL;
    atomic_init(&f->refcount, 1);
    f->kind = kind;
    f->flags = flags;
    f->channel = channel;
    f->time_us = time_us;
    f->payload_len = payload_len;
    vg_frame_header_write(vg_frame_wire(f), kind, flags, channel, time_us);
    f->ws_header_len = ws_header_write(vg_frame_wire(f), vg_frame_wire_len(f));
    return f;
}

vg_frame *vg_frame_copy_with_flags(const vg_frame *f, uint8_t flags) {
    vg_frame *c = vg_frame_new(f->kind, flags, f->channel, f->time_us, f->payload_len);
    if (!c) return NULL;
    memcpy(vg_frame_payload(c), f->data + VG_FRAME_HEADROOM + VG_FRAME_HEADER_LEN, f->payload_len);
    return c;
}

vg_frame *vg_frame_ref(vg_frame *f) {
    atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
    return f;
}

void vg_frame_unref(vg_frame *f) {
    if (!f) return;
    /* acq_rel: the thread freeing must see every write made before publish. */
    if (atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_acq_rel) == 1) free(f);
}
