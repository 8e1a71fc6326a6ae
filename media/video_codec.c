/* video_codec.c -- the table of relayed video codecs (see video_codec.h). */
#include "media/video_codec.h"

#include <string.h>

#include "media/gst_build.h"

const vg_video_codec vg_codec_h264 = {
    .name = "h264",
    .caps_name = "video/x-h264",
    .rtp_encoding = "H264",
    .depay = "rtph264depay",
    .parse = "h264parse",
    .stream_format = "avc",
    .timestamper = "h264timestamper",
    .au_format = "avc",
    .decoder = "avdec_h264",
    .family = {"avc1", "avc3"},
};

static const vg_video_codec codec_h265 = {
    .name = "h265",
    .caps_name = "video/x-h265",
    .rtp_encoding = "H265",
    .depay = "rtph265depay",
    .parse = "h265parse",
    .stream_format = "hvc1",
    .timestamper = "h265timestamper",
    .au_format = "hevc",
    .decoder = "avdec_h265",
    .family = {"hvc1", "hev1"},
};

static const vg_video_codec *const codecs_table[] = {&vg_codec_h264, &codec_h265};

const vg_video_codec *vg_video_codec_by_name(const char *name) {
    for (size_t i = 0; name && i < sizeof(codecs_table) / sizeof(codecs_table[0]); i++)
        if (!strcmp(codecs_table[i]->name, name)) return codecs_table[i];
    return NULL;
}

const vg_video_codec *vg_video_codec_by_rtp(const char *encoding) {
    for (size_t i = 0; encoding && i < sizeof(codecs_table) / sizeof(codecs_table[0]); i++)
        if (!g_ascii_strcasecmp(codecs_table[i]->rtp_encoding, encoding)) return codecs_table[i];
    return NULL;
}

const vg_video_codec *vg_video_codec_by_caps(const GstCaps *caps) {
    const char *name = caps ? vg_gst_caps_name(caps) : NULL;
    for (size_t i = 0; name && i < sizeof(codecs_table) / sizeof(codecs_table[0]); i++)
        if (!strcmp(codecs_table[i]->caps_name, name)) return codecs_table[i];
    return NULL;
}

const vg_video_codec *vg_video_codec_by_rfc6381(const char *codecs) {
    size_t n = codecs ? strcspn(codecs, ".,") : 0;
    for (size_t i = 0; n && i < sizeof(codecs_table) / sizeof(codecs_table[0]); i++)
        for (size_t k = 0; k < 2; k++)
            if (strlen(codecs_table[i]->family[k]) == n &&
                !strncmp(codecs_table[i]->family[k], codecs, n))
                return codecs_table[i];
    return NULL;
}
