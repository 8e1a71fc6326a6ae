/* fmp4_file.h -- a fragmented MP4 file (as mp4mux fragment-duration=1
 * streamable=true writes it) split into its init segment and its fragments,
 * each fragment one moof+mdat pair with its keyframe flag (read from the
 * first sample's flags in tfhd/trun). The floor program replays them. */
#ifndef VIGIL_BENCH_FMP4_FILE_H
#define VIGIL_BENCH_FMP4_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fmp4_fragment {
    uint8_t *data; /* moof+mdat, inside the file buffer */
    size_t len;
    bool key;
} fmp4_fragment;

typedef struct fmp4_clip {
    uint8_t *file;
    size_t file_len;
    uint8_t *init; /* every box before the first moof (ftyp, moov ...) */
    size_t init_len;
    fmp4_fragment *frags;
    size_t nfrags;
} fmp4_clip;

/* Loads and splits the file; 0, or -1 with a message in err. */
int fmp4_clip_load(fmp4_clip *c, const char *path, char *err, size_t errlen);
void fmp4_clip_free(fmp4_clip *c);

/* Overwrites the fragment's moof/mfhd sequence number (so that a looped clip
 * keeps counting up, as vigil's continuous mp4mux does). */
void fmp4_set_sequence(fmp4_fragment *f, uint32_t seq);

#endif
