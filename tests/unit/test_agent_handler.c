/* test_agent_handler.c -- the handler runner against real child processes:
 * small sh scripts in a temp dir (the shell is the scripts' own business;
 * the runner executes their path), results through the watcher's callback,
 * the time limit killing a whole process group, and a runner freed with a
 * handler still running. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/handler.h"
#include "check_main.h"
#include "temp_dir.h"

static char dir[64];

static void setup(void) {
    temp_dir_make(dir, sizeof(dir), "agent-handler");
}
static void teardown(void) {
    temp_dir_remove(dir);
}

/* The results `done` hands over, for the test thread to wait on. */
typedef struct collector {
    pthread_mutex_t lock; /* guards items and n */
    pthread_cond_t cond;
    ag_handler_result *items[8];
    int n;
} collector;

static void collector_init(collector *c) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&c->lock, NULL);
    c->n = 0;
}

static void collector_destroy(collector *c) {
    for (int i = 0; i < c->n; i++)
        ag_handler_result_free(c->items[i]);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

static void on_done(void *user, ag_handler_result *r) {
    collector *c = user;
    pthread_mutex_lock(&c->lock);
    if (c->n < 8)
        c->items[c->n++] = r;
    else
        ag_handler_result_free(r);
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* The oldest result, waiting at most ms for one; NULL if none came. */
static ag_handler_result *wait_result(collector *c, long ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (c->n == 0)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT) break;
    ag_handler_result *r = NULL;
    if (c->n > 0) {
        r = c->items[0];
        memmove(c->items, c->items + 1, (size_t)(c->n - 1) * sizeof(c->items[0]));
        c->n--;
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* Writes an executable sh script `name` in the temp dir; its path into
 * path (128 bytes). */
static void script(char *path, const char *name, const char *body) {
    snprintf(path, 128, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, 0755), 0);
}

static bool exists(const char *name) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* The pid a script wrote to `name` in the temp dir. */
static pid_t read_pid(const char *name) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    ck_assert_int_gt(pid, 1);
    return (pid_t)pid;
}

/* True once pid is dead: gone, or a zombie its new parent (whoever adopts
 * orphans here) has not reaped yet. Waits up to ms. */
static bool gone(pid_t pid, long ms) {
    for (long until = now_ms() + ms;; usleep(10000)) {
        if (kill(pid, 0) < 0 && errno == ESRCH) return true;
        char path[64], stat[256] = "";
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(stat, 1, sizeof(stat) - 1, f);
            stat[n] = '\0';
            fclose(f);
            const char *paren = strrchr(stat, ')');
            if (paren && paren[1] == ' ' && paren[2] == 'Z') return true;
        }
        if (now_ms() > until) return false;
    }
}

static json_t *command_input(json_t *params) {
    return json_pack("{s:s, s:o, s:s, s:s}", "command", "ptz", "params", params, "device", "cam1",
                     "command_id", "c-42");
}

/* Runs argv once with its own runner, returns the result (the caller frees
 * it). */
static ag_handler_result *run_once(const char *const *argv, json_t *input, unsigned timeout_ms) {
    collector c;
    collector_init(&c);
    ag_runner *r = ag_runner_new(4, on_done, &c);
    ck_assert_ptr_nonnull(r);
    char err[128];
    ck_assert_int_eq(ag_runner_start(r, argv, input, timeout_ms, "c-42", err, sizeof(err)), 0);
    ag_handler_result *res = wait_result(&c, 5000);
    ck_assert_ptr_nonnull(res);
    ck_assert_str_eq(res->tag, "c-42");
    ag_runner_free(r);
    ck_assert_int_eq(c.n, 0); /* exactly one callback */
    collector_destroy(&c);
    return res;
}

