/* handle_list.c -- "list": every stream the client may see, and its state. */
#include "server/server.h"
#include "signaling/signaling.h"

void vg_handle_list(vg_session *s, json_t *msg, json_t *id) {
    (void)msg;
    vg_server *srv = s->server;
    json_t *r = vg_signaling_reply("list", id);
    json_t *arr = json_array();
    if (!r || !arr) {
        json_decref(r);
        json_decref(arr);
        return;
    }
    int64_t now = vg_server_now_us();
    for (size_t i = 0; i < srv->nstreams; i++)
        if (vg_access_sees_stream(&s->access, srv->streams[i]->id))
            json_array_append_new(arr, vg_stream_describe(srv->streams[i], now));
    json_object_set_new(r, "streams", arr);
    vg_session_send_json(s, r);
}
