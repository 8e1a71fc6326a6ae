/* handle_result.c -- "result": a vigil-agent's answer to a device.command
 * it was sent: acknowledged (with the handler's result), rejected or timeout
 * (control/agent.h moves the command). */
#include <string.h>

#include "control/agent.h"
#include "server/server.h"
#include "signaling/signaling.h"

static const struct {
    const char *name;
    control_status status;
} answers[] = {
    {"acknowledged", CONTROL_ACKNOWLEDGED},
    {"rejected", CONTROL_REJECTED},
    {"timeout", CONTROL_TIMEOUT},
};

void vg_handle_result(vg_session *s, json_t *msg, json_t *id) {
    const char *cid = json_string_value(json_object_get(msg, "command_id"));
    const char *name = json_string_value(json_object_get(msg, "status"));
    json_t *error = json_object_get(msg, "error");
    if (error && !json_is_string(error)) {
        vg_signaling_error(s, id, "bad_field", "error", "field 'error' must be a string");
        return;
    }
    int found = -1;
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++)
        if (!strcmp(name, answers[i].name)) found = (int)i;
    if (found < 0) {
        vg_signaling_error(s, id, "bad_field", "status",
                           "status must be \"acknowledged\", \"rejected\" or \"timeout\"");
        return;
    }
    json_t *result = json_object_get(msg, "result");
    char err[256];
    if (control_agent_answer(s->server->control, s, cid, answers[found].status,
                             (int)json_integer_value(json_object_get(msg, "code")),
                             json_string_value(error), result ? json_incref(result) : NULL, err,
                             sizeof err) < 0) {
        vg_signaling_error(s, id, "unknown_command", "command_id", "%s", err);
        return;
    }
    json_t *r = vg_signaling_reply("result", id);
    if (!r) return;
    json_object_set_new(r, "command_id", json_string(cid));
    vg_session_send_json(s, r);
}
