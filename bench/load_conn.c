/* load_conn.c -- one simulated vigil.v1 viewer (see load_conn.h). */
#include "bench/load_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BINARY_HEAD 40 /* vigil header (16) + moof header (8) + mfhd up to its sequence number */

int64_t load_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) {
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void drop_socket(load_conn *c) {
    tls_conn_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
}

static void fail(load_conn *c, const char *why) {
    if (!load_conn_alive(c)) return;
    snprintf(c->fail_reason, sizeof(c->fail_reason), "%s", why);
    drop_socket(c);
    c->state = C_FAILED;
}

/* Small control writes: they fit an empty socket buffer or the viewer fails. */
static bool send_all(load_conn *c, const void *p, size_t n) {
    ssize_t w = c->ssl ? tls_conn_send(c->ssl, p, n) : send(c->fd, p, n, MSG_NOSIGNAL);
    return w == (ssize_t)n;
}

static void send_frame(load_conn *c, uint8_t op, const void *payload, size_t len) {
    uint8_t out[WS_MAX_HEADER + 512];
    size_t n = ws_client_frame(out, sizeof(out), op, payload, len, (uint32_t)random());
    if (!n || !send_all(c, out, n)) fail(c, "send");
}

bool load_conn_start(load_conn *c, load_ctx *ctx, int64_t now_us) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = C_CONNECTING; /* so that fail() records it */
        fail(c, "socket");
        return false;
    }
    if (c->rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof(c->rcvbuf));
    c->state = C_CONNECTING;
    c->t_connect = now_us;
    c->close_code = -1;
    c->t_refill = now_us;
    if (connect(c->fd, (struct sockaddr *)&ctx->addr, sizeof(ctx->addr)) < 0 &&
        errno != EINPROGRESS) {
        fail(c, "connect");
        return false;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        fail(c, "epoll_ctl");
        return false;
    }
    return true;
}

static void send_upgrade(load_conn *c, load_ctx *ctx) {
    ws_client_key(c->key);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: vigil.v1\r\n\r\n",
                     ctx->host_header, c->key);
    if (!send_all(c, req, (size_t)n)) {
        fail(c, "send upgrade");
        return;
    }
    c->state = C_HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ctx->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void set_events(load_conn *c, load_ctx *ctx, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ctx->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* wss: one step of the TLS handshake, then the upgrade. */
static void tls_step(load_conn *c, load_ctx *ctx) {
    bool out = false;
    int r = tls_conn_handshake(c->ssl, &out, &ctx->tls_sum);
    if (r < 0) {
        fail(c, "tls handshake");
    } else if (r == 0) {
        if (out != c->tls_out) set_events(c, ctx, out ? EPOLLOUT : EPOLLIN);
        c->tls_out = out;
    } else {
        send_upgrade(c, ctx);
    }
}

/* The TCP connect ended: the upgrade request, or first the TLS handshake. */
static void connected(load_conn *c, load_ctx *ctx) {
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
        fail(c, "connect refused or reset");
        return;
    }
    if (!ctx->tls) {
        send_upgrade(c, ctx);
        return;
    }
    if (!(c->ssl = tls_conn_new(ctx->tls, c->fd))) {
        fail(c, "tls setup");
        return;
    }
    c->state = C_TLS;
    c->tls_out = true; /* as registered: EPOLLIN | EPOLLOUT */
    tls_step(c, ctx);
}

/* Checks the 101 response, says hello and subscribes. */
static void upgrade_done(load_conn *c, const load_ctx *ctx, int64_t now_us) {
    char expect[29], got[64], proto[64];
    if (strncmp(c->http, "HTTP/1.1 101", 12)) {
        fail(c, "upgrade refused");
        return;
    }
    if (ws_accept_key(c->key, expect) ||
        !ws_http_header(c->http, "Sec-WebSocket-Accept", got, sizeof(got)) || strcmp(got, expect)) {
        fail(c, "bad Sec-WebSocket-Accept");
        return;
    }
    if (!ws_http_header(c->http, "Sec-WebSocket-Protocol", proto, sizeof(proto)) ||
        strcmp(proto, "vigil.v1")) {
        fail(c, "subprotocol not vigil.v1");
        return;
    }
    c->state = C_OPEN;
    /* hello first (anonymous, or with the token), then subscribe, in one go:
     * requests are answered in order. */
    char msg[400];
    int n = ctx->token ? snprintf(msg, sizeof(msg),
                                  "{\"type\":\"hello\",\"id\":0,\"token\":\"%s\"}", ctx->token)
                       : snprintf(msg, sizeof(msg), "{\"type\":\"hello\",\"id\":0}");
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        fail(c, "token too long");
        return;
    }
    send_frame(c, WS_OP_TEXT, msg, (size_t)n);
    n = snprintf(msg, sizeof(msg), "{\"type\":\"subscribe\",\"id\":1,\"stream\":\"%s\"}",
                 c->stream);
    c->t_subscribe = now_us;
    if (c->state == C_OPEN) send_frame(c, WS_OP_TEXT, msg, (size_t)n);
}

