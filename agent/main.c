/* main.c -- vigil-agent: runs on a device (or a box beside its cameras),
 * dials out to vigil once over wss, publishes the camera and serves the
 * device's commands on that connection (README, "Cameras behind a
 * firewall"; PROTOCOL.md, "Devices that dial in").
 *
 * The top of the agent: reads the config (config.h), makes the camera
 * (media.h), the command handlers (commands.h) and the connection
 * (uplink.h), and runs until SIGTERM or SIGINT. */
#include <getopt.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/media.h"
#include "agent/uplink.h"
#include "common/log.h"

static ag_uplink *volatile running; /* for the signal handler */
static volatile sig_atomic_t stop_requested;

/* SIGTERM, SIGINT: stop, also when it comes before the connection runs. */
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
    if (running) ag_uplink_stop(running);
}

static void usage(FILE *out) {
    fprintf(out,
"NAME\n"
"    vigil-agent - put a camera and a device behind a firewall on vigil's dashboard\n"
"\n"
"SYNOPSIS\n"
"    vigil-agent --config FILE [--log-level LEVEL] [--log-format text|json]\n"
"                [--stats-interval SECONDS]\n"
"    vigil-agent --check --config FILE\n"
"\n"
"DESCRIPTION\n"
"    Makes one outbound wss connection to vigil, signs in with a device token,\n"
"    publishes the camera as a publish:// stream and serves the device's\n"
"    commands on the same connection. Nothing listens on the device: no port\n"
"    forwarding, no broker. The connection is made again by itself, with\n"
"    backoff and jitter, whenever vigil restarts or the network drops.\n"
"\n"
"    Commands run handlers: executables (no shell) that get\n"
"    {\"command\",\"params\",\"device\",\"command_id\"} as JSON on stdin and answer a\n"
"    JSON object on stdout (exit 0: acknowledged with that result), or fail\n"
"    (exit non-zero: rejected, with {\"error\":...} from stdout or stderr's last\n"
"    line), within their time limit (else timeout; the handler is killed).\n"
"\n"
"OPTIONS\n"
"    --config FILE       the agent's JSON configuration (below)\n"
"    --check             check the configuration and the camera, then exit\n"
"    --log-level LEVEL   error, warn, info (default) or debug\n"
"    --log-format FMT    text (default) or json: one JSON object per line\n"
"    --stats-interval S  log a \"stats {...}\" line every S seconds (default 10;\n"
"                        0: never): frames sent, frames dropped, commands\n"
"    --help, --version\n"
"\n"
"CONFIGURATION\n"
"    {\"server\": \"wss://vigil.example:8443/ws\",\n"
"     \"token_file\": \"/etc/vigil-agent/token\",    vigil token --role device ...\n"
"     \"ca_file\": \"/etc/vigil-agent/ca.pem\",      optional; default: system CAs\n"
"     \"stream\": {\"id\": \"door\", \"source\": \"v4l2:///dev/video0\",\n"
"                \"width\": 1280, \"height\": 720, \"fps\": 30, \"bitrate_kbps\": 2000,\n"
"                \"keyframe_s\": 1, \"audio\": null, \"max_latency_ms\": 500},\n"
"     \"device\": {\"id\": \"door\",\n"
"                \"commands\": {\"light\": {\"exec\": [\"/usr/local/lib/door/light\"],\n"
"                                       \"timeout_ms\": 5000}},\n"
"                \"telemetry\": {\"exec\": [\"/usr/local/lib/door/read\"],\n"
"                              \"interval_s\": 10}},\n"
"     \"reconnect\": {\"min_s\": 1, \"max_s\": 30, \"refused_s\": 60}}\n"
"\n"
"    source: test:// (a test picture), v4l2:///dev/videoN (encoded with a\n"
"    hardware H.264 encoder when there is one, else x264), rtsp://... (a\n"
"    camera on the device's network, passed through, H.264 or H.265),\n"
"    file:///path.mp4 (looped). audio: \"test\" or \"alsa:<device>\" (Opus).\n"
"    telemetry: a handler run every interval_s, or {\"fifo\": PATH}: JSON\n"
"    objects written one per line to that named pipe (made if missing).\n"
"    max_latency_ms: frames older than this are dropped up to the next\n"
"    keyframe when the uplink is slower than the video.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT: close the connection and stop.\n"
"\n"
"EXIT STATUS\n"
"    0 after a signal; 1 for a bad configuration or camera; 2 for bad usage.\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"stats-interval", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int check = 0, o;
    long stats_s = 10;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 'k': check = 1; break;
        case 'l': {
            int level = vg_log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr, "vigil-agent: unknown log level '%s'\n", optarg);
                return 2;
            }
            vg_log_set_level((vg_log_level)level);
            break;
        }
        case 'f': {
            int format = vg_log_format_parse(optarg);
            if (format < 0) {
                fprintf(stderr, "vigil-agent: unknown log format '%s'\n", optarg);
                return 2;
            }
            vg_log_set_format((vg_log_format)format);
            break;
        }
        case 's': {
            char *end;
            stats_s = strtol(optarg, &end, 10);
            if (*end || stats_s < 0 || stats_s > 86400) {
                fprintf(stderr, "vigil-agent: --stats-interval must be 0 to 86400\n");
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        case 'v': printf("vigil-agent %s\n", AG_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config_path || optind < argc) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    gst_init(NULL, NULL);
    char err[512];
    ag_config cfg;
    if (ag_config_load(&cfg, config_path, err, sizeof err)) {
        vg_log(VG_LOG_ERROR, "config: %s", err);
        return 1;
    }
    int rc = 1;
    ag_media *media = NULL;
    ag_commands *commands = NULL;
    /* The connection first: the camera and the handlers wake it. */
    ag_uplink *u = ag_uplink_new(&cfg, (unsigned)stats_s, err, sizeof err);
    if (!u) {
        vg_log(VG_LOG_ERROR, "%s", err);
        goto out;
    }
    if (cfg.stream_id) {
        cfg.media.headroom = ag_uplink_headroom();
        media = ag_media_new(&cfg.media, ag_uplink_wake, u, err, sizeof err);
        if (!media) {
            vg_log(VG_LOG_ERROR, "stream '%s': %s", cfg.stream_id, err);
            goto out;
        }
    }
    if (check) {
        printf("vigil-agent: the configuration is good\n");
        rc = 0;
        goto out;
    }
    if (cfg.device_id) {
        commands = ag_commands_new(&cfg, ag_uplink_wake, u, err, sizeof err);
        if (!commands) {
            vg_log(VG_LOG_ERROR, "device '%s': %s", cfg.device_id, err);
            goto out;
        }
    }
    if (media && ag_media_start(media, err, sizeof err)) {
        vg_log(VG_LOG_ERROR, "stream '%s': %s", cfg.stream_id, err);
        goto out;
    }
    ag_uplink_drive(u, media, commands);
    running = u;
    vg_log(VG_LOG_INFO, "vigil-agent %s: %s%s%s%s%s to %s", AG_VERSION,
           cfg.stream_id ? "stream '" : "", cfg.stream_id ? cfg.stream_id : "",
           cfg.stream_id ? "'" : "", cfg.device_id ? " device '" : "",
           cfg.device_id ? cfg.device_id : "", cfg.server_url);
    if (!stop_requested) ag_uplink_run(u);
    ag_uplink_finish(u);
    running = NULL;
    rc = 0;
out:
    ag_commands_free(commands);
    ag_media_free(media);
    ag_uplink_free(u);
    ag_config_free(&cfg);
    gst_deinit();
    return rc;
}
