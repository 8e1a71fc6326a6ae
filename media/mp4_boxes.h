/* mp4_boxes.h -- the few looks inside ISO BMFF boxes that vigil needs: find a
 * child box, and put right the Opus box of GStreamer 1.22's mp4mux.
 *
 * mp4mux 1.22 writes the OpusSpecificBox (dOps) with its multi-byte fields
 * (PreSkip, InputSampleRate, OutputGain) little-endian; the Opus-in-ISOBMFF
 * spec and browsers read them big-endian, and Chromium refuses the init
 * segment when the InputSampleRate it reads differs from the sample entry's
 * rate. vg_mp4_fix_opus() finds each dOps in an init segment and, when its
 * rate is plainly little-endian, swaps the fields in place (sizes unchanged;
 * an mp4mux that writes them right is left alone).
 *
 * A track whose pad was released before mp4mux wrote its moov (the audio
 * a source announced and never sent, media/audio_branch.c) is still in the
 * moov, with no sample entry: readers (browsers, gst-discoverer) take the
 * file for corrupt. vg_mp4_drop_empty_tracks() cuts such traks, and their
 * trex, out of the init segment. */
#ifndef VIGIL_MEDIA_MP4_BOXES_H
#define VIGIL_MEDIA_MP4_BOXES_H

#include <stddef.h>
#include <stdint.h>

/* Big-endian 32-bit read. */
uint32_t vg_mp4_be32(const uint8_t *p);

/* The first box of `type` among the boxes in [p, end): its payload (after
 * the 8-byte header) and payload length, or NULL. 32-bit sizes only, as
 * mp4mux writes inside moov and moof. */
uint8_t *vg_mp4_find_box(uint8_t *p, const uint8_t *end, const char *type, size_t *len);

/* Fixes little-endian dOps boxes in an init segment (ftyp+moov); returns
 * how many it fixed. */
int vg_mp4_fix_opus(uint8_t *init, size_t len);

/* Removes the traks with an empty stsd (and their trex) from an init
 * segment, in place; returns its new length. */
size_t vg_mp4_drop_empty_tracks(uint8_t *init, size_t len);

#endif
