/* recorder.h -- a stream's continuous recording, as the lws service thread
 * sees it: when a segment starts, what goes to the writer, what is dropped.
 *
 * The recorder gets every frame of the stream's MSE relay (an fMP4 init
 * segment, then one moof+mdat fragment per video or audio frame: the very
 * frames viewers get, never re-encoded) and hands references to the
 * recording writer (media/record_writer.h), which does the disk work. A
 * segment starts at the first video keyframe once segment_s have passed, and
 * always at the first keyframe after a new init segment (the source
 * restarted: the old file's init no longer describes the frames).
 *
 * When the writer's queue is full (the disk cannot keep up), the frame is
 * dropped and so is every frame up to the next video keyframe, where the
 * recording resumes in the same file; each dropped frame is counted. Viewers
 * never notice: the relay has already given them the frame.
 *
 * When the sink reports a failure (disk full, read-only or uncreatable
 * directory: media/record_sink.h) the recording stops until retry_us has
 * passed, then tries a new segment at the next keyframe.
 *
 * Clips (media/clip.h), in either mode: the recorder keeps the last
 * preroll_s of frames in a ring (media/clip_ring.h, at most preroll_mb) and
 * feeds every clip being made; a clip ends at its post time, when the
 * stream stops, or at a new init segment. "events" mode records nothing
 * continuously: clips only. Clip files go to "<path>/<stream>/clips/".
 *
 * Thread: owned by the lws service thread; no lock. The sink's status is
 * read through its own lock. The config is immutable after
 * vg_recorder_new(). */
#ifndef VIGIL_MEDIA_RECORDER_H
#define VIGIL_MEDIA_RECORDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/clip.h"
#include "media/clip_ring.h"
#include "media/frame.h"
#include "media/record_sink.h"
#include "media/record_writer.h"

typedef enum vg_record_mode {
    VG_RECORD_OFF = 0,
    VG_RECORD_CONTINUOUS,
    VG_RECORD_EVENTS,
} vg_record_mode;

/* A stream's "record" configuration (server/config_record.c). */
typedef struct vg_record_config {
    vg_record_mode mode;
    char *path;         /* the base directory; files go to <path>/<stream>/ */
    uint32_t segment_s; /* a new segment at the first keyframe after this long */
    double retain_days; /* 0: no age limit */
    double max_gb;      /* 0: no size limit */
    double preroll_s;   /* how far back a clip can start */
    double preroll_mb;  /* the pre-roll ring's bound, in MB */
} vg_record_config;

#define VG_RECORD_RETRY_US 10000000LL
/* Clips of one stream being made at once. */
#define VG_RECORDER_CLIPS_MAX 8

typedef struct vg_recorder {
    /* configuration: immutable after vg_recorder_new() */
    vg_record_mode mode;
    char *stream_id;
    int64_t segment_us;
    int64_t retry_us;
    vg_record_writer *writer;
    vg_record_sink *sink; /* the writer frees it after our RELEASE; NULL in events mode */
    char *clip_dir;       /* "<path>/<stream>/clips" */
    double preroll_s;

    /* lws thread */
    vg_frame *init;        /* the latest init segment (a reference), or NULL */
    bool open;             /* a segment was asked for and no failure seen since */
    bool need_open;        /* start a segment at the next keyframe */
    bool skipping;         /* the queue was full: drop until a keyframe */
    int64_t segment_start_us;
    uint64_t errors_seen;  /* the sink's error count when last looked at */
    int64_t retry_at_us;   /* after a failure: no new segment before */
    uint64_t frames_dropped;
    vg_clip_ring ring;                       /* the last preroll_s of frames */
    vg_clip *clips[VG_RECORDER_CLIPS_MAX];   /* being made, nclips of them */
    size_t nclips;
    uint64_t clips_started, clips_refused, clip_frames_dropped;
} vg_recorder;

typedef enum vg_clip_result {
    VG_CLIP_STARTED = 0,
    VG_CLIP_BUSY,  /* VG_RECORDER_CLIPS_MAX clips of this stream are being made */
    VG_CLIP_NOMEM,
} vg_clip_result;

/* Equal configs (the same mode, path, segment length and limits): a reload
 * keeps a recorder whose config did not change. */
bool vg_record_config_equal(const vg_record_config *a, const vg_record_config *b);
/* A deep copy into *dst (0), or -1 on OOM. */
int vg_record_config_copy(vg_record_config *dst, const vg_record_config *src);
void vg_record_config_free(vg_record_config *c);

/* A recorder for stream `id`, writing through `writer` (borrowed: it
 * outlives the recorder). NULL for mode OFF, or on OOM. */
vg_recorder *vg_recorder_new(const vg_record_config *cfg, const char *id,
                             vg_record_writer *writer);
/* Ends the segment and lets the writer free the sink. NULL is ignored. */
void vg_recorder_free(vg_recorder *r);

/* Starts a clip asked for at `now_us` (wall clock); its name (the file's
 * base name, its id) into name_out, its first frame's time (or now_us when
 * it waits for a keyframe) into *start_us. */
vg_clip_result vg_recorder_clip(vg_recorder *r, const vg_clip_request *req, int64_t now_us,
                                char *name_out, size_t name_len, int64_t *start_us);
/* True while the clip `name` is being made. */
bool vg_recorder_clip_active(const vg_recorder *r, const char *name);
/* True while a clip that an event of `device` started is being made. */
bool vg_recorder_device_clip_active(const vg_recorder *r, const char *device);

/* One frame of the MSE relay (borrowed). */
void vg_recorder_frame(vg_recorder *r, vg_frame *f, int64_t now_us);
/* The stream stopped: the segment and the clips being made end, the ring
 * empties; the next frames start a new segment. */
void vg_recorder_stop(vg_recorder *r);

/* {"mode", "state", "reason", "file", "bytes", "segments", "frames_dropped",
 * "errors", "segments_deleted", "clips": {"preroll_s", "buffered_s",
 * "buffered_bytes", "active", "started", "refused", "frames_dropped"}} for
 * /api/streams. A new reference. */
json_t *vg_recorder_describe(const vg_recorder *r);
/* The sink's status plus what the recorder dropped. */
void vg_recorder_status(const vg_recorder *r, vg_record_status *out, uint64_t *frames_dropped);

#endif
