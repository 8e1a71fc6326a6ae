/* uplink.c -- the agent's connection to vigil (uplink.h): one lws client
 * protocol callback, as in the lws minimal examples, and the vigil.v1
 * conversation it carries. */
#include "agent/uplink.h"

#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/backlog.h"
#include "common/clock.h"
#include "common/log.h"

#define FRAME_HEADER    16          /* PROTOCOL.md, "Publishing" */
#define MAX_TEXT_IN     (64 * 1024) /* what vigil sends us is small */
#define MAX_TEXT_OUT    256         /* queued text messages while connected */
#define NOTSENT_LOWAT   (16 * 1024) /* unsent bytes in the socket before we add more */
#define TICK_US         (1000 * 1000)
#define STABLE_US       (10 * 1000000LL) /* up this long: the backoff starts over */
#define SOCKET_BUDGET_MS 200 /* what the socket may hold, in time to drain (backlog.h) */
#define HELD_RETRY_US   (20 * 1000)

size_t ag_uplink_headroom(void) {
    return LWS_PRE + FRAME_HEADER;
}

typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE, then the text */
} outmsg;

typedef enum up_state {
    UP_IDLE,       /* no connection; a connect is scheduled */
    UP_CONNECTING, /* TCP/TLS/upgrade under way */
    UP_HELLO,      /* connected, hello sent */
    UP_READY,      /* signed in */
} up_state;

struct ag_uplink {
    const ag_config *cfg;  /* borrowed, read-only */
    ag_media *media;       /* driven, not owned; NULL: no stream */
    ag_commands *commands; /* driven, not owned; NULL: no device */
    struct lws_context *ctx;
    struct lws *wsi; /* the connection, NULL when none */
    up_state state;
    lws_sorted_usec_list_t connect_sul, tick_sul, held_sul;
    volatile sig_atomic_t stop; /* set by ag_uplink_stop() from anywhere */
    /* this connection */
    outmsg *out_head, *out_tail;
    unsigned out_count;
    char *rx;
    size_t rx_len;
    uint32_t channel;    /* publishing on it; 0: not publishing */
    bool publish_sent, serve_sent;
    bool need_key;       /* publishing: video frames wait for a keyframe */
    int64_t established_us;
    uint16_t close_code; /* the code of vigil's close frame, 0 if none */
    char close_reason[124];
    unsigned next_id;
    /* across connections */
    unsigned attempt;         /* failed connects in a row */
    int64_t next_delay_ms;    /* >0: the next connect waits this long (vigil said so, or refused) */
    int64_t publish_retry_us, serve_retry_us; /* refused: ask again after (monotonic) */
    unsigned stats_s;
    int64_t stats_due_us;
    uint64_t connects, frames_sent, bytes_sent, frames_unsent, backlog_holds;
    uint64_t send_Bps, bytes_at_tick; /* what we have been sending (on_tick) */
};

static const lws_retry_bo_t idle_policy = {
    /* vigil says little while we stream: ping it when it has been quiet for
     * 20 s, and give the connection up if it stays silent 10 s more. */
    .secs_since_valid_ping = 20,
    .secs_since_valid_hangup = 30,
};

/* ---- text out ---------------------------------------------------------- */

static void drop_text(ag_uplink *u) {
    while (u->out_head) {
        outmsg *m = u->out_head;
        u->out_head = m->next;
        free(m);
    }
    u->out_tail = NULL;
    u->out_count = 0;
}

/* ag_send_fn: queues msg (stolen) while connected, drops it otherwise. */
static void send_json(void *user, json_t *msg) {
    ag_uplink *u = user;
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text) return;
    size_t len = strlen(text);
    outmsg *m = u->wsi && u->out_count < MAX_TEXT_OUT ? malloc(sizeof *m + LWS_PRE + len) : NULL;
    if (!m) {
        if (u->wsi) vg_log(VG_LOG_WARN, "vigil does not read our messages: one dropped");
        free(text);
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    free(text);
    if (u->out_tail)
        u->out_tail->next = m;
    else
        u->out_head = m;
    u->out_tail = m;
    u->out_count++;
    lws_callback_on_writable(u->wsi);
}

