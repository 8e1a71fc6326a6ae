/* video_codec.h -- the video codecs vigil relays untouched, and the GStreamer
 * elements and names each one needs.
 *
 * One row per codec: its name in configs and publish requests, its caps,
 * RTP encoding name, depayloader, parser, the stream format mp4mux and
 * WebCodecs take (length-prefixed NAL units with the parameter sets in the
 * codec data: avcC for H.264, hvcC for H.265), and the timestamper that
 * rebuilds decode times for B-frames. Sources pick a row from what their
 * camera announces (RTP encoding name, caps, config); the pipeline builds its
 * shared tail from it. Adding a codec is adding a row.
 *
 * Thread: immutable; any thread. */
#ifndef VIGIL_MEDIA_VIDEO_CODEC_H
#define VIGIL_MEDIA_VIDEO_CODEC_H

#include <gst/gst.h>

typedef struct vg_video_codec {
    const char *name;          /* "h264", "h265": configs and publish requests */
    const char *caps_name;     /* "video/x-h264" */
    const char *rtp_encoding;  /* "H264": SDP and RTP caps encoding-name */
    const char *depay;         /* RTP depayloader element */
    const char *parse;         /* parser element */
    const char *stream_format; /* what MP4 stores: "avc", "hvc1" */
    const char *timestamper;   /* rebuilds decode times from the SPS */
    const char *au_format;     /* WebCodecs decoder configuration "format": "avc", "hevc" */
    const char *decoder;       /* software decoder for snapshots (media/snapshot.h) */
    const char *family[2];     /* RFC 6381 sample entries: "avc1" (the family's name), "avc3" */
} vg_video_codec;

extern const vg_video_codec vg_codec_h264;

/* The row for a name ("h264"), an RTP encoding name ("H265", any case), or
 * caps (their structure name); NULL when vigil does not relay it. */
const vg_video_codec *vg_video_codec_by_name(const char *name);
const vg_video_codec *vg_video_codec_by_rtp(const char *encoding);
const vg_video_codec *vg_video_codec_by_caps(const GstCaps *caps);
/* The row of an RFC 6381 codec string or family ("hev1.1.6.L93.B0", "avc1",
 * the first entry of "avc1.64001f,opus"). */
const vg_video_codec *vg_video_codec_by_rfc6381(const char *codecs);

#endif
