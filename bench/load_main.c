/* load_main.c -- vigil-load: N WebSocket viewers of vigil.v1 on one thread.
 *
 *   vigil-load --port P --pid SERVER_PID [--stream ID[,ID...]] [--viewers N]
 *              [--ramp S] [--warmup S] [--duration S] [--fps F]
 *              [--throttle-fraction X --throttle-bps B [--throttle-rcvbuf BYTES]]
 *              [--token TOKEN] [--tls [--tls-ciphersuites LIST]] [--json FILE]
 *
 * Connects N viewers (spread evenly over --ramp seconds; 0 = all at once),
 * each saying hello (with --token, else anonymously) and subscribing to the
 * i-th stream of the list (round robin). When
 * every viewer has its first keyframe or has failed (or after a timeout) it
 * waits --warmup seconds, then measures for --duration seconds: bytes and
 * frames received, relay-added latency (arrival minus the header's time),
 * skips and gaps, and the server's CPU time and peak RSS from /proc. The
 * connect phase gets its own CPU figure (the connection storm). The report
 * goes to stdout as JSON (and to --json FILE).
 *
 * The first ceil(X*N) viewers are throttled: they read at most B bytes/s
 * (token bucket), with a receive buffer of --throttle-rcvbuf bytes (default
 * 65536) so the server feels it within seconds.
 *
 * With --tls every viewer speaks wss (bench/tls_conn.h): TLS 1.3 only, with
 * the suites of --tls-ciphersuites (default TLS_AES_128_GCM_SHA256), no
 * certificate check. Bytes are then the WebSocket stream's, decrypted (TLS's
 * record overhead, about 0.2 %, is not counted), and the report says what
 * was negotiated. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <arpa/inet.h>

#include "bench/load_conn.h"
#include "bench/load_report.h"
#include "bench/proc_stats.h"

#define CONNECT_TIMEOUT_US 15000000 /* beyond the ramp: waiting for first keyframes */
#define RSS_SAMPLE_US      100000
#define REFILL_US          5000

static void usage(void) {
    fprintf(stderr, "usage: vigil-load --port P --pid PID [--host 127.0.0.1] [--stream ID[,ID..]]\n"
                    "  [--viewers N] [--ramp S] [--warmup S] [--duration S] [--fps F]\n"
                    "  [--throttle-fraction X --throttle-bps B] [--throttle-rcvbuf BYTES]\n"
                    "  [--token TOKEN] [--tls [--tls-ciphersuites LIST]] [--label TEXT]\n"
                    "  [--json FILE]\n");
    exit(2);
}

static void raise_nofile(size_t need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return;
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        fprintf(stderr, "vigil-load: only %lu file descriptors allowed; some viewers will fail\n",
                (unsigned long)rl.rlim_cur);
}

/* Splits "a,b,c" into an array (the string is modified). */
static size_t split_streams(char *list, char ***out) {
    size_t n = 1;
    for (char *p = list; *p; p++)
        n += *p == ',';
    *out = calloc(n, sizeof(**out));
    size_t i = 0;
    for (char *tok = strtok(list, ","); tok && i < n; tok = strtok(NULL, ","))
        (*out)[i++] = tok;
    return i;
}

