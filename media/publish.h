/* publish.h -- the feed of a publish:// stream: what a WebSocket publisher
 * (a device that dials out, or the browser page web/publish.html) sends,
 * going into the stream's pipeline.
 *
 * The publisher's connection (server/publisher.c) reassembles each binary
 * message, checks its 16-byte header (signaling/PROTOCOL.md, "Publishing")
 * and hands the access unit here. The feed turns it into a GstBuffer stamped
 * with the publisher's own timestamp and pushes it into the current
 * pipeline's appsrc (appsrc -> h264parse -> the usual mp4mux tail). The
 * appsrc's caps come from the publish request: with an avcC `description`
 * the access units are AVCC (length-prefixed NAL units, what WebCodecs'
 * VideoEncoder gives with avc.format "avc"), without one they are Annex-B
 * (start codes, SPS/PPS in band).
 *
 * Audio (kind-2 frames, when the publisher announced it): when the feed
 * attaches to a pipeline it adds the publisher's audio track to it
 * (media/audio_branch.h: an appsrc with caps from the publish request ->
 * opusparse or aacparse -> mp4mux), before the pipeline starts. Both tracks
 * run on the publisher's clock: the header time of the first video keyframe
 * into the pipeline is time 0 for video and audio alike, so they stay in
 * sync; audio from before it, or with nothing to go with, is dropped and
 * counted. A publisher that announced audio and sends none is relayed as
 * video only after VG_AUDIO_WAIT_MS (the audio branch gives the track up).
 *
 * Bounded, and never blocking: the appsrc holds at most `queue_bytes`; when
 * it is three quarters full the feed drops delta frames, and then every frame
 * up to the next keyframe (a frame after a gap cannot be decoded), counting
 * them; keyframes always go in (the appsrc is leaky and drops its oldest data
 * once completely full). After a pipeline (re)start nothing goes in until a
 * keyframe.
 *
 * Thread: lws service thread only (gst_app_src_push_buffer does not block on
 * a leaky appsrc, so the lws thread can push). */
#ifndef VIGIL_MEDIA_PUBLISH_H
#define VIGIL_MEDIA_PUBLISH_H

#include <gst/gst.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/video_codec.h"

struct vg_audio;

/* What the publisher announced in its publish request. */
typedef struct vg_publish_config {
    char video_codec[64]; /* RFC 6381, e.g. "avc1.42E01F" */
    const vg_video_codec *codec; /* H.264 or H.265: the stream's options.codec */
    uint8_t *description; /* avcC or hvcC (malloc'd), NULL: Annex-B access units */
    size_t description_len;
    char audio_codec[16]; /* "opus", "aac" or "" */
    uint32_t sample_rate, channels;
    /* Opus: the OpusHead (optional); AAC: the AudioSpecificConfig
     * (required); malloc'd or NULL */
    uint8_t *audio_description;
    size_t audio_description_len;
} vg_publish_config;

typedef struct vg_publish_feed vg_publish_feed;

vg_publish_feed *vg_publish_feed_new(size_t queue_bytes);
void vg_publish_feed_free(vg_publish_feed *f);

/* A publisher takes the feed: `owner` (its session) and its config (moved
 * in: the caller's description pointer is taken). -1 if another owner has
 * it. Counters of the previous publisher are reset. */
int vg_publish_feed_claim(vg_publish_feed *f, void *owner, const char *sub, const char *peer,
                          vg_publish_config *cfg);
/* The owner lets go (disconnect or unpublish). */
void vg_publish_feed_release(vg_publish_feed *f);
void *vg_publish_feed_owner(const vg_publish_feed *f);

/* Frames go to `appsrc` from now on (its caps are set from the config; a
 * reference is taken), starting with the next keyframe; NULL: nowhere.
 * With `audio` (the pipeline's audio side, media/audio_branch.h) and a
 * publisher that announced audio, its audio track is added to the pipeline
 * (not started yet) and audio frames go there. -1 with err set when that
 * track cannot be made. */
int vg_publish_feed_attach(vg_publish_feed *f, GstElement *appsrc, struct vg_audio *audio,
                           char *err, size_t errlen);

/* Results of vg_publish_feed_video(). */
enum { VG_PUBLISH_PUSHED = 0, VG_PUBLISH_DROPPED = 1, VG_PUBLISH_NO_PIPELINE = 2 };

/* One access unit from the publisher (copied). time_us: its presentation
 * time in microseconds on the publisher's clock. */
int vg_publish_feed_video(vg_publish_feed *f, const uint8_t *au, size_t len, bool keyframe,
                          uint64_t time_us, int64_t now_us);
/* One audio frame from the publisher (an Opus packet or a raw AAC frame,
 * copied), time_us on the same clock as its video. VG_PUBLISH_* as above. */
int vg_publish_feed_audio(vg_publish_feed *f, const uint8_t *frame, size_t len, uint64_t time_us,
                          int64_t now_us);
/* A binary message that was not a usable frame (bad header). */
void vg_publish_feed_malformed(vg_publish_feed *f);

/* /api/streams' "publish" object. New reference. */
json_t *vg_publish_feed_describe(const vg_publish_feed *f, int64_t now_us);

/* Frees the config's descriptions. */
void vg_publish_config_clear(vg_publish_config *cfg);

/* The audio caps for the config's audio (audio/x-opus from the OpusHead, or
 * channel-mapping-family 0 without one; raw AAC with the
 * AudioSpecificConfig as codec_data), or NULL when there is no audio or its
 * description is not valid. New reference. */
GstCaps *vg_publish_audio_caps(const vg_publish_config *cfg);

#endif
