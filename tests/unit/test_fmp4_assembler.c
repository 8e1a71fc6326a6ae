/* test_fmp4_assembler.c -- grouping mp4mux output into init segments and one
 * message per fragment: synthetic boxes split every possible way, garbage
 * rejected, and the real mp4mux driven by GStreamer, with and without an
 * audio track, and with an audio pad released before any audio came. */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <string.h>

#include "check_main.h"
#include "media/fmp4_assembler.h"

#define MAX_OUT 400
static vg_frame *out[MAX_OUT];
static int nout;

static void collect(void *ctx, vg_frame *f) {
    (void)ctx;
    if (nout < MAX_OUT)
        out[nout++] = f;
    else
        vg_frame_unref(f);
}

static void reset_out(void) {
    for (int i = 0; i < nout; i++)
        vg_frame_unref(out[i]);
    nout = 0;
}

static size_t box(uint8_t *p, const char *type, size_t payload, uint8_t fill) {
    size_t n = 8 + payload;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    memcpy(p + 4, type, 4);
    memset(p + 8, fill, payload);
    return n;
}

/* ftyp(16) moov(40) | moof(24) mdat(8+100) | moof(24) mdat(8+50) */
static uint8_t stream_buf[512];
static size_t off_moof1, off_sample1, off_moof2, off_sample2, total;

static void make_stream(void) {
    size_t o = 0;
    o += box(stream_buf + o, "ftyp", 8, 1);
    o += box(stream_buf + o, "moov", 32, 2);
    off_moof1 = o;
    o += box(stream_buf + o, "moof", 16, 3);
    box(stream_buf + o, "mdat", 100, 4);
    off_sample1 = o + 8;
    o += 108;
    off_moof2 = o;
    o += box(stream_buf + o, "moof", 16, 5);
    box(stream_buf + o, "mdat", 50, 6);
    off_sample2 = o + 8;
    o += 58;
    total = o;
}

/* Feeds [a, b) as mp4mux would flag it: sample buffers are timestamped. */
static int feed(vg_fmp4_assembler *a, size_t from, size_t to, bool key1, bool key2) {
    bool sample = (from >= off_sample1 && from < off_moof2) || from >= off_sample2;
    bool delta = from >= off_sample2 ? !key2 : !key1;
    return vg_fmp4_assembler_push(a, stream_buf + from, to - from, sample, sample && delta, 77);
}

static void assert_two_fragments(void) {
    ck_assert_int_eq(nout, 3);
    ck_assert_uint_eq(out[0]->kind, VG_FRAME_INIT);
    ck_assert_uint_eq(out[0]->payload_len, off_moof1);
    ck_assert_mem_eq(vg_frame_payload(out[0]), stream_buf, off_moof1);
    ck_assert_uint_eq(out[1]->kind, VG_FRAME_MEDIA);
    ck_assert_uint_eq(out[1]->payload_len, off_moof2 - off_moof1);
    ck_assert_mem_eq(vg_frame_payload(out[1]), stream_buf + off_moof1, off_moof2 - off_moof1);
    ck_assert_uint_eq(out[1]->flags, VG_FRAME_KEYFRAME);
    ck_assert_uint_eq(vg_frame_wire(out[1])[2], VG_FRAME_KEYFRAME);
    ck_assert_uint_eq(out[2]->payload_len, total - off_moof2);
    ck_assert_uint_eq(out[2]->flags, 0);
    ck_assert_uint_eq(out[2]->channel, 9);
    ck_assert_int_eq(out[2]->time_us, 77);
}

START_TEST(box_aligned_buffers_as_mp4mux_pushes_them) {
    make_stream();
    vg_fmp4_assembler a;
    vg_fmp4_assembler_init(&a, 9, 1 << 20, collect, NULL);
    size_t cuts[] = {0,           16,        off_moof1,       off_sample1 - 8,
                     off_sample1, off_moof2, off_sample2 - 8, off_sample2,
                     total};
    for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++)
        ck_assert_int_eq(feed(&a, cuts[i], cuts[i + 1], true, false), 0);
    assert_two_fragments();
    reset_out();
    vg_fmp4_assembler_reset(&a);
}
END_TEST

START_TEST(any_split_gives_the_same_messages) {
    make_stream();
    for (size_t chunk = 1; chunk <= 13; chunk++) {
        vg_fmp4_assembler a;
        vg_fmp4_assembler_init(&a, 9, 1 << 20, collect, NULL);
        for (size_t o = 0; o < total; o += chunk) {
            size_t end = o + chunk < total ? o + chunk : total;
            /* keep the sample flag right: never straddle into a sample here */
            ck_assert_int_eq(vg_fmp4_assembler_push(&a, stream_buf + o, end - o, false, false, 77),
                             0);
        }
        ck_assert_int_eq(nout, 3);
        ck_assert_mem_eq(vg_frame_payload(out[1]), stream_buf + off_moof1, off_moof2 - off_moof1);
        ck_assert_mem_eq(vg_frame_payload(out[2]), stream_buf + off_moof2, total - off_moof2);
        reset_out();
        vg_fmp4_assembler_reset(&a);
    }
}
END_TEST

