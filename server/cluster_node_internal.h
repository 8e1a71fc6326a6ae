/* cluster_node_internal.h -- what cluster_node.c and cluster_devices.c
 * share of a node's state. Thread: lws service thread only. */
#ifndef VIGIL_SERVER_CLUSTER_NODE_INTERNAL_H
#define VIGIL_SERVER_CLUSTER_NODE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "server/cluster_node.h"

/* A remote stream this node receives (its subscription lives as long). */
typedef struct vg_cluster_feed {
    char *stream;
    bool syncing;
    char req[48]; /* the GOP request being answered */
    int64_t sync_deadline_us;
    vg_cluster_report *held, *held_tail; /* live frames while syncing */
    size_t nheld;
    int64_t idle_since_us; /* 0 while watched */
    struct vg_cluster_feed *next;
} vg_cluster_feed;

/* Another node, as its last heartbeat described it. */
typedef struct vg_cluster_peer {
    char node[VG_CLUSTER_NODE_MAX];
    json_t *beat;
    int64_t seen_us;
    struct vg_cluster_peer *next;
} vg_cluster_peer;

struct vg_cluster_node {
    vg_cluster *cluster;
    bool connected;
    char *nats_url;   /* the server we are connected to, or why not */
    json_t *leases;   /* key -> {"node","epoch","mine","info","url"}, as last reported */
    vg_cluster_feed *feeds;
    vg_cluster_peer *peers;
    uint64_t next_req;
    int64_t last_beat_us;
    uint64_t garbage, stale, gops_served;
    int64_t refreshed_us; /* when a newer epoch last made us read the leases */
    char *link_logged;    /* the last connection failure logged, and when */
    int64_t link_logged_us;
    /* devices (server/cluster_devices.c) */
    json_t *pending;   /* request -> {"serial","id","deadline_us"}: commands sent to a holder */
    uint64_t next_cmd; /* numbers those requests */
    uint64_t commands_forwarded, commands_served;
};

#endif
