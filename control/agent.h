/* agent.h -- the "agent" transport's side door: devices whose vigil-agent
 * dials in over the vigil.v1 WebSocket (PROTOCOL.md, "Devices that dial
 * in") instead of being reached through a broker or a CoAP server.
 *
 * The plugin (plugin_agent.c) sits in the same table as mqtt and coap and
 * gives commands the same life; what it cannot do alone is reach the agent,
 * whose connection belongs to the server. So the application attaches each
 * agent connection to the devices it serves with a link (a send function),
 * and passes up what the agent says about them. The plugin never names the
 * server: the link is all it knows of a connection.
 *
 *   queued -> sent        control_agent_link.send() queued the message
 *          -> delivered   control_agent_delivered(): written to the socket
 *          -> acknowledged | rejected | timeout   control_agent_answer()
 *          -> failed      not attached, or the agent left before answering
 *          -> timeout     no answer in the command's time (the core)
 *
 * A device is online while a connection is attached to it; a newer
 * connection for the same device replaces the older one (an agent that
 * reconnects before vigil has noticed its old socket is gone).
 *
 * Thread: everything here runs on the control owner thread (the lws service
 * thread), which is also where the application's connections live.
 */
#ifndef VIGIL_CONTROL_AGENT_H
#define VIGIL_CONTROL_AGENT_H

#include <jansson.h>
#include <stddef.h>

#include "control/control.h"

typedef struct control_agent_link {
    /* Queues one message (borrowed) for the agent. command_id: set for a
     * command, and then the application calls control_agent_delivered()
     * once the message is written to the socket. 0, or -1 if it cannot be
     * queued (connection closing, queue full). */
    int (*send)(void *user, const json_t *msg, const char *command_id);
    void *user; /* the connection; identifies it in the calls below */
} control_agent_link;

/* Attaches a connection to device_id (an "agent" device). link: copied.
 * 0; 1 when it replaced another connection (whose unanswered commands
 * fail); -1 with err when the device is unknown or not an agent device. */
int control_agent_attach(control_t *c, const char *device_id, const control_agent_link *link,
                         char *err, size_t errlen);
/* The connection `user` no longer serves device_id (closed, or it said
 * so): the device goes offline with `reason` (borrowed) and its unanswered
 * commands fail. A no-op if another connection has replaced it. */
void control_agent_detach(control_t *c, const char *device_id, void *user, const char *reason);
/* The message of command_id has been written to the agent's socket. */
void control_agent_delivered(control_t *c, const char *command_id);
/* The agent answered command_id: status acknowledged, rejected or timeout;
 * error (borrowed) may be NULL; result: stolen, may be NULL. 0, or -1 with
 * err when the command is not one in flight on this connection (unknown,
 * already over, or another device's). */
int control_agent_answer(control_t *c, void *user, const char *command_id, control_status status,
                         int code, const char *error, json_t *result, char *err, size_t errlen);
/* Telemetry or a state report (each stolen, either may be NULL) from the
 * connection `user` for device_id. 0, or -1 with err when that connection
 * does not serve the device. */
int control_agent_report(control_t *c, void *user, const char *device_id, json_t *telemetry,
                         json_t *state, char *err, size_t errlen);

#endif