START_TEST(garbage_is_rejected_not_crashing) {
    vg_fmp4_assembler a;
    vg_fmp4_assembler_init(&a, 1, 4096, collect, NULL);
    uint8_t bad_size[8] = {0, 0, 0, 3, 'm', 'o', 'o', 'f'}; /* smaller than its header */
    ck_assert_int_eq(vg_fmp4_assembler_push(&a, bad_size, 8, false, false, 0), -1);
    uint8_t huge[8] = {0x7f, 0xff, 0xff, 0xff, 'm', 'd', 'a', 't'}; /* over max_frame_bytes */
    ck_assert_int_eq(vg_fmp4_assembler_push(&a, huge, 8, false, false, 0), -1);
    uint8_t orphan[16];
    box(orphan, "moof", 8, 0); /* a fragment with no init segment before it */
    ck_assert_int_eq(vg_fmp4_assembler_push(&a, orphan, 16, false, false, 0), -1);
    ck_assert_int_eq(nout, 0);
    ck_assert_uint_eq(a.errors, 3);
    vg_fmp4_assembler_reset(&a);
}
END_TEST

/* The real muxer: 20 frames from x264enc through mp4mux, fragment per frame. */
static GstFlowReturn on_sample(GstAppSink *sink, gpointer user) {
    vg_fmp4_assembler *a = user;
    GstSample *s = gst_app_sink_pull_sample(sink);
    GstBuffer *b = gst_sample_get_buffer(s);
    GstMapInfo m;
    gst_buffer_map(b, &m, GST_MAP_READ);
    int r = vg_fmp4_assembler_push(a, m.data, m.size, GST_BUFFER_PTS_IS_VALID(b),
                                   GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT), 1);
    gst_buffer_unmap(b, &m);
    gst_sample_unref(s);
    return r ? GST_FLOW_ERROR : GST_FLOW_OK;
}

START_TEST(real_mp4mux_gives_init_then_one_fragment_per_frame) {
    gst_init(NULL, NULL);
    GError *err = NULL;
    GstElement *p = gst_parse_launch(
        "videotestsrc num-buffers=20 ! video/x-raw,width=160,height=120,framerate=30/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h264parse ! "
        "mp4mux fragment-duration=1 streamable=true ! appsink name=sink sync=false",
        &err);
    ck_assert_msg(p != NULL, "pipeline: %s", err ? err->message : "?");
    vg_fmp4_assembler a;
    vg_fmp4_assembler_init(&a, 1, 1 << 20, collect, NULL);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
    GstAppSinkCallbacks cbs = {0};
    cbs.new_sample = on_sample;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, &a, NULL);
    gst_object_unref(sink);
    gst_element_set_state(p, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(p);
    GstMessage *msg =
        gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS);
    gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);

    /* 20 frames in; mp4mux emits a fragment when the next frame gives its
     * duration, and at EOS may fold the last one in: 19 or 20 fragments. */
    ck_assert_int_ge(nout, 20);
    ck_assert_int_le(nout, 21);
    ck_assert_uint_eq(out[0]->kind, VG_FRAME_INIT);
    ck_assert_mem_eq(vg_frame_payload(out[0]) + 4, "ftyp", 4);
    int keys = 0;
    for (int i = 1; i < nout; i++) {
        ck_assert_uint_eq(out[i]->kind, VG_FRAME_MEDIA);
        ck_assert_mem_eq(vg_frame_payload(out[i]) + 4, "moof", 4);
        keys += vg_frame_is_keyframe(out[i]);
    }
    ck_assert(vg_frame_is_keyframe(out[1]));
    ck_assert_int_eq(keys, 2); /* frames 0 and 10: the flag follows the sample */
    reset_out();
    vg_fmp4_assembler_reset(&a);
    gst_deinit();
}
END_TEST

/* Video and an Opus track through one mp4mux: audio fragments are flagged
 * and never keyframes, the video's keyframes are as before, and the init
 * segment's dOps reads big-endian (48000 Hz) after the fix. */
