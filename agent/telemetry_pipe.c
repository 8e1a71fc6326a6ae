/* telemetry_pipe.c -- JSON lines from a named pipe (telemetry_pipe.h). */
#include "agent/telemetry_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define LINE_MAX_BYTES (16 * 1024)

struct ag_telemetry_pipe {
    int fd;         /* the FIFO, read and write (never EOF) */
    int stop[2];    /* a byte on stop[1] ends the reader */
    pthread_t thread;
    ag_pipe_line_fn line;
    void *user;
    char path[256];
    /* the reader thread's own */
    char buf[LINE_MAX_BYTES];
    size_t len;
    bool overlong; /* dropping the rest of a line that was too long */
};

static void take_line(ag_telemetry_pipe *p, const char *text, size_t n) {
    if (!n) return;
    json_error_t je;
    json_t *obj = json_loadb(text, n, 0, &je);
    if (!json_is_object(obj)) {
        vg_log(VG_LOG_WARN, "telemetry pipe %s: a line that is not a JSON object (%s): dropped",
               p->path, obj ? "not an object" : je.text);
        json_decref(obj);
        return;
    }
    p->line(p->user, obj);
}

/* Splits what was read into lines; keeps the unfinished one. */
static void take_lines(ag_telemetry_pipe *p) {
    size_t start = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (p->buf[i] != '\n') continue;
        if (!p->overlong) take_line(p, p->buf + start, i - start);
        p->overlong = false;
        start = i + 1;
    }
    memmove(p->buf, p->buf + start, p->len - start);
    p->len -= start;
    if (p->len == sizeof p->buf) { /* no newline in 16 KiB */
        vg_log(VG_LOG_WARN, "telemetry pipe %s: a line over %d bytes: dropped", p->path,
               LINE_MAX_BYTES);
        p->len = 0;
        p->overlong = true;
    }
}

static void *reader(void *arg) {
    ag_telemetry_pipe *p = arg;
    struct pollfd fds[2] = {{.fd = p->fd, .events = POLLIN}, {.fd = p->stop[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents) break;
        ssize_t n = read(p->fd, p->buf + p->len, sizeof p->buf - p->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        p->len += (size_t)n;
        take_lines(p);
    }
    return NULL;
}

ag_telemetry_pipe *ag_telemetry_pipe_start(const char *path, ag_pipe_line_fn line, void *user,
                                           char *err, size_t errlen) {
    if (mkfifo(path, 0620) && errno != EEXIST) {
        snprintf(err, errlen, "telemetry fifo %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) || !S_ISFIFO(st.st_mode)) {
        snprintf(err, errlen, "telemetry fifo %s: exists and is not a named pipe", path);
        return NULL;
    }
    ag_telemetry_pipe *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->line = line;
    p->user = user;
    snprintf(p->path, sizeof p->path, "%s", path);
    /* Read and write: open does not wait for a writer, and the last writer
     * leaving is no end of file. */
    p->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (p->fd < 0 || pipe2(p->stop, O_CLOEXEC)) {
        snprintf(err, errlen, "telemetry fifo %s: %s", path, strerror(errno));
        if (p->fd >= 0) close(p->fd);
        free(p);
        return NULL;
    }
    if (pthread_create(&p->thread, NULL, reader, p)) {
        snprintf(err, errlen, "telemetry fifo %s: no thread", path);
        close(p->fd);
        close(p->stop[0]);
        close(p->stop[1]);
        free(p);
        return NULL;
    }
    return p;
}

void ag_telemetry_pipe_stop(ag_telemetry_pipe *p) {
    if (!p) return;
    if (write(p->stop[1], "x", 1) != 1) vg_log(VG_LOG_WARN, "telemetry pipe: stop: %m");
    pthread_join(p->thread, NULL);
    close(p->fd);
    close(p->stop[0]);
    close(p->stop[1]);
    free(p);
}