static double user_sys_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    load_opts o = {.host = "127.0.0.1",
                   .viewers = 10,
                   .duration_s = 5,
                   .warmup_s = 2,
                   .fps = 30,
                   .throttle_rcvbuf = 65536,
                   .label = ""};
    char *stream_list = NULL;
    const char *token = NULL, *ciphersuites = "TLS_AES_128_GCM_SHA256";
    bool tls = false;
    static const struct option longopts[] = {
        {"host", 1, 0, 'h'},
        {"port", 1, 0, 'p'},
        {"pid", 1, 0, 'P'},
        {"stream", 1, 0, 's'},
        {"viewers", 1, 0, 'n'},
        {"ramp", 1, 0, 'r'},
        {"warmup", 1, 0, 'w'},
        {"duration", 1, 0, 'd'},
        {"fps", 1, 0, 'f'},
        {"throttle-fraction", 1, 0, 'x'},
        {"throttle-bps", 1, 0, 'b'},
        {"throttle-rcvbuf", 1, 0, 'R'},
        {"json", 1, 0, 'j'},
        {"label", 1, 0, 'l'},
        {"token", 1, 0, 'T'},
        {"tls", 0, 0, 't'},
        {"tls-ciphersuites", 1, 0, 'S'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'P': o.pid = atoi(optarg); break;
        case 's': stream_list = optarg; break;
        case 'n': o.viewers = (size_t)atol(optarg); break;
        case 'r': o.ramp_s = atof(optarg); break;
        case 'w': o.warmup_s = atof(optarg); break;
        case 'd': o.duration_s = atof(optarg); break;
        case 'f': o.fps = atof(optarg); break;
        case 'x': o.throttle_fraction = atof(optarg); break;
        case 'b': o.throttle_bps = atof(optarg); break;
        case 'R': o.throttle_rcvbuf = atoi(optarg); break;
        case 'j': o.json_path = optarg; break;
        case 'l': o.label = optarg; break;
        case 'T': token = optarg; break;
        case 't': tls = true; break;
        case 'S': ciphersuites = optarg; break;
        default: usage();
        }
    }
    if (!o.port || !o.pid || !o.viewers || o.duration_s <= 0) usage();
    char default_stream[] = "demo";
    o.nstreams = split_streams(stream_list ? stream_list : default_stream, &o.streams);
    raise_nofile(o.viewers);
    srandom((unsigned)load_now_us());

    load_ctx ctx = {.epfd = epoll_create1(EPOLL_CLOEXEC), .buf_len = 256 * 1024};
    char host_header[80];
    snprintf(host_header, sizeof(host_header), "%s:%d", o.host, o.port);
    ctx.host_header = host_header;
    ctx.token = token;
    if (tls && !(ctx.tls = tls_conn_context(ciphersuites))) return 2;
    ctx.addr.sin_family = AF_INET;
    ctx.addr.sin_port = htons((uint16_t)o.port);
    if (inet_pton(AF_INET, o.host, &ctx.addr.sin_addr) != 1) usage();
    ctx.buf = malloc(ctx.buf_len);
    ctx.stream_max_seq = calloc(o.nstreams, sizeof(*ctx.stream_max_seq));
    load_conn *conns = calloc(o.viewers, sizeof(*conns));
    if (ctx.epfd < 0 || !ctx.buf || !ctx.stream_max_seq || !conns) return 1;

    size_t nthrottled = (size_t)ceil(o.throttle_fraction * (double)o.viewers);
    if (o.throttle_bps <= 0) nthrottled = 0;
    for (size_t i = 0; i < o.viewers; i++) {
        load_conn *c = &conns[i];
        c->fd = -1;
        c->stream_idx = (uint32_t)(i % o.nstreams);
        c->stream = o.streams[c->stream_idx];
        if (i < nthrottled) {
            c->group = GROUP_THROTTLED;
            c->rate_Bps = o.throttle_bps / 8;
            c->rcvbuf = o.throttle_rcvbuf;
        }
    }

    load_result res = {0};
    int64_t t0 = load_now_us();
    res.cpu_start = proc_cpu_seconds(o.pid);
    if (res.cpu_start < 0) {
        fprintf(stderr, "vigil-load: cannot read /proc/%d/stat\n", o.pid);
        return 1;
    }
    int64_t ramp_us = (int64_t)(o.ramp_s * 1e6);
    int64_t ready_deadline = t0 + ramp_us + CONNECT_TIMEOUT_US;
    int64_t window_start = 0, window_end = 0, next_rss = 0, next_refill = t0, next_check = 0;
    size_t started = 0;
    double client_cpu0 = 0;
    unsigned long long busy0[64], total0[64], busy1[64], total1[64];
    enum { P_CONNECT, P_WARMUP, P_WINDOW } phase = P_CONNECT;
    struct epoll_event evs[512];

    for (;;) {
        int64_t now = load_now_us();
        /* Connect whoever is due. */
        while (started < o.viewers &&
               (ramp_us == 0 || now - t0 >= ramp_us * (int64_t)started / (int64_t)o.viewers)) {
            load_conn_start(&conns[started], &ctx, now);
            started++;
        }
        if (phase == P_CONNECT && started == o.viewers && now >= next_check) {
            next_check = now + 10000;
            size_t pending = 0;
            for (size_t i = 0; i < o.viewers; i++)
                pending += load_conn_alive(&conns[i]) && !conns[i].got_key;
            if (pending == 0 || now > ready_deadline) {
                res.connect_s = (double)(now - t0) / 1e6;
                res.cpu_connect = proc_cpu_seconds(o.pid) - res.cpu_start;
                res.not_ready = pending;
                phase = P_WARMUP;
                window_start = now + (int64_t)(o.warmup_s * 1e6);
            }
        }
        if (phase == P_WARMUP && now >= window_start) {
            phase = P_WINDOW;
            ctx.in_window = true;
            window_end = now + (int64_t)(o.duration_s * 1e6);
            res.rss_reset = proc_reset_peak_rss(o.pid);
            res.rss_start_kb = proc_status_kb(o.pid, "VmRSS");
            res.rss_sampled_max_kb = res.rss_start_kb;
            res.cpu_window_start = proc_cpu_seconds(o.pid);
            client_cpu0 = user_sys_seconds();
            res.ncpus = proc_cpu_jiffies(busy0, total0, 64);
            window_start = now;
            next_rss = now + RSS_SAMPLE_US;
        }
        if (phase == P_WINDOW && now >= next_rss) {
            long kb = proc_status_kb(o.pid, "VmRSS");
            if (kb > res.rss_sampled_max_kb) res.rss_sampled_max_kb = kb;
            next_rss = now + RSS_SAMPLE_US;
        }
        if (phase == P_WINDOW && now >= window_end) {
            ctx.in_window = false;
            res.cpu_window = proc_cpu_seconds(o.pid) - res.cpu_window_start;
            res.rss_hwm_kb = proc_status_kb(o.pid, "VmHWM");
            res.window_s = (double)(now - window_start) / 1e6;
            res.client_cpu = user_sys_seconds() - client_cpu0;
            if (proc_cpu_jiffies(busy1, total1, 64) != res.ncpus) res.ncpus = 0;
            for (int k = 0; k < res.ncpus; k++)
                res.cpu_busy[k] = total1[k] > total0[k] ? (double)(busy1[k] - busy0[k]) /
                                                              (double)(total1[k] - total0[k])
                                                        : 0;
            break;
        }
        if (nthrottled && now >= next_refill) {
            for (size_t i = 0; i < nthrottled; i++)
                load_conn_refill(&conns[i], &ctx, now);
            next_refill = now + REFILL_US;
        }

        int timeout_ms = 5;
        if (started < o.viewers) timeout_ms = 1;
        int n = epoll_wait(ctx.epfd, evs, 512, timeout_ms);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++)
            load_conn_on_event(evs[i].data.ptr, &ctx, evs[i].events);
    }

    load_report(&o, &res, &ctx, conns);
    for (size_t i = 0; i < o.viewers; i++)
        load_conn_close(&conns[i]);
    return 0;
}
