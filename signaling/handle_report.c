/* handle_report.c -- "report": telemetry and state from a vigil-agent for a
 * device it serves on this connection; watchers get them as `telemetry` and
 * `device.state` events like any device's. */
#include "control/agent.h"
#include "server/server.h"
#include "signaling/signaling.h"

void vg_handle_report(vg_session *s, json_t *msg, json_t *id) {
    const char *device = json_string_value(json_object_get(msg, "device"));
    json_t *telemetry = json_object_get(msg, "telemetry");
    json_t *state = json_object_get(msg, "state");
    if (!telemetry && !state) {
        vg_signaling_error(s, id, "bad_field", "telemetry",
                           "a report needs 'telemetry' or 'state' (or both)");
        return;
    }
    char err[256];
    if (control_agent_report(s->server->control, s, device,
                             telemetry ? json_deep_copy(telemetry) : NULL,
                             state ? json_deep_copy(state) : NULL, err, sizeof err) < 0) {
        vg_signaling_error(s, id, "unknown_device", "device", "%s", err);
        return;
    }
    json_t *r = vg_signaling_reply("report", id);
    if (!r) return;
    json_object_set_new(r, "device", json_string(device));
    vg_session_send_json(s, r);
}
