/* handler.h -- runs the operator's command and telemetry handlers.
 *
 * A handler is an executable named in the agent's config with its argv
 * (no shell: the command's parameters never reach a command line). It gets
 * one JSON object on stdin, {"command","params","device","command_id"} for
 * a command or {"device"} for a telemetry reading, and answers on stdout:
 *   exit 0 and a JSON object      -> AG_HANDLER_OK, the object is the result
 *   exit != 0                     -> AG_HANDLER_FAILED; the error is the
 *                                    "error" member of a JSON object on stdout
 *                                    when there is one, else the last line of
 *                                    stderr, else "exited with status N"
 *   exit 0 and anything but JSON  -> AG_HANDLER_FAILED ("output is not a
 *                                    JSON object")
 *   still running at the limit    -> AG_HANDLER_TIMEOUT; it and its process
 *                                    group are killed (SIGKILL)
 *   could not be started          -> AG_HANDLER_FAILED with errno's text
 * Output beyond 64 KiB (stdout) or 4 KiB (stderr, only the end is kept) is
 * not kept: an oversized stdout is AG_HANDLER_FAILED.
 *
 * Threads: ag_runner_start() is called from one thread (the agent's service
 * thread) and never blocks on the child: each run is watched by a thread of
 * its own, which calls `done` when the run is over. `done` runs on that
 * watcher thread: it must only hand the result over (and wake its owner).
 * At most `max_running` runs at once; more are refused (the caller reports
 * the command as rejected). `lock` in handler.c guards the running count and
 * the list of watcher threads.
 */
#ifndef VIGIL_AGENT_HANDLER_H
#define VIGIL_AGENT_HANDLER_H

#include <jansson.h>
#include <stddef.h>

typedef enum ag_handler_outcome {
    AG_HANDLER_OK = 0,
    AG_HANDLER_FAILED,
    AG_HANDLER_TIMEOUT,
} ag_handler_outcome;

typedef struct ag_handler_result {
    char tag[64]; /* the caller's tag (the command id), copied */
    ag_handler_outcome outcome;
    int exit_code;    /* the child's exit status; -1 if killed or not started */
    json_t *result;   /* AG_HANDLER_OK: the object from stdout (owned) */
    char error[256];  /* otherwise: why, for humans */
    long elapsed_ms;  /* from start to exit or kill */
} ag_handler_result;

void ag_handler_result_free(ag_handler_result *r);

/* Called once per run on its watcher thread; r is stolen (free it with
 * ag_handler_result_free). */
typedef void (*ag_handler_done_fn)(void *user, ag_handler_result *r);

typedef struct ag_runner ag_runner;

ag_runner *ag_runner_new(unsigned max_running, ag_handler_done_fn done, void *user);
/* Starts argv[0] (a path; argv NULL-terminated, copied) with `input`
 * (borrowed) serialised on its stdin, killed after timeout_ms. tag
 * (copied, < 64 bytes) comes back in the result. 0, or -1 with err (too
 * many running, out of memory) and no callback. */
int ag_runner_start(ag_runner *r, const char *const *argv, const json_t *input,
                    unsigned timeout_ms, const char *tag, char *err, size_t errlen);
/* Runs at this moment. Any thread. */
unsigned ag_runner_running(ag_runner *r);
/* Kills what still runs (its callback still comes, AG_HANDLER_TIMEOUT
 * "agent stopping"), joins every watcher, frees the runner. */
void ag_runner_free(ag_runner *r);

#endif