static void request(ag_uplink *u, const char *id, json_t *msg) {
    if (!msg) return;
    json_object_set_new(msg, "id", json_string(id));
    send_json(u, msg);
}

/* ---- connecting -------------------------------------------------------- */

static int64_t jittered(int64_t ms) {
    uint16_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r) r = (uint16_t)vg_monotonic_us();
    return ms * (80 + (int64_t)(r % 41)) / 100; /* 80 % .. 120 % */
}

static void do_connect(lws_sorted_usec_list_t *sul);

/* The connection is gone (or never came): plan the next one. */
static void schedule_connect(ag_uplink *u) {
    if (u->stop) return;
    int64_t ms;
    if (u->next_delay_ms > 0) {
        ms = u->next_delay_ms;
    } else {
        ms = (int64_t)u->cfg->reconnect_min_s * 1000;
        for (unsigned i = 0; i < u->attempt && ms < (int64_t)u->cfg->reconnect_max_s * 1000; i++)
            ms *= 2;
        if (ms > (int64_t)u->cfg->reconnect_max_s * 1000)
            ms = (int64_t)u->cfg->reconnect_max_s * 1000;
    }
    ms = jittered(ms);
    u->next_delay_ms = 0;
    u->attempt++;
    u->state = UP_IDLE;
    vg_log(VG_LOG_INFO, "connecting to vigil again in %.1f s", (double)ms / 1000);
    lws_sul_schedule(u->ctx, 0, &u->connect_sul, do_connect, ms * LWS_US_PER_MS);
}

static void do_connect(lws_sorted_usec_list_t *sul) {
    ag_uplink *u = lws_container_of(sul, ag_uplink, connect_sul);
    const ag_config *c = u->cfg;
    struct lws_client_connect_info ci = {
        .context = u->ctx,
        .address = c->host,
        .port = c->port,
        .path = c->path,
        .host = c->host,
        .protocol = "vigil.v1",
        .ssl_connection = c->tls ? LCCSCF_USE_SSL : 0,
        .retry_and_idle_policy = &idle_policy,
        .pwsi = &u->wsi,
    };
    u->state = UP_CONNECTING;
    u->connects++;
    if (!lws_client_connect_via_info(&ci)) {
        u->wsi = NULL;
        vg_log(VG_LOG_WARN, "cannot connect to %s", c->server_url);
        schedule_connect(u);
    }
}

/* Why a connection attempt failed, in words an operator acts on. */
static void connect_failed(ag_uplink *u, const char *why) {
    u->wsi = NULL;
    const char *w = why ? why : "unknown reason";
    if (strcasestr(w, "cert") || strcasestr(w, "ssl") || strcasestr(w, "tls") ||
        strcasestr(w, "verif")) {
        u->next_delay_ms = (int64_t)u->cfg->refused_s * 1000;
        vg_log(VG_LOG_ERROR,
               "TLS: vigil's certificate was not accepted (%s): check ca_file%s%s and the host "
               "name in \"server\"; retrying in %u s",
               w, u->cfg->ca_file ? " " : "", u->cfg->ca_file ? u->cfg->ca_file : "",
               u->cfg->refused_s);
    } else {
        vg_log(VG_LOG_WARN, "cannot reach vigil at %s: %s", u->cfg->server_url, w);
    }
    schedule_connect(u);
}

static void on_established(ag_uplink *u, struct lws *wsi) {
    u->wsi = wsi;
    u->state = UP_HELLO;
    u->established_us = vg_monotonic_us();
    u->channel = 0;
    u->publish_sent = u->serve_sent = false;
    u->publish_retry_us = u->serve_retry_us = 0;
    u->close_code = 0;
    u->close_reason[0] = 0;
    /* Keep what the kernel holds unsent small: frames wait in the camera's
     * queue instead, where they can still be dropped (uplink.h). */
    int lowat = NOTSENT_LOWAT, fd = lws_get_socket_fd(wsi);
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat))
        vg_log(VG_LOG_WARN, "TCP_NOTSENT_LOWAT: %m");
    vg_log(VG_LOG_INFO, "connected to %s", u->cfg->server_url);
    request(u, "hello", json_pack("{s:s, s:s}", "type", "hello", "token", u->cfg->token));
}

