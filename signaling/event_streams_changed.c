/* event_streams_changed.c -- what a reload tells clients (PROTOCOL.md,
 * "Events"): `stream.removed` when one of their subscriptions (or their
 * publication) ends because the stream left the configuration or their
 * access to it did, and `streams.changed` when streams were added, removed
 * or restarted, each client hearing only of streams it may see. */
#include "server/server.h"
#include "signaling/signaling.h"

void vg_signaling_stream_removed(vg_session *s, const vg_stream *st, uint32_t channel,
                                 const char *reason) {
    json_t *ev = json_pack("{s:s, s:s, s:I, s:s}", "type", "stream.removed", "stream", st->id,
                           "channel", (json_int_t)channel, "reason", reason);
    if (ev && st->variant) json_object_set_new(ev, "variant", json_string(st->variant));
    if (ev) vg_session_send_json(s, ev);
}

/* The ids of `all` that session `s` may see. */
static json_t *visible(const vg_session *s, const json_t *all) {
    json_t *out = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(all, i, id) {
        if (out && vg_access_sees_stream(&s->access, json_string_value(id)))
            json_array_append(out, id);
    }
    return out;
}

void vg_signaling_streams_changed(vg_server *srv, const json_t *changes) {
    static const char *const kinds[] = {"added", "removed", "restarted"};
    for (vg_session *s = srv->sessions; s; s = s->next) {
        if (s->access.role == VG_ROLE_NONE || s->closing) continue;
        json_t *ev = json_pack("{s:s}", "type", "streams.changed");
        size_t told = 0;
        for (size_t k = 0; ev && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            json_t *ids = visible(s, json_object_get(changes, kinds[k]));
            told += json_array_size(ids);
            json_object_set_new(ev, kinds[k], ids ? ids : json_array());
        }
        if (ev && told)
            vg_session_send_json(s, ev);
        else
            json_decref(ev);
    }
}
