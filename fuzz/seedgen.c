/* seedgen.c -- writes the seeds that cannot be written by hand: tokens
 * signed with the fuzz secret (for the token and signalling targets) and
 * SRTP packets protected by libsrtp with the fuzz key (for the rtp target).
 * `make fuzz-seeds` runs it as build/fuzz/seedgen fuzz/corpus; its files are
 * named gen-*, next to the hand-written seeds, and committed.
 *
 * Deterministic: fixed keys, claims, SSRCs and sequence numbers. */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "server/token.h"

static const char *dir;

static void put(const char *target, const char *name, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/gen-%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
        fprintf(stderr, "seedgen: cannot write %s\n", path);
        exit(1);
    }
}

static char *token(const char *claims_json) {
    json_t *claims = json_loads(claims_json, 0, NULL);
    char *t = claims
                  ? vg_token_sign((const unsigned char *)FUZZ_SECRET, strlen(FUZZ_SECRET), claims)
                  : NULL;
    json_decref(claims);
    if (!t) {
        fprintf(stderr, "seedgen: cannot sign %s\n", claims_json);
        exit(1);
    }
    return t;
}

static void tokens(void) {
    static const struct {
        const char *name, *claims;
    } list[] = {
        {"admin", "{\"sub\":\"root\",\"role\":\"admin\",\"exp\":4102444800}"},
        {"viewer", "{\"sub\":\"ann\",\"role\":\"viewer\",\"streams\":[\"d*\",\"yard\"],"
                   "\"devices\":[\"cam1\"],\"iat\":1700000000,\"exp\":4102444800}"},
        {"operator", "{\"sub\":\"op\",\"role\":\"operator\",\"streams\":[\"*\"],"
                     "\"devices\":[\"cam*\",\"lamp?\"],\"exp\":4102444800}"},
        {"publisher", "{\"sub\":\"cam\",\"role\":\"publisher\",\"streams\":[\"door\"],"
                      "\"exp\":4102444800}"},
        {"expired", "{\"sub\":\"old\",\"role\":\"admin\",\"exp\":1000000000}"},
        {"unknown-role", "{\"sub\":\"x\",\"role\":\"root\",\"exp\":4102444800}"},
        {"no-exp", "{\"sub\":\"x\",\"role\":\"viewer\"}"},
        {"bad-patterns", "{\"sub\":\"x\",\"role\":\"viewer\",\"streams\":[1],\"exp\":4102444800}"},
        {"sub-not-string", "{\"sub\":7,\"role\":\"viewer\",\"exp\":4102444800}"},
    };
    char buf[4096];
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
        char *t = token(list[i].claims);
        put("token", list[i].name, t, strlen(t));
        /* the same with one character of the signature changed */
        size_t n = strlen(t);
        t[n - 1] = t[n - 1] == 'A' ? 'B' : 'A';
        snprintf(buf, sizeof(buf), "%s-forged", list[i].name);
        put("token", buf, t, n);
        t[n - 1] = t[n - 1] == 'A' ? 'B' : 'A';
        /* a hello with it, then what each role tries */
        int len = snprintf(buf, sizeof(buf),
                           "{\"type\":\"hello\",\"id\":1,\"token\":\"%s\"}\n"
                           "{\"type\":\"list\",\"id\":2}\n"
                           "{\"type\":\"subscribe\",\"id\":3,\"stream\":\"door\"}\n"
                           "{\"type\":\"devices\",\"id\":4}\n"
                           "{\"type\":\"command\",\"id\":5,\"device\":\"cam1\",\"name\":\"light\","
                           "\"params\":{\"on\":true}}\n",
                           t);
        char name[64];
        snprintf(name, sizeof(name), "hello-%s", list[i].name);
        put("signaling", name, buf, (size_t)len);
        free(t);
    }
}

/* ---- SRTP ---------------------------------------------------------------- */

static srtp_t sender(int gcm) {
    static uint8_t key[64];
    fuzz_srtp_key(key, sizeof(key));
    srtp_policy_t p;
    memset(&p, 0, sizeof(p));
    if (gcm) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    }
    p.ssrc.type = ssrc_any_outbound;
    p.key = key;
    p.window_size = 1024;
    srtp_t s = NULL;
    if (srtp_create(&s, &p) != srtp_err_status_ok) {
        fprintf(stderr, "seedgen: srtp_create failed\n");
        exit(1);
    }
    return s;
}

/* An RTP packet (H.264 single NAL unit payload) into buf; its length. */
static size_t rtp(uint8_t *buf, uint8_t pt, uint16_t seq, uint32_t ssrc, size_t payload) {
    buf[0] = 0x80;
    buf[1] = pt;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    uint32_t ts = seq * 3000u;
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    buf[12] = 0x65; /* IDR slice NAL header */
    for (size_t i = 1; i < payload; i++)
        buf[12 + i] = (uint8_t)(seq + i);
    return 12 + payload;
}

