/* snapshot.h -- one keyframe of a stream made into a JPEG: GStreamer
 * decodes it and jpegenc encodes it, scaled to a width when asked.
 *
 * What it is made from: the stream's WebCodecs relay (media/relay.h), its
 * decoder configuration (kind 3: the codec string and the avcC or hvcC)
 * and its newest keyframe access unit (kind 4). Why that relay and not the
 * MSE one: every pipeline's au_tap posts both whether or not anyone watches
 * in WebCodecs mode, and the relay keeps them without viewers; they exist
 * the same way for every source kind and every codec vigil relays (H.264,
 * H.265), and for every variant (a substream or the transcode is a stream
 * with relays of its own); and one access unit is one whole picture, so the
 * decoder needs no demuxer (qtdemux), and no audio fragment has to be told
 * apart from the video. The pipeline is
 *   appsrc (caps with codec_data) ! parser ! decoder ! videoconvert !
 *   videoscale ! capsfilter (square pixels, the width) ! jpegenc ! appsink
 * with the codec's parser and software decoder from media/video_codec.h.
 *
 * Thread: vg_snapshot_make() blocks (up to VG_SNAPSHOT_TIMEOUT_US): it runs
 * on the snapshot worker (media/snapshot_worker.h), never on the lws
 * service thread nor on a GStreamer streaming thread. It only reads the
 * frames (immutable, media/frame.h). The width parser is pure: any thread. */
#ifndef VIGIL_MEDIA_SNAPSHOT_H
#define VIGIL_MEDIA_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "media/frame.h"

/* ?width= bounds: narrower than a thumbnail is not a picture, and 3840
 * (UHD) is wider than any screen a dashboard tile is on. */
#define VG_SNAPSHOT_MIN_WIDTH 16
#define VG_SNAPSHOT_MAX_WIDTH 3840
/* One decode and encode may take this long before it is given up. A 4K
 * H.265 keyframe decodes in well under a second on one core. */
#define VG_SNAPSHOT_TIMEOUT_US 3000000LL

typedef struct vg_jpeg {
    uint8_t *data; /* malloc'd */
    size_t len;
    int width, height;
} vg_jpeg;

void vg_jpeg_clear(vg_jpeg *j);

/* Decodes `key` (an access unit with VG_FRAME_KEYFRAME) with the decoder
 * configuration `config` that precedes it, and encodes the picture as a
 * JPEG `width` pixels wide with the picture's aspect ratio (0: its own
 * width; never wider than the picture). 0 with *out filled, or -1 with err
 * saying why. */
int vg_snapshot_make(vg_frame *config, vg_frame *key, int width, vg_jpeg *out, char *err,
                     size_t errlen);

/* Reads a ?width= value: decimal digits only, VG_SNAPSHOT_MIN_WIDTH to
 * VG_SNAPSHOT_MAX_WIDTH. 0 with *width set, or -1 with err saying what a
 * width must be. */
int vg_snapshot_parse_width(const char *text, int *width, char *err, size_t errlen);

#endif
