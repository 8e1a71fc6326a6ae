/* handler.c -- runs handler executables, one watcher thread per run (see
 * handler.h).
 *
 * ag_runner_start() (the agent's service thread) only copies the request,
 * counts the run and starts its watcher; everything that can take time
 * happens on the watcher: creating the pipes, posix_spawn(), feeding stdin,
 * reading stdout and stderr, the time limit, reaping, and `done`. So a
 * handler that cannot be started is a result like any other, not an error
 * of ag_runner_start().
 *
 * The child leads a process group of its own (POSIX_SPAWN_SETPGROUP), so a
 * time limit or ag_runner_free() kills whatever it started in the
 * background as well: kill(-pid, SIGKILL), sent while the child is not yet
 * reaped, so that its pid cannot name anybody else yet. A handler that
 * exits in time keeps what it left in the background (a "reboot" handler
 * may answer first and act a second later): the watcher stops reading when
 * the handler itself exits, not when its pipes close.
 *
 * Watchers run with every signal blocked (set around pthread_create()):
 * writing to a handler that exited without reading its stdin raises SIGPIPE
 * on the writing thread, and blocked it stays pending and harmless there,
 * without changing the process's disposition. The child gets an empty mask
 * and default dispositions back.
 *
 * ag_runner_free() wakes every watcher through one pipe that it writes a
 * byte to and nobody reads: it stays readable for all of them.
 *
 * Threads: the owner's thread calls ag_runner_start() and ag_runner_free();
 * watcher threads call `done`. `lock` guards running, stopping, the list of
 * runs and each run's `finished`. Everything else of a run belongs to its
 * watcher once started. */
#include "agent/handler.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

extern char **environ;

#define OUT_MAX (64 * 1024) /* stdout kept; more makes the run fail */
#define ERR_MAX (4 * 1024)  /* the end of stderr kept, for its last line */
#define CHUNK   4096        /* one read() */
/* Without a pidfd (kernels before 5.3, valgrind) the exit of the handler is polled:
 * often once its pipes are closed (it is about to exit, or has), rarely
 * while they are open (only a background child that holds them and a
 * handler that has exited need it). */
#define TICK_CLOSED_MS 10
#define TICK_OPEN_MS   100
/* Reads after the handler exited: what it wrote before is in the pipes, but
 * a background child may keep writing; this bounds how long we listen. */
#define DRAIN_READS 64

enum { IN, OUT, ERR, NFDS }; /* the handler's stdin, stdout, stderr */

typedef struct ag_run {
    struct ag_run *next; /* the runner's list */
    ag_runner *runner;
    pthread_t thread;
    bool finished; /* under lock: the watcher is about to return; join it */

    char **argv; /* NULL-terminated, owned */
    char *input; /* the serialised request and a newline */
    size_t input_len;
    unsigned timeout_ms;
    struct timespec started;
    ag_handler_result *res; /* allocated up front: `done` always gets one */

    size_t out_len;
    bool out_overflow;
    size_t err_len; /* the last err_len bytes of stderr */
    char out[OUT_MAX];
    char err[ERR_MAX];
} ag_run;

struct ag_runner {
    pthread_mutex_t lock; /* guards running, stopping, runs, ag_run.finished */
    unsigned running;
    bool stopping;
    ag_run *runs; /* started and not joined yet */

    unsigned max_running;
    ag_handler_done_fn done;
    void *user;
    int stop_r, stop_w; /* ag_runner_free() writes one byte, never read */
};

void ag_handler_result_free(ag_handler_result *r) {
    if (!r) return;
    json_decref(r->result);
    free(r);
}

static long ms_since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Length of the valid UTF-8 character at s (n bytes available), 0 if the
 * bytes are not one (overlong, surrogate, cut off). */
