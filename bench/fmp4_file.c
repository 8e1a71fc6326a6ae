/* fmp4_file.c -- splits a fragmented MP4 file for the floor (see fmp4_file.h). */
#include "bench/fmp4_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Size and header length of the box at p (within n bytes); 0 when malformed. */
static uint64_t box_at(const uint8_t *p, size_t n, size_t *hdr) {
    if (n < 8) return 0;
    uint64_t size = be32(p);
    *hdr = 8;
    if (size == 1) {
        if (n < 16) return 0;
        size = (uint64_t)be32(p + 8) << 32 | be32(p + 12);
        *hdr = 16;
    } else if (size == 0) {
        size = n;
    }
    return size >= *hdr && size <= n ? size : 0;
}

/* Finds the child box of this type inside [p, p+n); NULL if absent. */
static const uint8_t *child(const uint8_t *p, size_t n, const char *type, size_t *len) {
    size_t off = 0, hdr;
    while (off < n) {
        uint64_t size = box_at(p + off, n - off, &hdr);
        if (!size) return NULL;
        if (!memcmp(p + off + 4, type, 4)) {
            *len = (size_t)size - hdr;
            return p + off + hdr;
        }
        off += size;
    }
    return NULL;
}

/* The first sample's flags decide: sample_is_non_sync_sample is bit 16. */
static bool moof_is_key(const uint8_t *moof, size_t n) {
    size_t traf_len, tfhd_len, trun_len;
    const uint8_t *traf = child(moof, n, "traf", &traf_len);
    if (!traf) return false;
    const uint8_t *tfhd = child(traf, traf_len, "tfhd", &tfhd_len);
    const uint8_t *trun = child(traf, traf_len, "trun", &trun_len);
    bool have = false;
    uint32_t flags = 0;
    if (trun && trun_len >= 8) {
        uint32_t tf = be32(trun) & 0xFFFFFF;
        size_t o = 8 + (tf & 0x1 ? 4 : 0);
        if (tf & 0x4 && o + 4 <= trun_len) {
            flags = be32(trun + o);
            have = true;
        } else if (tf & 0x400) {
            o += (tf & 0x100 ? 4 : 0) + (tf & 0x200 ? 4 : 0);
            if (o + 4 <= trun_len) {
                flags = be32(trun + o);
                have = true;
            }
        }
    }
    if (!have && tfhd && tfhd_len >= 8) {
        uint32_t hf = be32(tfhd) & 0xFFFFFF;
        size_t o =
            8 + (hf & 0x1 ? 8 : 0) + (hf & 0x2 ? 4 : 0) + (hf & 0x8 ? 4 : 0) + (hf & 0x10 ? 4 : 0);
        if (hf & 0x20 && o + 4 <= tfhd_len) {
            flags = be32(tfhd + o);
            have = true;
        }
    }
    return have && !(flags & 0x10000);
}

int fmp4_clip_load(fmp4_clip *c, const char *path, char *err, size_t errlen) {
    memset(c, 0, sizeof(*c));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->file = len > 0 ? malloc((size_t)len) : NULL;
    if (!c->file || fread(c->file, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        snprintf(err, errlen, "cannot read %s", path);
        return -1;
    }
    fclose(f);
    c->file_len = (size_t)len;
    c->frags = calloc(c->file_len / 16 + 1, sizeof(*c->frags));
    if (!c->frags) return -1;

    size_t off = 0, hdr;
    c->init = c->file;
    while (off < c->file_len) {
        uint8_t *p = c->file + off;
        uint64_t size = box_at(p, c->file_len - off, &hdr);
        if (!size) {
            snprintf(err, errlen, "malformed box at offset %zu", off);
            return -1;
        }
        if (!memcmp(p + 4, "moof", 4)) {
            size_t mhdr;
            uint64_t msize = box_at(p + size, c->file_len - off - size, &mhdr);
            if (!msize || memcmp(p + size + 4, "mdat", 4)) {
                snprintf(err, errlen, "moof at %zu not followed by mdat", off);
                return -1;
            }
            if (!c->nfrags) c->init_len = off;
            fmp4_fragment *fr = &c->frags[c->nfrags++];
            fr->data = p;
            fr->len = (size_t)(size + msize);
            fr->key = moof_is_key(p + hdr, (size_t)size - hdr);
            off += size + msize;
        } else {
            off += size; /* boxes after the fragments (mfra) are ignored */
        }
    }
    if (!c->nfrags || !c->frags[0].key) {
        snprintf(err, errlen, "%s: no fragments, or the first is not a keyframe", path);
        return -1;
    }
    return 0;
}

void fmp4_clip_free(fmp4_clip *c) {
    free(c->file);
    free(c->frags);
    memset(c, 0, sizeof(*c));
}

void fmp4_set_sequence(fmp4_fragment *f, uint32_t seq) {
    uint8_t *m = f->data + 8; /* mfhd is moof's first child: size, type, version+flags, seq */
    if (f->len < 24 || memcmp(m + 4, "mfhd", 4)) return;
    m[12] = (uint8_t)(seq >> 24);
    m[13] = (uint8_t)(seq >> 16);
    m[14] = (uint8_t)(seq >> 8);
    m[15] = (uint8_t)seq;
}
