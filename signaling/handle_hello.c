/* handle_hello.c -- "hello": who the client is (its token, or anonymous
 * access where the config allows it) and who the server is, with its limits.
 * Until a hello succeeds, nothing else is accepted (dispatch.c). A hello with
 * a bad token is answered with "unauthorized" and the connection is closed
 * (4003), so a connection cannot be used to guess tokens. */
#include <time.h>

#include "server/server.h"
#include "server/token.h"
#include "signaling/signaling.h"

#define CLOSE_UNAUTHORIZED 4003

static void refuse(vg_session *s, json_t *id, const char *why) {
    s->server->auth_failed_total++;
    vg_signaling_error(s, id, "unauthorized", "token", "%s", why);
    vg_session_close(s, CLOSE_UNAUTHORIZED, "unauthorized");
}

void vg_handle_hello(vg_session *s, json_t *msg, json_t *id) {
    const vg_config *c = s->server->config;
    const char *token = json_string_value(json_object_get(msg, "token"));
    if (token) {
        char err[128];
        json_t *claims = vg_server_verify_token(s->server, token, err, sizeof(err));
        if (!claims) {
            refuse(s, id, err);
            return;
        }
        vg_access_from_claims(&s->access, claims);
        json_decref(claims);
    } else if (s->access.role == VG_ROLE_NONE) {
        /* No token now nor on the upgrade: anonymous, if the config allows it. */
        if (!c->auth.anonymous_streams) {
            refuse(s, id, "a token is required");
            return;
        }
        vg_access_anonymous(&s->access, c->auth.anonymous_streams);
    }
    json_t *r = vg_signaling_reply("hello", id);
    if (!r) return;
    json_object_set_new(r, "server", json_string("vigil"));
    json_object_set_new(r, "version", json_string(VIGIL_VERSION));
    json_object_set_new(r, "protocol", json_string(VIGIL_PROTOCOL));
    json_object_set_new(r, "access", vg_access_describe(&s->access));
    json_object_set_new(r, "now", json_integer((json_int_t)time(NULL))); /* for token expiry */
    json_object_set_new(
        r, "limits",
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "max_text_bytes", (json_int_t)c->max_text_bytes,
                  "max_subscriptions", (json_int_t)c->max_subscriptions, "viewer_queue_frames",
                  (json_int_t)c->viewer_queue_frames, "messages_per_s",
                  (json_int_t)c->messages_per_s, "commands_per_s", (json_int_t)c->commands_per_s));
    vg_session_send_json(s, r);
}
