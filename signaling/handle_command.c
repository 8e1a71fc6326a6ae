/* handle_command.c -- "command": checks a command against the device's
 * schema and issues it; the reply carries the command id, the command's life
 * follows as command.status events (server/devices.c). */
#include "server/devices.h"
#include "server/server.h"
#include "signaling/signaling.h"

void vg_handle_command(vg_session *s, json_t *msg, json_t *id) {
    if (!vg_rate_limit_take(&s->cmd_rate, vg_server_now_us())) {
        s->server->rate_limited_total++;
        vg_signaling_error(s, id, "rate_limited", NULL, "more than %u commands per second",
                           s->server->config->commands_per_s);
        return;
    }
    json_t *options = vg_devices_options_of(msg);
    vg_command_request req = {
        .device = json_string_value(json_object_get(msg, "device")),
        .name = json_string_value(json_object_get(msg, "name")),
        .params = json_object_get(msg, "params"),
        .options = options,
        .request_id = id,
    };
    char cid[CONTROL_ID_MAX], err[CONTROL_ERR_MAX];
    int r = vg_devices_command(s->server, &s->access, s, &req, cid, sizeof(cid), err, sizeof(err));
    json_decref(options);
    if (r == VG_DEVICES_FORWARDED) return; /* the device's node answers (command_answered) */
    if (r != CONTROL_ISSUE_OK) {
        const char *field;
        const char *code = vg_devices_error_code(r, &field);
        vg_signaling_error(s, id, code, field, "%s", err);
        return;
    }
    json_t *reply = vg_signaling_reply("command", id);
    if (!reply) return;
    json_object_set_new(reply, "command_id", json_string(cid));
    json_object_set_new(reply, "device", json_string(req.device));
    json_object_set_new(reply, "name", json_string(req.name));
    json_object_set_new(reply, "status", json_string("queued"));
    vg_session_send_json(s, reply);
}

void vg_signaling_command_answered(vg_session *s, json_t *id, const char *command_id,
                                   const char *device, const char *name, const char *node,
                                   int code, const char *error) {
    if (!command_id) {
        const char *field = NULL;
        vg_signaling_error(s, id, vg_devices_error_code(code, &field), field, "%s",
                           error ? error : "refused");
        return;
    }
    json_t *reply = vg_signaling_reply("command", id);
    if (!reply) return;
    json_object_set_new(reply, "command_id", json_string(command_id));
    json_object_set_new(reply, "device", json_string(device));
    json_object_set_new(reply, "name", json_string(name));
    json_object_set_new(reply, "status", json_string("queued"));
    json_object_set_new(reply, "node", json_string(node));
    vg_session_send_json(s, reply);
}
