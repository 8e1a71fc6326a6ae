/* command_body.c -- the JSON every transport sends for a command:
 * {"id","command","params"}.  The MQTT payload and the CoAP POST body are
 * the same document, so a device reads one format whichever way it is
 * reached; a change to it is made here, once.  Thread-safe (no state). */
#include "control/control_internal.h"

char *control_command_body(const control_send *cmd) {
    json_t *body = json_pack("{s:s, s:s, s:O}", "id", cmd->command_id, "command", cmd->name,
                             "params", cmd->params);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}