static void on_closed(ag_uplink *u) {
    u->wsi = NULL;
    drop_text(u);
    free(u->rx);
    u->rx = NULL;
    u->rx_len = 0;
    bool was_publishing = u->channel != 0;
    u->channel = 0;
    if (u->commands) ag_commands_flush(u->commands, NULL, NULL);
    if (u->close_code == 4003 && u->next_delay_ms <= 0)
        u->next_delay_ms = (int64_t)u->cfg->refused_s * 1000;
    vg_log(VG_LOG_WARN, "connection to vigil lost%s (close %u%s%s)",
           was_publishing ? " while publishing" : "", u->close_code,
           u->close_reason[0] ? ": " : "", u->close_reason);
    if (vg_monotonic_us() - u->established_us > STABLE_US) u->attempt = 0;
    schedule_connect(u);
}

/* ---- what vigil says ----------------------------------------------------- */

static void maybe_publish(ag_uplink *u) {
    if (!u->media || u->state != UP_READY || u->publish_sent ||
        vg_monotonic_us() < u->publish_retry_us)
        return;
    char codec[64];
    ag_media_codec(u->media, codec, sizeof codec);
    if (!codec[0]) return; /* the camera's first frame tells; the wake comes back here */
    json_t *video = json_pack("{s:s}", "codec", codec);
    json_t *msg = json_pack("{s:s, s:s, s:o}", "type", "publish", "stream", u->cfg->stream_id,
                            "video", video);
    if (msg && ag_media_has_audio(u->media))
        json_object_set_new(msg, "audio",
                            json_pack("{s:s, s:i, s:i}", "codec", "opus", "sample_rate", 48000,
                                      "channels", ag_media_audio_channels(u->media)));
    u->publish_sent = true;
    request(u, "publish", msg);
}

static void maybe_serve(ag_uplink *u) {
    if (!u->commands || !u->cfg->device_id || u->state != UP_READY || u->serve_sent ||
        vg_monotonic_us() < u->serve_retry_us)
        return;
    u->serve_sent = true;
    request(u, "serve", json_pack("{s:s, s:[s]}", "type", "serve", "devices", u->cfg->device_id));
}

/* The device's state as the dashboard shows it: who serves it, from where,
 * with which commands. */
static void send_state(ag_uplink *u) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_t *commands = json_array();
    for (size_t i = 0; i < u->cfg->ncommands; i++)
        json_array_append_new(commands, json_string(u->cfg->commands[i].name));
    json_t *state = json_pack("{s:s, s:s, s:o, s:o}", "agent", "vigil-agent " AG_VERSION, "host",
                              host, "commands", commands, "stream",
                              u->cfg->stream_id ? json_string(u->cfg->stream_id) : json_null());
    if (!state) return;
    char id[16];
    snprintf(id, sizeof id, "r%u", ++u->next_id);
    request(u, id, json_pack("{s:s, s:s, s:o}", "type", "report", "device", u->cfg->device_id,
                             "state", state));
}

static void on_error(ag_uplink *u, const char *id, json_t *msg) {
    const char *code = json_string_value(json_object_get(msg, "code"));
    const char *text = json_string_value(json_object_get(msg, "message"));
    code = code ? code : "?";
    text = text ? text : "";
    int64_t later = vg_monotonic_us() + (int64_t)u->cfg->refused_s * 1000000;
    if (id && !strcmp(id, "hello")) {
        vg_log(VG_LOG_ERROR, "vigil refused the token (%s: %s): mint a device token with "
               "`vigil token --role device`; retrying in %u s", code, text, u->cfg->refused_s);
        u->next_delay_ms = (int64_t)u->cfg->refused_s * 1000;
    } else if (id && !strcmp(id, "publish")) {
        vg_log(VG_LOG_ERROR, "vigil refused stream '%s' (%s: %s); asking again in %u s",
               u->cfg->stream_id, code, text, u->cfg->refused_s);
        u->publish_sent = false;
        u->publish_retry_us = later;
    } else if (id && !strcmp(id, "serve")) {
        vg_log(VG_LOG_ERROR, "vigil refused device '%s' (%s: %s); asking again in %u s",
               u->cfg->device_id, code, text, u->cfg->refused_s);
        u->serve_sent = false;
        u->serve_retry_us = later;
    } else {
        vg_log(VG_LOG_WARN, "vigil: %s: %s", code, text);
    }
}

