/* wsproto.c -- RFC 6455 helpers for the bench programs (see wsproto.h). */
#include "bench/wsproto.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ws_accept_key(const char *key, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char cat[128];
    int n = snprintf(cat, sizeof(cat), "%s%s", key, guid);
    if (n < 0 || (size_t)n >= sizeof(cat)) return -1;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)cat, (size_t)n, digest);
    return EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH) == 28 ? 0 : -1;
}

void ws_client_key(char out[25]) {
    unsigned char raw[16];
    for (int i = 0; i < 16; i++)
        raw[i] = (unsigned char)random();
    EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
}

static size_t put_len(uint8_t *out, uint8_t mask_bit, uint64_t len) {
    if (len < 126) {
        out[1] = mask_bit | (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_server_header(uint8_t out[10], uint8_t opcode, uint64_t payload_len) {
    out[0] = 0x80 | opcode;
    return put_len(out, 0, payload_len);
}

size_t ws_client_frame(uint8_t *out, size_t cap, uint8_t opcode, const void *payload, size_t len,
                       uint32_t mask) {
    if (cap < WS_MAX_HEADER + len) return 0;
    out[0] = 0x80 | opcode;
    size_t h = put_len(out, 0x80, len);
    uint8_t m[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                    (uint8_t)mask};
    memcpy(out + h, m, 4);
    h += 4;
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        out[h + i] = p[i] ^ m[i & 3];
    return h + len;
}

/* Header length once the first two bytes are known. */
static size_t header_len(const uint8_t b[2]) {
    size_t n = 2;
    uint8_t l = b[1] & 0x7F;
    if (l == 126) n += 2;
    if (l == 127) n += 8;
    if (b[1] & 0x80) n += 4;
    return n;
}

size_t ws_hdr_feed(ws_hdr_parser *p, const uint8_t *data, size_t n, bool *done) {
    size_t used = 0;
    *done = false;
    while (used < n) {
        size_t need = p->have < 2 ? 2 : header_len(p->buf);
        if (p->have >= need) break;
        size_t take = need - p->have;
        if (take > n - used) take = n - used;
        memcpy(p->buf + p->have, data + used, take);
        p->have += take;
        used += take;
    }
    if (p->have < 2 || p->have < header_len(p->buf)) return used;
    const uint8_t *b = p->buf;
    p->fin = (b[0] & 0x80) != 0;
    p->opcode = b[0] & 0x0F;
    p->masked = (b[1] & 0x80) != 0;
    uint8_t l = b[1] & 0x7F;
    size_t o = 2;
    if (l == 126) {
        p->len = (uint64_t)b[2] << 8 | b[3];
        o = 4;
    } else if (l == 127) {
        p->len = 0;
        for (int i = 0; i < 8; i++)
            p->len = p->len << 8 | b[2 + i];
        o = 10;
    } else {
        p->len = l;
    }
    if (p->masked) memcpy(p->mask, b + o, 4);
    *done = true;
    return used;
}

/* The value of header `name` in an HTTP response head, NUL-terminated into out. */
bool ws_http_header(const char *head, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) || h[nl] != ':') continue;
        h += nl + 1;
        while (*h == ' ')
            h++;
        size_t i = 0;
        while (h[i] && h[i] != '\r' && i + 1 < cap) {
            out[i] = h[i];
            i++;
        }
        out[i] = 0;
        return true;
    }
    return false;
}
