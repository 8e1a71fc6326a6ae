/* driver_main.c -- vigil-control-driver, a small embedding of control/ for
 * the integration tests (and a model of how the server embeds it).
 *
 *   vigil-control-driver --config FILE
 *
 * Reads requests from stdin, one JSON object per line:
 *   {"op":"issue","ref":R,"device":D,"command":C,"params":{..},"options":{..}}
 *   {"op":"device","device":D}  {"op":"command","id":ID}  {"op":"stats"}
 *   {"op":"quit"}
 * and writes one JSON object per line to stdout: {"type":"ready"},
 * {"type":"issued","ref","id"}, {"type":"error","ref","error"}, the replies,
 * and every control event ({"type":"command.status",...}, "telemetry",
 * "device.state", "transport.state").
 *
 * Threads: main() is the owner thread.  The wake function writes to an
 * eventfd that main() polls together with stdin -- the same role
 * lws_cancel_service() plays in the server.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "control/control.h"

static int wake_fd = -1;
static volatile sig_atomic_t stop;

static void wake(void *user) {
    (void)user;
    uint64_t one = 1;
    ssize_t n = write(wake_fd, &one, sizeof one);
    (void)n;
}

static void print(const json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        puts(s);
        fflush(stdout);
    }
    free(s);
}

static void sink(void *user, const json_t *event) {
    (void)user;
    print(event);
}

static void reply(json_t *o) {
    print(o);
    json_decref(o);
}

static void handle_line(control_t *c, const char *line) {
    json_error_t je;
    json_t *req = json_loads(line, 0, &je);
    const char *op = json_string_value(json_object_get(req, "op"));
    json_t *ref = json_object_get(req, "ref");
    if (!op) {
        reply(json_pack("{s:s, s:s}", "type", "error", "error", "bad request line"));
    } else if (strcmp(op, "issue") == 0) {
        char id[CONTROL_ID_MAX], err[CONTROL_ERR_MAX];
        if (control_command_issue(c, json_string_value(json_object_get(req, "device")),
                                  json_string_value(json_object_get(req, "command")),
                                  json_object_get(req, "params"), json_object_get(req, "options"),
                                  id, sizeof id, err, sizeof err) == 0)
            reply(json_pack("{s:s, s:O?, s:s}", "type", "issued", "ref", ref, "id", id));
        else
            reply(json_pack("{s:s, s:O?, s:s}", "type", "error", "ref", ref, "error", err));
    } else if (strcmp(op, "device") == 0) {
        json_t *d = control_device_json(c, json_string_value(json_object_get(req, "device")));
        reply(json_pack("{s:s, s:O?, s:o?}", "type", "device", "ref", ref, "device", d));
    } else if (strcmp(op, "command") == 0) {
        json_t *d = control_command_json(c, json_string_value(json_object_get(req, "id")));
        reply(json_pack("{s:s, s:O?, s:o?}", "type", "command", "ref", ref, "command", d));
    } else if (strcmp(op, "stats") == 0) {
        reply(json_pack("{s:s, s:O?, s:o}", "type", "stats", "ref", ref, "stats",
                        control_stats_json(c)));
    } else if (strcmp(op, "quit") == 0) {
        stop = 1;
    } else {
        reply(json_pack("{s:s, s:O?, s:s}", "type", "error", "ref", ref, "error", "unknown op"));
    }
    json_decref(req);
}

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: vigil-control-driver --config FILE\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    json_error_t je;
    json_t *config = json_load_file(argv[2], 0, &je);
    if (!config) {
        fprintf(stderr, "%s:%d: %s\n", argv[2], je.line, je.text);
        return 2;
    }
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    char err[CONTROL_ERR_MAX];
    control_t *c = control_create(wake, NULL, sink, NULL);
    if (!c || control_register_builtin_plugins(c, err, sizeof err) < 0 ||
        control_start(c, config, err, sizeof err) < 0) {
        json_t *f = json_pack("{s:s, s:s}", "type", "fatal", "error", c ? err : "out of memory");
        reply(f);
        control_destroy(c);
        json_decref(config);
        close(wake_fd);
        return 1;
    }
    json_decref(config);
    reply(json_pack("{s:s}", "type", "ready"));

    char *buf = NULL;
    size_t len = 0, cap = 0;
    int in_open = 1;
    while (!stop) {
        struct pollfd pf[2] = {{wake_fd, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}};
        int n = poll(pf, 2, control_poll_interval_ms(c));
        if (n < 0 && errno != EINTR) break;
        if (pf[0].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(wake_fd, &v, sizeof v);
            (void)r;
        }
        if (pf[1].revents & (POLLIN | POLLHUP)) {
            if (cap - len < 4096) {
                cap = cap ? cap * 2 : 8192;
                char *nb = realloc(buf, cap);
                if (!nb) break;
                buf = nb;
            }
            ssize_t r = read(0, buf + len, cap - len - 1);
            if (r <= 0) {
                in_open = 0; /* stdin closed: quit */
                stop = 1;
            } else {
                len += (size_t)r;
                char *nl;
                while ((nl = memchr(buf, '\n', len))) {
                    *nl = '\0';
                    if (nl > buf) handle_line(c, buf);
                    len -= (size_t)(nl + 1 - buf);
                    memmove(buf, nl + 1, len);
                }
            }
        }
        control_poll(c);
    }
    free(buf);
    control_destroy(c);
    close(wake_fd);
    return 0;
}