static void on_text(ag_uplink *u, const char *text, size_t len) {
    json_t *msg = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *id = json_string_value(json_object_get(msg, "id"));
    if (!type) {
        vg_log(VG_LOG_WARN, "vigil sent something that is not a vigil.v1 message: ignored");
    } else if (!strcmp(type, "error")) {
        on_error(u, id, msg);
    } else if (!strcmp(type, "hello")) {
        u->state = UP_READY;
        json_t *access = json_object_get(msg, "access");
        vg_log(VG_LOG_INFO, "signed in to vigil as '%s' (role %s)",
               json_string_value(json_object_get(access, "sub")),
               json_string_value(json_object_get(access, "role")));
        maybe_publish(u);
        maybe_serve(u);
    } else if (!strcmp(type, "publish")) {
        u->channel = (uint32_t)json_integer_value(json_object_get(msg, "channel"));
        /* The keyframe that told the codec is still queued (on_wake keeps
         * frames while the publish is in flight): start with it. */
        u->need_key = true;
        vg_log(VG_LOG_INFO, "publishing stream '%s' on channel %u", u->cfg->stream_id,
               u->channel);
        lws_callback_on_writable(u->wsi);
    } else if (!strcmp(type, "serve")) {
        vg_log(VG_LOG_INFO, "serving device '%s'", u->cfg->device_id);
        send_state(u);
    } else if (!strcmp(type, "device.command") && u->commands) {
        ag_commands_on_command(u->commands, msg, send_json, u);
    } else if (!strcmp(type, "server.shutdown")) {
        json_int_t after = json_integer_value(json_object_get(msg, "reconnect_after_ms"));
        u->next_delay_ms = after > 0 && after < 600000 ? after : 2000;
        vg_log(VG_LOG_INFO, "vigil is shutting down; reconnecting after it");
    } else if (!strcmp(type, "stream.removed")) {
        u->channel = 0;
        u->publish_sent = false;
        u->publish_retry_us = vg_monotonic_us() + (int64_t)u->cfg->refused_s * 1000000;
        vg_log(VG_LOG_WARN, "vigil removed stream '%s'", u->cfg->stream_id);
    } else if (!strcmp(type, "device.removed")) {
        vg_log(VG_LOG_WARN, "vigil no longer takes device '%s' from agents", u->cfg->device_id);
    }
    json_decref(msg);
}