static size_t utf8_char_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 0 || n < len) return 0;
    uint32_t cp = c & (0x7F >> len); /* the lead byte's payload bits */
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Copies what a handler wrote into the result's error: the caller puts it
 * in JSON, so it must stay valid UTF-8 however it is cut, and control
 * characters (a terminal's colours) become '?'. */
static void copy_text(char *dst, size_t size, const char *src, size_t len) {
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_char_len(s + i, len - i);
        if (n == 0 || (n == 1 && (s[i] < 0x20 || s[i] == 0x7F))) {
            if (o + 1 >= size) break;
            dst[o++] = s[i] == '\t' ? ' ' : '?';
            i++;
            continue;
        }
        if (o + n >= size) break;
        memcpy(dst + o, s + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
}

/* The last non-empty line of the stderr kept, into the error; false if
 * there is none. */
static bool last_stderr_line(ag_run *run) {
    size_t end = run->err_len;
    while (end > 0 && strchr("\n\r \t", run->err[end - 1]))
        end--;
    if (end == 0) return false;
    size_t start = end;
    while (start > 0 && run->err[start - 1] != '\n')
        start--;
    copy_text(run->res->error, sizeof(run->res->error), run->err + start, end - start);
    return true;
}

static void fail(ag_run *run, ag_handler_outcome outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(ag_run *run, ag_handler_outcome outcome, const char *fmt, ...) {
    char text[sizeof(run->res->error)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* A path in it may have been cut in the middle of a character. */
    copy_text(run->res->error, sizeof(run->res->error), text, strlen(text));
    run->res->outcome = outcome;
}

/* Turns what the handler printed and how it exited into the result. */
static void judge(ag_run *run, const siginfo_t *info) {
    ag_handler_result *res = run->res;
    json_t *out = NULL;
    if (!run->out_overflow) out = json_loadb(run->out, run->out_len, 0, NULL);
    if (out && !json_is_object(out)) {
        json_decref(out);
        out = NULL;
    }

    if (info->si_code == CLD_EXITED && info->si_status == 0) {
        res->exit_code = 0;
        if (out) {
            res->outcome = AG_HANDLER_OK;
            res->result = out;
            return;
        }
        if (run->out_overflow)
            fail(run, AG_HANDLER_FAILED, "output is larger than %d KiB", OUT_MAX / 1024);
        else
            fail(run, AG_HANDLER_FAILED, "output is not a JSON object");
        return;
    }

    res->outcome = AG_HANDLER_FAILED;
    const char *msg = json_string_value(json_object_get(out, "error"));
    if (msg) copy_text(res->error, sizeof(res->error), msg, strlen(msg));
    json_decref(out);
    bool exited = info->si_code == CLD_EXITED;
    res->exit_code = exited ? info->si_status : -1;
    if (msg || last_stderr_line(run)) return;
    if (exited)
        fail(run, AG_HANDLER_FAILED, "exited with status %d", info->si_status);
    else
        fail(run, AG_HANDLER_FAILED, "killed by signal %d", info->si_status);
}

/* A pipe whose ends are close-on-exec (another watcher may be spawning at
 * this moment) and not 0, 1 or 2 (dup2 onto itself would keep the flag). */
static int make_pipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) < 0) return -1;
    for (int i = 0; i < 2; i++) {
        if (fds[i] > 2) continue;
        int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        close(fds[i]);
        fds[i] = fd;
    }
    if (fds[0] < 0 || fds[1] < 0) {
        if (fds[0] >= 0) close(fds[0]);
        if (fds[1] >= 0) close(fds[1]);
        errno = EMFILE;
        return -1;
    }
    return 0;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Starts the child with the pipes' far ends as its 0, 1 and 2, leading a
 * process group of its own, with default signals; 0 or an errno. */
static int spawn(ag_run *run, pid_t *pid, int child_in, int child_out, int child_err) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int err = posix_spawn_file_actions_init(&fa);
    if (err) return err;
    err = posix_spawnattr_init(&attr);
    if (err) {
        posix_spawn_file_actions_destroy(&fa);
        return err;
    }
    sigset_t none, dfl;
    sigemptyset(&none);
    sigfillset(&dfl);
    sigdelset(&dfl, SIGKILL);
    sigdelset(&dfl, SIGSTOP);
    if (!err) err = posix_spawn_file_actions_adddup2(&fa, child_in, 0);
    if (!err) err = posix_spawn_file_actions_adddup2(&fa, child_out, 1);
    if (!err) err = posix_spawn_file_actions_adddup2(&fa, child_err, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Whatever the rest of the agent opened without O_CLOEXEC. */
    if (!err) err = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (!err) err = posix_spawnattr_setpgroup(&attr, 0);
    if (!err) err = posix_spawnattr_setsigmask(&attr, &none);
    if (!err) err = posix_spawnattr_setsigdefault(&attr, &dfl);
    if (!err)
        err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF);
    if (!err) err = posix_spawn(pid, run->argv[0], &fa, &attr, run->argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return err;
}

typedef enum read_state { READ_EOF, READ_DATA, READ_AGAIN } read_state;

/* One read from the handler's stdout or stderr. An error ends the stream
 * like the end of file. */
static read_state read_some(ag_run *run, int fd, bool is_stdout) {
    char buf[CHUNK];
    char *dst = buf;
    size_t room = sizeof(buf);
    if (is_stdout && run->out_len < OUT_MAX) {
        dst = run->out + run->out_len;
        room = OUT_MAX - run->out_len;
        if (room > CHUNK) room = CHUNK;
    }
    ssize_t n = read(fd, dst, room);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? READ_AGAIN : READ_EOF;
    if (n == 0) return READ_EOF;
    if (is_stdout) {
        /* Past the limit the bytes are read and dropped, so that the
         * handler is not stuck on a full pipe. */
        if (dst == buf)
            run->out_overflow = true;
        else
            run->out_len += (size_t)n;
        return READ_DATA;
    }
    size_t len = (size_t)n;
    if (run->err_len + len > ERR_MAX) { /* keep the end */
        size_t drop = run->err_len + len - ERR_MAX;
        memmove(run->err, run->err + drop, run->err_len - drop);
        run->err_len -= drop;
    }
    memcpy(run->err + run->err_len, buf, len);
    run->err_len += len;
    return READ_DATA;
}

/* After the handler exited: what it wrote before is in the pipes. */
static void drain(ag_run *run, int fds[]) {
    for (int i = OUT; i <= ERR; i++) {
        read_state st = READ_DATA;
        for (int k = 0; fds[i] >= 0 && st == READ_DATA && k < DRAIN_READS; k++)
            st = read_some(run, fds[i], i == OUT);
    }
}

/* Reaps the child if it has exited; true then, with its status in info. */
static bool reaped(pid_t pid, siginfo_t *info) {
    info->si_pid = 0;
    return waitid(P_PID, (id_t)pid, info, WEXITED | WNOHANG) == 0 && info->si_pid == pid;
}

static int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec already */
#else
    (void)pid;
    return -1;
#endif
}

typedef enum watch_end { EXITED, TIMED_OUT, STOPPED, BROKEN } watch_end;

/* Feeds stdin, reads stdout and stderr until the child exits, the time is
 * up, or the runner stops. fds are the parent's ends, non-blocking. */
static watch_end watch(ag_run *run, pid_t pid, int fds[NFDS], siginfo_t *info) {
    int pidfd = open_pidfd(pid);
    size_t in_off = 0;
    watch_end end;
    for (;;) {
        /* 64 bits: a long is 32 on the devices, too short for UINT_MAX. */
        int64_t left = (int64_t)run->timeout_ms - ms_since(&run->started);
        if (left <= 0) {
            end = TIMED_OUT;
            if (reaped(pid, info)) { /* just in time */
                drain(run, fds);
                end = EXITED;
            }
            break;
        }
        struct pollfd p[NFDS + 2];
        int slot[NFDS + 2], n = 0;
        p[n] = (struct pollfd){.fd = run->runner->stop_r, .events = POLLIN};
        slot[n++] = -1;
        if (pidfd >= 0) {
            p[n] = (struct pollfd){.fd = pidfd, .events = POLLIN};
            slot[n++] = -2;
        }
        for (int i = 0; i < NFDS; i++) {
            if (fds[i] < 0) continue;
            p[n] = (struct pollfd){.fd = fds[i], .events = i == IN ? POLLOUT : POLLIN};
            slot[n++] = i;
        }
        int timeout = left > INT_MAX ? INT_MAX : (int)left;
        if (pidfd < 0) {
            int tick = fds[OUT] < 0 && fds[ERR] < 0 ? TICK_CLOSED_MS : TICK_OPEN_MS;
            if (timeout > tick) timeout = tick;
        }
        if (poll(p, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR) continue;
            fail(run, AG_HANDLER_FAILED, "poll: %s", strerror(errno));
            end = BROKEN;
            break;
        }

        bool stop = false, exit_seen = pidfd < 0;
        for (int k = 0; k < n; k++) {
            if (!p[k].revents) continue;
            int i = slot[k];
            if (i == -1)
                stop = true;
            else if (i == -2)
                exit_seen = true;
            else if (i == IN) {
                ssize_t w = write(fds[IN], run->input + in_off, run->input_len - in_off);
                if (w > 0) in_off += (size_t)w;
                /* EPIPE: the handler does not read its stdin, which is its
                 * business; its answer still counts. */
                if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == run->input_len)
                    close_fd(&fds[IN]);
            } else if (read_some(run, fds[i], i == OUT) == READ_EOF) {
                close_fd(&fds[i]);
            }
        }
        if (exit_seen && reaped(pid, info)) {
            drain(run, fds);
            end = EXITED;
            break;
        }
        if (stop) {
            end = STOPPED;
            break;
        }
    }
    if (pidfd >= 0) close(pidfd);
    return end;
}

