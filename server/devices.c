/* devices.c -- control/ inside the server: start, poll, events to sessions,
 * commands from sessions and REST (see devices.h). */
#include "server/devices.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/agents.h"
#include "server/clip_rules.h"
#include "server/server.h"

/* Queues one serialised event for every session that wants it: those that
 * watch devices and may see `device` (NULL: any watcher), and the owner of
 * the command (owner_serial, 0 if none). */
static void send_to_sessions(vg_server *srv, const json_t *ev, const char *device,
                             uint64_t owner_serial) {
    char *text = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (!text) return;
    size_t len = strlen(text);
    for (vg_session *s = srv->sessions; s; s = s->next) {
        bool watcher = s->watch_devices && (device ? vg_access_sees_device(&s->access, device)
                                                   : s->access.role != VG_ROLE_NONE);
        if (watcher || (owner_serial && s->serial == owner_serial))
            vg_session_send_text(s, text, len);
    }
    free(text);
}

/* control/ names a command "id" and "command"; in vigil.v1 "id" is the
 * request id, so the event carries "command_id" and "name". */
static json_t *command_status_event(const json_t *ev) {
    json_t *out = json_deep_copy(ev);
    if (!out) return NULL;
    json_object_set(out, "command_id", json_object_get(ev, "id"));
    json_object_set(out, "name", json_object_get(ev, "command"));
    json_object_del(out, "id");
    json_object_del(out, "command");
    return out;
}

static int status_is_final(const char *status) {
    static const char *const finals[] = {"acknowledged", "rejected", "failed", "timeout"};
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++)
        if (status && !strcmp(status, finals[i])) return 1;
    return 0;
}

/* control/'s event sink, called from control_poll() on the lws thread.
 * ev is borrowed. */
static void on_control_event(void *user, const json_t *ev) {
    vg_server *srv = user;
    if (vg_cluster_node_device_event(srv, ev)) vg_devices_deliver_event(srv, ev);
}

void vg_devices_deliver_event(vg_server *srv, const json_t *ev) {
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type) return;
    if (strcmp(type, "command.status") != 0) {
        if (!strcmp(type, "transport.state")) {
            bool up = json_is_true(json_object_get(ev, "connected"));
            const char *detail = json_string_value(json_object_get(ev, "detail"));
            vg_log(up ? VG_LOG_INFO : VG_LOG_WARN, "device transport %s: %s%s%s",
                   json_string_value(json_object_get(ev, "transport")),
                   up ? "connected" : "disconnected", detail && *detail ? ": " : "",
                   detail ? detail : "");
        }
        const char *device = json_string_value(json_object_get(ev, "device"));
        send_to_sessions(srv, ev, device, 0);
        if (!strcmp(type, "telemetry"))
            vg_clip_rules_telemetry(srv, device, json_object_get(ev, "data"));
        return;
    }
    const char *id = json_string_value(json_object_get(ev, "id"));
    json_t *owner = id ? json_object_get(srv->command_owners, id) : NULL;
    uint64_t serial = owner ? (uint64_t)json_integer_value(owner) : 0;
    json_t *out = command_status_event(ev);
    if (out) send_to_sessions(srv, out, json_string_value(json_object_get(ev, "device")), serial);
    json_decref(out);
    if (owner && status_is_final(json_string_value(json_object_get(ev, "status"))))
        json_object_del(srv->command_owners, id);
}

/* Every device that names a camera must name a stream of `config`. */
static int check_device_streams(control_t *c, const vg_config *config, char *err, size_t errlen) {
    json_t *devs = control_devices_json(c);
    size_t i;
    json_t *d;
    int r = 0;
    json_array_foreach(devs, i, d) {
        const char *stream = json_string_value(json_object_get(d, "stream"));
        bool found = false;
        for (size_t k = 0; stream && k < config->nstreams; k++)
            found |= !strcmp(config->streams[k].id, stream);
        if (stream && !found) {
            snprintf(err, errlen, "devices[%zu] (%s): \"stream\": no stream named '%s'", i,
                     json_string_value(json_object_get(d, "id")), stream);
            r = -1;
            break;
        }
    }
    json_decref(devs);
    return r;
}

/* control/ started for the devices of `config` into *out (NULL when it has
 * none). 0, or -1 with a message naming the field. */
