/* load_report.h -- the load client's options, raw measurements, and the JSON
 * report computed from them (see load_main.c for what each one means). */
#ifndef VIGIL_BENCH_LOAD_REPORT_H
#define VIGIL_BENCH_LOAD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bench/load_conn.h"

typedef struct load_opts {
    const char *host;
    int port;
    pid_t pid;
    char **streams;
    size_t nstreams;
    size_t viewers;
    double ramp_s, warmup_s, duration_s, fps;
    double throttle_fraction, throttle_bps;
    int throttle_rcvbuf;
    const char *json_path;
    const char *label;
} load_opts;

typedef struct load_result {
    double cpu_start;        /* server CPU seconds before the first connect */
    double cpu_connect;      /* spent from the first connect until all were ready */
    double connect_s;        /* how long that took */
    size_t not_ready;        /* alive viewers without a keyframe when it ended */
    double cpu_window_start; /* server CPU seconds at the window's start */
    double cpu_window;       /* spent in the window */
    double window_s;
    double client_cpu; /* this process, in the window */
    bool rss_reset;    /* VmHWM was reset at the window's start */
    long rss_start_kb, rss_hwm_kb, rss_sampled_max_kb;
    /* each CPU's busy share over the window, whoever used it */
    int ncpus;
    double cpu_busy[64];
} load_result;

/* Writes the JSON report to stdout and to opts->json_path when set. */
void load_report(const load_opts *o, const load_result *r, load_ctx *ctx, const load_conn *conns);

#endif
