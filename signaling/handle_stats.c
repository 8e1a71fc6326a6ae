/* handle_stats.c -- "stats": this connection's per-channel counters. */
#include "server/server.h"
#include "signaling/signaling.h"

void vg_handle_stats(vg_session *s, json_t *msg, json_t *id) {
    (void)msg;
    json_t *r = vg_signaling_reply("stats", id);
    json_t *arr = json_array();
    if (!r || !arr) {
        json_decref(r);
        json_decref(arr);
        return;
    }
    for (uint32_t i = 0; i < s->nsubs; i++) {
        const vg_subscription *sub = s->subs[i];
        const vg_viewer *v = &sub->viewer;
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "channel",
                           (json_int_t)v->channel, "stream", sub->stream->id, "variant",
                           sub->stream->variant ? sub->stream->variant : "main", "mode",
                           sub->mode == VG_MODE_WEBCODECS ? "webcodecs" : "mse", "frames_sent",
                           (json_int_t)v->frames_sent, "bytes_sent", (json_int_t)v->bytes_sent,
                           "frames_skipped", (json_int_t)v->queue.frames_dropped, "skips",
                           (json_int_t)v->queue.skips, "late_skips",
                           (json_int_t)v->queue.late_skips, "queue_frames",
                           (json_int_t)v->queue.count));
    }
    json_object_set_new(r, "channels", arr);
    json_object_set_new(r, "errors", json_integer((json_int_t)s->errors));
    vg_session_send_json(s, r);
}
