/* event_server_shutdown.c -- the `server.shutdown` event: the server is
 * draining (server/drain.h); the connection will be closed with 1001 and
 * the client may come back after `reconnect_after_ms` (PROTOCOL.md,
 * "Events"). */
#include "signaling/signaling.h"

int vg_signaling_server_shutdown(vg_session *s, const char *reason, uint32_t reconnect_after_ms) {
    json_t *ev = json_pack("{s:s, s:s, s:I}", "type", "server.shutdown", "reason", reason,
                           "reconnect_after_ms", (json_int_t)reconnect_after_ms);
    return ev ? vg_session_send_json(s, ev) : -1;
}
