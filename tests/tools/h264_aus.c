/* h264_aus.c -- makes a pre-encoded H.264 clip for the publish tests, split
 * into access units by GStreamer itself (no hand-written H.264 parsing
 * anywhere):
 *
 *   videotestsrc ! timeoverlay ! x264enc ! h264parse ! video/x-h264,
 *       stream-format=avc|byte-stream, alignment=au ! appsink
 *
 * Usage: h264_aus OUT [--frames N] [--fps F] [--width W] [--height H]
 *                     [--key-int K] [--annexb]
 *
 * OUT (all integers big-endian):
 *   "VGAU" | u8 version 1 | u8 format (0 avc, 1 annexb) | u16 0
 *   u32 n | n bytes: the RFC 6381 codecs string (e.g. avc1.42C01E)
 *   u32 n | n bytes: the avcC record (codec_data; n = 0 for annexb)
 *   then per access unit: u32 n | u8 flags (bit 0: keyframe) | u64 pts in
 *   microseconds | n bytes: the access unit (AVCC length-prefixed NAL units,
 *   or Annex-B with start codes)
 *
 * This is what a WebSocket publisher sends (PROTOCOL.md "Publishing"): the
 * codecs string and the base64 avcC go into the publish request, each
 * access unit into one binary frame. */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
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

int main(int argc, char **argv) {
    gst_init(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: h264_aus OUT [--frames N] [--fps F] [--width W] [--height H] "
                        "[--key-int K] [--annexb] [--bframes N] [--h265]\n");
        return 2;
    }
    const char *out = argv[1];
    int frames = 150, fps = 30, width = 320, height = 240, key_int = 30;
    int annexb = 0, bframes = 0, h265 = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--annexb"))
            annexb = 1;
        else if (!strcmp(argv[i], "--h265"))
            h265 = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--frames"))
            frames = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--fps"))
            fps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--width"))
            width = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--height"))
            height = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--key-int"))
            key_int = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--bframes"))
            bframes = atoi(argv[++i]);
        else {
            fprintf(stderr, "h264_aus: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    /* With B-frames (--bframes N): Main profile, access units in decode order
     * with their presentation times, as a device's encoder gives them. */
    char encoder[256];
    if (h265) /* x265: with B-frames */
        snprintf(encoder, sizeof(encoder),
                 "x265enc speed-preset=ultrafast key-int-max=%d ! h265parse config-interval=-1",
                 key_int);
    else if (bframes > 0)
        snprintf(encoder, sizeof(encoder),
                 "x264enc speed-preset=ultrafast bframes=%d b-adapt=false key-int-max=%d ! "
                 "video/x-h264,profile=main ! h264parse config-interval=-1",
                 bframes, key_int);
    else
        snprintf(encoder, sizeof(encoder),
                 "x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max=%d ! "
                 "video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1",
                 key_int);
    char desc[1024];
    snprintf(desc, sizeof(desc),
             "videotestsrc num-buffers=%d pattern=ball ! video/x-raw,format=I420,width=%d,"
             "height=%d,framerate=%d/1 ! timeoverlay font-desc=\"Sans 24\" ! %s ! "
             "video/x-%s,stream-format=%s,alignment=au ! appsink name=sink sync=false",
             frames, width, height, fps, encoder, h265 ? "h265" : "h264",
             annexb ? "byte-stream" : h265 ? "hvc1" : "avc");
    GError *err = NULL;
    GstElement *pipeline = gst_parse_launch(desc, &err);
    if (!pipeline) {
        fprintf(stderr, "h264_aus: %s\n", err ? err->message : "bad pipeline");
        return 1;
    }
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    FILE *f = fopen(out, "wb");
    if (!f) {
        perror(out);
        return 1;
    }
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    int n = 0;
    bool header = false;
    for (GstSample *s; (s = gst_app_sink_pull_sample(GST_APP_SINK(sink)));) {
        GstCaps *caps = gst_sample_get_caps(s);
        GstBuffer *buf = gst_sample_get_buffer(s);
        if (!header) {
            gchar *codecs = gst_codec_utils_caps_get_mime_codec(caps);
            const GstStructure *st = gst_caps_get_structure(caps, 0);
            const GValue *cd = gst_structure_get_value(st, "codec_data");
            GstBuffer *avcc = cd ? gst_value_get_buffer(cd) : NULL;
            fwrite("VGAU", 1, 4, f);
            uint8_t v[4] = {1, (uint8_t)annexb, 0, 0};
            fwrite(v, 1, 4, f);
            put32(f, (uint32_t)strlen(codecs ? codecs : ""));
            fwrite(codecs ? codecs : "", 1, strlen(codecs ? codecs : ""), f);
            GstMapInfo m;
            if (avcc && !annexb && gst_buffer_map(avcc, &m, GST_MAP_READ)) {
                put32(f, (uint32_t)m.size);
                fwrite(m.data, 1, m.size, f);
                gst_buffer_unmap(avcc, &m);
            } else {
                put32(f, 0);
            }
            g_free(codecs);
            header = true;
        }
        GstMapInfo m;
        if (gst_buffer_map(buf, &m, GST_MAP_READ)) {
            put32(f, (uint32_t)m.size);
            uint8_t flags = GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT) ? 0 : 1;
            fwrite(&flags, 1, 1, f);
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
        fprintf(stderr, "h264_aus: no access units written\n");
        return 1;
    }
    fprintf(stderr, "h264_aus: %d access units -> %s\n", n, out);
    return 0;
}
