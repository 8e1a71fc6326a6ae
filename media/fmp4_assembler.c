/* fmp4_assembler.c -- groups mp4mux output into init segments and fragments
 * (see fmp4_assembler.h). */
#include "media/fmp4_assembler.h"

#include <stdlib.h>
#include <string.h>

#include "media/mp4_boxes.h"

enum route { ROUTE_DISCARD, ROUTE_INIT, ROUTE_MOOF, ROUTE_FRAG };

void vg_fmp4_assembler_init(vg_fmp4_assembler *a, uint32_t channel, size_t max_frame_bytes,
                            vg_fmp4_emit_fn emit, void *ctx) {
    memset(a, 0, sizeof(*a));
    a->channel = channel;
    a->max_frame_bytes = max_frame_bytes;
    a->emit = emit;
    a->ctx = ctx;
    a->hdr_need = 8;
}

void vg_fmp4_assembler_reset(vg_fmp4_assembler *a) {
    free(a->init);
    free(a->moof);
    vg_frame_unref(a->frag);
    vg_fmp4_assembler_init(a, a->channel, a->max_frame_bytes, a->emit, a->ctx);
}

static int grow_append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *d, size_t n,
                       size_t max) {
    if (n > max || *len > max - n) return -1;
    if (*len + n > *cap) {
        size_t ncap = *cap ? *cap : 256;
        while (ncap < *len + n)
            ncap *= 2;
        uint8_t *nb = realloc(*buf, ncap);
        if (!nb) return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, d, n);
    *len += n;
    return 0;
}

static enum route current_route(const vg_fmp4_assembler *a) {
    if (a->frag) return ROUTE_FRAG;
    if (a->moof_len) return ROUTE_MOOF;
    if (!a->init_done && (!strcmp(a->box_type, "ftyp") || !strcmp(a->box_type, "moov")))
        return ROUTE_INIT;
    return ROUTE_DISCARD;
}

static int route_bytes(vg_fmp4_assembler *a, const uint8_t *d, size_t n, bool is_sample,
                       bool is_delta) {
    switch (current_route(a)) {
    case ROUTE_INIT:
        return grow_append(&a->init, &a->init_len, &a->init_cap, d, n, a->max_frame_bytes);
    case ROUTE_MOOF:
        return grow_append(&a->moof, &a->moof_len, &a->moof_cap, d, n, a->max_frame_bytes);
    case ROUTE_FRAG:
        if (n > a->frag->payload_len - a->frag_fill) return -1;
        memcpy(vg_frame_payload(a->frag) + a->frag_fill, d, n);
        a->frag_fill += n;
        if (is_sample && !a->frag_key_known) {
            a->frag_key_known = true;
            a->frag_key = !is_delta;
        }
        return 0;
    case ROUTE_DISCARD: return 0;
    }
    return 0;
}

/* Records the ids of the moov's audio tracks (handler "soun"). */
static void read_tracks(vg_fmp4_assembler *a) {
    a->n_audio_tracks = 0;
    const uint8_t *init_end = a->init + a->init_len;
    size_t moov_len;
    uint8_t *moov = vg_mp4_find_box(a->init, init_end, "moov", &moov_len);
    if (!moov) return;
    uint8_t *p = moov;
    const uint8_t *end = moov + moov_len;
    size_t trak_len;
    uint8_t *trak;
    while ((trak = vg_mp4_find_box(p, end, "trak", &trak_len))) {
        p = trak + trak_len;
        size_t tkhd_len, mdia_len, hdlr_len;
        uint8_t *tkhd = vg_mp4_find_box(trak, trak + trak_len, "tkhd", &tkhd_len);
        uint8_t *mdia = vg_mp4_find_box(trak, trak + trak_len, "mdia", &mdia_len);
        uint8_t *hdlr = mdia ? vg_mp4_find_box(mdia, mdia + mdia_len, "hdlr", &hdlr_len) : NULL;
        if (!tkhd || !hdlr || hdlr_len < 12 || memcmp(hdlr + 8, "soun", 4)) continue;
        size_t id_at = tkhd_len >= 1 && tkhd[0] == 1 ? 20 : 12; /* version 1: 64-bit times */
        if (tkhd_len < id_at + 4 || a->n_audio_tracks == 4) continue;
        a->audio_tracks[a->n_audio_tracks++] = vg_mp4_be32(tkhd + id_at);
    }
}

/* True when the moof in a->moof is a fragment of an audio track. */
static bool moof_is_audio(vg_fmp4_assembler *a) {
    if (a->n_audio_tracks == 0 || a->moof_len < 8) return false;
    size_t traf_len, tfhd_len;
    uint8_t *traf = vg_mp4_find_box(a->moof + 8, a->moof + a->moof_len, "traf", &traf_len);
    uint8_t *tfhd = traf ? vg_mp4_find_box(traf, traf + traf_len, "tfhd", &tfhd_len) : NULL;
    if (!tfhd || tfhd_len < 8) return false;
    uint32_t id = vg_mp4_be32(tfhd + 4);
    for (size_t i = 0; i < a->n_audio_tracks; i++)
        if (a->audio_tracks[i] == id) return true;
    return false;
}