static int on_receive(ag_uplink *u, struct lws *wsi, const void *in, size_t len) {
    if (lws_frame_is_binary(wsi)) return 0; /* vigil sends agents no media */
    bool last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (last && !u->rx) {
        on_text(u, in, len);
        return 0;
    }
    if (u->rx_len + len > MAX_TEXT_IN) {
        vg_log(VG_LOG_WARN, "vigil sent a message over %d bytes: dropping the connection",
               MAX_TEXT_IN);
        return -1;
    }
    char *grown = realloc(u->rx, u->rx_len + len);
    if (!grown) return -1;
    u->rx = grown;
    memcpy(u->rx + u->rx_len, in, len);
    u->rx_len += len;
    if (last) {
        on_text(u, u->rx, u->rx_len);
        free(u->rx);
        u->rx = NULL;
        u->rx_len = 0;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void retry_held(lws_sorted_usec_list_t *sul) {
    ag_uplink *u = lws_container_of(sul, ag_uplink, held_sul);
    if (u->wsi) lws_callback_on_writable(u->wsi);
}

/* True when the socket already holds more than SOCKET_BUDGET_MS of bytes, at
 * the lower of the kernel's delivery rate and our own sending rate: the next
 * frame waits (and ages in the camera's queue), and we look again a little
 * later, since the socket itself stays writable. */
static bool backed_up(ag_uplink *u, struct lws *wsi) {
    ag_backlog b;
    if (!ag_socket_backlog(lws_get_socket_fd(wsi), &b)) return false;
    uint64_t rate = u->send_Bps && u->send_Bps < b.rate_Bps ? u->send_Bps : b.rate_Bps;
    if ((uint64_t)b.bytes * 1000 <= rate * SOCKET_BUDGET_MS) return false;
    u->backlog_holds++;
    lws_sul_schedule(u->ctx, 0, &u->held_sul, retry_held, HELD_RETRY_US);
    return true;
}

/* The next frame to send, or NULL; after a publish, video from a keyframe. */
static ag_frame *next_frame(ag_uplink *u) {
    for (ag_frame *f; (f = ag_media_take(u->media));) {
        if (!u->need_key || (f->kind == AG_FRAME_VIDEO && f->key)) {
            u->need_key = false;
            return f;
        }
        u->frames_unsent++;
        ag_frame_free(f);
    }
    return NULL;
}

/* One message per writable callback: text first, then a frame. */
static int on_writable(ag_uplink *u, struct lws *wsi) {
    if (u->out_head) {
        outmsg *m = u->out_head;
        u->out_head = m->next;
        if (!u->out_head) u->out_tail = NULL;
        u->out_count--;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        size_t len = m->len;
        free(m);
        if (n < (int)len) return -1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (!u->channel || !u->media || backed_up(u, wsi)) return 0;
    ag_frame *f = next_frame(u);
    if (!f) return 0;
    uint8_t *h = f->data - FRAME_HEADER;
    h[0] = 1;
    h[1] = f->kind;
    h[2] = f->key ? 1 : 0;
    h[3] = 0;
    put_be32(h + 4, u->channel);
    put_be32(h + 8, (uint32_t)((uint64_t)f->pts_us >> 32));
    put_be32(h + 12, (uint32_t)(uint64_t)f->pts_us);
    size_t len = f->len + FRAME_HEADER;
    int n = lws_write(wsi, h, len, LWS_WRITE_BINARY);
    ag_frame_free(f);
    if (n < (int)len) return -1;
    u->frames_sent++;
    u->bytes_sent += len;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Another thread woke us: frames are waiting, or handlers finished. */
static void on_wake(ag_uplink *u) {
    if (u->commands)
        ag_commands_flush(u->commands, u->state == UP_READY ? send_json : NULL, u);
    if (!u->media) return;
    maybe_publish(u);
    if (u->channel) {
        lws_callback_on_writable(u->wsi);
        return;
    }
    if (u->publish_sent && u->wsi) return; /* the reply comes soon; the age bound holds */
    /* Not publishing: what the camera made has no one to go to. */
    for (ag_frame *f; (f = ag_media_take(u->media));) {
        u->frames_unsent++;
        ag_frame_free(f);
    }
}

static void log_stats(ag_uplink *u) {
    json_t *s = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I}", "connected",
                          u->state == UP_READY, "publishing", u->channel != 0, "connects",
                          (json_int_t)u->connects, "frames_sent", (json_int_t)u->frames_sent,
                          "bytes_sent", (json_int_t)u->bytes_sent, "frames_unsent",
                          (json_int_t)u->frames_unsent, "backlog_holds",
                          (json_int_t)u->backlog_holds);
    if (s && u->media) {
        ag_media_stats m;
        ag_media_stats_get(u->media, &m);
        json_object_set_new(s, "media",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I}", "video_frames",
                                      (json_int_t)m.video_frames, "audio_frames",
                                      (json_int_t)m.audio_frames, "dropped_video",
                                      (json_int_t)m.dropped_video, "dropped_audio",
                                      (json_int_t)m.dropped_audio, "skips", (json_int_t)m.skips,
                                      "queued_frames", (int)m.queued_frames, "queued_bytes",
                                      (json_int_t)m.queued_bytes, "restarts",
                                      (json_int_t)m.restarts));
    }
    if (s && u->commands) {
        uint64_t n[4];
        ag_commands_counts(u->commands, n);
        json_object_set_new(s, "commands",
                            json_pack("{s:I, s:I, s:I, s:I}", "handled", (json_int_t)n[0],
                                      "acknowledged", (json_int_t)n[1], "rejected",
                                      (json_int_t)n[2], "timeout", (json_int_t)n[3]));
    }
    char *text = s ? json_dumps(s, JSON_COMPACT) : NULL;
    if (text) vg_log(VG_LOG_INFO, "stats %s", text);
    free(text);
    json_decref(s);
}