START_TEST(echo_handler_answers_with_its_params) {
    char path[128];
    script(path, "echo", "read -r line; printf '%s' \"$line\"");
    json_t *in = command_input(json_pack("{s:i, s:s}", "pan", 30, "speed", "fast"));
    const char *argv[] = {path, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_OK);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_ptr_nonnull(res->result);
    ck_assert(json_equal(res->result, in)); /* the whole request came through */
    ck_assert_int_ge(res->elapsed_ms, 0);
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(failure_with_error_member) {
    char path[128];
    script(path, "err",
           "cat >/dev/null; echo 'ignored' >&2; echo '{\"error\":\"disk full\"}'; exit 3");
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_int_eq(res->exit_code, 3);
    ck_assert_ptr_null(res->result);
    ck_assert_str_eq(res->error, "disk full");
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(failure_with_stderr_last_line) {
    char path[128];
    script(path, "stderr", "echo 'first line' >&2; echo 'motor stalled' >&2; echo >&2; exit 2");
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_int_eq(res->exit_code, 2);
    ck_assert_str_eq(res->error, "motor stalled");
    ag_handler_result_free(res);

    /* Nothing said at all: the status. */
    script(path, "silent", "exit 7");
    res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_str_eq(res->error, "exited with status 7");
    ag_handler_result_free(res);

    /* Only the end of a long stderr is kept; its last line still counts. */
    script(path, "chatty",
           "i=0; while [ $i -lt 400 ]; do echo \"noise line number $i\" >&2; i=$((i+1)); done\n"
           "echo 'last words' >&2; exit 1");
    res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_str_eq(res->error, "last words");
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(errors_stay_valid_utf8) {
    /* The error goes into JSON later: control bytes and invalid UTF-8 are
     * replaced, and a long message is cut between characters. */
    char path[128];
    script(path, "colours", "printf '\\033[31mbad \\377 byte\\n' >&2; exit 1");
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_str_eq(res->error, "?[31mbad ? byte");
    ag_handler_result_free(res);

    char body[1024] = "printf '{\"error\":\"";
    for (int i = 0; i < 200; i++)
        strcat(body, "\xc3\xa9"); /* é */
    strcat(body, "\"}'; exit 1");
    script(path, "long", body);
    res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_uint_eq(strlen(res->error), 254); /* 127 whole characters */
    json_t *s = json_string(res->error);
    ck_assert_ptr_nonnull(s);
    json_decref(s);
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(exit_zero_without_json_fails) {
    char path[128];
    script(path, "text", "echo hello");
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_ptr_null(res->result);
    ck_assert_str_eq(res->error, "output is not a JSON object");
    ag_handler_result_free(res);

    script(path, "array", "echo '[1,2]'");
    res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_str_eq(res->error, "output is not a JSON object");
    ag_handler_result_free(res);

    /* Past 64 KiB, even a JSON object is refused. */
    script(path, "huge",
           "printf '{\"x\":\"'; head -c 70000 /dev/zero | tr '\\000' a; printf '\"}'");
    res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    ck_assert_ptr_nonnull(strstr(res->error, "larger than"));
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(handler_that_ignores_its_stdin) {
    /* More input than a pipe holds, and nobody reads it: the write fails
     * (EPIPE, SIGPIPE blocked on the watcher) and the answer still counts. */
    char path[128];
    script(path, "deaf", "echo '{\"ok\":true}'");
    char *big = malloc(512 * 1024);
    memset(big, 'b', 512 * 1024 - 1);
    big[512 * 1024 - 1] = '\0';
    json_t *in = command_input(json_pack("{s:s}", "blob", big));
    free(big);
    const char *argv[] = {path, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_OK);
    ck_assert(json_is_true(json_object_get(res->result, "ok")));
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(timeout_kills_the_process_group) {
    char path[128], body[512];
    snprintf(body, sizeof(body), "sleep 5 &\necho $! > %s/grandchild\necho $$ > %s/self\nsleep 5",
             dir, dir);
    script(path, "slow", body);
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    long t0 = now_ms();
    ag_handler_result *res = run_once(argv, in, 300);
    long took = now_ms() - t0;
    ck_assert_int_eq(res->outcome, AG_HANDLER_TIMEOUT);
    ck_assert_int_eq(res->exit_code, -1);
    ck_assert_str_eq(res->error, "timed out after 300 ms");
    ck_assert_int_ge(res->elapsed_ms, 300);
    ck_assert_int_lt(took, 1000);
    ck_assert(gone(read_pid("self"), 1000));
    ck_assert(gone(read_pid("grandchild"), 1000));
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(background_child_does_not_hold_the_answer) {
    /* The handler answers and exits; what it left running still has the
     * pipes open, yet the result comes at once and it is not killed. */
    char path[128], body[256];
    snprintf(body, sizeof(body), "sleep 3 &\necho $! > %s/bg\necho '{\"done\":1}'", dir);
    script(path, "bg", body);
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    long t0 = now_ms();
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_lt(now_ms() - t0, 1500);
    ck_assert_int_eq(res->outcome, AG_HANDLER_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(res->result, "done")), 1);
    pid_t bg = read_pid("bg");
    ck_assert_int_eq(kill(bg, 0), 0);
    kill(bg, SIGKILL);
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(missing_executable_fails) {
    char path[128];
    snprintf(path, sizeof(path), "%s/no-such-handler", dir);
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_FAILED);
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) {
        /* Under valgrind, whose clone() has no CLONE_VFORK, posix_spawn()
         * cannot see the exec fail: the child (valgrind's copy) exits 127,
         * or with valgrind's error exit code. */
        ck_assert_int_gt(res->exit_code, 0);
        ck_assert_ptr_nonnull(strstr(res->error, "exited with status"));
    } else {
        ck_assert_int_eq(res->exit_code, -1);
        ck_assert_ptr_nonnull(strstr(res->error, strerror(ENOENT)));
    }
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(max_running_refuses_more) {
    char path[128], quick[128];
    script(path, "sleeper", "exec sleep 5");
    script(quick, "quick", "echo '{}'");
    collector c;
    collector_init(&c);
    ag_runner *r = ag_runner_new(1, on_done, &c);
    ck_assert_ptr_nonnull(r);
    json_t *in = command_input(json_object());
    const char *argv[] = {quick, NULL};
    char err[128];

    /* A slot comes back when a run is over. */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ag_runner_start(r, argv, in, 5000, "q", err, sizeof(err)), 0);
        ag_handler_result *res = wait_result(&c, 5000);
        ck_assert_ptr_nonnull(res);
        ck_assert_int_eq(res->outcome, AG_HANDLER_OK);
        ck_assert_uint_eq(ag_runner_running(r), 0);
        ag_handler_result_free(res);
    }

    argv[0] = path;
    ck_assert_int_eq(ag_runner_start(r, argv, in, 5000, "a", err, sizeof(err)), 0);
    ck_assert_uint_eq(ag_runner_running(r), 1);
    err[0] = '\0';
    ck_assert_int_eq(ag_runner_start(r, argv, in, 5000, "b", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "too many"));
    ck_assert_uint_eq(ag_runner_running(r), 1);
    ck_assert_ptr_null(wait_result(&c, 50)); /* no callback for the refused one */

    ag_runner_free(r);
    ag_handler_result *res = wait_result(&c, 0);
    ck_assert_ptr_nonnull(res);
    ck_assert_str_eq(res->tag, "a");
    ag_handler_result_free(res);
    ck_assert_int_eq(c.n, 0);
    collector_destroy(&c);
    json_decref(in);
}
END_TEST

START_TEST(metacharacters_are_never_executed) {
    char path[128], params[512], arg[256];
    script(path, "echo", "read -r line; printf '%s' \"$line\"");
    snprintf(params, sizeof(params),
             "$(touch %s/p1); `touch %s/p2`; touch %s/p3 | touch %s/p4 && rm -rf %s \"' \\", dir,
             dir, dir, dir, dir);
    snprintf(arg, sizeof(arg), "; touch %s/p5", dir);
    json_t *in = command_input(json_pack("{s:s}", "text", params));
    const char *argv[] = {path, arg, NULL};
    ag_handler_result *res = run_once(argv, in, 5000);
    ck_assert_int_eq(res->outcome, AG_HANDLER_OK);
    json_t *got = json_object_get(res->result, "params");
    ck_assert_str_eq(json_string_value(json_object_get(got, "text")), params);
    ck_assert(!exists("p1") && !exists("p2") && !exists("p3") && !exists("p4"));
    ck_assert(!exists("p5"));
    ck_assert(exists("echo")); /* nothing removed */
    ag_handler_result_free(res);
    json_decref(in);
}
END_TEST

START_TEST(free_kills_what_runs_and_still_calls_back) {
    char path[128], body[256];
    snprintf(body, sizeof(body), "echo $$ > %s/tmp && mv %s/tmp %s/self\nexec sleep 5", dir, dir,
             dir);
    script(path, "running", body);
    collector c;
    collector_init(&c);
    ag_runner *r = ag_runner_new(2, on_done, &c);
    ck_assert_ptr_nonnull(r);
    json_t *in = command_input(json_object());
    const char *argv[] = {path, NULL};
    char err[128];
    ck_assert_int_eq(ag_runner_start(r, argv, in, 10000, "long", err, sizeof(err)), 0);
    for (long until = now_ms() + 2000; !exists("self") && now_ms() < until;)
        usleep(10000);
    ck_assert(exists("self"));
    pid_t pid = read_pid("self");

    long t0 = now_ms();
    ag_runner_free(r);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ag_handler_result *res = wait_result(&c, 0);
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(res->outcome, AG_HANDLER_TIMEOUT);
    ck_assert_str_eq(res->error, "agent stopping");
    ck_assert_str_eq(res->tag, "long");
    ck_assert(gone(pid, 1000));
    ag_handler_result_free(res);
    collector_destroy(&c);
    json_decref(in);
}
END_TEST

static Suite *agent_handler_suite(void) {
    Suite *s = suite_create("agent_handler");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, echo_handler_answers_with_its_params);
    tcase_add_test(tc, failure_with_error_member);
    tcase_add_test(tc, failure_with_stderr_last_line);
    tcase_add_test(tc, errors_stay_valid_utf8);
    tcase_add_test(tc, exit_zero_without_json_fails);
    tcase_add_test(tc, handler_that_ignores_its_stdin);
    tcase_add_test(tc, timeout_kills_the_process_group);
    tcase_add_test(tc, background_child_does_not_hold_the_answer);
    tcase_add_test(tc, missing_executable_fails);
    tcase_add_test(tc, max_running_refuses_more);
    tcase_add_test(tc, metacharacters_are_never_executed);
    tcase_add_test(tc, free_kills_what_runs_and_still_calls_back);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(agent_handler_suite)
