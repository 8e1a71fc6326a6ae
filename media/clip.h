/* clip.h -- one clip being made: the frames of a stream from up to pre_s
 * before the request to post_s after it, in a file of its own.
 *
 * The clip starts from the pre-roll ring (media/clip_ring.h) at the last
 * video keyframe at or before "request - pre_s" (or the ring's oldest, when
 * it does not reach back so far; or, with an empty ring, the next keyframe
 * to come), then takes the stream's live fragments until the first one
 * past "request + post_s". Like a segment, it is written by the recording
 * writer (media/record_writer.h) through a sink of its own
 * (vg_record_sink_new_clip), with a sidecar that says who asked and why;
 * when the writer's queue is full the clip drops to the next keyframe and
 * counts it.
 *
 * Thread: lws service thread (through the stream's recorder); no lock. */
#ifndef VIGIL_MEDIA_CLIP_H
#define VIGIL_MEDIA_CLIP_H

#include <stdbool.h>
#include <stdint.h>

#include "media/clip_ring.h"
#include "media/frame.h"
#include "media/record_writer.h"

#define VG_CLIP_NAME_MAX 160

/* What a clip is asked for with. Strings borrowed; NULL where unknown. */
typedef struct vg_clip_request {
    double pre_s, post_s;
    const char *label;   /* the asker's word for it ("doorbell") */
    const char *subject; /* who asked: the token's subject */
    const char *reason;  /* "request" or "device event" */
    const char *device;  /* the device whose event started it */
} vg_clip_request;

typedef struct vg_clip {
    char name[VG_CLIP_NAME_MAX]; /* the file's base name, also its id */
    char device[64];             /* the device whose event started it, or "" */
    vg_record_writer *writer;    /* borrowed */
    vg_record_sink *sink;        /* the writer frees it after our RELEASE */
    int64_t start_us;  /* the first frame's time (the request's, until one is written) */
    int64_t end_us;    /* request + post_s: frames from then on are not the clip's */
    bool opened;       /* the file's OPEN was queued */
    bool skipping;     /* the queue was full: nothing until a keyframe */
    uint64_t frames_dropped;
} vg_clip;

/* A clip of stream `stream` named `name`, into directory `dir`, asked for
 * at `now_us` (wall clock). `ring` and `init` (the stream's current init
 * segment, or NULL) are borrowed: what the ring holds from index `from` on
 * (vg_clip_ring_start() of now_us - pre_s) is queued at once. NULL on OOM. */
vg_clip *vg_clip_start(vg_record_writer *writer, const char *dir, const char *name,
                       const char *stream, const vg_clip_request *req, int64_t now_us,
                       const vg_clip_ring *ring, size_t from, vg_frame *init);
/* One live fragment of the stream (borrowed), with the current init
 * segment. False once the clip has all its frames: then vg_clip_end(). */
bool vg_clip_frame(vg_clip *c, vg_frame *f, vg_frame *init);
/* The clip ends here (its sidecar says complete, unless it failed) and is
 * freed. NULL is ignored. */
void vg_clip_end(vg_clip *c);

#endif