/* A seed being built: records [len16][advance][datagram]. */
typedef struct seed {
    uint8_t data[8192];
    size_t len;
} seed;

static void add(seed *s, const uint8_t *dgram, size_t len, uint8_t advance_s) {
    s->data[s->len++] = (uint8_t)(len >> 8);
    s->data[s->len++] = (uint8_t)len;
    s->data[s->len++] = advance_s;
    memcpy(s->data + s->len, dgram, len);
    s->len += len;
}

/* Protects a fresh packet with sender tx (NULL: plain) and adds it. */
static void add_rtp(seed *s, srtp_t tx, uint8_t pt, uint16_t seq, uint32_t ssrc, size_t payload,
                    uint8_t advance_s) {
    uint8_t buf[2048];
    int len = (int)rtp(buf, pt, seq, ssrc, payload);
    if (tx && srtp_protect(tx, buf, &len) != srtp_err_status_ok) {
        fprintf(stderr, "seedgen: srtp_protect failed\n");
        exit(1);
    }
    add(s, buf, (size_t)len, advance_s);
}

static void packets(void) {
    if (srtp_init() != srtp_err_status_ok) exit(1);
    for (int gcm = 0; gcm < 2; gcm++) {
        const char *prof = gcm ? "gcm" : "cm";
        char name[64];
        seed s = {.len = 0};
        srtp_t tx = sender(gcm);
        size_t last = 0;
        for (uint16_t seq = 100; seq < 104; seq++) {
            last = s.len;
            add_rtp(&s, tx, FUZZ_RTP_PT, seq, 0x11223344u, 40 + seq % 7, 0);
        }
        snprintf(name, sizeof(name), "srtp-%s-stream", prof);
        put("rtp", name, s.data, s.len);

        /* a replay: the last datagram again */
        seed r = s;
        memcpy(r.data + r.len, s.data + last, s.len - last);
        r.len += s.len - last;
        snprintf(name, sizeof(name), "srtp-%s-replay", prof);
        put("rtp", name, r.data, r.len);
        srtp_dealloc(tx);

        /* a camera restart after 5 s of silence: same SSRC, lower sequence
         * numbers; then a new SSRC; then another payload type and RTCP */
        seed t = {.len = 0};
        tx = sender(gcm);
        add_rtp(&t, tx, FUZZ_RTP_PT, 5000, 0x11223344u, 30, 0);
        srtp_dealloc(tx);
        tx = sender(gcm);
        add_rtp(&t, tx, FUZZ_RTP_PT, 10, 0x11223344u, 30, 5);
        add_rtp(&t, tx, FUZZ_RTP_PT, 11, 0x55667788u, 30, 0);
        add_rtp(&t, tx, 97, 12, 0x55667788u, 30, 0);
        uint8_t rtcp[28] = {0x80, 200, 0, 6};
        add(&t, rtcp, sizeof(rtcp), 0);
        srtp_dealloc(tx);
        snprintf(name, sizeof(name), "srtp-%s-restart", prof);
        put("rtp", name, t.data, t.len);

        /* tampered: one payload byte flipped */
        seed u = {.len = 0};
        tx = sender(gcm);
        add_rtp(&u, tx, FUZZ_RTP_PT, 1, 0x01020304u, 60, 0);
        u.data[3 + 20] ^= 0x40;
        srtp_dealloc(tx);
        snprintf(name, sizeof(name), "srtp-%s-tampered", prof);
        put("rtp", name, u.data, u.len);
    }

    /* plain RTP: a stream, CSRCs + header extension + padding, truncated */
    seed p = {.len = 0};
    for (uint16_t seq = 7; seq < 10; seq++)
        add_rtp(&p, NULL, FUZZ_RTP_PT, seq, 0xcafef00du, 20, 0);
    put("rtp", "rtp-stream", p.data, p.len);
    uint8_t x[64];
    size_t n = rtp(x, FUZZ_RTP_PT, 1, 0xcafef00du, 4);
    uint8_t ext[64] = {0xb2, FUZZ_RTP_PT, 0, 1, 0,    0,    0, 1, 0xca, 0xfe,
                       0xf0, 0x0d,        1, 2, 3,    4,    5, 6, 7,    8, /* two CSRCs */
                       0xbe, 0xde,        0, 1, 0x10, 0xaa, 0, 0,          /* one-byte extension */
                       0x65, 1,           2, 3, 0,    0,    0, 4}; /* payload, 4 bytes of padding */
    seed q = {.len = 0};
    add(&q, ext, 36, 0);
    add(&q, x, n, 1);
    add(&q, x, 11, 0);
    put("rtp", "rtp-csrc-ext-padding-truncated", q.data, q.len);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: seedgen CORPUS_DIR\n");
        return 2;
    }
    dir = argv[1];
    tokens();
    packets();
    return 0;
}
