/* handle_serve.c -- "serve": a vigil-agent says which devices it serves on
 * this connection; their commands come down it from now on (server/agents.h,
 * control/agent.h). All the devices or none: each is checked first. */
#include <stdio.h>
#include <string.h>

#include "server/agents.h"
#include "server/server.h"
#include "signaling/signaling.h"

#define MAX_SERVED 64

/* The transport of device_id copied into out, or false if there is no such
 * device. */
static bool transport_of(vg_server *srv, const char *device_id, char *out, size_t outlen) {
    json_t *d = srv->control ? control_device_json(srv->control, device_id) : NULL;
    const char *t = json_string_value(json_object_get(d, "transport"));
    if (t) snprintf(out, outlen, "%s", t);
    json_decref(d);
    return t != NULL;
}

void vg_handle_serve(vg_session *s, json_t *msg, json_t *id) {
    json_t *devices = json_object_get(msg, "devices");
    if (s->access.role != VG_ROLE_DEVICE && s->access.role != VG_ROLE_ADMIN) {
        s->server->forbidden_total++;
        vg_signaling_error(s, id, "forbidden", "devices",
                           "only a device token may serve devices (this one is %s)",
                           vg_role_name(s->access.role));
        return;
    }
    if (json_array_size(devices) + json_array_size(s->serves) > MAX_SERVED) {
        vg_signaling_error(s, id, "bad_field", "devices",
                           "a connection serves at most %d devices", MAX_SERVED);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(devices, i, v) {
        const char *dev = json_string_value(v);
        char transport[32];
        /* A device the token does not name does not exist for it. */
        if (!vg_access_serves_device(&s->access, dev) ||
            !transport_of(s->server, dev, transport, sizeof transport)) {
            vg_signaling_error(s, id, "unknown_device", "devices", "no device named '%.64s'", dev);
            return;
        }
        if (strcmp(transport, "agent")) {
            vg_signaling_error(s, id, "bad_field", "devices",
                               "device '%.64s' is not served by an agent (its transport is %s)",
                               dev, transport);
            return;
        }
    }
    json_array_foreach(devices, i, v) {
        char err[256];
        if (vg_agents_serve(s, json_string_value(v), err, sizeof err) < 0) {
            vg_signaling_error(s, id, "device_unavailable", "devices", "%s", err);
            return;
        }
    }
    json_t *r = vg_signaling_reply("serve", id);
    if (!r) return;
    json_object_set(r, "devices", s->serves);
    vg_session_send_json(s, r);
}
