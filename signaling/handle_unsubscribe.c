/* handle_unsubscribe.c -- "unsubscribe": drop a channel and its queue. */
#include "server/server.h"
#include "signaling/signaling.h"

void vg_handle_unsubscribe(vg_session *s, json_t *msg, json_t *id) {
    json_int_t channel = json_integer_value(json_object_get(msg, "channel"));
    if (vg_session_unsubscribe(s, (uint32_t)channel)) {
        vg_signaling_error(s, id, "unknown_channel", "channel",
                           "this connection has no channel %lld", (long long)channel);
        return;
    }
    json_t *r = vg_signaling_reply("unsubscribe", id);
    if (!r) return;
    json_object_set_new(r, "channel", json_integer(channel));
    vg_session_send_json(s, r);
}
