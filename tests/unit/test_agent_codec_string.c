/* test_agent_codec_string.c -- the agent's codecs strings (agent/
 * codec_string.h) against GStreamer's own: a short stream is encoded by
 * gst-launch-1.0 (x264, x265, in several profiles; in a child process, as
 * x265 is not clean under valgrind and LSan), its first Annex-B keyframe
 * goes through ag_codec_string(), and the same stream repackaged with its
 * avcC/hvcC (stream-format avc / hvc1) goes through pbutils'
 * gst_codec_utils_caps_get_mime_codec(); the two must agree. */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/codec_string.h"
#include "check_main.h"

/* The first keyframe of `launch` (whose last element is an appsink named
 * "s") as bytes, and its caps' mime codec string. */
static GBytes *first_keyframe(const char *launch, gchar **mime) {
    GError *e = NULL;
    GstElement *p = gst_parse_launch(launch, &e);
    ck_assert_msg(p && !e, "%s: %s", launch, e ? e->message : "");
    GstElement *s = gst_bin_get_by_name(GST_BIN(p), "s");
    gst_element_set_state(p, GST_STATE_PLAYING);
    GBytes *bytes = NULL;
    *mime = NULL;
    for (int i = 0; i < 10 && !bytes; i++) {
        GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(s), 5 * GST_SECOND);
        ck_assert_msg(sample != NULL, "no sample from %s", launch);
        GstBuffer *buf = gst_sample_get_buffer(sample);
        if (!GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
            GstMapInfo map;
            gst_buffer_map(buf, &map, GST_MAP_READ);
            bytes = g_bytes_new(map.data, map.size);
            gst_buffer_unmap(buf, &map);
            *mime = gst_codec_utils_caps_get_mime_codec(gst_sample_get_caps(sample));
        }
        gst_sample_unref(sample);
    }
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(s);
    gst_object_unref(p);
    return bytes;
}

/* Encodes with `enc` (caps after it in `profile`) into a file, then checks
 * our string from the Annex-B keyframe against pbutils' from the avcC/hvcC. */
static void agrees(bool hevc, const char *enc, const char *profile) {
    const char *fam = hevc ? "h265" : "h264";
    char dir[] = "/tmp/vigil-codec-XXXXXX", file[64], cmd[512], annexb[512], packed[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/es", dir);
    snprintf(cmd, sizeof cmd,
             "gst-launch-1.0 -q videotestsrc num-buffers=3 ! video/x-raw,width=176,height=144 ! "
             "%s ! video/x-%s,profile=%s ! %sparse ! video/x-%s,stream-format=byte-stream ! "
             "filesink location=%s",
             enc, fam, profile, fam, fam, file);
    gint status = -1;
    ck_assert(g_spawn_command_line_sync(cmd, NULL, NULL, &status, NULL));
    ck_assert_msg(g_spawn_check_wait_status(status, NULL), "%s failed", cmd);
    snprintf(annexb, sizeof annexb,
             "filesrc location=%s ! %sparse ! video/x-%s,stream-format=byte-stream,alignment=au ! "
             "appsink name=s sync=false",
             file, fam, fam);
    snprintf(packed, sizeof packed,
             "filesrc location=%s ! %sparse ! video/x-%s,stream-format=%s,alignment=au ! "
             "appsink name=s sync=false",
             file, fam, fam, hevc ? "hvc1" : "avc");
    gchar *unused = NULL, *want = NULL;
    GBytes *key = first_keyframe(annexb, &unused);
    GBytes *ref = first_keyframe(packed, &want);
    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(want);
    gsize n;
    const uint8_t *d = g_bytes_get_data(key, &n);
    char got[64];
    ck_assert_msg(ag_codec_string(hevc, d, n, got, sizeof got), "%s %s: no SPS read", enc, profile);
    ck_assert_str_eq(got, want);
    /* The wrong family finds no parameter set it can read. */
    char other[64];
    ck_assert(!ag_codec_string(!hevc, d, n, other, sizeof other) || strcmp(other, want));
    g_bytes_unref(key);
    g_bytes_unref(ref);
    g_free(unused);
    g_free(want);
    unlink(file);
    rmdir(dir);
}

START_TEST(h264_profiles) {
    agrees(false, "x264enc", "constrained-baseline");
    agrees(false, "x264enc", "main");
    agrees(false, "x264enc", "high");
}
END_TEST

START_TEST(h265_profiles) {
    agrees(true, "x265enc", "main");
    agrees(true, "x265enc", "main-444");
}
END_TEST

START_TEST(nothing_to_read) {
    static const uint8_t junk[] = {0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 1, 0x41, 0x9a};
    char out[64];
    ck_assert(!ag_codec_string(false, junk, sizeof junk, out, sizeof out));
    ck_assert(!ag_codec_string(true, junk, sizeof junk, out, sizeof out));
    ck_assert(!ag_codec_string(false, junk, 0, out, sizeof out));
}
END_TEST

static Suite *codec_string_suite(void) {
    gst_init(NULL, NULL);
    Suite *s = suite_create("agent_codec_string");
    TCase *tc = tcase_create("strings");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, h264_profiles);
    tcase_add_test(tc, h265_profiles);
    tcase_add_test(tc, nothing_to_read);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(codec_string_suite)
