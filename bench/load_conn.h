/* load_conn.h -- one simulated viewer of the load client: a non-blocking TCP
 * connection (with --tls a TLS one, bench/tls_conn.h: wss) that upgrades to
 * WebSocket with the vigil.v1 subprotocol
 * (checking Sec-WebSocket-Accept), says hello (anonymous or with a token)
 * and subscribes to one stream, and then parses
 * every server frame without copying payloads: it looks only at the 16-byte
 * vigil header and the fMP4 fragment's sequence number (moof/mfhd), and
 * counts bytes, frames, latency, skips and gaps into a shared load_ctx.
 *
 * Thread: the load client's single thread. */
#ifndef VIGIL_BENCH_LOAD_CONN_H
#define VIGIL_BENCH_LOAD_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/samples.h"
#include "bench/tls_conn.h"
#include "bench/wsproto.h"

enum load_group { GROUP_NORMAL, GROUP_THROTTLED, GROUP_COUNT };

/* What all connections report into. */
typedef struct load_ctx {
    int epfd;
    struct sockaddr_in addr;
    const char *host_header;
    const char *token;      /* sent in hello; NULL: anonymous */
    struct ssl_ctx_st *tls; /* wss; NULL: ws */
    tls_summary tls_sum;    /* what the TLS handshakes negotiated */
    bool in_window;
    samples latency_us[GROUP_COUNT];   /* frame time to arrival, in the window */
    samples first_key_us[GROUP_COUNT]; /* subscribe sent to first keyframe */
    uint32_t *stream_max_seq;          /* per stream: newest fragment seen */
    uint8_t *buf;                      /* shared receive buffer */
    size_t buf_len;
} load_ctx;

/* C_TLS: the TLS handshake; C_HANDSHAKE: the WebSocket upgrade. */
enum load_state { C_IDLE, C_CONNECTING, C_TLS, C_HANDSHAKE, C_OPEN, C_CLOSED, C_FAILED };

typedef struct load_conn {
    int fd;
    struct ssl_st *ssl; /* wss */
    bool tls_out;       /* the TLS handshake waits for writability */
    uint32_t stream_idx;
    const char *stream;
    enum load_state state;
    enum load_group group;
    char key[25];
    char http[1024]; /* the upgrade response, until its blank line */
    size_t http_len;
    /* frame being read */
    ws_hdr_parser hp;
    bool in_payload, cur_fin;
    uint8_t cur_op;
    uint64_t left;
    uint8_t ctl[125]; /* control frame payload */
    size_t ctl_len;
    /* message being read: its opcode and first bytes */
    uint8_t msg_op;
    uint8_t head[512];
    size_t head_len;
    /* timing (CLOCK_REALTIME, us) */
    int64_t t_connect, t_subscribe, t_first_key;
    /* throttling: a token bucket in bytes */
    int rcvbuf;              /* SO_RCVBUF to ask for, 0 = the kernel's default */
    double rate_Bps, tokens; /* rate 0 = not throttled */
    int64_t t_refill;
    bool paused;
    /* results */
    bool subscribed, error_reply, got_key;
    int close_code; /* from the server's close frame, -1 none */
    char fail_reason[48];
    uint64_t bytes_total, bytes_win;
    uint64_t frames_total, frames_win, inits, keys;
    uint64_t skips_flag_win; /* media frames flagged "first after a skip" */
    uint64_t gaps_win;       /* fragments missing (sequence numbers skipped) */
    uint32_t last_seq;
    bool have_seq;
} load_conn;

/* Starts connecting; false when the socket could not be created. */
bool load_conn_start(load_conn *c, load_ctx *ctx, int64_t now_us);
/* Handles epoll events for this connection. */
void load_conn_on_event(load_conn *c, load_ctx *ctx, uint32_t events);
/* Throttled connections: refills the bucket and resumes reading. */
void load_conn_refill(load_conn *c, load_ctx *ctx, int64_t now_us);
/* Closes the socket (sending a close frame if open). */
void load_conn_close(load_conn *c);

static inline bool load_conn_alive(const load_conn *c) {
    return c->state == C_CONNECTING || c->state == C_TLS || c->state == C_HANDSHAKE ||
           c->state == C_OPEN;
}

int64_t load_now_us(void);

#endif
