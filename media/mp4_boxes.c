/* mp4_boxes.c -- child box lookup, the dOps fix and the removal of empty
 * tracks (see mp4_boxes.h). */
#include "media/mp4_boxes.h"

#include <string.h>

/* Anything above this is no audio sample rate: a byte-swapped one. */
#define MAX_RATE 768000u

uint32_t vg_mp4_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint8_t *vg_mp4_find_box(uint8_t *p, const uint8_t *end, const char *type, size_t *len) {
    while (end - p >= 8) {
        size_t size = vg_mp4_be32(p);
        if (size < 8 || size > (size_t)(end - p)) return NULL;
        if (!memcmp(p + 4, type, 4)) {
            *len = size - 8;
            return p + 8;
        }
        p += size;
    }
    return NULL;
}

static void swap(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/* dOps payload: Version(1) OutputChannelCount(1) PreSkip(2)
 * InputSampleRate(4) OutputGain(2) ChannelMappingFamily(1) ... */
static int fix_dops(uint8_t *d, size_t len) {
    if (len < 11) return 0;
    uint32_t be = vg_mp4_be32(d + 4);
    uint32_t le = (uint32_t)d[7] << 24 | (uint32_t)d[6] << 16 | (uint32_t)d[5] << 8 | d[4];
    if (be <= MAX_RATE || le > MAX_RATE) return 0;
    swap(d + 2, 2);
    swap(d + 4, 4);
    swap(d + 8, 2);
    return 1;
}

/* Sample entries of one stsd: each Opus one holds a dOps after the 28 bytes
 * of SampleEntry and AudioSampleEntry fields. */
static int fix_stsd(uint8_t *stsd, size_t len) {
    if (len < 8) return 0;
    int fixed = 0;
    uint8_t *p = stsd + 8; /* version, flags, entry_count */
    const uint8_t *end = stsd + len;
    size_t entry_len;
    uint8_t *entry;
    while ((entry = vg_mp4_find_box(p, end, "Opus", &entry_len))) {
        size_t dops_len;
        uint8_t *dops = entry_len > 28
                            ? vg_mp4_find_box(entry + 28, entry + entry_len, "dOps", &dops_len)
                            : NULL;
        if (dops) fixed += fix_dops(dops, dops_len);
        p = entry + entry_len;
    }
    return fixed;
}

int vg_mp4_fix_opus(uint8_t *init, size_t len) {
    size_t moov_len, trak_len;
    uint8_t *moov = vg_mp4_find_box(init, init + len, "moov", &moov_len);
    if (!moov) return 0;
    int fixed = 0;
    uint8_t *p = moov;
    const uint8_t *end = moov + moov_len;
    uint8_t *trak;
    while ((trak = vg_mp4_find_box(p, end, "trak", &trak_len))) {
        p = trak + trak_len;
        const char *path[] = {"mdia", "minf", "stbl", "stsd"};
        uint8_t *box = trak;
        size_t box_len = trak_len;
        for (size_t i = 0; box && i < 4; i++)
            box = vg_mp4_find_box(box, box + box_len, path[i], &box_len);
        if (box) fixed += fix_stsd(box, box_len);
    }
    return fixed;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The trak's stsd entry_count, or -1 when it has no stsd. */
static long stsd_entries(uint8_t *trak, size_t trak_len) {
    const char *path[] = {"mdia", "minf", "stbl", "stsd"};
    uint8_t *box = trak;
    size_t box_len = trak_len;
    for (size_t i = 0; box && i < 4; i++)
        box = vg_mp4_find_box(box, box + box_len, path[i], &box_len);
    return box && box_len >= 8 ? (long)vg_mp4_be32(box + 4) : -1;
}

/* The trak's track_ID (tkhd), or 0. */
static uint32_t track_id(uint8_t *trak, size_t trak_len) {
    size_t tkhd_len;
    uint8_t *tkhd = vg_mp4_find_box(trak, trak + trak_len, "tkhd", &tkhd_len);
    if (!tkhd || tkhd_len < 1) return 0;
    size_t at = tkhd[0] == 1 ? 20 : 12; /* version 1: 64-bit times */
    return tkhd_len >= at + 4 ? vg_mp4_be32(tkhd + at) : 0;
}

/* Cuts the box whose payload starts at `payload` (header 8 bytes before)
 * out of [init, init + *len), and shrinks the boxes that hold it, whose
 * headers are at `parents`. */
static void cut_box(uint8_t *init, size_t *len, uint8_t *payload, uint8_t **parents,
                    size_t n_parents) {
    uint8_t *box = payload - 8;
    uint32_t size = vg_mp4_be32(box);
    memmove(box, box + size, (size_t)(init + *len - (box + size)));
    *len -= size;
    for (size_t i = 0; i < n_parents; i++)
        put_be32(parents[i], vg_mp4_be32(parents[i]) - size);
}

size_t vg_mp4_drop_empty_tracks(uint8_t *init, size_t len) {
    size_t moov_len, trak_len;
    uint8_t *moov = vg_mp4_find_box(init, init + len, "moov", &moov_len);
    if (!moov) return len;
    uint8_t *p = moov;
    uint8_t *trak;
    while ((trak = vg_mp4_find_box(p, moov + moov_len, "trak", &trak_len))) {
        if (stsd_entries(trak, trak_len) != 0) {
            p = trak + trak_len;
            continue;
        }
        uint32_t id = track_id(trak, trak_len);
        uint8_t *parents[] = {moov - 8};
        cut_box(init, &len, trak, parents, 1);
        moov_len = vg_mp4_be32(moov - 8) - 8;
        p = trak - 8; /* the next box is where this one was */
        /* Its trex (track extends) in mvex goes too. */
        size_t mvex_len, trex_len;
        uint8_t *mvex = vg_mp4_find_box(moov, moov + moov_len, "mvex", &mvex_len);
        uint8_t *q = mvex;
        uint8_t *trex;
        while (mvex && (trex = vg_mp4_find_box(q, mvex + mvex_len, "trex", &trex_len))) {
            if (trex_len >= 8 && vg_mp4_be32(trex + 4) == id) {
                uint8_t *holders[] = {moov - 8, mvex - 8};
                cut_box(init, &len, trex, holders, 2);
                moov_len = vg_mp4_be32(moov - 8) - 8;
                break;
            }
            q = trex + trex_len;
        }
    }
    return len;
}
