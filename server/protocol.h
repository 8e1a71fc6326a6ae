/* protocol.h -- what the server calls up into the protocol layer above it.
 *
 * server/ moves bytes and keeps sessions; what a message means, and every
 * message the protocol sends of its own accord, belongs to signaling/
 * (vigil.v1, signaling/PROTOCOL.md). The server knows signaling only through
 * this table: signaling/ defines the one instance (vg_signaling_protocol) and
 * app/main.c hands it to vg_server_init(), so the layers point one way.
 *
 * Thread: every member is called on the lws service thread; every pointer
 * is borrowed for the call. */
#ifndef VIGIL_SERVER_PROTOCOL_H
#define VIGIL_SERVER_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "media/stream.h"

typedef struct vg_session vg_session;
typedef struct vg_server vg_server;

typedef struct vg_protocol {
    /* One complete text message of a session (need not be NUL-terminated). */
    void (*text)(vg_session *s, const char *text, size_t len);
    /* The first piece of a binary message from a session that does not
     * publish: clients send none. */
    void (*unexpected_binary)(vg_session *s);
    /* A publishing session's message was not a usable frame; `why` says
     * what. Already counted and rate-limited by the caller. */
    void (*bad_frame)(vg_session *s, const char *why);
    /* The server is draining (server/drain.h): tell session `s` why, and
     * when it may connect again. 0 if the event was queued. */
    int (*server_shutdown)(vg_session *s, const char *reason, uint32_t reconnect_after_ms);
    /* A stream's state or codecs changed (reason may be NULL): tell its
     * viewers. Also the stream's state_changed hook (media/stream.h). */
    void (*stream_state)(vg_stream *st, const char *reason);
    /* Session `s`'s subscription on `channel` to stream `st` (or its
     * publication of it) has ended because a reload removed or changed the
     * stream, or access to it; `reason` says which. The subscription is
     * dropped right after. */
    void (*stream_removed)(vg_session *s, const vg_stream *st, uint32_t channel,
                           const char *reason);
    /* A reload changed the list of streams: `changes` is {"added": [ids],
     * "removed": [ids], "restarted": [ids], ...} (server/reload.h); tell
     * every signed-in client what it may see of it. */
    void (*streams_changed)(vg_server *srv, const json_t *changes);
    /* A command session `s` asked for in request `id` went to the node that
     * controls the device (server/cluster_devices.c), which answered: issued
     * as `command_id`, or (command_id NULL) refused with issue result `code`
     * (server/devices.h) and `error`. */
    void (*command_answered)(vg_session *s, json_t *id, const char *command_id,
                             const char *device, const char *name, const char *node, int code,
                             const char *error);
} vg_protocol;

#endif
