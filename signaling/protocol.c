/* protocol.c -- vigil.v1 as the server sees it: the table of what server/
 * calls up into signaling/ (server/protocol.h). */
#include "signaling/signaling.h"

/* Only publishers send binary frames: say so once per message. */
static void unexpected_binary(vg_session *s) {
    if (vg_signaling_admit(s))
        vg_signaling_error(s, NULL, "unexpected_binary", NULL,
                           "clients send no binary frames in vigil.v1");
}

static void bad_frame(vg_session *s, const char *why) {
    vg_signaling_error(s, NULL, "bad_frame", NULL, "%s", why);
}

const vg_protocol vg_signaling_protocol = {
    .text = vg_signaling_handle,
    .unexpected_binary = unexpected_binary,
    .server_shutdown = vg_signaling_server_shutdown,
    .bad_frame = bad_frame,
    .stream_state = vg_signaling_stream_state,
    .stream_removed = vg_signaling_stream_removed,
    .streams_changed = vg_signaling_streams_changed,
    .command_answered = vg_signaling_command_answered,
};
