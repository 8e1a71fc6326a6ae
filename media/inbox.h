/* inbox.h -- what GStreamer threads hand to the lws service thread.
 *
 * GStreamer streaming threads never touch viewers, sessions or lws. They post
 * events (a finished frame, the codecs string, an error, end of stream) here
 * and wake the service thread, which takes the whole list at once and applies
 * it to the stream each names (media/stream.c). The queue itself is the
 * common hand-off (common/handoff.h): posting never blocks beyond a short
 * mutex hold, and if the service thread falls far behind, media frames are
 * dropped and counted rather than piling up in memory; state events always
 * get through.
 *
 * Thread: any thread posts; the lws service thread takes. The locking is the
 * hand-off's. */
#ifndef VIGIL_MEDIA_INBOX_H
#define VIGIL_MEDIA_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/handoff.h"
#include "media/frame.h"
#include "media/relay.h"

struct vg_stream;

typedef enum vg_event_type {
    VG_EVENT_FRAME,  /* frame: an init segment or a fragment */
    VG_EVENT_CODECS, /* text: RFC 6381 codecs string of the stream */
    VG_EVENT_ERROR,  /* text: why the pipeline failed */
    VG_EVENT_EOS,    /* the source ended */
} vg_event_type;

typedef struct vg_event {
    union { /* first: the hand-off links events through it */
        vg_handoff_node node;
        struct vg_event *next; /* the next event of a taken list */
    };
    vg_event_type type;
    struct vg_stream *stream; /* the stream it concerns */
    uint64_t generation;      /* which pipeline of that stream posted it */
    vg_relay_slot relay;      /* frames: the relay they are for */
    uint64_t seq;             /* frames: 1, 2, 3 ... per pipeline and relay, to see drops */
    vg_frame *frame;     /* owned by the event */
    char *text;          /* owned by the event (g_malloc'd or malloc'd: free()) */
} vg_event;

typedef struct vg_inbox {
    vg_handoff queue; /* of vg_event */
} vg_inbox;

int vg_inbox_init(vg_inbox *in, size_t max_len, vg_wake_fn wake, void *wake_ctx);
/* Frees whatever is still queued. No producer may be running. */
void vg_inbox_destroy(vg_inbox *in);

/* Posts an event; takes responsibility over `frame` and `text` (strdup'd by
 * the caller). Any thread. Returns 0, or -1 if the event was dropped. */
int vg_inbox_post(vg_inbox *in, vg_event_type type, struct vg_stream *stream,
                  uint64_t generation, vg_frame *frame, char *text);

/* Posts a frame for one relay of the stream, numbered `seq` (1, 2, 3 ...
 * per pipeline and relay); the relay sees a gap when the inbox had to drop
 * one. Same ownership as vg_inbox_post(). */
int vg_inbox_post_frame(vg_inbox *in, struct vg_stream *stream, uint64_t generation,
                        vg_relay_slot relay, uint64_t seq, vg_frame *frame);

/* Posts a frame like vg_inbox_post_frame() but does not wake the taker: for
 * a frame that a waking post follows within moments, such as an access unit
 * whose fragment mp4mux is about to finish (media/pipeline.c). It saves the
 * service thread one wake-up per video frame. Should the waking post not
 * come, the taker's next take, at the latest the server's tick, gets it. */
int vg_inbox_post_frame_quiet(vg_inbox *in, struct vg_stream *stream, uint64_t generation,
                              vg_relay_slot relay, uint64_t seq, vg_frame *frame);

/* Media frames dropped so far because the taker fell behind. Any thread. */
uint64_t vg_inbox_dropped(vg_inbox *in);

/* Takes every queued event, oldest first; the caller frees each with
 * vg_event_free(). lws service thread. */
vg_event *vg_inbox_take_all(vg_inbox *in);
void vg_event_free(vg_event *ev);

#endif
