/* agents.c -- agent connections and the "agent" transport (agents.h). */
#include "server/agents.h"

#include <string.h>

#include "common/log.h"
#include "control/agent.h"
#include "server/cluster_node.h"
#include "server/server.h"

/* control/'s link to a session: the session queues the message. */
static int link_send(void *user, const json_t *msg, const char *command_id) {
    return vg_session_send_command(user, msg, command_id);
}

static bool serves(const vg_session *s, const char *device_id) {
    size_t i;
    json_t *v;
    json_array_foreach(s->serves, i, v) if (!strcmp(json_string_value(v), device_id)) return true;
    return false;
}

/* Another connection that served device_id no longer does: it leaves its
 * list, so that a reload cannot give the device back to it. */
static void forget_elsewhere(vg_session *s, const char *device_id) {
    for (vg_session *o = s->server->sessions; o; o = o->next) {
        if (o == s) continue;
        for (size_t i = json_array_size(o->serves); i-- > 0;)
            if (!strcmp(json_string_value(json_array_get(o->serves, i)), device_id))
                json_array_remove(o->serves, i);
    }
}

int vg_agents_serve(vg_session *s, const char *device_id, char *err, size_t errlen) {
    control_agent_link link = {.send = link_send, .user = s};
    int r = control_agent_attach(s->server->control, device_id, &link, err, errlen);
    if (r < 0) return -1;
    if (r == 1) {
        vg_log(VG_LOG_INFO, "device '%s': its agent connected again from %s", device_id, s->peer);
        forget_elsewhere(s, device_id);
    }
    if (!s->serves) s->serves = json_array();
    if (!serves(s, device_id)) json_array_append_new(s->serves, json_string(device_id));
    vg_cluster_node_device_served(s->server, device_id, true);
    return 0;
}

void vg_agents_session_closed(vg_session *s, const char *reason) {
    size_t i;
    json_t *v;
    json_array_foreach(s->serves, i, v) {
        control_agent_detach(s->server->control, json_string_value(v), s, reason);
        vg_cluster_node_device_served(s->server, json_string_value(v), false);
    }
}

void vg_agents_reattach(vg_server *srv) {
    for (vg_session *s = srv->sessions; s; s = s->next) {
        for (size_t i = json_array_size(s->serves); i-- > 0;) {
            const char *id = json_string_value(json_array_get(s->serves, i));
            control_agent_link link = {.send = link_send, .user = s};
            char err[256];
            if (control_agent_attach(srv->control, id, &link, err, sizeof err) >= 0) continue;
            json_t *ev = json_pack("{s:s, s:s, s:s}", "type", "device.removed", "device", id,
                                   "reason", "no longer a device served by an agent");
            if (ev) vg_session_send_json(s, ev);
            json_array_remove(s->serves, i);
        }
    }
}

void vg_agents_written(vg_server *srv, const char *command_id) {
    control_agent_delivered(srv->control, command_id);
}
