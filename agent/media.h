/* media.h -- the agent's camera: a GStreamer pipeline from a source to
 * encoded access units waiting to be sent, with a bounded queue.
 *
 * Sources (ag_media_config.source):
 *   test://                 videotestsrc (with the time burnt in), encoded
 *   v4l2:///dev/videoN      a V4L2 camera, encoded
 *   rtsp://[user:pw@]host/p an RTSP camera, passed through (H.264 or H.265,
 *                           not re-encoded)
 *   file:///path.mp4        a file (H.264/H.265 passed through), looped
 * Encoding (test:// and v4l2://) uses a hardware H.264 encoder element when
 * one is present (v4l2h264enc, vaapih264enc), else x264enc tune=zerolatency.
 * Optional audio (config.audio): Opus from audiotestsrc ("test") or an ALSA
 * device ("alsa:hw:1,0").
 *
 * Every frame carries its presentation time in microseconds on one clock
 * (the pipeline's running time), audio and video alike, and video access
 * units are Annex-B (start codes, SPS/PPS in front of each keyframe).
 *
 * The queue between GStreamer's streaming threads and the sender is bounded
 * by bytes (max_queue_bytes) and by age (max_queue_ms, measured from when a
 * frame was queued): a video frame that finds it full, or whose oldest frame
 * is too old, starts a skip: everything queued is dropped and video frames
 * are dropped up to the next keyframe (audio frames too, while skipping),
 * and each one is counted. So when the uplink is slower than the video, the
 * latency stays bounded and nothing grows without limit. The sender asks for
 * a skip itself with ag_media_skip() (after a reconnect: resume from a
 * keyframe).
 *
 * Threads: GStreamer streaming threads push (appsink callbacks, never
 * blocking beyond the queue's mutex); one thread (the agent's service
 * thread) takes. `lock` in media.c guards the queue, its byte count, the
 * skip flag and the counters; the codec string is written once under it.
 * `wake` is called after a frame is queued into an empty queue, from a
 * streaming thread: it must only signal (lws_cancel_service).
 */
#ifndef VIGIL_AGENT_MEDIA_H
#define VIGIL_AGENT_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { AG_FRAME_VIDEO = 1, AG_FRAME_AUDIO = 2 }; /* the kinds of PROTOCOL.md */

/* One access unit or audio frame. data points `headroom` bytes into buf: the
 * sender builds its headers there without copying the payload. */
typedef struct ag_frame {
    struct ag_frame *next;
    uint8_t kind;       /* AG_FRAME_VIDEO or AG_FRAME_AUDIO */
    bool key;           /* video: an IDR access unit */
    int64_t pts_us;     /* presentation time on the pipeline's clock */
    int64_t queued_us;  /* CLOCK_MONOTONIC when it was queued */
    size_t len;         /* payload bytes at data */
    uint8_t *data;      /* = buf + headroom */
    uint8_t buf[];
} ag_frame;

void ag_frame_free(ag_frame *f);

typedef struct ag_media_config {
    const char *source;      /* see above */
    const char *audio;       /* NULL: none; "test" or "alsa:<device>" */
    int width, height, fps;  /* encoded sources; 0: 1280x720, 30 */
    int bitrate_kbps;        /* encoded sources; 0: 2000 */
    int keyframe_s;          /* encoded sources: keyframe interval; 0: 1 */
    const char *encoder;     /* NULL: auto (see above); else an element name */
    size_t max_queue_bytes;  /* 0: 4 MiB */
    int max_queue_ms;        /* 0: 500 */
    size_t headroom;         /* bytes kept free before each payload */
    bool latency_mark;       /* test:// only: burn the capture time into each frame
                                (the server's test:// "latency_mark", docs/LATENCY.md) */
} ag_media_config;

typedef struct ag_media_stats {
    uint64_t video_frames, audio_frames;  /* queued */
    uint64_t dropped_video, dropped_audio; /* dropped by skips */
    uint64_t skips;                        /* skips started */
    size_t queued_bytes;
    uint32_t queued_frames;
    uint64_t restarts;                     /* the pipeline restarted after an error or EOS */
} ag_media_stats;

typedef struct ag_media ag_media;

/* Builds the pipeline (not started). NULL with a message in err for a bad
 * source, a missing element or a bad config field. cfg is copied. */
ag_media *ag_media_new(const ag_media_config *cfg, void (*wake)(void *), void *wake_user,
                       char *err, size_t errlen);
/* Sets it playing; a pipeline that fails or ends later restarts by itself
 * after a second (counted). 0 or -1 with err. */
int ag_media_start(ag_media *m, char *err, size_t errlen);
/* The oldest queued frame (the caller owns it), or NULL. */
ag_frame *ag_media_take(ag_media *m);
/* Drops what is queued and skips to the next keyframe. */
void ag_media_skip(ag_media *m);
/* The RFC 6381 codecs string of the video ("avc1.64001f", "hvc1.1.6.L93.B0")
 * once the first caps are known, else "" ; copied into out. */
void ag_media_codec(ag_media *m, char *out, size_t outlen);
/* "h264" or "h265" once known, else NULL. */
const char *ag_media_codec_family(ag_media *m);
/* Audio: true when the pipeline has an audio branch (Opus, 48 kHz). */
bool ag_media_has_audio(const ag_media *m);
int ag_media_audio_channels(const ag_media *m);
void ag_media_stats_get(ag_media *m, ag_media_stats *out);
/* Stops the pipeline and frees everything queued. */
void ag_media_free(ag_media *m);

#endif