/* Feeds the upgrade response; returns how many bytes of data belonged to it. */
static size_t feed_http(load_conn *c, const load_ctx *ctx, const uint8_t *data, size_t n,
                        int64_t now_us) {
    size_t old = c->http_len;
    size_t take = n < sizeof(c->http) - 1 - old ? n : sizeof(c->http) - 1 - old;
    memcpy(c->http + old, data, take);
    c->http_len += take;
    c->http[c->http_len] = 0;
    char *end = strstr(c->http, "\r\n\r\n");
    if (!end) {
        if (c->http_len == sizeof(c->http) - 1) fail(c, "upgrade response too long");
        return n;
    }
    size_t head_len = (size_t)(end + 4 - c->http);
    end[2] = 0; /* keep the last header's CRLF for ws_http_header() */
    upgrade_done(c, ctx, now_us);
    return head_len - old;
}

static void on_text(load_conn *c) {
    c->head[c->head_len < sizeof(c->head) ? c->head_len : sizeof(c->head) - 1] = 0;
    const char *t = (const char *)c->head;
    if (strstr(t, "\"type\":\"error\"")) {
        c->error_reply = true;
        fail(c, "error reply");
    } else if (strstr(t, "\"type\":\"subscribe\"")) {
        c->subscribed = true;
    }
}

static void on_binary(load_conn *c, load_ctx *ctx, int64_t now_us) {
    const uint8_t *h = c->head;
    if (c->head_len < 16 || h[0] != 1) {
        fail(c, "bad binary header");
        return;
    }
    uint8_t kind = h[1], flags = h[2];
    if (kind == 1) {
        c->inits++;
        return;
    }
    if (kind != 2) return; /* reserved kinds are skipped */
    c->frames_total++;
    if (flags & 1) {
        c->keys++;
        if (!c->got_key) {
            c->got_key = true;
            c->t_first_key = now_us;
            samples_add(&ctx->first_key_us[c->group], now_us - c->t_subscribe);
        }
    }
    if (ctx->in_window) {
        c->frames_win++;
        samples_add(&ctx->latency_us[c->group], now_us - (int64_t)be64(h + 8));
        if (flags & 2) c->skips_flag_win++;
    }
    if (c->head_len >= BINARY_HEAD && !memcmp(h + 20, "moof", 4) && !memcmp(h + 28, "mfhd", 4)) {
        uint32_t seq = be32(h + 36);
        if (ctx->in_window && c->have_seq && seq > c->last_seq + 1)
            c->gaps_win += seq - c->last_seq - 1;
        c->last_seq = seq;
        c->have_seq = true;
        if (seq > ctx->stream_max_seq[c->stream_idx]) ctx->stream_max_seq[c->stream_idx] = seq;
    }
}

static void end_frame(load_conn *c, load_ctx *ctx, int64_t now_us) {
    uint8_t op = c->cur_op;
    if (op == WS_OP_CLOSE) {
        c->close_code = c->ctl_len >= 2 ? (c->ctl[0] << 8 | c->ctl[1]) : 1005;
        uint8_t code[2] = {c->ctl[0], c->ctl[1]};
        send_frame(c, WS_OP_CLOSE, code, c->ctl_len >= 2 ? 2 : 0);
        drop_socket(c);
        c->state = C_CLOSED;
        return;
    }
    if (op == WS_OP_PING) {
        send_frame(c, WS_OP_PONG, c->ctl, c->ctl_len);
        return;
    }
    if (op >= 8 || !c->cur_fin) return;
    if (c->msg_op == WS_OP_TEXT) on_text(c);
    if (c->msg_op == WS_OP_BINARY) on_binary(c, ctx, now_us);
}

