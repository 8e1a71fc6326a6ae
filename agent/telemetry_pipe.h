/* telemetry_pipe.h -- telemetry as lines on a named pipe: anything on the
 * device (a shell script, a sensor daemon) writes one JSON object per line
 * to the FIFO, and each goes to vigil as the device's telemetry
 * (commands.h). The agent makes the FIFO if it is not there (mode 0620) and
 * holds it open for reading and writing, so writers come and go without the
 * agent ever seeing an end of file.
 *
 * A line that is not a JSON object, or is longer than 16 KiB, is logged and
 * dropped; the rest go on.
 *
 * Threads: a reader thread of its own calls `line` for each object; start
 * and stop run on the agent's service thread. `line` must only hand the
 * object over (it runs on the reader thread).
 */
#ifndef VIGIL_AGENT_TELEMETRY_PIPE_H
#define VIGIL_AGENT_TELEMETRY_PIPE_H

#include <jansson.h>
#include <stddef.h>

/* obj: stolen. */
typedef void (*ag_pipe_line_fn)(void *user, json_t *obj);

typedef struct ag_telemetry_pipe ag_telemetry_pipe;

/* NULL with err when the path cannot be made or opened as a FIFO. */
ag_telemetry_pipe *ag_telemetry_pipe_start(const char *path, ag_pipe_line_fn line, void *user,
                                           char *err, size_t errlen);
/* Stops and joins the reader; no call of `line` after it returns. */
void ag_telemetry_pipe_stop(ag_telemetry_pipe *p);

#endif
