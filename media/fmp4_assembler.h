/* fmp4_assembler.h -- turns mp4mux's output into whole init segments and
 * whole fragments.
 *
 * mp4mux (fragment-duration below the frame interval) pushes ftyp and moov,
 * then for every frame a moof, an mdat header and the sample data, as separate
 * box-aligned buffers. Browsers want one message per fragment, so this module
 * groups them: it reads only each top-level box's size and type, nothing
 * inside. The fragment is copied once, straight into the vg_frame that all
 * viewers will share (its size is known as soon as the mdat header arrives).
 *
 * With an audio track beside the video (mp4mux puts one track in each
 * fragment), two small peeks inside boxes tell the tracks apart: the moov's
 * traks (tkhd track id, hdlr handler "soun") and each moof's tfhd track id.
 * A fragment of an audio track gets VG_FRAME_AUDIO and is never a keyframe,
 * whatever its buffers' flags say; video-only streams come out as before.
 *
 * Thread: used by one GStreamer streaming thread (the appsink's); no lock. */
#ifndef VIGIL_MEDIA_FMP4_ASSEMBLER_H
#define VIGIL_MEDIA_FMP4_ASSEMBLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/frame.h"

/* Receives each finished frame; takes responsibility over the reference. */
typedef void (*vg_fmp4_emit_fn)(void *ctx, vg_frame *f);

typedef struct vg_fmp4_assembler {
    uint32_t channel;
    size_t max_frame_bytes;
    vg_fmp4_emit_fn emit;
    void *ctx;
    /* current top-level box */
    uint8_t hdr[16];
    size_t hdr_len, hdr_need;
    uint64_t box_left; /* bytes of the current box still to come */
    char box_type[5];
    /* init segment (ftyp+moov) until the first moof */
    uint8_t *init;
    size_t init_len, init_cap;
    bool init_done;
    /* fragment in progress: moof bytes, then the frame once mdat's size is known */
    uint8_t *moof;
    size_t moof_len, moof_cap;
    vg_frame *frag;
    size_t frag_fill;
    bool frag_key_known, frag_key;
    bool frag_audio; /* the fragment in progress is of an audio track */
    /* track ids whose handler is "soun", read from the moov */
    uint32_t audio_tracks[4];
    size_t n_audio_tracks;
    uint64_t fragments, errors;
} vg_fmp4_assembler;

void vg_fmp4_assembler_init(vg_fmp4_assembler *a, uint32_t channel, size_t max_frame_bytes,
                            vg_fmp4_emit_fn emit, void *ctx);
void vg_fmp4_assembler_reset(vg_fmp4_assembler *a);

/* Feeds one buffer from mp4mux. `is_sample` says the buffer carries sample
 * data (it has a timestamp) and `is_delta` its GST_BUFFER_FLAG_DELTA_UNIT;
 * now_us stamps frames completed by this buffer. Returns 0, or -1 when the
 * stream is not what mp4mux makes (the caller treats it as a pipeline error). */
int vg_fmp4_assembler_push(vg_fmp4_assembler *a, const uint8_t *data, size_t len, bool is_sample,
                           bool is_delta, int64_t now_us);

#endif
