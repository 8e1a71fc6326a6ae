/* session.c -- one vigil.v1 client: queues, subscriptions, writing (see
 * session.h). */
#include "server/session.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "server/agents.h"
#include "server/media_write.h"
#include "server/server.h"

/* The kernel's send buffer, per connection. Left to autotuning it grows to
 * net.ipv4.tcp_wmem's maximum (4 MiB here: 16 s of a 2 Mbit/s stream), where
 * a slow viewer's backlog hides from the viewer queue's skip policy. Linux
 * doubles the value asked for; 256 KiB gives about 2 s at 2 Mbit/s. */
#define VG_SESSION_SNDBUF (256 * 1024)

static void bound_send_buffer(struct lws *wsi) {
    int fd = (int)lws_get_socket_fd(wsi), size = VG_SESSION_SNDBUF;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int vg_session_init(vg_session *s, vg_server *server, struct lws *wsi, uint32_t max_subs) {
    bound_send_buffer(wsi);
    memset(s, 0, sizeof(*s));
    s->wsi = wsi;
    s->server = server;
    s->max_subs = max_subs; /* s->subs grows on demand: most viewers watch one stream */
    return 0;
}

static void free_subscription(vg_subscription *sub) {
    vg_relay_detach(&sub->viewer);
    free(sub);
}

void vg_session_destroy(vg_session *s) {
    vg_ready_list_remove(&s->server->ready, s);
    vg_access_clear(&s->access);
    for (uint32_t i = 0; i < s->nsubs; i++)
        free_subscription(s->subs[i]);
    free(s->subs);
    s->subs = NULL;
    s->nsubs = 0;
    while (s->out_head) {
        vg_outmsg *m = s->out_head;
        s->out_head = m->next;
        free(m->command_id);
        free(m);
    }
    json_decref(s->serves);
    s->serves = NULL;
    s->out_tail = NULL;
    free(s->rx);
    s->rx = NULL;
}

static bool has_pending(const vg_session *s) {
    if (s->closing || s->out_head) return true;
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (!vg_viewer_queue_empty(&s->subs[i]->viewer.queue)) return true;
    return false;
}

void vg_session_want_write(vg_session *s) {
    if (has_pending(s)) lws_callback_on_writable(s->wsi);
}

void vg_session_close(vg_session *s, uint16_t code, const char *reason) {
    if (s->closing) return;
    s->closing = true;
    s->close_code = code;
    s->close_reason = reason;
    vg_log(VG_LOG_INFO, "closing a connection: %u %s", code, reason);
    lws_callback_on_writable(s->wsi);
    /* A peer that never reads never makes us writable: drop it after 3 s. */
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, 3);
}

int vg_session_send_json(vg_session *s, json_t *msg) {
    char *text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(msg);
    if (!text) return -1;
    int r = vg_session_send_text(s, text, strlen(text));
    free(text);
    return r;
}

static int queue_text(vg_session *s, const char *text, size_t len, const char *command_id) {
    if (s->closing) return -1;
    if (s->out_count >= VG_SESSION_MAX_OUT_MSGS || s->out_bytes + len > VG_SESSION_MAX_OUT_BYTES) {
        s->drop_text = true;
        vg_session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "reply queue overflow");
        return -1;
    }
    vg_outmsg *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (!m) return -1;
    m->next = NULL;
    m->len = len;
    m->command_id = command_id ? strdup(command_id) : NULL;
    if (command_id && !m->command_id) {
        free(m);
        return -1;
    }
    memcpy(m->buf + LWS_PRE, text, len);
    if (s->out_tail)
        s->out_tail->next = m;
    else
        s->out_head = m;
    s->out_tail = m;
    s->out_count++;
    s->out_bytes += len;
    lws_callback_on_writable(s->wsi);
    return 0;
}

int vg_session_send_text(vg_session *s, const char *text, size_t len) {
    return queue_text(s, text, len, NULL);
}