static void on_tick(lws_sorted_usec_list_t *sul) {
    ag_uplink *u = lws_container_of(sul, ag_uplink, tick_sul);
    int64_t now = vg_monotonic_us();
    if (u->commands) ag_commands_tick(u->commands, now / 1000);
    /* Our sending rate, smoothed over a few seconds (backed_up). */
    uint64_t sent = u->bytes_sent - u->bytes_at_tick;
    u->bytes_at_tick = u->bytes_sent;
    u->send_Bps = u->channel ? (u->send_Bps ? (u->send_Bps + sent) / 2 : sent) : 0;
    maybe_publish(u); /* refused earlier: ask again once the time has come */
    maybe_serve(u);
    if (u->stats_s && now >= u->stats_due_us) {
        u->stats_due_us = now + (int64_t)u->stats_s * 1000000;
        log_stats(u);
    }
    lws_sul_schedule(u->ctx, 0, &u->tick_sul, on_tick, TICK_US);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    (void)user;
    ag_uplink *u = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        connect_failed(u, in);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        on_established(u, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(u, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writable(u, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const uint8_t *p = in;
            u->close_code = (uint16_t)(p[0] << 8 | p[1]);
            snprintf(u->close_reason, sizeof u->close_reason, "%.*s", (int)(len - 2),
                     (const char *)in + 2);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        on_closed(u);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (u) on_wake(u);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"vigil.v1", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_to_ours(int level, const char *line) {
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    vg_log(level == LLL_ERR ? VG_LOG_ERROR : VG_LOG_WARN, "lws: %.*s", (int)n, line);
}

ag_uplink *ag_uplink_new(const ag_config *cfg, unsigned stats_s, char *err, size_t errlen) {
    ag_uplink *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->cfg = cfg;
    u->stats_s = stats_s;
    lws_set_log_level(LLL_ERR, lws_log_to_ours);
    struct lws_context_creation_info info = {
        .port = CONTEXT_PORT_NO_LISTEN,
        .protocols = protocols,
        .options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT,
        .client_ssl_ca_filepath = cfg->ca_file,
        .user = u,
        .gid = -1,
        .uid = -1,
    };
    u->ctx = lws_create_context(&info);
    if (!u->ctx) {
        snprintf(err, errlen, "cannot set up the connection%s%s", cfg->ca_file ? " (ca_file " : "",
                 cfg->ca_file ? cfg->ca_file : "");
        if (cfg->ca_file) snprintf(err + strlen(err), errlen - strlen(err), ")");
        free(u);
        return NULL;
    }
    return u;
}

void ag_uplink_drive(ag_uplink *u, ag_media *media, ag_commands *commands) {
    u->media = media;
    u->commands = commands;
}

void ag_uplink_wake(void *uplink) {
    ag_uplink *u = uplink;
    if (u && u->ctx) lws_cancel_service(u->ctx);
}

int ag_uplink_run(ag_uplink *u) {
    lws_sul_schedule(u->ctx, 0, &u->connect_sul, do_connect, 1);
    lws_sul_schedule(u->ctx, 0, &u->tick_sul, on_tick, TICK_US);
    while (!u->stop)
        if (lws_service(u->ctx, 0) < 0) break;
    return 0;
}

void ag_uplink_stop(ag_uplink *u) {
    u->stop = 1;
    lws_cancel_service(u->ctx);
}

void ag_uplink_finish(ag_uplink *u) {
    log_stats(u);
    u->media = NULL;
    u->commands = NULL;
}

void ag_uplink_free(ag_uplink *u) {
    if (!u) return;
    lws_context_destroy(u->ctx); /* closes the connection: on_closed runs */
    drop_text(u);
    free(u->rx);
    free(u);
}
