/* agents.h -- connections of vigil-agents: each serves the devices it named
 * in "serve" (PROTOCOL.md, "Devices that dial in"), through the "agent"
 * transport of control/ (control/agent.h).
 *
 * A session serving devices is attached to each of them in control/; a
 * command for one is queued on the session as a text message that reports
 * itself delivered once written. When the session closes it is detached
 * (the devices go offline, unanswered commands fail); when a reload builds a
 * new control/, the sessions are attached again to the devices that are
 * still served by agents.
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_AGENTS_H
#define VIGIL_SERVER_AGENTS_H

#include <stddef.h>

typedef struct vg_server vg_server;
typedef struct vg_session vg_session;

/* Makes s the agent of device_id (rights already checked). 0, or -1 with
 * err (no such agent device). */
int vg_agents_serve(vg_session *s, const char *device_id, char *err, size_t errlen);
/* s is closing: the devices it served go offline. */
void vg_agents_session_closed(vg_session *s, const char *reason);
/* control/ was replaced (a reload): attach the serving sessions again;
 * devices no longer served by agents are dropped from them, with a
 * `device.removed` event. */
void vg_agents_reattach(vg_server *srv);
/* The message of command_id went out on its agent's socket. */
void vg_agents_written(vg_server *srv, const char *command_id);

#endif