START_TEST(real_mp4mux_with_audio_flags_audio_fragments) {
    gst_init(NULL, NULL);
    GError *err = NULL;
    GstElement *p = gst_parse_launch(
        "mp4mux name=m fragment-duration=1 streamable=true ! appsink name=sink sync=false "
        "videotestsrc num-buffers=20 ! video/x-raw,width=160,height=120,framerate=30/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h264parse ! m.video_0 "
        "audiotestsrc num-buffers=30 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=1 ! "
        "opusenc ! m.audio_0",
        &err);
    ck_assert_msg(p != NULL, "pipeline: %s", err ? err->message : "?");
    vg_fmp4_assembler a;
    vg_fmp4_assembler_init(&a, 1, 1 << 20, collect, NULL);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
    GstAppSinkCallbacks cbs = {0};
    cbs.new_sample = on_sample;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, &a, NULL);
    gst_object_unref(sink);
    gst_element_set_state(p, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(p);
    GstMessage *msg =
        gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS);
    gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);

    ck_assert_uint_eq(out[0]->kind, VG_FRAME_INIT);
    int video = 0, audio = 0, keys = 0;
    for (int i = 1; i < nout; i++) {
        ck_assert_uint_eq(out[i]->kind, VG_FRAME_MEDIA);
        if (vg_frame_is_audio(out[i])) {
            audio++;
            ck_assert(!vg_frame_is_keyframe(out[i]));
        } else {
            video++;
            keys += vg_frame_is_keyframe(out[i]);
        }
    }
    ck_assert_int_ge(video, 19);
    ck_assert_int_ge(audio, 28);
    ck_assert_int_eq(keys, 2);
    const uint8_t *init = vg_frame_payload(out[0]);
    const uint8_t *dops = memmem(init, out[0]->payload_len, "dOps", 4);
    ck_assert_ptr_nonnull(dops);
    const uint8_t *rate = dops + 4 + 4; /* version, channels, pre-skip */
    ck_assert_uint_eq((uint32_t)rate[0] << 24 | rate[1] << 16 | rate[2] << 8 | rate[3], 48000);
    reset_out();
    vg_fmp4_assembler_reset(&a);
    /* No gst_deinit(): under CK_FORK=no (valgrind) the next test uses
     * GStreamer in this process, and deinitialises it. */
}
END_TEST

static int count(const uint8_t *p, size_t len, const char *type) {
    int n = 0;
    for (const uint8_t *q = p; (q = memmem(q, len - (size_t)(q - p), type, 4)); q += 4)
        n++;
    return n;
}

/* An audio pad requested and released before any audio came (the audio
 * branch giving up on a silent source): mp4mux 1.22 still writes its trak,
 * with an empty stsd; the assembler cuts it (and its trex) out of the init
 * segment, and the fragments are the video's. */
START_TEST(real_mp4mux_released_audio_pad_leaves_no_empty_track) {
    gst_init(NULL, NULL);
    GError *err = NULL;
    GstElement *p = gst_parse_launch(
        "mp4mux name=m fragment-duration=1 streamable=true ! appsink name=sink sync=false "
        "videotestsrc num-buffers=20 ! video/x-raw,width=160,height=120,framerate=30/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h264parse ! m.video_0",
        &err);
    ck_assert_msg(p != NULL, "pipeline: %s", err ? err->message : "?");
    vg_fmp4_assembler a;
    vg_fmp4_assembler_init(&a, 1, 1 << 20, collect, NULL);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
    GstElement *mux = gst_bin_get_by_name(GST_BIN(p), "m");
    GstPad *audio = gst_element_request_pad_simple(mux, "audio_%u");
    ck_assert_ptr_nonnull(audio);
    GstAppSinkCallbacks cbs = {0};
    cbs.new_sample = on_sample;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, &a, NULL);
    gst_object_unref(sink);
    gst_element_set_state(p, GST_STATE_PLAYING);
    g_usleep(300000); /* video waits in the muxer for the audio */
    gst_element_release_request_pad(mux, audio);
    gst_object_unref(audio);
    gst_object_unref(mux);
    GstBus *bus = gst_element_get_bus(p);
    GstMessage *msg =
        gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS);
    gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);

    ck_assert_int_ge(nout, 20);
    ck_assert_uint_eq(out[0]->kind, VG_FRAME_INIT);
    const uint8_t *init = vg_frame_payload(out[0]);
    size_t len = out[0]->payload_len;
    ck_assert_int_eq(count(init, len, "trak"), 1);
    ck_assert_int_eq(count(init, len, "trex"), 1);
    ck_assert_int_eq(count(init, len, "soun"), 0);
    /* The sizes still add up: ftyp, then a moov that ends the segment. */
    uint32_t ftyp = (uint32_t)init[0] << 24 | init[1] << 16 | init[2] << 8 | init[3];
    const uint8_t *m = init + ftyp;
    ck_assert_mem_eq(m + 4, "moov", 4);
    ck_assert_uint_eq(ftyp + ((uint32_t)m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3]), len);
    for (int i = 1; i < nout; i++)
        ck_assert(!vg_frame_is_audio(out[i]));
    reset_out();
    vg_fmp4_assembler_reset(&a);
}
END_TEST

static Suite *fmp4_suite(void) {
    Suite *s = suite_create("fmp4_assembler");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, box_aligned_buffers_as_mp4mux_pushes_them);
    tcase_add_test(tc, any_split_gives_the_same_messages);
    tcase_add_test(tc, garbage_is_rejected_not_crashing);
    suite_add_tcase(s, tc);
    TCase *real = tcase_create("mp4mux");
    tcase_set_timeout(real, 120);
    tcase_add_test(real, real_mp4mux_with_audio_flags_audio_fragments);
    tcase_add_test(real, real_mp4mux_released_audio_pad_leaves_no_empty_track);
    tcase_add_test(real, real_mp4mux_gives_init_then_one_fragment_per_frame);
    suite_add_tcase(s, real);
    return s;
}

VG_CHECK_MAIN(fmp4_suite)
