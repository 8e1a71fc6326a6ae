/* cluster_node.h -- this server as one node of a vigil cluster
 * (cluster/cluster.h): which streams it ingests, the frames of those it does
 * not, and what it tells the other nodes.
 *
 * A stream this node holds the lease of runs its pipeline as always and
 * every frame it makes goes once to NATS (stream hook frame_out). A stream
 * another node holds is "remote" (media/stream.h): no pipeline here; while it
 * has viewers here, this node subscribes to its frames and, to start them at
 * once, asks the holder for its setup frames and current GOP (a "feed":
 * frames that arrive before that reply is complete wait in it, so none is
 * applied out of order). cluster.linger_ms (10 s) after its last viewer
 * left, the feed ends and the subscription goes.
 *
 * Every second each node tells the others what it serves (a heartbeat on
 * the control subject); /api/cluster lists them.
 *
 * Thread: lws service thread only; the cluster's own threads reach it through
 * its reports (vg_cluster_node_poll after a wake, and from the tick). */
#ifndef VIGIL_SERVER_CLUSTER_NODE_H
#define VIGIL_SERVER_CLUSTER_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "media/stream.h"

typedef struct vg_server vg_server;
typedef struct vg_cluster_node vg_cluster_node;

/* Connects when the config has a cluster section (else a no-op): every
 * stream waits for its lease. 0, or -1 with a message in err. */
int vg_cluster_node_start(vg_server *srv, char *err, size_t errlen);
void vg_cluster_node_stop(vg_server *srv);
/* Applies what the cluster's threads reported. */
void vg_cluster_node_poll(vg_server *srv);
/* Periodic (the server's tick). */
void vg_cluster_node_tick(vg_server *srv, int64_t now_us);
/* A viewer subscribed to `s` (a main stream): a remote stream's frames
 * start coming here now. */
void vg_cluster_node_demand(vg_server *srv, vg_stream *s, int64_t now_us);
/* A stream was added or removed by a reload (its lease is wanted or
 * forgotten). */
void vg_cluster_node_stream_added(vg_server *srv, vg_stream *s);
void vg_cluster_node_stream_removed(vg_server *srv, const char *id);

/* The stream hooks a cluster adds (server.c installs them): state changes
 * go into the lease, frames to NATS. Without a cluster they pass through. */
void vg_cluster_node_state_changed(vg_stream *s, const char *reason);
void vg_cluster_node_frame_out(vg_stream *s, vg_relay_slot slot, uint64_t seq, vg_frame *f);

/* For /api/cluster (admins): this node, the others, the connection. New ref. */
json_t *vg_cluster_node_describe(vg_server *srv, int64_t now_us);
/* For /api/health: {"node","connected"}, or NULL without a cluster. New ref. */
json_t *vg_cluster_node_health(vg_server *srv);
/* Counters for /metrics; false without a cluster. */
bool vg_cluster_node_counters(vg_server *srv, vg_cluster_counters *out, uint64_t *stale);
/* The connection: up or not (false without a cluster). */
bool vg_cluster_node_connected(vg_server *srv);

/* Devices in a cluster (server/cluster_devices.c): a device is controlled
 * by the node holding its lease; a command issued elsewhere goes there, and
 * that node's events about the device reach every node. */
void vg_cluster_node_devices_start(vg_server *srv);
void vg_cluster_node_devices_stop(vg_server *srv);
void vg_cluster_node_devices_tick(vg_server *srv, int64_t now_us);
/* An agent serving `device` connected here (here: true) or left: the
 * device's lease comes here, or is let go. */
void vg_cluster_node_device_served(vg_server *srv, const char *device, bool here);
/* The device ids this node holds. New ref. */
json_t *vg_cluster_node_devices_held(vg_server *srv);
/* A control message of `type` about devices; false when it is not one. */
bool vg_cluster_node_devices_ctl(vg_server *srv, const char *type, const char *from,
                                 struct __natsMsg *m);

#endif
