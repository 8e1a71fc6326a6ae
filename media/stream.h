/* stream.h -- one camera stream: its source's life, its relays, and its
 * state as clients see it.
 *
 * Frames come from the pipeline through the inbox (vg_stream_apply_event);
 * each goes to the relay of its delivery variant (media/relay.h), which
 * keeps that variant's setup frame and GOP cache and fans the frame out to
 * that variant's viewers. The stream itself knows no viewer. A source that fails or
 * ends is restarted with exponential backoff (1 s, 2 s, 4 s, then every 5 s,
 * logging the same failure once a minute rather than at each try); a live
 * source that stops producing frames for stall_timeout_us is treated as failed.
 *
 * Push sources (srtp://, rtp://) keep a UDP receiver (media/rtp_ingest.c)
 * from start to stop, across pipeline restarts. When no valid packet has
 * come for the source's silence_timeout_s the source is lost: the pipeline
 * is dropped and the stream shows RETRYING ("no packets for 3 s") with no
 * backoff timer; it builds a new pipeline as soon as the receiver accepts a
 * packet again (seen at the next tick).
 *
 * publish:// streams are fed by a WebSocket publisher (media/publish.h):
 * without one they have no pipeline and show RETRYING ("waiting for a
 * publisher", or "publisher gone" after one left), with no backoff timer; a
 * publisher joining starts a pipeline at once.
 *
 * Thread: everything here is owned by the lws service thread, no lock. The
 * configuration fields are immutable after vg_stream_new(). Frames referenced
 * here are immutable and shared (media/frame.h). */
#ifndef VIGIL_MEDIA_STREAM_H
#define VIGIL_MEDIA_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/frame.h"
#include "media/inbox.h"
#include "media/pipeline.h"
#include "media/publish.h"
#include "media/reaper.h"
#include "media/recorder.h"
#include "media/relay.h"
#include "media/rtp_ingest.h"

typedef enum vg_stream_state {
    VG_STREAM_STARTING,
    VG_STREAM_LIVE,
    VG_STREAM_RETRYING,
    VG_STREAM_FAILED,
    VG_STREAM_STOPPED,
} vg_stream_state;

typedef struct vg_stream vg_stream;

/* What the stream asks of its embedder (the server). All run on the lws thread. */
typedef struct vg_stream_hooks {
    vg_relay_hooks viewers; /* for the viewers of every relay */
    /* The stream's state or codecs changed; reason may be NULL. */
    void (*state_changed)(vg_stream *s, const char *reason);
    /* A frame of a run ingested here went to relay `slot` as number `seq`
     * (a cluster publishes it for the other nodes). May be NULL. */
    void (*frame_out)(vg_stream *s, vg_relay_slot slot, uint64_t seq, vg_frame *f);
} vg_stream_hooks;

typedef struct vg_stream_limits {
    uint32_t queue_frames; /* per-viewer queue; the GOP cache holds one less */
    int64_t queue_max_age_us; /* longest a frame waits in a viewer's queue; 0: unbounded */
    uint32_t slow_skips;   /* overflows within slow_window_us that close a viewer */
    int64_t slow_window_us;
    size_t max_frame_bytes;
    int64_t stall_timeout_us;   /* live with no frame this long: restart */
    size_t publish_queue_bytes; /* publish:// appsrc bound (0: 4 MiB) */
} vg_stream_limits;

struct vg_stream {
    /* configuration: immutable after vg_stream_new() */
    char *id;
    char *source;        /* may hold credentials: never shown */
    char *source_public; /* redacted, for the API */
    json_t *options;     /* owned reference */
    uint32_t channel;
    vg_stream_limits limits;
    const vg_stream_hooks *hooks;
    vg_inbox *inbox;
    vg_reaper *reaper; /* tears old pipelines down; NULL: inline */

    /* state: lws thread */
    vg_stream_state state;
    char *codecs; /* NULL until first live */
    char *last_error;
    char *logged_reason;       /* the last state line logged, for the repeat check */
    int64_t logged_at_us;      /* when (monotonic) */
    uint32_t repeats_unlogged; /* the same failure since, not logged */
    vg_pipeline *pipeline;
    uint64_t generation;
    vg_relay relays[VG_RELAY_COUNT]; /* one per delivery variant */
    uint32_t restarts;
    uint32_t attempt;    /* consecutive failed starts, for backoff */
    int64_t retry_at_us; /* when RETRYING: time of the next start */
    int64_t last_frame_us;
    int64_t pipeline_started_us;

    /* push sources only (srtp://, rtp://) */
    vg_rtp_ingest *ingest;     /* the UDP receiver while the stream runs, else NULL */
    bool awaiting_packets;     /* RETRYING because the source went silent */
    int64_t mark_last_packet;  /* the receiver's last packet time, as last seen by a tick */
    uint64_t auth_failed_mark; /* the receiver's auth failures then */
    bool auth_reported;        /* viewers were told of auth failures while waiting */

    /* variants (media/variant.h) */
    struct vg_stream *parent;     /* a variant's main stream; NULL for a main stream */
    char *variant;                /* a variant's name ("sub", "transcode"), else NULL */
    char *label;                  /* "door", or "door/sub" for a variant: for logs */
    struct vg_stream **variants;  /* a main stream's, owned: substreams, then the transcode */
    size_t nvariants;
    struct vg_stream *transcode;  /* the one among variants made from this stream, or NULL */
    int64_t idle_since_us;        /* a running variant without viewers: since when, else 0 */

    /* publish:// and transcode:// only */
    vg_publish_feed *feed;   /* what the WebSocket publisher (or the main stream) sends, else NULL */
    bool awaiting_publisher; /* RETRYING because nobody publishes */

