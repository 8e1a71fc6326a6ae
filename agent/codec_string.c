/* codec_string.c -- codecs strings from parameter sets (codec_string.h). */
#include "agent/codec_string.h"

/* GStreamer marks its bitstream parsers' API unstable; Debian 12's 1.22 is
 * what the agent is built against. */
#define GST_USE_UNSTABLE_API
#include <gst/codecparsers/gsth264parser.h>
#include <gst/codecparsers/gsth265parser.h>
#include <stdio.h>

static bool avc1(const uint8_t *au, size_t len, char *out, size_t outlen) {
    GstH264NalParser *p = gst_h264_nal_parser_new();
    GstH264NalUnit nalu;
    bool ok = false;
    guint offset = 0;
    while (!ok && offset < len) {
        GstH264ParserResult r = gst_h264_parser_identify_nalu(p, au, offset, len, &nalu);
        if (r != GST_H264_PARSER_OK && r != GST_H264_PARSER_NO_NAL_END) break;
        GstH264SPS sps;
        if (nalu.type == GST_H264_NAL_SPS &&
            gst_h264_parser_parse_sps(p, &nalu, &sps) == GST_H264_PARSER_OK) {
            unsigned flags = (unsigned)sps.constraint_set0_flag << 7 |
                             (unsigned)sps.constraint_set1_flag << 6 |
                             (unsigned)sps.constraint_set2_flag << 5 |
                             (unsigned)sps.constraint_set3_flag << 4 |
                             (unsigned)sps.constraint_set4_flag << 3 |
                             (unsigned)sps.constraint_set5_flag << 2;
            snprintf(out, outlen, "avc1.%02X%02X%02X", sps.profile_idc, flags, sps.level_idc);
            gst_h264_sps_clear(&sps);
            ok = true;
        }
        offset = nalu.offset + nalu.size;
    }
    gst_h264_nal_parser_free(p);
    return ok;
}

/* Annex E: profile space (""/A/B/C) and idc, the 32 compatibility flags
 * as a hex number in reverse bit order, tier (L/H) and level, then the six
 * bytes of constraint flags up to the last one that is not zero. */
static void hvc1_format(const GstH265ProfileTierLevel *t, char *out, size_t outlen) {
    static const char *const spaces[] = {"", "A", "B", "C"};
    uint32_t compat = 0;
    for (int j = 0; j < 32; j++)
        if (t->profile_compatibility_flag[j]) compat |= 1u << j;
    uint8_t c[6] = {
        (uint8_t)(t->progressive_source_flag << 7 | t->interlaced_source_flag << 6 |
                  t->non_packed_constraint_flag << 5 | t->frame_only_constraint_flag << 4 |
                  t->max_12bit_constraint_flag << 3 | t->max_10bit_constraint_flag << 2 |
                  t->max_8bit_constraint_flag << 1 | t->max_422chroma_constraint_flag),
        (uint8_t)(t->max_420chroma_constraint_flag << 7 | t->max_monochrome_constraint_flag << 6 |
                  t->intra_constraint_flag << 5 | t->one_picture_only_constraint_flag << 4 |
                  t->lower_bit_rate_constraint_flag << 3 | t->max_14bit_constraint_flag << 2),
    };
    int n = snprintf(out, outlen, "hvc1.%s%u.%X.%c%u", spaces[t->profile_space & 3],
                     (unsigned)t->profile_idc, (unsigned)compat, t->tier_flag ? 'H' : 'L',
                     (unsigned)t->level_idc);
    int last = 5;
    while (last >= 0 && !c[last])
        last--;
    for (int i = 0; i <= last && n > 0 && (size_t)n < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, ".%02X", (unsigned)c[i]);
}

static bool hvc1(const uint8_t *au, size_t len, char *out, size_t outlen) {
    GstH265Parser *p = gst_h265_parser_new();
    GstH265NalUnit nalu;
    bool ok = false;
    guint offset = 0;
    while (!ok && offset < len) {
        GstH265ParserResult r = gst_h265_parser_identify_nalu(p, au, offset, len, &nalu);
        if (r != GST_H265_PARSER_OK && r != GST_H265_PARSER_NO_NAL_END) break;
        if (nalu.type == GST_H265_NAL_VPS) {
            GstH265VPS vps;
            gst_h265_parser_parse_vps(p, &nalu, &vps); /* the SPS refers to it */
        } else if (nalu.type == GST_H265_NAL_SPS) {
            GstH265SPS sps;
            if (gst_h265_parser_parse_sps(p, &nalu, &sps, FALSE) == GST_H265_PARSER_OK) {
                hvc1_format(&sps.profile_tier_level, out, outlen);
                ok = true;
            }
        }
        offset = nalu.offset + nalu.size;
    }
    gst_h265_parser_free(p);
    return ok;
}

bool ag_codec_string(bool hevc, const uint8_t *au, size_t len, char *out, size_t outlen) {
    return (hevc ? hvc1 : avc1)(au, len, out, outlen);
}