int vg_session_send_command(vg_session *s, const json_t *msg, const char *command_id) {
    char *text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (!text) return -1;
    int r = queue_text(s, text, strlen(text), command_id);
    free(text);
    return r;
}

vg_subscription *vg_session_find_channel(vg_session *s, uint32_t channel) {
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i]->viewer.channel == channel) return s->subs[i];
    return NULL;
}

vg_subscribe_result vg_session_subscribe(vg_session *s, vg_stream *stream, vg_mode mode,
                                         vg_subscription **out) {
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i]->stream == stream) return VG_SUBSCRIBE_ALREADY;
    if (s->nsubs >= s->max_subs) return VG_SUBSCRIBE_TOO_MANY;
    if (s->nsubs == s->subs_cap) {
        uint32_t cap = s->subs_cap ? s->subs_cap * 2 : 1;
        if (cap > s->max_subs) cap = s->max_subs;
        vg_subscription **grown = realloc(s->subs, cap * sizeof(*grown));
        if (!grown) return VG_SUBSCRIBE_NO_MEMORY;
        s->subs = grown;
        s->subs_cap = cap;
    }
    vg_subscription *sub = calloc(1, sizeof(*sub));
    if (sub) *sub = (vg_subscription){.session = s, .stream = stream, .mode = mode};
    vg_relay *relay = vg_stream_relay(stream, mode == VG_MODE_WEBCODECS ? VG_RELAY_WEBCODECS
                                                                       : VG_RELAY_MSE);
    if (!sub || vg_relay_attach(relay, &sub->viewer, vg_server_now_us())) {
        free(sub);
        return VG_SUBSCRIBE_NO_MEMORY;
    }
    s->subs[s->nsubs++] = sub;
    *out = sub;
    return VG_SUBSCRIBED;
}

int vg_session_unsubscribe(vg_session *s, uint32_t channel) {
    for (uint32_t i = 0; i < s->nsubs; i++) {
        if (s->subs[i]->viewer.channel == channel) {
            free_subscription(s->subs[i]);
            s->subs[i] = s->subs[--s->nsubs];
            s->subs[s->nsubs] = NULL;
            return 0;
        }
    }
    return -1;
}

int vg_session_on_text(vg_session *s, const void *in, size_t len, bool final,
                       uint32_t max_text_bytes) {
    if (len > max_text_bytes - s->rx_len) return -1;
    if (final && s->rx_len == 0) {
        s->server->protocol->text(s, in, len);
        return 0;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 1024;
        while (cap < s->rx_len + len)
            cap *= 2;
        if (cap > max_text_bytes) cap = max_text_bytes;
        char *nrx = realloc(s->rx, cap);
        if (!nrx) return -1;
        s->rx = nrx;
        s->rx_cap = cap;
    }
    if (len) memcpy(s->rx + s->rx_len, in, len); /* an empty first fragment: rx is NULL */
    s->rx_len += len;
    if (final) {
        s->server->protocol->text(s, s->rx, s->rx_len);
        /* Large messages are rare: give the memory back rather than keep it
         * for the life of the connection. */
        free(s->rx);
        s->rx = NULL;
        s->rx_len = s->rx_cap = 0;
    }
    return 0;
}

/* Next viewer with a queued frame, round-robin. */
static vg_viewer *next_ready(vg_session *s) {
    for (uint32_t n = 0; n < s->nsubs; n++) {
        uint32_t i = (s->rr + n) % s->nsubs;
        if (!vg_viewer_queue_empty(&s->subs[i]->viewer.queue)) {
            s->rr = (i + 1) % s->nsubs;
            return &s->subs[i]->viewer;
        }
    }
    return NULL;
}

/* lws 4.1 keeps the close opcode out of its public enum ("handled by
 * lws_close_reason()"), but lws_write() frames it like any other; its value
 * sits between HTTP (3) and PING (5). */
