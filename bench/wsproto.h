/* wsproto.h -- the little of RFC 6455 the bench programs need: the
 * Sec-WebSocket-Accept value (SHA-1 and base64 from OpenSSL), frame headers
 * for unmasked server frames, masked client text frames, and an incremental
 * parser for the frame headers of a byte stream.
 *
 * Used by the load client (bench/load_*.c) and the floor (bench/floor_*.c). */
#ifndef VIGIL_BENCH_WSPROTO_H
#define VIGIL_BENCH_WSPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_MAX_HEADER 14 /* 2 + 8 (64-bit length) + 4 (mask) */

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* base64(SHA-1(key + GUID)) into out (29 bytes with the NUL). 0 or -1. */
int ws_accept_key(const char *key, char out[29]);

/* The value of header `name` (case-insensitive) in an HTTP head whose lines
 * end in CRLF, copied NUL-terminated into out; false when absent. */
bool ws_http_header(const char *head, const char *name, char *out, size_t cap);

/* A fresh Sec-WebSocket-Key (base64 of 16 random bytes) into out. */
void ws_client_key(char out[25]);

/* Writes an unmasked (server) frame header with FIN set; returns its length (2, 4 or 10). */
size_t ws_server_header(uint8_t out[10], uint8_t opcode, uint64_t payload_len);

/* Builds a masked client frame with FIN set into out (cap bytes); returns its
 * length, or 0 when it does not fit. */
size_t ws_client_frame(uint8_t *out, size_t cap, uint8_t opcode, const void *payload, size_t len,
                       uint32_t mask);

/* Incremental frame-header parser: feed bytes until it reports a complete
 * header, then the caller consumes `len` payload bytes itself. */
typedef struct ws_hdr_parser {
    uint8_t buf[WS_MAX_HEADER];
    size_t have;
    /* valid once complete */
    bool fin, masked;
    uint8_t opcode;
    uint64_t len;
    uint8_t mask[4];
} ws_hdr_parser;

/* Consumes header bytes from data; returns how many it used. *done becomes
 * true when the header is complete (the parser then holds fin/opcode/len). */
size_t ws_hdr_feed(ws_hdr_parser *p, const uint8_t *data, size_t n, bool *done);
static inline void ws_hdr_reset(ws_hdr_parser *p) {
    p->have = 0;
}

#endif
