/* handle_devices.c -- "devices": every device the client may see, and its
 * state; from then on the connection gets those devices' events too (unless
 * "watch":false). */
#include "server/devices.h"
#include "server/server.h"
#include "signaling/signaling.h"

void vg_handle_devices(vg_session *s, json_t *msg, json_t *id) {
    json_t *r = vg_signaling_reply("devices", id);
    json_t *list = vg_devices_list(s->server, &s->access);
    if (!r || !list) {
        json_decref(r);
        json_decref(list);
        vg_signaling_error(s, id, "internal", NULL, "out of memory");
        return;
    }
    json_object_set_new(r, "devices", list);
    s->watch_devices = !json_is_false(json_object_get(msg, "watch"));
    vg_session_send_json(s, r);
}
