/* frame.h -- an immutable, refcounted media frame shared by every viewer.
 *
 * A frame is the unit of fan-out: one fMP4 init segment or one fMP4 fragment
 * (MSE mode), or one decoder configuration or one H.264 access unit
 * (WebCodecs mode),
 * already wrapped in the 16-byte vigil.v1 binary header (signaling/PROTOCOL.md)
 * and preceded by LWS_PRE bytes of headroom, so that the very same memory can
 * be handed to lws_write() for every viewer. The payload is copied into it once,
 * on the GStreamer streaming thread; after vg_frame_publish() nobody changes
 * the header or payload again, only the refcount moves (atomically, from any
 * thread). The headroom ends with the RFC 6455 header of the server's
 * unmasked binary message that carries the frame, written here once: the
 * server's direct media writes (server/media_write.h) send it as is, and
 * lws_write() on the usual path writes the very same bytes in the same place
 * (on the lws thread only). */
#ifndef VIGIL_MEDIA_FRAME_H
#define VIGIL_MEDIA_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <libwebsockets.h>

#define VG_FRAME_HEADER_LEN 16
#define VG_FRAME_HEADROOM   LWS_PRE

enum vg_frame_kind {
    VG_FRAME_INIT = 1,  /* ftyp+moov */
    VG_FRAME_MEDIA = 2, /* moof+mdat, one video frame or one audio frame */
    /* WebCodecs delivery (signaling/PROTOCOL.md): */
    VG_FRAME_DECODER_CONFIG = 3, /* codec string + avcC, for VideoDecoder.configure() */
    VG_FRAME_ACCESS_UNIT = 4,    /* 8-byte PTS + one H.264 access unit (avc format) */
};

/* Delivery modes: which kinds a viewer gets. MSE: 1 and 2; WebCodecs: 3 and 4. */
typedef enum vg_mode {
    VG_MODE_MSE = 0,
    VG_MODE_WEBCODECS = 1,
} vg_mode;

enum vg_frame_flags {
    VG_FRAME_KEYFRAME = 1 << 0,
    VG_FRAME_AFTER_SKIP = 1 << 1,
    VG_FRAME_AUDIO = 1 << 2, /* a fragment of the audio track: never a keyframe */
};

typedef struct vg_frame {
    atomic_int refcount;
    uint8_t kind;
    uint8_t flags;
    uint8_t ws_header_len; /* 2, 4 or 10: the WebSocket header before the wire bytes */
    uint32_t channel;
    int64_t time_us; /* wall clock when it left the pipeline */
    size_t payload_len;
    uint8_t data[]; /* headroom | 16-byte header | payload */
} vg_frame;

/* Allocates a frame with refcount 1 and writes its header. The caller fills
 * vg_frame_payload() (payload_len bytes) before sharing it. NULL on OOM. */
vg_frame *vg_frame_new(uint8_t kind, uint8_t flags, uint32_t channel, int64_t time_us,
                       size_t payload_len);

/* A new frame with the same payload and header but other flags. Used for the
 * rare "first frame after a skip" variant of a keyframe. NULL on OOM. */
vg_frame *vg_frame_copy_with_flags(const vg_frame *f, uint8_t flags);

static inline uint8_t *vg_frame_payload(vg_frame *f) {
    return f->data + VG_FRAME_HEADROOM + VG_FRAME_HEADER_LEN;
}
/* What goes on the wire: header + payload, with VG_FRAME_HEADROOM before it. */
static inline uint8_t *vg_frame_wire(vg_frame *f) {
    return f->data + VG_FRAME_HEADROOM;
}
static inline size_t vg_frame_wire_len(const vg_frame *f) {
    return VG_FRAME_HEADER_LEN + f->payload_len;
}
/* The whole WebSocket message: its header, then the wire bytes. */
static inline const uint8_t *vg_frame_ws_message(const vg_frame *f) {
    return f->data + VG_FRAME_HEADROOM - f->ws_header_len;
}
static inline size_t vg_frame_ws_message_len(const vg_frame *f) {
    return f->ws_header_len + vg_frame_wire_len(f);
}
static inline int vg_frame_is_keyframe(const vg_frame *f) {
    return (f->flags & VG_FRAME_KEYFRAME) != 0;
}
static inline int vg_frame_is_audio(const vg_frame *f) {
    return (f->flags & VG_FRAME_AUDIO) != 0;
}
/* An init segment or a decoder configuration: what a viewer needs before any
 * media frame of its mode, and keeps through a skip. */
static inline int vg_frame_is_setup(const vg_frame *f) {
    return f->kind == VG_FRAME_INIT || f->kind == VG_FRAME_DECODER_CONFIG;
}
/* A fragment or an access unit: one video frame (or, for an MSE fragment
 * with VG_FRAME_AUDIO, one audio frame). */
static inline int vg_frame_is_media(const vg_frame *f) {
    return f->kind == VG_FRAME_MEDIA || f->kind == VG_FRAME_ACCESS_UNIT;
}
/* The delivery mode a frame belongs to. */
static inline vg_mode vg_frame_mode(const vg_frame *f) {
    return f->kind >= VG_FRAME_DECODER_CONFIG ? VG_MODE_WEBCODECS : VG_MODE_MSE;
}

vg_frame *vg_frame_ref(vg_frame *f);
/* Drops one reference; frees the frame with the last. NULL is ignored. */
void vg_frame_unref(vg_frame *f);

/* Writes the 16-byte header for these values into out. */
void vg_frame_header_write(uint8_t out[VG_FRAME_HEADER_LEN], uint8_t kind, uint8_t flags,
                           uint32_t channel, int64_t time_us);

#endif
