/* signaling.h -- the vigil.v1 text protocol (signaling/PROTOCOL.md).
 *
 * vg_signaling_handle() takes one complete text message from a session,
 * validates it against the request table in dispatch.c (type known, fields
 * present with the right types) and calls the request's handler
 * (handle_<type>.c). Every error goes out through vg_signaling_error(), the
 * one place that builds error replies and counts them. Events the protocol
 * sends of its own accord are built in event_<type>.c.
 *
 * signaling/ sits above server/: it uses the session API, and the server
 * reaches it only through vg_signaling_protocol (server/protocol.h).
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SIGNALING_SIGNALING_H
#define VIGIL_SIGNALING_SIGNALING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/protocol.h"
#include "server/session.h"

/* What the server calls up into vigil.v1 (protocol.c); app/main.c hands
 * it to vg_server_init(). */
extern const vg_protocol vg_signaling_protocol;

/* Handles one complete text message (need not be NUL-terminated). */
void vg_signaling_handle(vg_session *s, const char *text, size_t len);

/* Counts one incoming message (text or binary) against the connection's
 * rate limit; false when it must be dropped (an error went out, or the
 * connection is being closed for flooding). */
bool vg_signaling_admit(vg_session *s);

/* Sends {"type":"error","id":id,"code":code,"message":...,"field":field}.
 * id and field may be NULL; id is borrowed. */
void vg_signaling_error(vg_session *s, json_t *id, const char *code, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sends `server.shutdown` to one session (event_server_shutdown.c); 0 if
 * queued. */
int vg_signaling_server_shutdown(vg_session *s, const char *reason, uint32_t reconnect_after_ms);

/* Sends `stream.state` to every viewer of the stream (event_stream_state.c). */
void vg_signaling_stream_state(vg_stream *st, const char *reason);
/* A reload's events (event_streams_changed.c): `stream.removed` to one
 * session, `streams.changed` to every signed-in one. */
void vg_signaling_stream_removed(vg_session *s, const vg_stream *st, uint32_t channel,
                                 const char *reason);
void vg_signaling_streams_changed(vg_server *srv, const json_t *changes);

/* A new reply object {"type":type,"id":id}; id (borrowed) may be NULL. */
json_t *vg_signaling_reply(const char *type, json_t *id);
/* The answer to a command another node issued for this session
 * (server/protocol.h, command_answered). */
void vg_signaling_command_answered(vg_session *s, json_t *id, const char *command_id,
                                   const char *device, const char *name, const char *node,
                                   int code, const char *error);

/* Request handlers. `msg` is the validated request and `id` its id (or
 * NULL); both are borrowed. Each sends its reply or an error. */
void vg_handle_hello(vg_session *s, json_t *msg, json_t *id);
void vg_handle_list(vg_session *s, json_t *msg, json_t *id);
void vg_handle_subscribe(vg_session *s, json_t *msg, json_t *id);
void vg_handle_unsubscribe(vg_session *s, json_t *msg, json_t *id);
void vg_handle_stats(vg_session *s, json_t *msg, json_t *id);
void vg_handle_devices(vg_session *s, json_t *msg, json_t *id);
void vg_handle_command(vg_session *s, json_t *msg, json_t *id);
void vg_handle_publish(vg_session *s, json_t *msg, json_t *id);
void vg_handle_unpublish(vg_session *s, json_t *msg, json_t *id);
void vg_handle_serve(vg_session *s, json_t *msg, json_t *id);
void vg_handle_result(vg_session *s, json_t *msg, json_t *id);
void vg_handle_report(vg_session *s, json_t *msg, json_t *id);

#endif