static void *watcher(void *arg) {
    ag_run *run = arg;
    ag_runner *r = run->runner;
    ag_handler_result *res = run->res;
    res->exit_code = -1;

    /* ends[] are ours (non-blocking), child[] the handler's 0, 1, 2. */
    int ends[NFDS] = {-1, -1, -1}, child[NFDS] = {-1, -1, -1};
    int err = 0;
    for (int i = 0; i < NFDS; i++) {
        int p[2];
        if (make_pipe(p) < 0) {
            err = errno;
            break;
        }
        ends[i] = i == IN ? p[1] : p[0];
        child[i] = i == IN ? p[0] : p[1];
        fcntl(ends[i], F_SETFL, fcntl(ends[i], F_GETFL) | O_NONBLOCK);
    }

    pthread_mutex_lock(&r->lock);
    bool stopping = r->stopping;
    pthread_mutex_unlock(&r->lock);

    pid_t pid = -1;
    if (stopping) {
        fail(run, AG_HANDLER_TIMEOUT, "agent stopping");
    } else if (err || (err = spawn(run, &pid, child[IN], child[OUT], child[ERR]))) {
        fail(run, AG_HANDLER_FAILED, "%s: %s", run->argv[0], strerror(err));
    }
    for (int i = 0; i < NFDS; i++)
        close_fd(&child[i]);

    if (!stopping && !err) {
        siginfo_t info;
        watch_end end = watch(run, pid, ends, &info);
        if (end != EXITED) {
            /* Not reaped yet: -pid is still this handler's group. */
            if (kill(-pid, SIGKILL) < 0 && errno != ESRCH)
                vg_log(VG_LOG_WARN, "handler %s: kill: %s", run->argv[0], strerror(errno));
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
        if (end == EXITED)
            judge(run, &info);
        else if (end == TIMED_OUT)
            fail(run, AG_HANDLER_TIMEOUT, "timed out after %u ms", run->timeout_ms);
        else if (end == STOPPED)
            fail(run, AG_HANDLER_TIMEOUT, "agent stopping");
    }
    for (int i = 0; i < NFDS; i++)
        close_fd(&ends[i]);
    res->elapsed_ms = ms_since(&run->started);

    /* Not running any more before the owner hears of it: it may start the
     * next one at once. */
    pthread_mutex_lock(&r->lock);
    r->running--;
    pthread_mutex_unlock(&r->lock);
    run->res = NULL;
    r->done(r->user, res);

    pthread_mutex_lock(&r->lock);
    run->finished = true;
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void run_free(ag_run *run) {
    if (run->argv)
        for (char **a = run->argv; *a; a++)
            free(*a);
    free(run->argv);
    free(run->input);
    ag_handler_result_free(run->res);
    free(run);
}

/* Joins the watchers that are done (all of them with `all`) and frees
 * their runs. */
static void reap_watchers(ag_runner *r, bool all) {
    pthread_mutex_lock(&r->lock);
    ag_run *done = NULL;
    for (ag_run **pp = &r->runs; *pp;) {
        ag_run *run = *pp;
        if (all || run->finished) {
            *pp = run->next;
            run->next = done;
            done = run;
        } else {
            pp = &run->next;
        }
    }
    pthread_mutex_unlock(&r->lock);
    while (done) {
        ag_run *next = done->next;
        pthread_join(done->thread, NULL);
        run_free(done);
        done = next;
    }
}

ag_runner *ag_runner_new(unsigned max_running, ag_handler_done_fn done, void *user) {
    ag_runner *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    int p[2];
    if (make_pipe(p) < 0) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->stop_r = p[0];
    r->stop_w = p[1];
    r->max_running = max_running;
    r->done = done;
    r->user = user;
    return r;
}

static ag_run *run_new(const char *const *argv, const json_t *input, unsigned timeout_ms,
                       const char *tag) {
    ag_run *run = calloc(1, sizeof(*run));
    if (!run) return NULL;
    size_t argc = 0;
    while (argv[argc])
        argc++;
    run->argv = calloc(argc + 1, sizeof(*run->argv));
    run->res = calloc(1, sizeof(*run->res));
    char *json = json_dumps(input, JSON_COMPACT);
    if (!run->argv || !run->res || !json) goto fail;
    for (size_t i = 0; i < argc; i++)
        if (!(run->argv[i] = strdup(argv[i]))) goto fail;
    /* A newline at the end, for handlers that read a line. */
    run->input_len = strlen(json) + 1;
    if (!(run->input = malloc(run->input_len))) goto fail;
    memcpy(run->input, json, run->input_len - 1);
    run->input[run->input_len - 1] = '\n';
    free(json);
    run->timeout_ms = timeout_ms;
    snprintf(run->res->tag, sizeof(run->res->tag), "%s", tag ? tag : "");
    return run;
fail:
    free(json);
    run_free(run);
    return NULL;
}

int ag_runner_start(ag_runner *r, const char *const *argv, const json_t *input, unsigned timeout_ms,
                    const char *tag, char *err, size_t errlen) {
    reap_watchers(r, false);
    if (!argv || !argv[0] || !input) {
        snprintf(err, errlen, "no handler or no input");
        return -1;
    }

    pthread_mutex_lock(&r->lock);
    bool full = r->running >= r->max_running;
    if (!full) r->running++;
    pthread_mutex_unlock(&r->lock);
    if (full) {
        snprintf(err, errlen, "too many handlers running (%u)", r->max_running);
        return -1;
    }

    ag_run *run = run_new(argv, input, timeout_ms, tag);
    if (!run) {
        snprintf(err, errlen, "out of memory");
        goto unreserve;
    }
    run->runner = r;
    clock_gettime(CLOCK_MONOTONIC, &run->started);

    /* The watcher starts with every signal blocked (see the top). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&run->thread, NULL, watcher, run);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
        run_free(run);
        goto unreserve;
    }
    pthread_mutex_lock(&r->lock);
    run->next = r->runs;
    r->runs = run;
    pthread_mutex_unlock(&r->lock);
    return 0;

unreserve:
    pthread_mutex_lock(&r->lock);
    r->running--;
    pthread_mutex_unlock(&r->lock);
    return -1;
}

unsigned ag_runner_running(ag_runner *r) {
    pthread_mutex_lock(&r->lock);
    unsigned n = r->running;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void ag_runner_free(ag_runner *r) {
    if (!r) return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->lock);
    /* Wakes every watcher, now and later: nobody reads it. */
    while (write(r->stop_w, "x", 1) < 0 && errno == EINTR) {
    }
    reap_watchers(r, true);
    close(r->stop_r);
    close(r->stop_w);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