static void parse_frames(load_conn *c, load_ctx *ctx, const uint8_t *data, size_t n,
                         int64_t now_us) {
    while (n > 0 && c->state == C_OPEN) {
        if (!c->in_payload) {
            bool done;
            size_t used = ws_hdr_feed(&c->hp, data, n, &done);
            data += used;
            n -= used;
            if (!done) return;
            if (c->hp.masked) {
                fail(c, "masked server frame");
                return;
            }
            c->cur_op = c->hp.opcode;
            c->cur_fin = c->hp.fin;
            c->left = c->hp.len;
            ws_hdr_reset(&c->hp);
            if (c->cur_op >= 8) {
                if (c->left > sizeof(c->ctl)) {
                    fail(c, "control frame too long");
                    return;
                }
                c->ctl_len = 0;
            } else if (c->cur_op != WS_OP_CONT) {
                c->msg_op = c->cur_op;
                c->head_len = 0;
            }
            c->in_payload = true;
        }
        size_t take = c->left < n ? (size_t)c->left : n;
        if (c->cur_op >= 8) {
            memcpy(c->ctl + c->ctl_len, data, take);
            c->ctl_len += take;
        } else {
            size_t cap = c->msg_op == WS_OP_TEXT ? sizeof(c->head) : BINARY_HEAD;
            size_t keep = c->head_len < cap ? cap - c->head_len : 0;
            if (keep > take) keep = take;
            memcpy(c->head + c->head_len, data, keep);
            c->head_len += keep;
        }
        c->left -= take;
        data += take;
        n -= take;
        if (c->left == 0) {
            c->in_payload = false;
            end_frame(c, ctx, now_us);
        }
    }
}

static void pause_reading(load_conn *c, load_ctx *ctx) {
    struct epoll_event ev = {.events = 0, .data.ptr = c};
    epoll_ctl(ctx->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->paused = true;
}

/* Reads and parses what has come, in up to 8 recv() of the shared buffer
 * (TLS: until the SSL holds nothing more), or what a throttled viewer's
 * tokens allow. */
static void read_some(load_conn *c, load_ctx *ctx) {
    for (int round = 0; (c->ssl || round < 8) && load_conn_alive(c); round++) {
        size_t want = ctx->buf_len;
        if (c->rate_Bps > 0) {
            if (c->tokens < 1) {
                pause_reading(c, ctx);
                return;
            }
            if (c->tokens < (double)want) want = (size_t)c->tokens;
        }
        ssize_t n = c->ssl ? tls_conn_recv(c->ssl, ctx->buf, want) : recv(c->fd, ctx->buf, want, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) fail(c, "recv");
            return;
        }
        if (n == 0) {
            fail(c, c->state == C_OPEN ? "closed without a close frame" : "eof in handshake");
            return;
        }
        int64_t now = load_now_us();
        if (c->rate_Bps > 0) c->tokens -= (double)n;
        c->bytes_total += (uint64_t)n;
        if (ctx->in_window) c->bytes_win += (uint64_t)n;
        const uint8_t *p = ctx->buf;
        size_t len = (size_t)n;
        if (c->state == C_HANDSHAKE) {
            size_t used = feed_http(c, ctx, p, len, now);
            p += used;
            len -= used;
        }
        parse_frames(c, ctx, p, len, now);
        /* TCP: a short read emptied the socket. TLS: read on while the SSL
         * holds bytes (epoll cannot see those); what is left in the socket
         * epoll reports again. */
        if (c->ssl ? !tls_conn_pending(c->ssl) : (size_t)n < want) return;
    }
}

void load_conn_on_event(load_conn *c, load_ctx *ctx, uint32_t events) {
    if (c->state == C_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) connected(c, ctx);
        return;
    }
    if (c->state == C_TLS) {
        tls_step(c, ctx);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_some(c, ctx);
}

void load_conn_refill(load_conn *c, load_ctx *ctx, int64_t now_us) {
    if (c->rate_Bps <= 0 || !load_conn_alive(c)) return;
    c->tokens += c->rate_Bps * (double)(now_us - c->t_refill) / 1e6;
    c->t_refill = now_us;
    double burst = c->rate_Bps / 20; /* at most 50 ms worth at once */
    if (burst < 4096) burst = 4096;
    if (c->tokens > burst) c->tokens = burst;
    if (c->paused && c->tokens >= 1) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ctx->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->paused = false;
        if (c->ssl && tls_conn_pending(c->ssl)) read_some(c, ctx); /* epoll will not say */
    }
}

void load_conn_close(load_conn *c) {
    if (c->state == C_OPEN) {
        uint8_t code[2] = {1000 >> 8, 1000 & 0xFF};
        send_frame(c, WS_OP_CLOSE, code, 2);
    }
    if (load_conn_alive(c)) c->state = C_CLOSED;
    drop_socket(c);
}