static int build_control(vg_server *srv, const vg_config *config, control_t **out, char *err,
                         size_t errlen) {
    *out = NULL;
    const json_t *root = config->root;
    if (!root || !json_object_get(root, "devices")) return 0;
    control_t *c = control_create(vg_server_wake, srv, on_control_event, srv);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (control_register_builtin_plugins(c, err, errlen) < 0 ||
        control_start(c, root, err, errlen) < 0 ||
        check_device_streams(c, config, err, errlen) < 0 ||
        vg_clip_rules_check(config, err, errlen) < 0) {
        control_destroy(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void log_devices(control_t *c) {
    json_t *devs = control_devices_json(c);
    vg_log(VG_LOG_INFO, "device control: %zu device(s)", json_array_size(devs));
    json_decref(devs);
}

int vg_devices_start(vg_server *srv, char *err, size_t errlen) {
    srv->command_owners = json_object();
    if (!srv->command_owners) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (build_control(srv, srv->config, &srv->control, err, errlen)) return -1;
    srv->control_source = srv->config;
    if (srv->control) log_devices(srv->control);
    return 0;
}

int vg_devices_prepare(vg_server *srv, const vg_config *next, control_t **out, char *err,
                       size_t errlen) {
    return build_control(srv, next, out, err, errlen);
}

size_t vg_devices_replace(vg_server *srv, control_t *next, const vg_config *source) {
    size_t failed = 0;
    if (srv->control) {
        failed = control_fail_unfinished(srv->control, "device configuration reloaded");
        control_poll(srv->control); /* their issuers hear it now */
        control_destroy(srv->control);
    }
    json_object_clear(srv->command_owners);
    srv->control = next;
    srv->control_source = source;
    if (next) log_devices(next);
    vg_agents_reattach(srv);
    return failed;
}

void vg_devices_poll(vg_server *srv) {
    if (srv->control) control_poll(srv->control);
}

void vg_devices_stop(vg_server *srv) {
    control_destroy(srv->control);
    srv->control_source = NULL;
    srv->control = NULL;
    json_decref(srv->command_owners);
    srv->command_owners = NULL;
}

int vg_devices_command(vg_server *srv, const vg_access *access, vg_session *owner,
                       const vg_command_request *req, char *id_out, size_t id_len, char *err,
                       size_t errlen) {
    if (!vg_access_sees_device(access, req->device)) {
        snprintf(err, errlen, "unknown device '%s'", req->device ? req->device : "");
        return CONTROL_ISSUE_UNKNOWN_DEVICE;
    }
    if (!vg_access_commands_device(access, req->device)) {
        srv->forbidden_total++;
        snprintf(err, errlen, "role '%s' may not send commands to '%s'", vg_role_name(access->role),
                 req->device);
        return VG_DEVICES_FORBIDDEN;
    }
    if (srv->stopping) { /* the drain ends commands; it takes no new ones */
        snprintf(err, errlen, "device '%s': server shutting down", req->device);
        return CONTROL_ISSUE_UNAVAILABLE;
    }
    if (!srv->control) {
        snprintf(err, errlen, "unknown device '%s' (this server controls no devices)",
                 req->device ? req->device : "");
        return CONTROL_ISSUE_UNKNOWN_DEVICE;
    }
    int fr = vg_cluster_node_forward_command(srv, access, owner, req, err, errlen);
    if (fr != VG_DEVICES_LOCAL) return fr;
    int r = control_command_issue(srv->control, req->device, req->name, req->params, req->options,
                                  id_out, id_len, err, errlen);
    if (r == CONTROL_ISSUE_OK && owner)
        json_object_set_new(srv->command_owners, id_out, json_integer((json_int_t)owner->serial));
    if (r == CONTROL_ISSUE_OK) srv->commands_total++;
    return r;
}

const char *vg_devices_error_code(int issue_result, const char **field) {
    switch (issue_result) {
    case CONTROL_ISSUE_UNKNOWN_DEVICE: *field = "device"; return "unknown_device";
    case CONTROL_ISSUE_UNKNOWN_COMMAND: *field = "name"; return "unknown_command";
    case CONTROL_ISSUE_BAD_PARAMS: *field = "params"; return "bad_params";
    case CONTROL_ISSUE_BAD_OPTION: *field = NULL; return "bad_field";
    case VG_DEVICES_FORBIDDEN: *field = "device"; return "forbidden";
    default: *field = NULL; return "device_unavailable";
    }
}

/* Drops from a device list (stolen, returned) what access may not see. */
static json_t *visible_only(json_t *list, const vg_access *access) {
    for (size_t i = json_array_size(list); i-- > 0;) {
        const char *id = json_string_value(json_object_get(json_array_get(list, i), "id"));
        if (!vg_access_sees_device(access, id)) json_array_remove(list, i);
    }
    return list;
}

json_t *vg_devices_list(vg_server *srv, const vg_access *access) {
    return srv->control ? visible_only(control_devices_json(srv->control), access) : json_array();
}

size_t vg_devices_count(vg_server *srv) {
    json_t *all = srv->control ? control_devices_json(srv->control) : NULL;
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

json_t *vg_devices_get(vg_server *srv, const vg_access *access, const char *device_id) {
    if (!srv->control || !vg_access_sees_device(access, device_id)) return NULL;
    return control_device_json(srv->control, device_id);
}

json_t *vg_devices_command_get(vg_server *srv, const vg_access *access, const char *command_id) {
    json_t *c = srv->control ? control_command_json(srv->control, command_id) : NULL;
    if (c && !vg_access_sees_device(access, json_string_value(json_object_get(c, "device")))) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *vg_devices_stats(vg_server *srv) {
    return srv->control ? control_stats_json(srv->control) : json_null();
}

json_t *vg_devices_options_of(const json_t *msg) {
    static const char *const names[] = {"qos", "confirmable", "timeout_ms"};
    json_t *o = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *v = json_object_get(msg, names[i]);
        if (!v) continue;
        if (!o) o = json_object();
        if (o) json_object_set(o, names[i], v);
    }
    return o;
}
