/* floor_client.c -- the floor's frames and WebSocket clients (see
 * floor_client.h). */
#include "bench/floor_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench/floor_tls.h"

#define CHANNEL 1

floor_frame *floor_frame_media(uint8_t kind, bool key, int64_t time_us, const uint8_t *payload,
                               size_t len, bool contiguous) {
    floor_frame *f = malloc(sizeof(*f) + (contiguous ? sizeof(f->hdr) + len : 0));
    if (!f) return NULL;
    f->refs = 1;
    f->key = key || kind == 1;
    size_t h = ws_server_header(f->hdr, WS_OP_BINARY, 16 + len);
    uint8_t *v = f->hdr + h;
    v[0] = 1;
    v[1] = kind;
    v[2] = key ? 1 : 0;
    v[3] = 0;
    for (int i = 0; i < 4; i++)
        v[4 + i] = (uint8_t)(CHANNEL >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        v[8 + i] = (uint8_t)((uint64_t)time_us >> (56 - 8 * i));
    f->hdr_len = h + 16;
    f->len = len;
    f->payload = payload;
    f->wire = NULL;
    if (contiguous) {
        memcpy(f->owned, f->hdr, f->hdr_len);
        memcpy(f->owned + f->hdr_len, payload, len);
        f->payload = f->owned + f->hdr_len;
        f->wire = f->owned;
    }
    return f;
}

floor_frame *floor_frame_text(const char *text) {
    size_t n = strlen(text);
    floor_frame *f = malloc(sizeof(*f) + sizeof(f->hdr) + n);
    if (!f) return NULL;
    f->refs = 1;
    f->key = true; /* never dropped by a skip */
    f->hdr_len = ws_server_header(f->hdr, WS_OP_TEXT, n);
    memcpy(f->owned, f->hdr, f->hdr_len);
    memcpy(f->owned + f->hdr_len, text, n);
    f->payload = f->owned + f->hdr_len;
    f->wire = f->owned;
    f->len = n;
    return f;
}

floor_frame *floor_frame_ref(floor_frame *f) {
    f->refs++;
    return f;
}

void floor_frame_unref(floor_frame *f) {
    if (f && --f->refs == 0) free(f);
}

/* ---- backlog ------------------------------------------------------------ */

/* EPOLLOUT while there is backlog, or (TLS) while the handshake or a read
 * waits for the socket to take bytes, but not while a write waits to read. */
static void update_events(floor_client *c, int epfd) {
    bool out = c->q_count > 0;
    if (c->tls) out = (out && !c->tls_wr_in) || (!c->tls_ready && c->tls_hs_out) || c->tls_rd_out;
    if (c->want_out == out) return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static floor_frame *q_at(floor_client *c, size_t i) {
    return c->q[(c->q_head + i) % FLOOR_BACKLOG];
}

static void q_push(floor_client *c, floor_frame *f, size_t off) {
    if (c->q_count == 0) c->q_off = off;
    c->q[(c->q_head + c->q_count) % FLOOR_BACKLOG] = floor_frame_ref(f);
    c->q_count++;
}

static void q_pop(floor_client *c) {
    floor_frame_unref(c->q[c->q_head]);
    c->q_head = (c->q_head + 1) % FLOOR_BACKLOG;
    c->q_count--;
    c->q_off = 0;
    c->q_started = false;
}

/* Drops the backlog, but a frame already half on the wire. */
static void q_drop(floor_client *c) {
    size_t keep = c->q_off > 0 || c->q_started ? 1 : 0;
    while (c->q_count > keep) {
        c->q_count--;
        floor_frame_unref(q_at(c, c->q_count));
    }
}

/* TLS: writes the backlog frame by frame, a record per SSL_write, until the
 * socket is full; a frame it stops in is retried from the same byte. */
static bool flush_tls(floor_client *c) {
    c->tls_wr_in = false;
    while (c->q_count) {
        floor_frame *f = q_at(c, 0);
        size_t total = f->hdr_len + f->len;
        int w = floor_tls_write(c->tls, f->wire + c->q_off, (int)(total - c->q_off));
        if (w == FLOOR_TLS_FAIL) return false;
        if (w < 0) {
            c->q_started = true;
            c->tls_wr_in = w == FLOOR_TLS_WANT_READ;
            return true;
        }
        c->q_started = false;
        c->q_off += (size_t)w;
        if (c->q_off == total) q_pop(c);
    }
    return true;
}

/* Writes as much backlog as the socket takes, in one writev per round. */
static bool flush(floor_client *c) {
    if (c->tls) return flush_tls(c);
    while (c->q_count) {
        struct iovec iov[64];
        int n = 0;
        size_t skip = c->q_off, total = 0;
        for (size_t i = 0; i < c->q_count && n + 2 <= 64; i++) {
            floor_frame *f = q_at(c, i);
            size_t hs = skip < f->hdr_len ? skip : f->hdr_len;
            if (hs < f->hdr_len) iov[n++] = (struct iovec){f->hdr + hs, f->hdr_len - hs};
            size_t ps = skip - hs;
            iov[n++] = (struct iovec){(void *)(f->payload + ps), f->len - ps};
            total += f->hdr_len + f->len - skip;
            skip = 0;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) return errno == EAGAIN || errno == EINTR;
        size_t left = (size_t)w;
        while (left && c->q_count) {
            floor_frame *f = q_at(c, 0);
            size_t rest = f->hdr_len + f->len - c->q_off;
            if (left < rest) {
                c->q_off += left;
                break;
            }
            left -= rest;
            q_pop(c);
        }
        if ((size_t)w < total) return true; /* the socket is full */
    }
    return true;
}

/* TLS, nothing queued: the whole frame now, or what is left to the backlog. */
static bool send_now_tls(floor_client *c, int epfd, floor_frame *f) {
    size_t total = f->hdr_len + f->len, off = 0;
    int w = 0;
    while (off < total && (w = floor_tls_write(c->tls, f->wire + off, (int)(total - off))) > 0)
        off += (size_t)w;
    if (off == total) return true;
    if (w == FLOOR_TLS_FAIL) return false;
    q_push(c, f, off);
    c->q_started = true;
    c->tls_wr_in = w == FLOOR_TLS_WANT_READ;
    update_events(c, epfd);
    return true;
}

bool floor_client_send(floor_client *c, int epfd, floor_frame *f) {
    if (!c->subscribed) return true;
    if (c->skipping) {
        if (!f->key) return true;
        c->skipping = false;
    }
    if (c->q_count == 0 && c->tls) return send_now_tls(c, epfd, f);
    if (c->q_count == 0) {
        struct iovec iov[2] = {{f->hdr, f->hdr_len}, {(void *)f->payload, f->len}};
        ssize_t w = writev(c->fd, iov, 2);
        if (w == (ssize_t)(f->hdr_len + f->len)) return true;
        if (w < 0 && errno != EAGAIN && errno != EINTR) return false;
        q_push(c, f, w < 0 ? 0 : (size_t)w);
        update_events(c, epfd);
        return true;
    }
    if (c->q_count == FLOOR_BACKLOG) {
        q_drop(c);
        if (!f->key) {
            c->skipping = true;
            return true;
        }
    }
    q_push(c, f, 0);
    return true;
}

/* TLS: one handshake step. false: the connection is done. */
static bool handshake(floor_client *c, int epfd) {
    int r = floor_tls_handshake(c->tls);
    if (r == FLOOR_TLS_FAIL) return false;
    c->tls_ready = r == 1;
    c->tls_hs_out = r == FLOOR_TLS_WANT_WRITE;
    update_events(c, epfd);
    return true;
}

bool floor_client_on_writable(floor_client *c, int epfd) {
    if (c->tls && !c->tls_ready) return handshake(c, epfd);
    if (!flush(c)) return false;
    update_events(c, epfd);
    return true;
}

bool floor_client_wants_read(const floor_client *c) {
    return c->tls && c->tls_ready && (c->tls_rd_out || SSL_has_pending(c->tls));
}

/* ---- reading ------------------------------------------------------------ */

static bool upgrade(floor_client *c) {
    char key[64], proto[128], accept[29], resp[256];
    if (strncmp(c->req, "GET /ws", 7) ||
        !ws_http_header(c->req, "Sec-WebSocket-Key", key, sizeof(key)) ||
        !ws_http_header(c->req, "Sec-WebSocket-Protocol", proto, sizeof(proto)) ||
        !strstr(proto, "vigil.v1") || ws_accept_key(key, accept))
        return false;
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: vigil.v1\r\n\r\n",
                     accept);
    c->open = true;
    /* Small: it fits an empty socket buffer, or the client is dropped. */
    if (c->tls) return floor_tls_write(c->tls, resp, n) == n;
    return send(c->fd, resp, (size_t)n, MSG_NOSIGNAL) == n;
}

/* "s<N>" is stream N; anything else stream 0. */
static uint32_t stream_index(const char *msg, size_t nstreams) {
    const char *p = strstr(msg, "\"stream\":\"s");
    unsigned long n = p ? strtoul(p + 11, NULL, 10) : 0;
    return n < nstreams ? (uint32_t)n : 0;
}

static bool on_subscribe(floor_client *c, int epfd, const floor_stream *streams, size_t nstreams) {
    if (c->subscribed) return true;
    c->subscribed = true;
    c->stream = stream_index((const char *)c->rx, nstreams);
    const floor_stream *st = &streams[c->stream];
    floor_frame *reply = floor_frame_text("{\"type\":\"subscribe\",\"id\":1,\"stream\":\"floor\","
                                          "\"mode\":\"mse\",\"channel\":1,\"state\":\"live\"}");
    if (!reply) return false;
    bool ok = floor_client_send(c, epfd, reply);
    floor_frame_unref(reply);
    if (ok && st->init) ok = floor_client_send(c, epfd, st->init);
    for (size_t i = 0; ok && i < st->gop_len; i++)
        ok = floor_client_send(c, epfd, st->gop[i]);
    return ok;
}

/* Client frames: only a text subscribe and a close are expected. */
static bool on_frames(floor_client *c, int epfd, const floor_stream *streams, size_t nstreams,
                      const uint8_t *p, size_t n) {
    while (n) {
        if (!c->rx_payload) {
            bool done;
            size_t used = ws_hdr_feed(&c->hp, p, n, &done);
            p += used;
            n -= used;
            if (!done) return true;
            if (!c->hp.masked || c->hp.len > sizeof(c->rx) - 1) return false;
            c->rx_left = c->hp.len;
            c->rx_len = 0;
            c->rx_payload = true;
        }
        size_t take = c->rx_left < n ? (size_t)c->rx_left : n;
        for (size_t i = 0; i < take; i++, c->rx_len++)
            c->rx[c->rx_len] = p[i] ^ c->hp.mask[c->rx_len & 3];
        p += take;
        n -= take;
        c->rx_left -= take;
        if (c->rx_left) return true;
        c->rx_payload = false;
        c->rx[c->rx_len] = 0;
        uint8_t op = c->hp.opcode;
        ws_hdr_reset(&c->hp);
        if (op == WS_OP_CLOSE) return false;
        if (op == WS_OP_TEXT && strstr((char *)c->rx, "\"subscribe\"") &&
            !on_subscribe(c, epfd, streams, nstreams))
            return false;
    }
    return true;
}

/* Bytes from the client: the upgrade request, then its frames. */
static bool feed(floor_client *c, int epfd, const floor_stream *streams, size_t nstreams,
                 const uint8_t *p, size_t len) {
    if (!c->open) {
        size_t take = len < sizeof(c->req) - 1 - c->req_len ? len : sizeof(c->req) - 1 - c->req_len;
        memcpy(c->req + c->req_len, p, take);
        size_t old = c->req_len;
        c->req_len += take;
        c->req[c->req_len] = 0;
        char *end = strstr(c->req, "\r\n\r\n");
        if (!end) return c->req_len < sizeof(c->req) - 1;
        size_t used = (size_t)(end + 4 - c->req) - old;
        end[2] = 0;
        if (!upgrade(c)) return false;
        p += used;
        len -= used;
    }
    return on_frames(c, epfd, streams, nstreams, p, len);
}

/* TLS: the handshake, then every decrypted byte the SSL has, until it needs
 * the socket again (epoll does not report bytes already inside the SSL). */
static bool read_tls(floor_client *c, int epfd, const floor_stream *streams, size_t nstreams) {
    if (!c->tls_ready) {
        if (!handshake(c, epfd)) return false;
        if (!c->tls_ready) return true;
    }
    if (c->tls_wr_in && !floor_client_on_writable(c, epfd)) return false;
    c->tls_rd_out = false;
    uint8_t buf[4096];
    for (;;) {
        int n = floor_tls_read(c->tls, buf, sizeof(buf));
        if (n == FLOOR_TLS_FAIL) return false;
        if (n < 0) {
            c->tls_rd_out = n == FLOOR_TLS_WANT_WRITE;
            update_events(c, epfd);
            return true;
        }
        if (!feed(c, epfd, streams, nstreams, buf, (size_t)n)) return false;
    }
}

bool floor_client_on_readable(floor_client *c, int epfd, const floor_stream *streams,
                              size_t nstreams) {
    if (c->tls) return read_tls(c, epfd, streams, nstreams);
    uint8_t buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) return false;
    return feed(c, epfd, streams, nstreams, buf, (size_t)n);
}

void floor_client_free(floor_client *c) {
    while (c->q_count)
        q_pop(c);
    SSL_free(c->tls);
    if (c->fd >= 0) close(c->fd);
    free(c);
}
