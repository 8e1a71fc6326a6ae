/* inbox.h -- the hand-off from GStreamer threads to the lws service thread.
 *
 * GStreamer streaming threads never touch viewers, sessions or lws. They post
 * events (a finished frame, the codecs string, an error, end of stream) here
 * and wake the service thread, which takes the whole list at once and applies
 * it (media/stream.c). Posting never blocks beyond a short mutex hold, and the
 * inbox is bounded: if the service thread falls far behind, media frames are
 * dropped and counted rather than piling up in memory.
 *
 * Thread: any thread posts; the lws service thread takes. `lock` guards
 * head, tail, len, dropped and woken. `wake` is set before any producer starts and
 * is immutable after. */
#ifndef VIGIL_MEDIA_INBOX_H
#define VIGIL_MEDIA_INBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/frame.h"

typedef enum vg_event_type {
    VG_EVENT_FRAME,  /* frame: an init segment or a fragment */
    VG_EVENT_CODECS, /* text: RFC 6381 codecs string of the stream */
    VG_EVENT_ERROR,  /* text: why the pipeline failed */
    VG_EVENT_EOS,    /* the source ended */
} vg_event_type;

typedef struct vg_event {
    struct vg_event *next;
    vg_event_type type;
    void *stream;        /* the vg_stream it concerns */
    uint64_t generation; /* which pipeline of that stream posted it */
    uint64_t seq;        /* frames: 1, 2, 3 ... per pipeline, to see drops */
    vg_frame *frame;     /* owned by the event */
    char *text;          /* owned by the event (g_malloc'd or malloc'd: free()) */
} vg_event;

typedef struct vg_inbox {
    pthread_mutex_t lock;
    vg_event *head, *tail;
    size_t len, max_len;
    uint64_t dropped;
    bool woken; /* a wake-up is on its way: set by a waking post, cleared by the take */
    void (*wake)(void *ctx);
    void *wake_ctx;
} vg_inbox;

int vg_inbox_init(vg_inbox *in, size_t max_len, void (*wake)(void *), void *wake_ctx);
/* Frees whatever is still queued. No producer may be running. */
void vg_inbox_destroy(vg_inbox *in);

/* Posts an event; takes responsibility over `frame` and `text` (strdup'd by
 * the caller). Any thread. Returns 0, or -1 if the event was dropped. */
int vg_inbox_post(vg_inbox *in, vg_event_type type, void *stream, uint64_t generation,
                  vg_frame *frame, char *text);

/* Posts a frame numbered `seq` (1, 2, 3 ... per pipeline); the taker sees a
 * gap when the inbox had to drop one. Same ownership as vg_inbox_post(). */
int vg_inbox_post_frame(vg_inbox *in, void *stream, uint64_t generation, uint64_t seq,
                        vg_frame *frame);

/* Posts a frame like vg_inbox_post_frame() but does not wake the taker: for
 * a frame that a waking post follows within moments, such as an access unit
 * whose fragment mp4mux is about to finish (media/pipeline.c). It saves the
 * service thread one wake-up per video frame. Should the waking post not
 * come, the taker's next take, at the latest the server's tick, gets it. */
int vg_inbox_post_frame_quiet(vg_inbox *in, void *stream, uint64_t generation, uint64_t seq,
                              vg_frame *frame);

/* Media frames dropped so far because the taker fell behind. Any thread. */
uint64_t vg_inbox_dropped(vg_inbox *in);

/* Takes every queued event, oldest first; the caller frees each with
 * vg_event_free(). lws service thread. */
vg_event *vg_inbox_take_all(vg_inbox *in);
void vg_event_free(vg_event *ev);

#endif
