/* cluster_devices.c -- devices in a cluster (see cluster_node.h).
 *
 * Every node runs the same device config, so every node can check a command
 * against the device's schema and the client's rights; but only the node
 * holding the device's lease ("device.<id>") sends it. A command for a device
 * held elsewhere is sent there ("cmd.req"); the holder issues it and answers
 * with its command id or its refusal ("cmd.reply"), which this node turns
 * into the reply to its client. The holder tells every node each event of
 * the devices it holds ("dev.event": command life, telemetry, state), and
 * every node passes those to its own watchers as if they were its own; a
 * node's own events about a device it does not hold are dropped, so a
 * watcher hears each event once.
 *
 * Thread: lws service thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "common/log.h"
#include "server/cluster_node_internal.h"
#include "server/devices.h"
#include "server/server.h"

/* A holder that has not answered a command in this long is taken as gone. */
#define FORWARD_TIMEOUT_US 3000000LL

static const char *holder_of(vg_cluster_node *n, const char *device) {
    char key[96];
    snprintf(key, sizeof(key), "device.%s", device);
    return json_string_value(json_object_get(json_object_get(n->leases, key), "node"));
}

static bool held_here(vg_server *srv, const char *device) {
    vg_cluster_node *n = srv->cluster;
    char key[96];
    snprintf(key, sizeof(key), "device.%s", device);
    return json_is_true(json_object_get(json_object_get(n->leases, key), "mine"));
}

void vg_cluster_node_devices_start(vg_server *srv) {
    vg_cluster_node *n = srv->cluster;
    if (!n->pending) n->pending = json_object();
    json_t *devs = srv->control ? control_devices_json(srv->control) : NULL;
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d) {
        char key[96];
        snprintf(key, sizeof(key), "device.%s", json_string_value(json_object_get(d, "id")));
        /* A device served by an agent is controlled where its agent is
         * connected (vg_cluster_node_device_served), any other by whoever
         * claims it first. */
        const char *transport = json_string_value(json_object_get(d, "transport"));
        bool agent = transport && !strcmp(transport, "agent");
        vg_cluster_lease_want(n->cluster, key, agent ? VG_LEASE_FOLLOW : VG_LEASE_CLAIM, NULL);
    }
    json_decref(devs);
}

void vg_cluster_node_devices_stop(vg_server *srv) {
    json_decref(srv->cluster->pending);
    srv->cluster->pending = NULL;
}

void vg_cluster_node_device_served(vg_server *srv, const char *device, bool here) {
    if (!srv->cluster) return;
    char key[96];
    snprintf(key, sizeof(key), "device.%s", device);
    vg_cluster_lease_want(srv->cluster->cluster, key, here ? VG_LEASE_TAKE : VG_LEASE_FOLLOW,
                          NULL);
}

json_t *vg_cluster_node_devices_held(vg_server *srv) {
    json_t *held = json_array();
    const char *key;
    json_t *l;
    json_object_foreach(srv->cluster->leases, key, l) {
        if (!strncmp(key, "device.", 7) && json_is_true(json_object_get(l, "mine")))
            json_array_append_new(held, json_string(key + 7));
    }
    return held;
}

static vg_session *session_by_serial(vg_server *srv, uint64_t serial) {
    for (vg_session *s = srv->sessions; s; s = s->next)
        if (s->serial == serial && !s->closing) return s;
    return NULL;
}

int vg_cluster_node_forward_command(vg_server *srv, const vg_access *access, vg_session *owner,
                                    const vg_command_request *req, char *err, size_t errlen) {
    vg_cluster_node *n = srv->cluster;
    if (!n || !req->device) return VG_DEVICES_LOCAL;
    const char *holder = holder_of(n, req->device);
    if (!holder || held_here(srv, req->device) || !strcmp(holder, vg_cluster_node_id(n->cluster)))
        return VG_DEVICES_LOCAL;
    if (!owner || !req->request_id) {
        snprintf(err, errlen,
                 "device '%s' is controlled by node %s: send the command over the WebSocket, "
                 "or to that node",
                 req->device, holder);
        return CONTROL_ISSUE_UNAVAILABLE;
    }
    if (!n->connected) {
        snprintf(err, errlen, "device '%s' is controlled by node %s, and the cluster is unreachable",
                 req->device, holder);
        return CONTROL_ISSUE_UNAVAILABLE;
    }
    char rid[64];
    snprintf(rid, sizeof(rid), "%s-c%" PRIu64, vg_cluster_node_id(n->cluster), ++n->next_cmd);
    json_t *body = json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:s}", "req", rid, "device", req->device,
                             "name", req->name ? req->name : "", "params", req->params, "options",
                             req->options, "sub", vg_access_sub(access));
    bool sent = body && vg_cluster_send(n->cluster, holder, "cmd.req", body, NULL);
    json_decref(body);
    if (!sent) {
        snprintf(err, errlen, "device '%s': cannot reach node %s", req->device, holder);
        return CONTROL_ISSUE_UNAVAILABLE;
    }
    json_object_set_new(n->pending, rid,
                        json_pack("{s:I, s:O, s:s, s:s, s:s, s:I}", "serial",
                                  (json_int_t)owner->serial, "id", req->request_id, "device",
                                  req->device, "name", req->name ? req->name : "", "holder",
                                  holder, "deadline_us",
                                  (json_int_t)(vg_server_now_us() + FORWARD_TIMEOUT_US)));
    n->commands_forwarded++;
    return VG_DEVICES_FORWARDED;
}

