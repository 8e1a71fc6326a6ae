/* floor_client.h -- the floor's frames and its WebSocket clients.
 *
 * A floor_frame is one message as it goes on the wire, built once for all
 * clients: the WebSocket header and the 16-byte vigil header in `hdr`, the
 * payload beside it (the clip's own memory, or owned bytes for text). A
 * client writes each frame with one writev; whatever the socket does not take
 * waits in a bounded backlog of frame references (128, like vigil's default
 * viewer queue), and when that is full the client drops its backlog (but a
 * frame already half written) and waits for the next keyframe.
 *
 * Over TLS (wss, bench/floor_tls.h) a write cannot gather: each frame is
 * then also built contiguous once (`wire`: headers and payload in one
 * piece), and a client writes it with SSL_write, one call per TLS record
 * (one for a delta frame, two or three for a keyframe). A frame SSL_write
 * has started on counts as half written: its retry must get the same bytes.
 *
 * Thread: the floor's single thread. No library beyond libc, and OpenSSL's
 * SHA-1/base64 for the upgrade's Sec-WebSocket-Accept (and libssl for wss). */
#ifndef VIGIL_BENCH_FLOOR_CLIENT_H
#define VIGIL_BENCH_FLOOR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/wsproto.h"

#define FLOOR_BACKLOG 128

typedef struct floor_frame {
    int refs;
    bool key;
    size_t hdr_len;
    uint8_t hdr[10 + 16];
    const uint8_t *payload;
    size_t len;
    const uint8_t *wire; /* hdr then payload in one piece (for TLS), or NULL */
    uint8_t owned[];     /* payload storage when the frame owns it */
} floor_frame;

/* A binary media/init frame (kind 1 or 2) over borrowed payload memory, or
 * with `contiguous` over its own copy, after the headers (`wire`). */
floor_frame *floor_frame_media(uint8_t kind, bool key, int64_t time_us, const uint8_t *payload,
                               size_t len, bool contiguous);
/* A text frame with its own copy of the text (always contiguous). */
floor_frame *floor_frame_text(const char *text);
floor_frame *floor_frame_ref(floor_frame *f);
void floor_frame_unref(floor_frame *f);

typedef struct floor_client {
    int fd;
    struct ssl_st *tls; /* NULL: plain TCP (ws) */
    /* TLS: handshake done; what the handshake, a read, a write waits for */
    bool tls_ready, tls_hs_out, tls_rd_out, tls_wr_in;
    size_t slot;               /* index in the floor's client array */
    struct floor_client *dead; /* dropped in this event batch, freed after it */
    bool open, subscribed;
    uint32_t stream; /* index of the stream it subscribed to */
    char req[2048];  /* the upgrade request, until its blank line */
    size_t req_len;
    ws_hdr_parser hp; /* client frames */
    uint8_t rx[512];
    size_t rx_len;
    uint64_t rx_left;
    bool rx_payload;
    /* backlog */
    floor_frame *q[FLOOR_BACKLOG];
    size_t q_head, q_count, q_off; /* q_off: bytes of the head frame already written */
    bool q_started;                /* TLS: SSL_write holds part of the head frame */
    bool want_out, skipping;
} floor_client;

/* What the floor hands to a client on subscribe: init segment and GOP. The
 * floor serves streams "s0", "s1" ... (any other name is stream 0). */
typedef struct floor_stream {
    floor_frame *init;
    floor_frame **gop;
    size_t gop_len;
} floor_stream;

/* Reads what the client sent. false: the connection is done, free it. */
bool floor_client_on_readable(floor_client *c, int epfd, const floor_stream *streams,
                              size_t nstreams);
/* Writes backlog (TLS: or takes the handshake on). false: the connection is done. */
bool floor_client_on_writable(floor_client *c, int epfd);
/* TLS: the client has something to read that epoll will not report (bytes
 * held inside the SSL, or a read that waited for writability). */
bool floor_client_wants_read(const floor_client *c);
/* Offers one frame. false: the connection is done. */
bool floor_client_send(floor_client *c, int epfd, floor_frame *f);
void floor_client_free(floor_client *c);

#endif
