/* metrics.c -- the Prometheus exposition of GET /metrics (see metrics.h). */
#include "server/metrics.h"

#include "server/cluster_node.h"

#include <dirent.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/rtp_ingest.h"
#include "media/rtp_options.h"
#include "server/devices.h"
#include "server/server.h"

/* A growing text buffer; `failed` once an allocation failed. */
typedef struct out {
    char *buf;
    size_t len, cap;
    bool failed;
} out;

static void put(out *o, const char *fmt, ...) {
    if (o->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *grown = realloc(o->buf, cap);
        if (!grown) {
            o->failed = true;
            return;
        }
        o->buf = grown;
        o->cap = cap;
    }
}

/* A metric's HELP and TYPE lines. */
static void family(out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format wants (backslash, quote, newline).
 * Ids in the config are plain, but a value is never trusted to be. */
static void label(out *o, const char *value) {
    for (const char *c = value ? value : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            put(o, "\\%c", *c);
        else if (*c == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *c);
    }
}

static void counter(out *o, const char *name, const char *help, unsigned long long v) {
    family(o, name, "counter", help);
    put(o, "%s %llu\n", name, v);
}

/* One histogram's samples, its family written before: buckets (cumulative,
 * as the format wants; `in` holds each bucket's own count), +Inf, sum and
 * count. With `lname`, one label `lname`="lvalue" on each. */
static void histogram(out *o, const char *name, const char *lname, const char *lvalue,
                      const double *bounds, const uint64_t *in, size_t n, uint64_t count,
                      double sum) {
    uint64_t cum = 0;
    for (size_t i = 0; i <= n; i++) {
        cum = i < n ? cum + in[i] : count;
        put(o, "%s_bucket{", name);
        if (lname) {
            put(o, "%s=\"", lname);
            label(o, lvalue);
            put(o, "\",");
        }
        if (i < n)
            put(o, "le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
        else
            put(o, "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    for (int sum_line = 1; sum_line >= 0; sum_line--) {
        put(o, "%s_%s", name, sum_line ? "sum" : "count");
        if (lname) {
            put(o, "{%s=\"", lname);
            label(o, lvalue);
            put(o, "\"}");
        }
        if (sum_line)
            put(o, " %.6f\n", sum);
        else
            put(o, " %llu\n", (unsigned long long)count);
    }
}

/* ---- the process --------------------------------------------------------- */

static long long resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = -1, resident = -1;
    if (!f) return -1;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static long long open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    long long n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory itself, open while counting */
}

/* The heap as malloc sees it (glibc, every arena): bytes the program holds,
 * and bytes malloc keeps free without handing them back. RSS that grows
 * while the first stays flat is fragmentation, not a leak. */
static void heap(out *o, const vg_server *srv) {
#ifdef __GLIBC__
    struct mallinfo2 mi = mallinfo2();
    family(o, "vigil_process_heap_allocated_bytes", "gauge",
           "Heap bytes allocated by the process (malloc's own count, all arenas).");
    put(o, "vigil_process_heap_allocated_bytes %zu\n", mi.uordblks + mi.hblkhd);
    family(o, "vigil_process_heap_free_bytes", "gauge",
           "Heap bytes malloc holds free, not returned to the system.");
    put(o, "vigil_process_heap_free_bytes %zu\n", mi.fordblks);
    const vg_heap_trim *t = &srv->heap_trim;
    family(o, "vigil_process_heap_trims_total", "counter",
           "Times the heap's free pages were handed back to the system (every 30 s).");
    put(o, "vigil_process_heap_trims_total %llu\n", (unsigned long long)t->runs);
    family(o, "vigil_process_heap_trim_seconds_total", "counter", "Time spent handing them back.");
    put(o, "vigil_process_heap_trim_seconds_total %.6f\n", t->seconds);
#else
    (void)o;
    (void)srv;
#endif
}

static void process(out *o, vg_server *srv) {
    family(o, "vigil_build_info", "gauge", "The running build: always 1, its version as a label.");
    put(o, "vigil_build_info{version=\"%s\"} 1\n", VIGIL_VERSION);
    family(o, "vigil_uptime_seconds", "gauge", "Seconds since the server started.");
    put(o, "vigil_uptime_seconds %lld\n",
        (long long)((vg_server_now_us() - srv->started_us) / 1000000));
    long long rss = resident_bytes(), fds = open_fds();
    if (rss >= 0) {
        family(o, "vigil_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
        put(o, "vigil_process_resident_memory_bytes %lld\n", rss);
    }
    if (fds >= 0) {
        family(o, "vigil_process_open_fds", "gauge", "Open file descriptors of the process.");
        put(o, "vigil_process_open_fds %lld\n", fds);
    }
    heap(o, srv);
    const vg_loop_lag *lag = &srv->tick_lag;
    family(o, "vigil_service_loop_lag_seconds", "histogram",
           "How late the service loop ran its periodic tick (every 0.25 s) against its schedule.");
    histogram(o, "vigil_service_loop_lag_seconds", NULL, NULL, vg_loop_lag_bounds_s, lag->in,
              VG_LOOP_LAG_BUCKETS, lag->count, lag->sum_s);
}

/* ---- connections ----------------------------------------------------------- */

static void connections(out *o, vg_server *srv) {
    family(o, "vigil_connections", "gauge", "WebSocket connections open now.");
    put(o, "vigil_connections %u\n", srv->session_count);
    uint32_t by_role[VG_ROLE_DEVICE + 1] = {0};
    for (vg_session *s = srv->sessions; s; s = s->next)
        if (s->access.role <= VG_ROLE_DEVICE) by_role[s->access.role]++;
    family(o, "vigil_sessions", "gauge", "WebSocket sessions by role (none: before hello).");
    for (int r = VG_ROLE_NONE; r <= VG_ROLE_DEVICE; r++)
        put(o, "vigil_sessions{role=\"%s\"} %u\n", r == VG_ROLE_NONE ? "none" : vg_role_name(r),
            by_role[r]);
    counter(o, "vigil_connections_total", "WebSocket connections accepted.",
            srv->connections_total);
    family(o, "vigil_upgrades_refused_total", "counter",
           "WebSocket upgrades refused, by reason.");
    put(o, "vigil_upgrades_refused_total{reason=\"origin\"} %llu\n",
        (unsigned long long)srv->origin_refused_total);
    put(o, "vigil_upgrades_refused_total{reason=\"limit\"} %llu\n",
        (unsigned long long)srv->limit_refused_total);
    family(o, "vigil_closes_total", "counter",
           "Connections the server closed, by WebSocket close code.");
    const struct {
        const char *code, *why;
        uint64_t n;
    } closes[] = {
        {"1008", "flooding", srv->flood_closed_total},
        {"1009", "message too large", srv->too_large_total},
        {"4001", "viewer too slow", srv->slow_closed_total},
        {"4003", "token expired", srv->expired_closed_total},
        {"4008", "no hello", srv->hello_timeout_total},
    };
    for (size_t i = 0; i < sizeof(closes) / sizeof(closes[0]); i++)
        put(o, "vigil_closes_total{code=\"%s\",reason=\"%s\"} %llu\n", closes[i].code,
            closes[i].why, (unsigned long long)closes[i].n);
    counter(o, "vigil_errors_sent_total", "Error replies sent (WebSocket and REST).",
            srv->errors_total);
    family(o, "vigil_http_refused_total", "counter",
           "REST requests refused at the HTTP level, by reason.");
    for (int r = 0; r < VG_HTTP_REFUSED_COUNT; r++)
        put(o, "vigil_http_refused_total{reason=\"%s\"} %llu\n", vg_http_refused_name(r),
            (unsigned long long)srv->http_refused_total[r]);
    counter(o, "vigil_auth_failed_total", "Tokens refused (WebSocket and REST).",
            srv->auth_failed_total);
    counter(o, "vigil_forbidden_total", "Requests refused to their role.", srv->forbidden_total);
    counter(o, "vigil_recordings_deleted_total", "Recordings and clips deleted over the API.",
            srv->recordings_deleted_total);
    counter(o, "vigil_rate_limited_total", "Messages dropped over the rate limit.",
            srv->rate_limited_total);
    family(o, "vigil_media_direct_writes_total", "counter",
           "The media fast path (server/media_write.h): sendmsg() calls, frames they "
           "wrote whole, frames a full socket cut and lws finished.");
    put(o, "vigil_media_direct_writes_total{what=\"calls\"} %llu\n",
        (unsigned long long)srv->media_writes.calls);
    put(o, "vigil_media_direct_writes_total{what=\"frames\"} %llu\n",
        (unsigned long long)srv->media_writes.frames);
    put(o, "vigil_media_direct_writes_total{what=\"handed\"} %llu\n",
        (unsigned long long)srv->media_writes.handed);
    counter(o, "vigil_inbox_frames_dropped_total",
            "Frames dropped because the service loop fell behind.",
            vg_inbox_dropped(&srv->inbox));
    counter(o, "vigil_config_reloads_total", "Configuration reloads applied (server/reload.h).",
            srv->reloads_total);
    counter(o, "vigil_config_reloads_refused_total",
            "Configuration reloads refused (the file did not validate).",
            srv->reloads_refused_total);
}

/* ---- streams and their variants ---------------------------------------------- */

/* One family's sample for stream `s`: {stream, variant[, extra]}. */
static void stream_labels(out *o, const char *name, const vg_stream *s) {
    put(o, "%s{stream=\"", name);
    label(o, s->id);
    put(o, "\",variant=\"");
    label(o, s->variant ? s->variant : "main");
    put(o, "\"");
}

typedef void (*stream_sample)(out *o, const char *name, const vg_stream *s);

/* Every stream and variant, one family at a time (the format wants a
 * family's samples together). */
static void each_stream(out *o, vg_server *srv, const char *name, const char *type,
                        const char *help, stream_sample sample) {
    family(o, name, type, help);
    for (size_t i = 0; i < srv->nstreams; i++) {
        vg_stream *main = srv->streams[i];
        sample(o, name, main);
        for (size_t j = 0; j < main->nvariants; j++)
            sample(o, name, main->variants[j]);
    }
}

static void s_state(out *o, const char *name, const vg_stream *s) {
    static const vg_stream_state states[] = {VG_STREAM_STARTING, VG_STREAM_LIVE,
                                             VG_STREAM_RETRYING, VG_STREAM_FAILED,
                                             VG_STREAM_STOPPED};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        stream_labels(o, name, s);
        put(o, ",state=\"%s\"} %d\n", vg_stream_state_name(states[i]), s->state == states[i]);
    }
}

static void s_viewers(out *o, const char *name, const vg_stream *s) {
    for (int r = 0; r < VG_RELAY_COUNT; r++) {
        stream_labels(o, name, s);
        put(o, ",mode=\"%s\"} %u\n", vg_relay_slot_name((vg_relay_slot)r),
            s->relays[r].viewer_count);
    }
}

/* One sample per delivery mode of a per-relay counter. */
#define PER_MODE(fn, field)                                                                        \
    static void fn(out *o, const char *name, const vg_stream *s) {                                 \
        for (int r = 0; r < VG_RELAY_COUNT; r++) {                                                 \
            stream_labels(o, name, s);                                                             \
            put(o, ",mode=\"%s\"} %llu\n", vg_relay_slot_name((vg_relay_slot)r),                  \
                (unsigned long long)s->relays[r].field);                                           \
        }                                                                                          \
    }
PER_MODE(s_frames_out, frames_out)
PER_MODE(s_bytes_out, bytes_out)
PER_MODE(s_skips, skips)
PER_MODE(s_late_skips, late_skips)

static void s_frames_in(out *o, const char *name, const vg_stream *s) {
    stream_labels(o, name, s);
    put(o, "} %llu\n", (unsigned long long)s->frames_in);
}

static void s_bytes_in(out *o, const char *name, const vg_stream *s) {
    stream_labels(o, name, s);
    put(o, "} %llu\n", (unsigned long long)s->bytes_in);
}

static void s_restarts(out *o, const char *name, const vg_stream *s) {
    stream_labels(o, name, s);
    put(o, "} %u\n", s->restarts);
}

static void s_lost(out *o, const char *name, const vg_stream *s) {
    stream_labels(o, name, s);
    put(o, "} %llu\n", (unsigned long long)vg_stream_frames_lost(s));
}

/* Rates are only meaningful while frames keep coming (as in /api/streams). */
static bool fresh(const vg_stream *s) {
    return s->state == VG_STREAM_LIVE && vg_server_now_us() - s->last_frame_us < 2000000;
}

static void s_fps(out *o, const char *name, const vg_stream *s) {
    stream_labels(o, name, s);
    put(o, "} %.1f\n", fresh(s) ? s->fps : 0.0);
}

static void s_rate(out *o, const char *name, const vg_stream *s) {
    stream_labels(o, name, s);
    put(o, "} %.0f\n", fresh(s) ? s->bitrate_bps / 8 : 0.0);
}

/* The time between the last two keyframes, while frames keep coming. */
static void s_keyframe(out *o, const char *name, const vg_stream *s) {
    stream_labels(o, name, s);
    put(o, "} %.3f\n", fresh(s) ? (double)s->keyframe_interval_us / 1e6 : 0.0);
}

/* ---- recordings (media/recorder.h) ---------------------------------------- */

/* One family over the streams that record (main streams only): the sink's
 * status field `which`, or the recorder's dropped frames. */
typedef enum record_value {
    R_BYTES,
    R_SEGMENTS,
    R_DROPPED,
    R_ERRORS,
    R_DELETED,
    R_CLIPS,
    R_CLIPS_REFUSED,
} record_value;

static void record_family(out *o, vg_server *srv, const char *name, const char *help,
                          record_value which) {
    family(o, name, "counter", help);
    for (size_t i = 0; i < srv->nstreams; i++) {
        const vg_stream *s = srv->streams[i];
        if (!s->recorder) continue;
        vg_record_status st;
        uint64_t dropped;
        vg_recorder_status(s->recorder, &st, &dropped);
        const uint64_t v[] = {st.bytes,   st.segments, dropped, st.errors, st.deleted,
                              s->recorder->clips_started, s->recorder->clips_refused};
        put(o, "%s{stream=\"", name);
        label(o, s->id);
        put(o, "\"} %llu\n", (unsigned long long)v[which]);
    }
}

static void recordings(out *o, vg_server *srv) {
    bool any = false;
    for (size_t i = 0; i < srv->nstreams; i++)
        any = any || srv->streams[i]->recorder;
    if (!any) return;
    record_family(o, srv, "vigil_record_bytes_total", "Bytes written to recordings.", R_BYTES);
    record_family(o, srv, "vigil_record_segments_total", "Recording segments started.",
                  R_SEGMENTS);
    record_family(o, srv, "vigil_record_frames_dropped_total",
                  "Frames not recorded: the recording queue was full (the disk fell behind).",
                  R_DROPPED);
    record_family(o, srv, "vigil_record_errors_total",
                  "Recording failures (disk full, directory missing or read-only).", R_ERRORS);
    record_family(o, srv, "vigil_record_segments_deleted_total",
                  "Recording segments removed by retention.", R_DELETED);
    record_family(o, srv, "vigil_clips_total", "Clips started (asked for, or device events).",
                  R_CLIPS);
    record_family(o, srv, "vigil_clips_refused_total",
                  "Clips refused: too many of the stream's clips were being made.",
                  R_CLIPS_REFUSED);
    family(o, "vigil_clip_events_ignored_total", "counter",
           "Device events that match a clip rule while the device's clip is being made.");
    put(o, "vigil_clip_events_ignored_total %llu\n",
        (unsigned long long)srv->clip_events_ignored_total);
}

/* ---- push sources' UDP receivers (media/rtp_rx.h) ------------------------- */

static bool is_push(const vg_stream *s) {
    return vg_rtp_is_push_uri(s->source);
}

/* A push stream's receiver counters; zeros while it has no receiver. */
static const vg_rtp_counters *rtp_counters(const vg_stream *s) {
    static const vg_rtp_counters none;
    return s->ingest ? vg_rtp_ingest_counters(s->ingest) : &none;
}

static void s_rtp_packets(out *o, const char *name, const vg_stream *s) {
    if (!is_push(s)) return;
    stream_labels(o, name, s);
    put(o, "} %llu\n", (unsigned long long)atomic_load(&rtp_counters(s)->packets));
}

static void s_rtp_bytes(out *o, const char *name, const vg_stream *s) {
    if (!is_push(s)) return;
    stream_labels(o, name, s);
    put(o, "} %llu\n", (unsigned long long)atomic_load(&rtp_counters(s)->bytes));
}

static void s_rtp_dropped(out *o, const char *name, const vg_stream *s) {
    if (!is_push(s)) return;
    const vg_rtp_counters *c = rtp_counters(s);
    const struct {
        const char *reason;
        uint64_t n;
    } dropped[] = {
        {"malformed", atomic_load(&c->malformed)},
        {"auth_failed", atomic_load(&c->auth_failed)},
        {"replayed", atomic_load(&c->replayed)},
        {"ignored", atomic_load(&c->ignored)},
    };
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
        stream_labels(o, name, s);
        put(o, ",reason=\"%s\"} %llu\n", dropped[i].reason, (unsigned long long)dropped[i].n);
    }
}

/* Only push sources (srtp://, rtp://) have a receiver: no family without one. */
static void ingest(out *o, vg_server *srv) {
    bool any = false;
    for (size_t i = 0; i < srv->nstreams; i++)
        any = any || is_push(srv->streams[i]);
    if (!any) return;
    each_stream(o, srv, "vigil_stream_rtp_packets_total", "counter",
                "RTP packets a push source's receiver accepted (video and sound).",
                s_rtp_packets);
    each_stream(o, srv, "vigil_stream_rtp_bytes_total", "counter",
                "Bytes of the RTP packets a push source's receiver accepted.", s_rtp_bytes);
    each_stream(o, srv, "vigil_stream_rtp_packets_dropped_total", "counter",
                "Datagrams a push source's receiver dropped, by reason.", s_rtp_dropped);
}

static void streams(out *o, vg_server *srv) {
    each_stream(o, srv, "vigil_stream_state", "gauge",
                "1 for the state a stream (or variant) is in, 0 for the others.", s_state);
    each_stream(o, srv, "vigil_stream_viewers", "gauge", "Viewers by delivery mode.", s_viewers);
    each_stream(o, srv, "vigil_stream_frames_in_total", "counter",
                "Frames taken in from the source (video and audio).", s_frames_in);
    each_stream(o, srv, "vigil_stream_bytes_in_total", "counter",
                "Bytes of media taken in from the source.", s_bytes_in);
    each_stream(o, srv, "vigil_stream_frames_out_total", "counter",
                "Frames written to viewers, by delivery mode.", s_frames_out);
    each_stream(o, srv, "vigil_stream_bytes_out_total", "counter",
                "Bytes written to viewers (frame headers included), by delivery mode.",
                s_bytes_out);
    each_stream(o, srv, "vigil_stream_skips_total", "counter",
                "Viewer queue overflows (the viewer skipped to the next keyframe).", s_skips);
    each_stream(o, srv, "vigil_stream_late_skips_total", "counter",
                "Of those, the skips for a frame queued longer than viewer_queue_ms.",
                s_late_skips);
    each_stream(o, srv, "vigil_stream_restarts_total", "counter", "Source restarts.",
                s_restarts);
    each_stream(o, srv, "vigil_stream_frames_lost_total", "counter",
                "Frames the server could not relay (its service loop fell behind).", s_lost);
    each_stream(o, srv, "vigil_stream_frames_per_second", "gauge",
                "Video frames per second over the last second (0 when not live).", s_fps);
    each_stream(o, srv, "vigil_stream_in_bytes_per_second", "gauge",
                "Bytes per second taken in over the last second (0 when not live).", s_rate);
    each_stream(o, srv, "vigil_stream_keyframe_interval_seconds", "gauge",
                "Time between the last two video keyframes (0 when not live or not known yet).",
                s_keyframe);
    ingest(o, srv);
    recordings(o, srv);
}

/* ---- device control ------------------------------------------------------- */

/* Commands issued, by final status, and their latency (control.h). */
static void outcomes(out *o, const control_t *c) {
    size_t n = c ? control_device_count(c) : 0;
    if (!n) return;
    uint64_t issued;
    control_outcomes oc;
    const char *id;
    family(o, "vigil_device_commands_issued_total", "counter", "Commands issued to a device.");
    for (size_t i = 0; (id = control_device_outcomes(c, i, &issued, &oc)); i++) {
        put(o, "vigil_device_commands_issued_total{device=\"");
        label(o, id);
        put(o, "\"} %llu\n", (unsigned long long)issued);
    }
    family(o, "vigil_device_commands_total", "counter",
           "Commands that reached their final status, by status.");
    for (size_t i = 0; (id = control_device_outcomes(c, i, &issued, &oc)); i++)
        for (int st = CONTROL_ACKNOWLEDGED; st <= CONTROL_TIMEOUT; st++) {
            put(o, "vigil_device_commands_total{device=\"");
            label(o, id);
            put(o, "\",status=\"%s\"} %llu\n", control_status_name((control_status)st),
                (unsigned long long)oc.by_status[st]);
        }
    family(o, "vigil_device_command_latency_seconds", "histogram",
           "Time from a command's issue to its final status.");
    for (size_t i = 0; (id = control_device_outcomes(c, i, &issued, &oc)); i++)
        histogram(o, "vigil_device_command_latency_seconds", "device", id,
                  control_latency_bounds_s, oc.latency_in, CONTROL_LATENCY_BUCKETS,
                  oc.latency_count, oc.latency_sum_s);
}

static void devices(out *o, vg_server *srv) {
    json_t *st = vg_devices_stats(srv);
    json_t *transports = json_object_get(st, "transports");
    json_t *devs = json_object_get(st, "devices");
    const char *key;
    json_t *v;
    if (json_object_size(transports)) {
        family(o, "vigil_transport_connected", "gauge",
               "1 while a device transport is connected (its broker, or its socket).");
        json_object_foreach(transports, key, v) {
            put(o, "vigil_transport_connected{transport=\"");
            label(o, key);
            put(o, "\"} %d\n", json_is_true(json_object_get(v, "connected")));
        }
    }
    static const struct {
        const char *field, *name, *help;
    } per_device[] = {
        {"malformed", "vigil_device_malformed_reports_total",
         "Reports from a device that could not be used."},
        {"telemetry", "vigil_device_telemetry_total", "Telemetry reports from a device."},
    };
    for (size_t i = 0; json_object_size(devs) && i < sizeof(per_device) / sizeof(per_device[0]);
         i++) {
        family(o, per_device[i].name, "counter", per_device[i].help);
        json_object_foreach(devs, key, v) {
            put(o, "%s{device=\"", per_device[i].name);
            label(o, key);
            put(o, "\"} %lld\n", (long long)json_integer_value(json_object_get(v, per_device[i].field)));
        }
    }
    json_decref(st);
    outcomes(o, srv->control);
}

/* ---- snapshots (server/snapshots.h) ------------------------------------------ */

static void snapshots(out *o, vg_server *srv) {
    const vg_snapshots *c = &srv->snapshots;
    family(o, "vigil_snapshots_total", "counter",
           "Snapshots (GET /api/streams/{id}/snapshot.jpg), by result: made (a JPEG made), "
           "cached (a request answered with a JPEG not made for it), failed (a make that "
           "failed), busy (a request refused: too many in flight).");
    const struct {
        const char *result;
        uint64_t n;
    } results[] = {{"made", c->made}, {"cached", c->cached}, {"failed", c->failed},
                   {"busy", c->busy}};
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
        put(o, "vigil_snapshots_total{result=\"%s\"} %llu\n", results[i].result,
            (unsigned long long)results[i].n);
    family(o, "vigil_snapshot_make_seconds_total", "counter",
           "Time the snapshot worker spent decoding and encoding.");
    put(o, "vigil_snapshot_make_seconds_total %.6f\n", (double)c->make_us_total / 1e6);
}

/* A cluster node (server/cluster_node.h): nothing without one. */
static void cluster(out *o, vg_server *srv) {
    vg_cluster_counters c;
    uint64_t stale;
    if (!vg_cluster_node_counters(srv, &c, &stale)) return;
    family(o, "vigil_cluster_connected", "gauge", "1 while connected to a NATS server.");
    put(o, "vigil_cluster_connected %d\n", vg_cluster_node_connected(srv) ? 1 : 0);
    counter(o, "vigil_cluster_frames_published_total",
            "Frames of streams ingested here, published once each to NATS.", c.frames_published);
    counter(o, "vigil_cluster_frames_publish_dropped_total",
            "Frames not published (queue full, or NATS refused them).", c.frames_publish_dropped);
    counter(o, "vigil_cluster_frames_received_total",
            "Frames of streams other nodes ingest, received from NATS.", c.frames_received);
    counter(o, "vigil_cluster_frames_stale_total",
            "Frames from a node that no longer ingests the stream (an old epoch), dropped.", stale);
    counter(o, "vigil_cluster_messages_sent_total", "Control messages sent to other nodes.",
            c.messages_sent);
    counter(o, "vigil_cluster_messages_received_total",
            "Control messages received on the cluster's control subject.", c.messages_received);
    counter(o, "vigil_cluster_messages_dropped_total",
            "Messages on vigil's subjects that were unusable (garbage, foreign), dropped.",
            c.messages_dropped);
    counter(o, "vigil_cluster_lease_errors_total", "Lease operations that failed.",
            c.lease_errors);
    counter(o, "vigil_cluster_disconnects_total", "Connections to NATS lost.", c.disconnects);
}

char *vg_metrics_render(vg_server *srv, size_t *len) {
    out o = {.buf = malloc(4096), .cap = 4096};
    if (!o.buf) return NULL;
    o.buf[0] = 0;
    process(&o, srv);
    connections(&o, srv);
    streams(&o, srv);
    snapshots(&o, srv);
    devices(&o, srv);
    cluster(&o, srv);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