static void emit_init(vg_fmp4_assembler *a, int64_t now_us) {
    a->init_done = true;
    a->init_len = vg_mp4_drop_empty_tracks(a->init, a->init_len); /* given-up audio */
    read_tracks(a);
    vg_mp4_fix_opus(a->init, a->init_len); /* mp4mux 1.22's dOps, for browsers */
    vg_frame *f = vg_frame_new(VG_FRAME_INIT, 0, a->channel, now_us, a->init_len);
    if (f) {
        memcpy(vg_frame_payload(f), a->init, a->init_len);
        a->emit(a->ctx, f);
    }
    free(a->init);
    a->init = NULL;
    a->init_len = a->init_cap = 0;
}

/* A top-level box header is complete in a->hdr: decide where its bytes go. */
static int start_box(vg_fmp4_assembler *a, int64_t now_us) {
    const uint8_t *h = a->hdr;
    uint64_t size = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3];
    if (size == 1 && a->hdr_need == 8) { /* 64-bit largesize follows */
        a->hdr_need = 16;
        return 0;
    }
    if (size == 1) {
        size = 0;
        for (int i = 8; i < 16; i++)
            size = size << 8 | h[i];
    }
    size_t hlen = a->hdr_len;
    a->hdr_len = 0;
    a->hdr_need = 8;
    if (size < hlen || size > a->max_frame_bytes) return -1;
    memcpy(a->box_type, h + 4, 4);
    a->box_type[4] = 0;
    a->box_left = size - hlen;

    if (!strcmp(a->box_type, "moof")) {
        if (!a->init_done) {
            if (a->init_len == 0) return -1; /* a fragment with no moov before it */
            emit_init(a, now_us);
        }
        vg_frame_unref(a->frag);
        a->frag = NULL;
        a->moof_len = 0;
    } else if (!strcmp(a->box_type, "mdat") && a->moof_len) {
        size_t total = a->moof_len + (size_t)size;
        if (total > a->max_frame_bytes) return -1;
        a->frag = vg_frame_new(VG_FRAME_MEDIA, 0, a->channel, now_us, total);
        if (!a->frag) return -1;
        memcpy(vg_frame_payload(a->frag), a->moof, a->moof_len);
        a->frag_fill = a->moof_len;
        a->frag_key_known = false;
        a->frag_audio = moof_is_audio(a);
        a->moof_len = 0;
        return route_bytes(a, h, hlen, false, false);
    }
    if (!strcmp(a->box_type, "moof")) {
        return grow_append(&a->moof, &a->moof_len, &a->moof_cap, h, hlen, a->max_frame_bytes);
    }
    return route_bytes(a, h, hlen, false, false);
}

static void box_done(vg_fmp4_assembler *a, int64_t now_us) {
    if (!a->frag || a->frag_fill != a->frag->payload_len) return;
    vg_frame *f = a->frag;
    a->frag = NULL;
    if (a->frag_audio)
        f->flags = VG_FRAME_AUDIO;
    else
        f->flags = (a->frag_key_known && a->frag_key) ? VG_FRAME_KEYFRAME : 0;
    f->time_us = now_us;
    vg_frame_header_write(vg_frame_wire(f), f->kind, f->flags, f->channel, now_us);
    a->fragments++;
    a->emit(a->ctx, f);
}

int vg_fmp4_assembler_push(vg_fmp4_assembler *a, const uint8_t *data, size_t len, bool is_sample,
                           bool is_delta, int64_t now_us) {
    while (len > 0) {
        if (a->box_left == 0) {
            size_t take = a->hdr_need - a->hdr_len;
            if (take > len) take = len;
            memcpy(a->hdr + a->hdr_len, data, take);
            a->hdr_len += take;
            data += take;
            len -= take;
            if (a->hdr_len < a->hdr_need) break;
            if (start_box(a, now_us) < 0) goto fail;
            if (a->box_left == 0 && a->hdr_len == 0) box_done(a, now_us);
            continue;
        }
        size_t take = a->box_left < len ? (size_t)a->box_left : len;
        if (route_bytes(a, data, take, is_sample, is_delta) < 0) goto fail;
        a->box_left -= take;
        data += take;
        len -= take;
        if (a->box_left == 0) box_done(a, now_us);
    }
    return 0;
fail : {
    uint64_t errors = a->errors + 1;
    vg_fmp4_assembler_reset(a);
    a->errors = errors; /* the count survives the reset */
    return -1;
}
}
