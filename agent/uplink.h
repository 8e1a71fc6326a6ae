/* uplink.h -- the agent's one connection to vigil: a libwebsockets client
 * on wss:// (vigil.v1), over which the agent publishes its camera (media.h)
 * and serves its device's commands (commands.h).
 *
 * Life of a connection: connect (TLS verified against ca_file or the
 * system's CAs; never "insecure"), hello with the device token, then
 * `publish` once the camera's codec is known and `serve` for the device.
 * Frames go out one per writable callback, text first. The socket is kept
 * short: its unsent bytes by TCP_NOTSENT_LOWAT, and all it holds (sent but
 * not acknowledged too) to 200 ms at the rate it delivers (backlog.h); so
 * when the uplink is slower than the video, frames wait in the camera's
 * bounded queue, where the age bound drops them to the next keyframe
 * (media.h): latency stays bounded. After a publish, video starts with the
 * keyframe that told the codec.
 *
 * Reconnecting: after any loss, with exponential backoff (reconnect.min_s
 * doubling to max_s) and +-20 % jitter, after server.shutdown's
 * reconnect_after_ms when vigil said it was restarting; a refused token or
 * certificate is logged as such and retried only every refused_s. Each new
 * connection publishes again and resumes from the next keyframe.
 *
 * Thread: the service thread runs everything here (ag_uplink_run). Other
 * threads (GStreamer's, the handlers' watchers) only wake it through
 * ag_uplink_wake(), and a signal handler may call ag_uplink_stop().
 */
#ifndef VIGIL_AGENT_UPLINK_H
#define VIGIL_AGENT_UPLINK_H

#include <stddef.h>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/media.h"

#define AG_VERSION "0.1.0"

/* Bytes the uplink needs before each frame's payload (ag_media_config.headroom). */
size_t ag_uplink_headroom(void);

typedef struct ag_uplink ag_uplink;

/* cfg: borrowed for the uplink's life. stats_s: log a stats line every
 * stats_s seconds (0: never). */
ag_uplink *ag_uplink_new(const ag_config *cfg, unsigned stats_s, char *err, size_t errlen);
/* For media.h and commands.h: wake the service thread (any thread). */
void ag_uplink_wake(void *uplink);
/* What the connection carries, made after it (they need its wake): the
 * camera and the device's commands, each NULL when there is none; driven,
 * not owned. Before ag_uplink_run(). */
void ag_uplink_drive(ag_uplink *u, ag_media *media, ag_commands *commands);
/* Runs until ag_uplink_stop(); 0. */
int ag_uplink_run(ag_uplink *u);
/* From a signal handler or any thread. */
void ag_uplink_stop(ag_uplink *u);
/* After ag_uplink_run() returned: logs the last stats and lets go of the
 * camera and the commands, which may then be freed (their wake-ups still
 * land safely) before ag_uplink_free(). */
void ag_uplink_finish(ag_uplink *u);
void ag_uplink_free(ag_uplink *u);

#endif
