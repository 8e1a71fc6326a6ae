/* handle_hello.c -- "hello": who the server is and its limits. The token is
 * accepted and not yet checked (authentication comes with the security work). */
#include "server/server.h"
#include "signaling/signaling.h"

void vg_handle_hello(vg_session *s, json_t *msg, json_t *id) {
    (void)msg;
    const vg_config *c = s->server->config;
    json_t *r = vg_signaling_reply("hello", id);
    if (!r) return;
    json_object_set_new(r, "server", json_string("vigil"));
    json_object_set_new(r, "version", json_string(VIGIL_VERSION));
    json_object_set_new(r, "protocol", json_string(VIGIL_PROTOCOL));
    json_object_set_new(r, "limits",
                        json_pack("{s:I, s:I, s:I}", "max_text_bytes",
                                  (json_int_t)c->max_text_bytes, "max_subscriptions",
                                  (json_int_t)c->max_subscriptions, "viewer_queue_frames",
                                  (json_int_t)c->viewer_queue_frames));
    vg_session_send_json(s, r);
}
