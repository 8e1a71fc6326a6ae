/* event_stream_state.c -- the `stream.state` event: a stream's state or
 * codecs changed, told to every viewer of every relay of it, naming the
 * variant for a substream or transcode (PROTOCOL.md, "Events"). */
#include "server/server.h"
#include "signaling/signaling.h"

void vg_signaling_stream_state(vg_stream *st, const char *reason) {
    for (int i = 0; i < VG_RELAY_COUNT; i++) {
        for (vg_viewer *v = vg_stream_relay(st, (vg_relay_slot)i)->viewers; v; v = v->next) {
            json_t *ev = json_pack("{s:s, s:s, s:I, s:s, s:o}", "type", "stream.state", "stream",
                                   st->id, "channel", (json_int_t)v->channel, "state",
                                   vg_stream_state_name(st->state), "codecs",
                                   st->codecs ? json_string(st->codecs) : json_null());
            if (ev && reason) json_object_set_new(ev, "reason", json_string(reason));
            if (ev && st->variant) json_object_set_new(ev, "variant", json_string(st->variant));
            if (ev && (st->node || st->remote)) { /* a cluster: who ingests it, and its epoch */
                json_object_set_new(ev, "node", st->node ? json_string(st->node) : json_null());
                json_object_set_new(ev, "epoch", json_integer((json_int_t)st->epoch));
            }
            if (ev) vg_session_send_json(vg_subscription_of(v)->session, ev);
        }
    }
}
