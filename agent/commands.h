/* commands.h -- the device side of the agent: a `device.command` from vigil
 * runs the operator's handler for it (handler.h), and its outcome goes back
 * as a `result`; a telemetry handler runs every interval_s and its object
 * goes back as a `report` (PROTOCOL.md, "Devices that dial in"), as do
 * the JSON lines written to a telemetry FIFO (telemetry_pipe.h).
 *
 *   handler exit 0 with an object  -> {"status":"acknowledged","result":{...}}
 *   handler failed                 -> {"status":"rejected","error":"..."}
 *   handler ran out of time        -> {"status":"timeout","error":"..."}
 *   no handler for that name, or too many running -> "rejected" at once
 * A handler gets the smaller of its own timeout_ms and the command's
 * timeout_ms less a margin, so vigil hears "timeout" from the agent rather
 * than giving up without knowing.
 *
 * Knows nothing of lws: messages go out through the caller's send function.
 *
 * Threads: everything below runs on the agent's service thread except the
 * runner's callback (watcher threads), which only posts the finished run to
 * `done` (common/handoff.h, its own lock) and wakes the service thread,
 * which then calls ag_commands_flush().
 */
#ifndef VIGIL_AGENT_COMMANDS_H
#define VIGIL_AGENT_COMMANDS_H

#include <jansson.h>
#include <stdint.h>

#include "agent/config.h"

/* Sends one message to vigil (msg stolen). */
typedef void (*ag_send_fn)(void *user, json_t *msg);

typedef struct ag_commands ag_commands;

/* wake: called from any thread when something finished (must only signal). */
ag_commands *ag_commands_new(const ag_config *cfg, void (*wake)(void *), void *wake_user,
                             char *err, size_t errlen);
/* A `device.command` (borrowed) from vigil. */
void ag_commands_on_command(ag_commands *c, const json_t *msg, ag_send_fn send, void *user);
/* Sends the outcome of every run that finished (connected: send non-NULL),
 * or drops command outcomes and keeps the newest telemetry (send NULL). */
void ag_commands_flush(ag_commands *c, ag_send_fn send, void *user);
/* Starts a telemetry reading when one is due. Returns the ms until the next
 * is due (INT32_MAX: no telemetry). */
int32_t ag_commands_tick(ag_commands *c, int64_t now_ms);
/* Counters for the log: handled, acknowledged, rejected, timed out. */
void ag_commands_counts(const ag_commands *c, uint64_t out[4]);
void ag_commands_free(ag_commands *c);

#endif
