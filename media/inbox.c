/* inbox.c -- GStreamer threads' events for the lws service thread, on the
 * common hand-off (see inbox.h). */
#include "media/inbox.h"

#include <stdlib.h>

int vg_inbox_init(vg_inbox *in, size_t max_len, vg_wake_fn wake, void *wake_ctx) {
    return vg_handoff_init(&in->queue, max_len, wake, wake_ctx);
}

void vg_event_free(vg_event *ev) {
    if (!ev) return;
    vg_frame_unref(ev->frame);
    free(ev->text);
    free(ev);
}

void vg_inbox_destroy(vg_inbox *in) {
    vg_event *ev = vg_inbox_take_all(in);
    while (ev) {
        vg_event *next = ev->next;
        vg_event_free(ev);
        ev = next;
    }
    vg_handoff_destroy(&in->queue);
}

static int post(vg_inbox *in, const vg_event *proto, bool wake) {
    vg_event *ev = malloc(sizeof(*ev));
    if (!ev) {
        vg_frame_unref(proto->frame);
        free(proto->text);
        return -1;
    }
    *ev = *proto;
    /* Only media frames (fragments, access units) may be dropped. */
    bool droppable = ev->type == VG_EVENT_FRAME && ev->frame && vg_frame_is_media(ev->frame);
    if (vg_handoff_post(&in->queue, &ev->node, droppable, wake) == VG_HANDOFF_DROPPED) {
        vg_event_free(ev);
        return -1;
    }
    return 0;
}

int vg_inbox_post(vg_inbox *in, vg_event_type type, struct vg_stream *stream,
                  uint64_t generation, vg_frame *frame, char *text) {
    vg_event ev = {
        .type = type, .stream = stream, .generation = generation, .frame = frame, .text = text};
    return post(in, &ev, true);
}

static int post_frame(vg_inbox *in, struct vg_stream *stream, uint64_t generation,
                      vg_relay_slot relay, uint64_t seq, vg_frame *frame, bool wake) {
    vg_event ev = {.type = VG_EVENT_FRAME,
                   .stream = stream,
                   .generation = generation,
                   .relay = relay,
                   .seq = seq,
                   .frame = frame};
    return post(in, &ev, wake);
}

int vg_inbox_post_frame(vg_inbox *in, struct vg_stream *stream, uint64_t generation,
                        vg_relay_slot relay, uint64_t seq, vg_frame *frame) {
    return post_frame(in, stream, generation, relay, seq, frame, true);
}

int vg_inbox_post_frame_quiet(vg_inbox *in, struct vg_stream *stream, uint64_t generation,
                              vg_relay_slot relay, uint64_t seq, vg_frame *frame) {
    return post_frame(in, stream, generation, relay, seq, frame, false);
}

vg_event *vg_inbox_take_all(vg_inbox *in) {
    return (vg_event *)vg_handoff_take_all(&in->queue);
}

uint64_t vg_inbox_dropped(vg_inbox *in) {
    return vg_handoff_dropped(&in->queue);
}
