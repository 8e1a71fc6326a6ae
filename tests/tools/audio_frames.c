/* audio_frames.c -- makes pre-encoded audio for the publish tests: a test
 * tone encoded and framed by GStreamer itself (no hand-written Opus or AAC
 * anywhere), one packet per buffer:
 *
 *   opus: audiotestsrc ! audio/x-raw,rate=48000,channels=C ! opusenc
 *         frame-size=20 ! appsink
 *   aac:  audiotestsrc ! audio/x-raw,rate=48000,channels=C ! voaacenc !
 *         aacparse ! audio/mpeg,mpegversion=4,stream-format=raw ! appsink
 *
 * Usage: audio_frames OUT [--codec opus|aac] [--ms DURATION] [--channels C]
 *
 * OUT (all integers big-endian):
 *   "VGAF" | u8 version 1 | u8 channels | u16 0 | u32 sample rate
 *   u32 n | n bytes: the codec ("opus" or "aac")
 *   u32 n | n bytes: the description: the OpusHead (first streamheader
 *   buffer of opusenc's caps) or the AudioSpecificConfig (codec_data)
 *   then per frame: u32 n | u64 pts in microseconds | n bytes: one Opus
 *   packet or one raw AAC frame
 *
 * This is what a WebSocket publisher sends (PROTOCOL.md "Publishing"): the
 * codec, rate, channels and base64 description go into the publish
 * request's `audio`, each frame into one kind-2 binary frame. */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put32(FILE *f, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fwrite(b, 1, 4, f);
}

static void put64(FILE *f, uint64_t v) {
    put32(f, (uint32_t)(v >> 32));
    put32(f, (uint32_t)v);
}

static void put_buffer(FILE *f, GstBuffer *b) {
    GstMapInfo m;
    if (b && gst_buffer_map(b, &m, GST_MAP_READ)) {
        put32(f, (uint32_t)m.size);
        fwrite(m.data, 1, m.size, f);
        gst_buffer_unmap(b, &m);
    } else {
        put32(f, 0);
    }
}

/* The description in the caps: codec_data (AAC) or streamheader[0] (Opus). */
static GstBuffer *description_of(GstCaps *caps) {
    const GstStructure *st = gst_caps_get_structure(caps, 0);
    const GValue *cd = gst_structure_get_value(st, "codec_data");
    if (cd && G_VALUE_HOLDS(cd, GST_TYPE_BUFFER)) return gst_value_get_buffer(cd);
    const GValue *sh = gst_structure_get_value(st, "streamheader");
    if (sh && GST_VALUE_HOLDS_ARRAY(sh) && gst_value_array_get_size(sh) > 0) {
        const GValue *first = gst_value_array_get_value(sh, 0);
        if (G_VALUE_HOLDS(first, GST_TYPE_BUFFER)) return gst_value_get_buffer(first);
    }
    return NULL;
}

int main(int argc, char **argv) {
    gst_init(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: audio_frames OUT [--codec opus|aac] [--ms N] [--channels C]\n");
        return 2;
    }
    const char *out = argv[1];
    const char *codec = "opus";
    int ms = 3000, channels = 2;
    for (int i = 2; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--codec"))
            codec = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--ms"))
            ms = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--channels"))
            channels = atoi(argv[++i]);
        else {
            fprintf(stderr, "audio_frames: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    bool aac = !strcmp(codec, "aac");
    if (!aac && strcmp(codec, "opus")) {
        fprintf(stderr, "audio_frames: --codec must be opus or aac\n");
        return 2;
    }
    /* 960 samples (20 ms) per buffer: one Opus packet each. */
    char desc[1024];
    snprintf(desc, sizeof(desc),
             "audiotestsrc num-buffers=%d samplesperbuffer=960 wave=ticks freq=880 ! "
             "audio/x-raw,rate=48000,channels=%d ! audioconvert ! %s ! appsink name=sink "
             "sync=false",
             ms / 20, channels,
             aac ? "voaacenc ! aacparse ! audio/mpeg,mpegversion=4,stream-format=raw"
                 : "opusenc frame-size=20 bitrate=48000");
    GError *err = NULL;
    GstElement *pipeline = gst_parse_launch(desc, &err);
    if (!pipeline) {
        fprintf(stderr, "audio_frames: %s\n", err ? err->message : "bad pipeline");
        return 1;
    }
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    FILE *f = fopen(out, "wb");
    if (!f || !sink) {
        perror(out);
        return 1;
    }
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    int n = 0;
    bool header = false;
    for (GstSample *s; (s = gst_app_sink_pull_sample(GST_APP_SINK(sink)));) {
        GstBuffer *buf = gst_sample_get_buffer(s);
        if (!header) {
            fwrite("VGAF", 1, 4, f);
            uint8_t v[4] = {1, (uint8_t)channels, 0, 0};
            fwrite(v, 1, 4, f);
            put32(f, 48000);
            put32(f, (uint32_t)strlen(codec));
            fwrite(codec, 1, strlen(codec), f);
            put_buffer(f, description_of(gst_sample_get_caps(s)));
            header = true;
        }
        GstMapInfo m;
        if (buf && gst_buffer_map(buf, &m, GST_MAP_READ)) {
            put32(f, (uint32_t)m.size);
            put64(f, GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) / 1000 : 0);
            fwrite(m.data, 1, m.size, f);
            gst_buffer_unmap(buf, &m);
            n++;
        }
        gst_sample_unref(s);
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    if (fclose(f) || n == 0) {
        fprintf(stderr, "audio_frames: no frames written\n");
        return 1;
    }
    fprintf(stderr, "audio_frames: %d %s frames -> %s\n", n, codec, out);
    return 0;
}
