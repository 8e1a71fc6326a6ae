/* relay.h -- one delivery variant of one stream, and its viewers.
 *
 * A relay holds everything a viewer of one variant needs and nothing of the
 * others: the setup frame (an fMP4 init segment, or a WebCodecs decoder
 * configuration), the GOP cache a new viewer starts from, the numbering of
 * the frames that come for it (a gap means the hand-off dropped some: wait
 * for the next keyframe), the "after skip" copy of its newest keyframe, and
 * its list of viewers. A frame published to a relay goes to its viewers only.
 *
 * A stream (media/stream.h) holds its source's life and one relay per
 * delivery mode, in an array indexed by vg_relay_slot (MSE, WebCodecs).
 * A substream or a transcode is a stream of its own with its own relays
 * (media/variant.h); nothing here changes for them.
 *
 * The frame is shared, not copied: every viewer's queue takes a reference to
 * the same immutable vg_frame (media/frame.h), and the session writes that
 * memory to its socket. A viewer whose queue is full skips
 * (media/viewer_queue.h) without any effect on the others.
 *
 * Thread: everything here is owned by the lws service thread; no lock. */
#ifndef VIGIL_MEDIA_RELAY_H
#define VIGIL_MEDIA_RELAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/frame.h"
#include "media/gop_cache.h"
#include "media/viewer_queue.h"

struct vg_stream;
typedef struct vg_relay vg_relay;
typedef struct vg_viewer vg_viewer;

/* Where a relay sits in its stream's array. One slot per variant. */
typedef enum vg_relay_slot {
    VG_RELAY_MSE = 0,       /* fMP4 init segment + one fragment per frame (kinds 1-2) */
    VG_RELAY_WEBCODECS = 1, /* decoder configuration + access units (kinds 3-4) */
    VG_RELAY_COUNT,
} vg_relay_slot;

/* What a relay asks of whoever owns its viewers (the server's sessions).
 * Both run on the lws thread, from inside vg_relay_publish/attach. */
typedef struct vg_relay_hooks {
    /* A viewer's queue went from empty to non-empty: ask for a writable callback. */
    void (*viewer_ready)(vg_viewer *v);
    /* A viewer overflowed too often; its owner closes it (close code 4001). */
    void (*viewer_too_slow)(vg_viewer *v);
} vg_relay_hooks;

/* Per-viewer queue policy (media/viewer_queue.h); the GOP cache holds one
 * frame less than a queue, so a new viewer's first GOP always fits. */
typedef struct vg_relay_limits {
    uint32_t queue_frames;
    uint32_t slow_skips;
    int64_t slow_window_us;
    int64_t max_age_us; /* longest a frame waits in a viewer's queue; 0: unbounded */
} vg_relay_limits;

/* One subscription to one relay. The owner allocates it (usually inside a
 * struct of its own, which the hooks get back with container_of) and keeps
 * it alive while attached; the relay links it into its list. */
struct vg_viewer {
    vg_viewer_queue queue;
    vg_relay *relay; /* set by vg_relay_attach, NULL once detached */
    uint32_t channel;
    vg_viewer *prev, *next;
    uint64_t frames_sent, bytes_sent;
    bool too_slow;
};

struct vg_relay {
    /* set by vg_relay_init, immutable after */
    struct vg_stream *stream; /* the stream this relay belongs to */
    vg_relay_slot slot;
    uint32_t channel;
    vg_relay_limits limits;
    const vg_relay_hooks *hooks;

    vg_frame *setup;     /* latest init segment or decoder configuration */
    vg_gop_cache gop;    /* newest keyframe and every frame since */
    /* The newest video keyframe since `setup` (a reference), kept however
     * long its GOP (the cache drops a GOP longer than itself): what a
     * snapshot is made from (media/snapshot.h). NULL until one comes. */
    vg_frame *key;
    vg_frame *resync;    /* "after skip" copy of the newest keyframe, made on demand */
    vg_frame *resync_of; /* the keyframe `resync` copies (not a reference) */
    uint64_t next_seq;   /* the frame number expected next from the source (0: any) */
    bool await_key;      /* frames were lost: publish none until a keyframe */
    uint64_t frames_lost;
    /* delivered to this relay's viewers since start (every viewer, gone or
     * not): frames and bytes written to sockets, and queue overflows */
    uint64_t frames_out, bytes_out, skips;
    uint64_t late_skips; /* of the skips, those for a frame that waited too long */
    vg_viewer *viewers;
    uint32_t viewer_count;
};

/* "mse", "webcodecs": the slot's name in logs and in /api/streams. */
const char *vg_relay_slot_name(vg_relay_slot slot);

/* -1 on OOM (nothing to free then). */
int vg_relay_init(vg_relay *r, struct vg_stream *stream, vg_relay_slot slot, uint32_t channel,
                  const vg_relay_limits *limits, const vg_relay_hooks *hooks);
/* Detaches every viewer (their owners must already have let go of them, or
 * do so after without touching the relay) and drops every frame. */
void vg_relay_free(vg_relay *r);

/* A new source run begins: numbering starts again at 1. */
void vg_relay_restart(vg_relay *r);
/* The source run ended: its GOP, newest keyframe and resync frame cannot
 * continue the next run's decoding, so they go. The setup frame stays for
 * new viewers until the next one replaces it. */
void vg_relay_reset(vg_relay *r);

/* Another node's run joined mid-way (cluster): the first frame's number is
 * taken as it comes, and nothing is published before a keyframe. */
void vg_relay_rejoin(vg_relay *r);

/* Checks frame number `seq` from the source. False when it must not be
 * published: after a gap (the hand-off dropped frames) nothing can be decoded
 * until the next keyframe, for anyone. Counts what is lost. */
bool vg_relay_admit(vg_relay *r, uint64_t seq, const vg_frame *f);

/* Sends one new frame to every viewer and into the GOP cache (a setup frame
 * replaces the last one and empties the cache, and drops the newest
 * keyframe, which it may not describe). Borrows f. */
void vg_relay_publish(vg_relay *r, vg_frame *f, int64_t now_us);

/* Attaches a viewer (its queue is initialised here) and queues the setup
 * frame and the GOP cache at once, so it can start decoding now rather than
 * at the next keyframe. -1 on OOM. */
int vg_relay_attach(vg_relay *r, vg_viewer *v, int64_t now_us);
/* Detaches a viewer and drops its queue. A no-op when not attached. */
void vg_relay_detach(vg_viewer *v);
/* Moves an attached viewer, with the frames it has queued, to relay `to`:
 * the same delivery variant of the stream that replaces its own (a stream
 * changed by a reload keeps its viewers). `to`'s setup frame and GOP cache
 * are offered as on attach; the viewer takes `to`'s channel. */
void vg_relay_move(vg_viewer *v, vg_relay *to, int64_t now_us);

/* The viewer's owner wrote one frame of `wire_len` bytes to it: counted for
 * the viewer and its relay. */
void vg_relay_count_sent(vg_viewer *v, size_t wire_len);

/* {"viewers", "frames_lost"} for /api/streams. A new reference. */
json_t *vg_relay_describe(const vg_relay *r);

#endif
