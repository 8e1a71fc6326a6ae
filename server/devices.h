/* devices.h -- device control inside the server: control/ (control.h) driven
 * from the lws service thread.
 *
 * The server creates one control_t when the config declares devices. Plugin
 * threads (MQTT, CoAP) wake the lws thread with lws_cancel_service(); the lws
 * thread then calls vg_devices_poll(), which moves commands along and turns
 * every control event into a vigil.v1 event (PROTOCOL.md) for the sessions
 * that watch devices and for the session that issued the command.
 *
 * Thread: lws service thread only, except the wake, which any thread may
 * cause. */
#ifndef VIGIL_SERVER_DEVICES_H
#define VIGIL_SERVER_DEVICES_H

#include <jansson.h>
#include <stddef.h>

#include "control/control.h"
#include "server/config.h"
#include "server/access.h"

typedef struct vg_server vg_server;
typedef struct vg_session vg_session;

/* Creates and starts control/ if the config has devices (no-op otherwise).
 * Call once the lws context exists. 0, or -1 with a message naming the
 * device and field in err. */
int vg_devices_start(vg_server *srv, char *err, size_t errlen);
/* A reload (server/reload.h): control/ made and started for the devices of
 * `next` into *out (NULL: it has none), beside the running one. 0, or -1
 * with a message naming the field (the reload is then refused). */
int vg_devices_prepare(vg_server *srv, const vg_config *next, control_t **out, char *err,
                       size_t errlen);
/* The running control/ ends its unfinished commands as failed (their
 * issuers are told), stops, and `next` (from vg_devices_prepare, may be
 * NULL) takes its place, reading `source`. Returns the commands failed. */
size_t vg_devices_replace(vg_server *srv, control_t *next, const vg_config *source);
/* Drains what the plugins handed over, applies timeouts, sends events. */
void vg_devices_poll(vg_server *srv);
/* Stops the plugins (no wake after return) and frees control/. */
void vg_devices_stop(vg_server *srv);

/* A command as the protocol and REST carry it. All borrowed. */
typedef struct vg_command_request {
    const char *device;
    const char *name;
    const json_t *params;  /* object or NULL */
    const json_t *options; /* {"qos","confirmable","timeout_ms"} or NULL */
    json_t *request_id;    /* the vigil.v1 request's id (a cluster answers it later), or NULL */
} vg_command_request;

/* Refusals of vg_devices_command() beyond control_issue_result. */
#define VG_DEVICES_FORBIDDEN (-100) /* the client sees the device but may not command it */
/* Not refusals: in a cluster, the command went to the node that controls
 * the device, whose answer comes later (vg_protocol.command_answered). */
#define VG_DEVICES_FORWARDED 1
#define VG_DEVICES_LOCAL 2 /* vg_cluster_node_forward_command: issue it here */

/* Issues a command on behalf of a client with rights `access` (borrowed); a
 * device it may not see is an unknown device. owner (may be NULL, e.g. REST)
 * gets its command.status events. Returns CONTROL_ISSUE_OK with the id in
 * id_out, or a negative control_issue_result / VG_DEVICES_FORBIDDEN with the
 * reason in err. */
int vg_devices_command(vg_server *srv, const vg_access *access, vg_session *owner,
                       const vg_command_request *req, char *id_out, size_t id_len, char *err,
                       size_t errlen);

/* The per-command transport options of a command message or REST body
 * (borrowed): {"qos","confirmable","timeout_ms"} as far as present. New ref,
 * NULL when none. */
json_t *vg_devices_options_of(const json_t *msg);

/* Passes a device event (control/'s shapes, borrowed) to the sessions that
 * watch the device and to the command's owner: control/'s own events, and
 * in a cluster the holder's (server/cluster_devices.c). */
void vg_devices_deliver_event(vg_server *srv, const json_t *ev);

/* Cluster (server/cluster_devices.c): sends a command for a device another
 * node controls there. VG_DEVICES_LOCAL when it is to be issued here,
 * VG_DEVICES_FORWARDED when sent, or a negative control_issue_result with
 * err. */
int vg_cluster_node_forward_command(vg_server *srv, const vg_access *access, vg_session *owner,
                                    const vg_command_request *req, char *err, size_t errlen);
/* Cluster: a device event of control/ here: true when this node's watchers
 * should get it (it is not about a device another node controls); the
 * events of devices held here also go to every other node. */
bool vg_cluster_node_device_event(vg_server *srv, const json_t *ev);

/* The PROTOCOL.md error code and field of a refused command. */
const char *vg_devices_error_code(int issue_result, const char **field);

/* Queries for the API and the protocol, limited to what `access` (borrowed)
 * may see; new refs (NULL: not found or not visible). An empty array when
 * the server has no devices. */
json_t *vg_devices_list(vg_server *srv, const vg_access *access);
json_t *vg_devices_get(vg_server *srv, const vg_access *access, const char *device_id);
json_t *vg_devices_command_get(vg_server *srv, const vg_access *access, const char *command_id);
size_t vg_devices_count(vg_server *srv);
json_t *vg_devices_stats(vg_server *srv);

#endif