/* The holder: a command from another node, issued here. */
static void serve_command(vg_server *srv, const char *from, const json_t *body) {
    vg_cluster_node *n = srv->cluster;
    const char *rid = json_string_value(json_object_get(body, "req"));
    const char *device = json_string_value(json_object_get(body, "device"));
    if (!rid || !device) return;
    char cid[CONTROL_ID_MAX] = "", err[CONTROL_ERR_MAX] = "";
    int r;
    if (!srv->control || !held_here(srv, device)) {
        snprintf(err, sizeof(err), "device '%s' is not controlled by node %s", device,
                 vg_cluster_node_id(n->cluster));
        r = CONTROL_ISSUE_UNAVAILABLE;
    } else {
        r = control_command_issue(srv->control, device,
                                  json_string_value(json_object_get(body, "name")),
                                  json_object_get(body, "params"), json_object_get(body, "options"),
                                  cid, sizeof(cid), err, sizeof(err));
    }
    if (r == CONTROL_ISSUE_OK) {
        srv->commands_total++;
        n->commands_served++;
        vg_log(VG_LOG_INFO, "cluster: command %s for %s from node %s (%s)", cid, device, from,
               json_string_value(json_object_get(body, "sub")));
    }
    json_t *reply = r == CONTROL_ISSUE_OK
                        ? json_pack("{s:s, s:b, s:s}", "req", rid, "ok", 1, "command_id", cid)
                        : json_pack("{s:s, s:b, s:i, s:s}", "req", rid, "ok", 0, "code", r,
                                    "error", err);
    if (reply) vg_cluster_send(n->cluster, from, "cmd.reply", reply, NULL);
    json_decref(reply);
    control_poll(srv->control); /* its "queued" goes out after the reply */
}

/* The issuing node: the holder's answer becomes the reply to the client. */
static void command_answered(vg_server *srv, const json_t *body) {
    vg_cluster_node *n = srv->cluster;
    const char *rid = json_string_value(json_object_get(body, "req"));
    json_t *p = rid ? json_object_get(n->pending, rid) : NULL;
    if (!p) return; /* late: its client had its error already */
    vg_session *s =
        session_by_serial(srv, (uint64_t)json_integer_value(json_object_get(p, "serial")));
    const char *cid = json_is_true(json_object_get(body, "ok"))
                          ? json_string_value(json_object_get(body, "command_id"))
                          : NULL;
    if (s && cid) {
        json_object_set_new(srv->command_owners, cid, json_integer((json_int_t)s->serial));
        srv->commands_total++;
    }
    if (s)
        srv->protocol->command_answered(
            s, json_object_get(p, "id"), cid, json_string_value(json_object_get(p, "device")),
            json_string_value(json_object_get(p, "name")),
            json_string_value(json_object_get(p, "holder")),
            cid ? 0 : (int)json_integer_value(json_object_get(body, "code")),
            json_string_value(json_object_get(body, "error")));
    json_object_del(n->pending, rid);
}

void vg_cluster_node_devices_tick(vg_server *srv, int64_t now_us) {
    vg_cluster_node *n = srv->cluster;
    const char *rid;
    json_t *p, *tmp;
    json_object_foreach_safe(n->pending, tmp, rid, p) {
        if (now_us < json_integer_value(json_object_get(p, "deadline_us"))) continue;
        vg_session *s =
            session_by_serial(srv, (uint64_t)json_integer_value(json_object_get(p, "serial")));
        if (s) {
            char err[CONTROL_ERR_MAX];
            snprintf(err, sizeof(err), "device '%s': node %s did not answer",
                     json_string_value(json_object_get(p, "device")),
                     json_string_value(json_object_get(p, "holder")));
            srv->protocol->command_answered(s, json_object_get(p, "id"), NULL, NULL, NULL, NULL,
                                            CONTROL_ISSUE_UNAVAILABLE, err);
        }
        json_object_del(n->pending, rid);
    }
}

bool vg_cluster_node_device_event(vg_server *srv, const json_t *ev) {
    vg_cluster_node *n = srv->cluster;
    if (!n) return true;
    const char *device = json_string_value(json_object_get(ev, "device"));
    if (!device) return true; /* the transport's own state: this node's */
    if (!held_here(srv, device)) return false; /* the holder tells us */
    vg_cluster_send(n->cluster, "all", "dev.event", ev, NULL);
    return true;
}

bool vg_cluster_node_devices_ctl(vg_server *srv, const char *type, const char *from, natsMsg *m) {
    if (strcmp(type, "cmd.req") && strcmp(type, "cmd.reply") && strcmp(type, "dev.event"))
        return false;
    json_t *body = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return false;
    }
    if (!strcmp(type, "cmd.req")) {
        serve_command(srv, from, body);
    } else if (!strcmp(type, "cmd.reply")) {
        command_answered(srv, body);
    } else {
        /* Only the holder's word about a device counts. */
        const char *device = json_string_value(json_object_get(body, "device"));
        const char *holder = device ? holder_of(srv->cluster, device) : NULL;
        if (holder && !strcmp(holder, from)) vg_devices_deliver_event(srv, body);
    }
    json_decref(body);
    return true;
}