    /* ingest statistics over one-second windows */
    int64_t win_start_us;
    uint32_t win_frames;
    uint64_t win_bytes;
    double fps;
    double bitrate_bps;
    uint64_t frames_in, bytes_in;
    /* keyframe spacing, from the video keyframes taken in (vg_stream_apply_event):
     * when the last one left the pipeline (0: none since the source started),
     * and the time between the last two (0: not known yet). Touched only
     * where frames are applied, on the lws thread: no lock. */
    int64_t last_keyframe_us;
    int64_t keyframe_interval_us;

    /* cluster (cluster/cluster.h, server/cluster_node.c): NULL node and
     * epoch 0 outside a cluster. A remote stream has no pipeline here: its
     * frames come from the node that ingests it (vg_stream_remote_frame), its
     * state is that node's (vg_stream_follow). */
    bool remote;
    char *node;     /* the node that ingests it (this one when not remote), or NULL */
    uint64_t epoch; /* of that node's lease: rises with each new ingesting node */
    /* per relay, the setup frame a GOP reply of this epoch gave (identity
     * only, no reference): the same one again in the live frames is not
     * sent twice */
    const vg_frame *gop_setup[VG_RELAY_COUNT];

    /* continuous recording (media/recorder.h): owned, NULL when the stream
     * does not record. Set by the embedder after vg_stream_new(), and
     * replaced by a reload that changes only it (vg_stream_set_recorder). */
    vg_recorder *recorder;
};

/* Creates a stopped stream. A variant (media/variant.h) has its main
 * stream's id. Copies id and source; takes its own reference to
 * options. `reaper` may be NULL (pipelines are then freed inline, waiting).
 * NULL on OOM. */
vg_stream *vg_stream_new(const char *id, const char *source, json_t *options, uint32_t channel,
                         const vg_stream_limits *limits, const vg_stream_hooks *hooks,
                         vg_inbox *inbox, vg_reaper *reaper);
/* Stops the pipeline (and its variants'), detaches every viewer (their owners must already have
 * let go of them or do so after) and frees the stream. */
void vg_stream_free(vg_stream *s);

/* Builds and starts the pipeline; on failure goes to RETRYING (or FAILED when
 * the pipeline cannot be built at all). */
void vg_stream_start(vg_stream *s, int64_t now_us);
void vg_stream_stop(vg_stream *s);

/* Applies one event from the inbox addressed to this stream. */
void vg_stream_apply_event(vg_stream *s, const vg_event *ev, int64_t now_us);

/* publish:// only. A publisher (`owner`, its session) takes the stream with
 * the config of its publish request (moved in) and a pipeline starts; -1
 * when another publisher has it. */
int vg_stream_publisher_join(vg_stream *s, void *owner, const char *sub, const char *peer,
                             vg_publish_config *cfg, int64_t now_us);
/* The publisher left (reason: "publisher gone", ...): the pipeline goes and
 * the stream waits for the next one. A no-op for another owner. */
void vg_stream_publisher_leave(vg_stream *s, void *owner, const char *reason, int64_t now_us);

/* Cluster: this node ingests the stream from now on, under lease `epoch`
 * (`node`: this node's id); starts the pipeline unless it runs. */
void vg_stream_ingest(vg_stream *s, const char *node, uint64_t epoch, int64_t now_us);
/* Cluster: another node ingests the stream (`node`, NULL while nobody does)
 * and says it is in state `st` (`codecs`, `reason` may be NULL). A pipeline
 * of ours stops. A new epoch is a new run: the relays drop their frames and
 * wait for the new node's setup frame and a keyframe. */
void vg_stream_follow(vg_stream *s, const char *node, uint64_t epoch, vg_stream_state st,
                      const char *codecs, const char *reason, int64_t now_us);
/* Cluster: a frame of a remote stream from the node that ingests it,
 * numbered `seq` in that node's relay `slot` (0: a setup frame sent outside
 * the numbering, as a GOP reply starts). Borrows f. False when it was not
 * used (a frame already seen, or not decodable yet). */
bool vg_stream_remote_frame(vg_stream *s, vg_relay_slot slot, uint64_t seq, vg_frame *f,
                            int64_t now_us);
/* "live" -> VG_STREAM_LIVE ...; false for an unknown name. */
bool vg_stream_state_parse(const char *name, vg_stream_state *out);

/* Periodic: restarts due retries and detects stalled sources; for a main
 * stream, also its variants (media/variant.h). */
void vg_stream_tick(vg_stream *s, int64_t now_us);

const char *vg_stream_state_name(vg_stream_state st);

/* The stream as /api/streams and `list` show it, with its variants.
 * Returns a new reference. */
json_t *vg_stream_describe(const vg_stream *s, int64_t now_us);

/* Gives the stream its recorder (NULL: none), freeing the one it had:
 * that one's segment ends, the new one starts at the next keyframe after
 * the next init segment it sees, which it is handed at once from the MSE
 * relay's setup frame. */
void vg_stream_set_recorder(vg_stream *s, vg_recorder *rec, int64_t now_us);

/* The relay of one delivery variant: viewers attach to it
 * (vg_relay_attach). */
static inline vg_relay *vg_stream_relay(vg_stream *s, vg_relay_slot slot) {
    return &s->relays[slot];
}
/* Viewers of every relay. */
uint32_t vg_stream_viewer_count(const vg_stream *s);
/* Frames the stream could not relay: the most that any of its relays lost
 * (each variant numbers its own frames, so one loss in the hand-off shows in
 * every relay it touched, and is counted once). */
uint64_t vg_stream_frames_lost(const vg_stream *s);

#endif