#define VG_WRITE_CLOSE ((enum lws_write_protocol)4)
_Static_assert(LWS_WRITE_HTTP == 3 && LWS_WRITE_PING == 5, "lws write opcodes moved");

/* The close frame, written here rather than by lws_close_reason() and a
 * return of -1: lws 4.1 then hangs up right after its frame, and a peer still
 * sending (a publisher streaming) gets a TCP reset that can discard the
 * close frame before it is read, so it sees 1006 instead of our code. Here
 * the connection stays open, reading and ignoring, until the peer's close
 * frame comes back (ws_session.c) or the timeout drops it. */
static int send_close_frame(vg_session *s) {
    unsigned char buf[LWS_PRE + 125]; /* a control frame's payload: <= 125 bytes */
    size_t rlen = strlen(s->close_reason);
    if (rlen > 123) rlen = 123;
    buf[LWS_PRE] = (unsigned char)(s->close_code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(s->close_code & 0xff);
    memcpy(buf + LWS_PRE + 2, s->close_reason, rlen);
    if (lws_write(s->wsi, buf + LWS_PRE, rlen + 2, VG_WRITE_CLOSE) < (int)(rlen + 2)) return -1;
    s->close_sent = true;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_ACK, 3);
    return 0;
}

/* Media straight to the socket (server/media_write.h), viewer after viewer
 * round-robin while each drains; lws is asked for POLLOUT when some is left.
 * 1: written, -1: the connection is broken. */
static int write_media_direct(vg_session *s) {
    for (uint32_t n = 0; n < s->nsubs; n++) {
        vg_viewer *v = next_ready(s);
        if (!v) break;
        switch (vg_media_write(s->wsi, v, &s->server->media_writes)) {
        case VG_MEDIA_WRITE_DRAINED: continue;
        case VG_MEDIA_WRITE_MORE:
        case VG_MEDIA_WRITE_HANDED: lws_callback_on_writable(s->wsi); return 1;
        case VG_MEDIA_WRITE_FAILED: return -1;
        }
    }
    return 1;
}

int vg_session_write_direct(vg_session *s) {
    if (!s->server->config->direct_writes || s->closing || s->close_sent || s->out_head ||
        !vg_media_write_allowed(s->wsi))
        return 0;
    return write_media_direct(s);
}

int vg_session_on_writable(vg_session *s) {
    if (s->close_sent) return 0; /* nothing may follow a close frame */
    if (s->closing && (s->drop_text || !s->out_head)) return send_close_frame(s);
    if (s->out_head) {
        vg_outmsg *m = s->out_head;
        s->out_head = m->next;
        if (!s->out_head) s->out_tail = NULL;
        s->out_count--;
        s->out_bytes -= m->len;
        int n = lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        size_t len = m->len;
        /* lws keeps what the socket did not take and sends it first: the
         * message is the agent's from here on. */
        if (n >= (int)len && m->command_id) vg_agents_written(s->server, m->command_id);
        free(m->command_id);
        free(m);
        if (n < (int)len) return -1;
    } else if (s->server->config->direct_writes && vg_media_write_allowed(s->wsi)) {
        return write_media_direct(s) < 0 ? -1 : 0;
    } else {
        vg_viewer *v = next_ready(s);
        vg_frame *f = v ? vg_viewer_queue_pop(&v->queue) : NULL;
        if (f) {
            size_t len = vg_frame_wire_len(f);
            /* The shared frame's own memory: no copy per viewer. */
            int n = lws_write(s->wsi, vg_frame_wire(f), len, LWS_WRITE_BINARY);
            vg_frame_unref(f);
            if (n < (int)len) return -1;
            vg_relay_count_sent(v, len);
            /* lws kept what the connection did not take: the viewer is behind */
            if (lws_partial_buffered(s->wsi)) vg_viewer_queue_note_blocked(&v->queue);
        }
    }
    vg_session_want_write(s);
    return 0;
}
