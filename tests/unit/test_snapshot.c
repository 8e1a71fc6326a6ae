/* test_snapshot.c -- snapshots (media/snapshot.h, media/snapshot_worker.h):
 * ?width= parsing; the relay keeping its newest keyframe however long the
 * GOP, until a new configuration or the end of the run; a real H.264 and
 * H.265 keyframe (encoded here by GStreamer, packed as the WebCodecs relay
 * has them) made into JPEGs of the right size, scaled with the picture's
 * shape and never up; a configuration of a codec vigil does not decode
 * refused with a reason; and the worker handing a job back with a wake-up
 * (the decoding cases not under valgrind: see UNDER_VALGRIND). */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
/* Under valgrind the decoders cannot even load: libav links libjxl, whose
 * libhwy runs an instruction valgrind does not know (rdtscp) when loaded.
 * The GStreamer cases run plain and under ASan; valgrind checks the rest. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#else
#define UNDER_VALGRIND() 0
#endif
#include "media/relay.h"
#include "media/snapshot.h"
#include "media/snapshot_worker.h"

/* ---- width ---------------------------------------------------------------- */

START_TEST(widths_in_range_are_taken_and_nonsense_is_refused_with_the_range) {
    const struct {
        const char *text;
        int width; /* 0: refused */
    } cases[] = {
        {"16", 16},
        {"320", 320},
        {"3840", 3840},
        {"0320", 320},
        {"", 0},
        {"15", 0},
        {"0", 0},
        {"3841", 0},
        {"99999", 0},
        {"abc", 0},
        {"-320", 0},
        {"320px", 0},
        {" 320", 0},
        {"32.5", 0},
        {"+320", 0},
        {"1e3", 0},
        {"99999999999999999999", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int w = -1;
        char err[128] = "";
        int rc = vg_snapshot_parse_width(cases[i].text, &w, err, sizeof(err));
        if (cases[i].width) {
            ck_assert_msg(rc == 0 && w == cases[i].width, "'%s' -> rc %d, %d", cases[i].text, rc,
                          w);
        } else {
            ck_assert_msg(rc == -1 && w == -1, "'%s' was taken as %d", cases[i].text, w);
            ck_assert_msg(strstr(err, "16 to 3840"), "'%s': %s", cases[i].text, err);
        }
    }
    int w = -1;
    char err[64];
    ck_assert_int_eq(vg_snapshot_parse_width(NULL, &w, err, sizeof(err)), -1);
}
END_TEST

/* ---- the relay's newest keyframe ----------------------------------------- */

static void hook_ready(vg_viewer *v) {
    (void)v;
}
static const vg_relay_hooks no_hooks = {hook_ready, hook_ready};

static vg_frame *frame(uint8_t kind, uint8_t flags) {
    vg_frame *f = vg_frame_new(kind, flags, 1, g_get_real_time(), 12);
    memset(vg_frame_payload(f), 0, 12);
    return f;
}

static void publish(vg_relay *r, vg_frame *f) {
    vg_relay_publish(r, f, 0);
    vg_frame_unref(f);
}

START_TEST(the_relay_keeps_its_newest_keyframe_past_a_gop_too_long_to_cache) {
    vg_relay r;
    vg_relay_limits lim = {.queue_frames = 4, .slow_skips = 0, .slow_window_us = 1000000};
    ck_assert_int_eq(vg_relay_init(&r, NULL, VG_RELAY_WEBCODECS, 1, &lim, &no_hooks), 0);
    ck_assert_ptr_null(r.key);
    publish(&r, frame(VG_FRAME_DECODER_CONFIG, 0));
    publish(&r, frame(VG_FRAME_ACCESS_UNIT, 0)); /* no keyframe yet */
    ck_assert_ptr_null(r.key);
    vg_frame *key = frame(VG_FRAME_ACCESS_UNIT, VG_FRAME_KEYFRAME);
    vg_relay_publish(&r, key, 0);
    ck_assert_ptr_eq(r.key, key);
    for (int i = 0; i < 10; i++) /* longer than the GOP cache (3 frames) */
        publish(&r, frame(VG_FRAME_ACCESS_UNIT, 0));
    ck_assert_uint_eq(r.gop.count, 0);
    ck_assert_ptr_eq(r.key, key);
    ck_assert_int_eq(atomic_load(&key->refcount), 2); /* ours and the relay's */
    vg_frame *next = frame(VG_FRAME_ACCESS_UNIT, VG_FRAME_KEYFRAME);
    vg_relay_publish(&r, next, 0);
    ck_assert_ptr_eq(r.key, next);
    ck_assert_int_eq(atomic_load(&key->refcount), 1);
    /* A new configuration may not describe it. */
    publish(&r, frame(VG_FRAME_DECODER_CONFIG, 0));
    ck_assert_ptr_null(r.key);
    vg_relay_publish(&r, next, 0);
    ck_assert_ptr_eq(r.key, next);
    /* The run ended: its keyframe goes with it. */
    vg_relay_reset(&r);
    ck_assert_ptr_null(r.key);
    ck_assert_ptr_nonnull(r.setup);
    ck_assert_int_eq(atomic_load(&next->refcount), 1);
    vg_frame_unref(key);
    vg_frame_unref(next);
    vg_relay_free(&r);
}
END_TEST

/* ---- real keyframes --------------------------------------------------------- */

/* One keyframe of `width` x `height` from `encoder`, packed as au_tap.c packs
 * them: a decoder configuration (JSON then codec data) and an access unit
 * (8-byte PTS then the unit). */
static void encode_keyframe(const char *encoder, const char *parser, const char *caps_name,
                            const char *format, const char *codec, int width, int height,
                            vg_frame **config, vg_frame **key) {
    char desc[512];
    snprintf(desc, sizeof(desc),
             "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format=I420,width=%d,"
             "height=%d,framerate=25/1 ! %s ! %s ! %s,stream-format=%s,alignment=au ! "
             "appsink name=sink sync=false",
             width, height, encoder, parser, caps_name, format);
    GError *e = NULL;
    GstElement *p = gst_parse_launch(desc, &e);
    ck_assert_msg(p != NULL, "%s: %s", desc, e ? e->message : "?");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
    ck_assert_int_ne(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    GstSample *s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 20 * GST_SECOND);
    ck_assert_ptr_nonnull(s);
    const GstStructure *st = gst_caps_get_structure(gst_sample_get_caps(s), 0);
    GstBuffer *cd = gst_value_get_buffer(gst_structure_get_value(st, "codec_data"));
    GstBuffer *au = gst_sample_get_buffer(s);
    ck_assert(!GST_BUFFER_FLAG_IS_SET(au, GST_BUFFER_FLAG_DELTA_UNIT));
    char json[160];
    int jlen =
        snprintf(json, sizeof(json),
                 "{\"codec\":\"%s\",\"coded_width\":%d,\"coded_height\":%d,\"format\":\"x\"}",
                 codec, width, height);
    size_t cdlen = gst_buffer_get_size(cd), aulen = gst_buffer_get_size(au);
    *config = vg_frame_new(VG_FRAME_DECODER_CONFIG, 0, 1, 1, 2 + (size_t)jlen + cdlen);
    uint8_t *d = vg_frame_payload(*config);
    d[0] = (uint8_t)(jlen >> 8);
    d[1] = (uint8_t)jlen;
    memcpy(d + 2, json, (size_t)jlen);
    gst_buffer_extract(cd, 0, d + 2 + jlen, cdlen);
    *key = vg_frame_new(VG_FRAME_ACCESS_UNIT, VG_FRAME_KEYFRAME, 1, 1733400000123456LL, 8 + aulen);
    memset(vg_frame_payload(*key), 0, 8);
    gst_buffer_extract(au, 0, vg_frame_payload(*key) + 8, aulen);
    gst_sample_unref(s);
    gst_object_unref(sink);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
}

static void assert_jpeg(vg_frame *config, vg_frame *key, int width, int want_w, int want_h) {
    vg_jpeg j;
    char err[160] = "";
    ck_assert_msg(vg_snapshot_make(config, key, width, &j, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_gt(j.len, 100);
    ck_assert(j.data[0] == 0xff && j.data[1] == 0xd8);                 /* SOI */
    ck_assert(j.data[j.len - 2] == 0xff && j.data[j.len - 1] == 0xd9); /* EOI */
    ck_assert_int_eq(j.width, want_w);
    ck_assert_int_eq(j.height, want_h);
    vg_jpeg_clear(&j);
}

START_TEST(an_h264_keyframe_becomes_a_jpeg_scaled_with_its_shape_and_never_up) {
    vg_frame *config, *key;
    encode_keyframe("x264enc", "h264parse", "video/x-h264", "avc", "avc1.640014", 320, 240, &config,
                    &key);
    assert_jpeg(config, key, 0, 320, 240);
    assert_jpeg(config, key, 160, 160, 120);
    assert_jpeg(config, key, 3000, 320, 240); /* never wider than the picture */
    vg_frame_unref(config);
    vg_frame_unref(key);
}
END_TEST

START_TEST(an_h265_keyframe_becomes_a_jpeg) {
    vg_frame *config, *key;
    encode_keyframe("x265enc speed-preset=ultrafast", "h265parse", "video/x-h265", "hvc1",
                    "hvc1.1.6.L63.90", 320, 180, &config, &key);
    assert_jpeg(config, key, 0, 320, 180);
    assert_jpeg(config, key, 64, 64, 36);
    vg_frame_unref(config);
    vg_frame_unref(key);
}
END_TEST

START_TEST(a_codec_vigil_does_not_decode_or_a_delta_frame_is_refused_with_a_reason) {
    vg_frame *config, *key;
    encode_keyframe("x264enc", "h264parse", "video/x-h264", "avc", "vp09.00.10.08", 64, 48, &config,
                    &key);
    vg_jpeg j;
    char err[160] = "";
    ck_assert_int_eq(vg_snapshot_make(config, key, 0, &j, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "codec"), "%s", err);
    ck_assert_ptr_null(j.data);
    vg_frame *delta = vg_frame_copy_with_flags(key, 0);
    err[0] = 0;
    ck_assert_int_eq(vg_snapshot_make(config, delta, 0, &j, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "no keyframe");
    vg_frame_unref(delta);
    vg_frame_unref(config);
    vg_frame_unref(key);
}
END_TEST

/* ---- the worker ------------------------------------------------------------- */

static atomic_int wakes;
static void on_wake(void *ctx) {
    (void)ctx;
    atomic_fetch_add(&wakes, 1);
}

START_TEST(the_worker_hands_jobs_back_with_a_wake_up) {
    vg_frame *config, *key;
    encode_keyframe("x264enc", "h264parse", "video/x-h264", "avc", "avc1.640014", 160, 120, &config,
                    &key);
    vg_snapshot_worker w;
    atomic_store(&wakes, 0);
    ck_assert_int_eq(vg_snapshot_worker_start(&w, on_wake, NULL), 0);
    int owner = 7;
    vg_snapshot_worker_post(&w, vg_snapshot_job_new(config, key, 80, &owner));
    vg_snapshot_worker_post(&w, vg_snapshot_job_new(key, key, 0, &owner)); /* no configuration */
    ck_assert_uint_eq(vg_snapshot_worker_in_flight(&w), 2);
    int done = 0;
    vg_snapshot_job *jobs[2];
    for (int i = 0; i < 500 && done < 2; i++) {
        for (vg_snapshot_job *j = vg_snapshot_worker_take_done(&w), *next; j; j = next) {
            next = j->next;
            jobs[done++] = j;
        }
        g_usleep(10000);
    }
    ck_assert_int_eq(done, 2);
    ck_assert_int_ge(atomic_load(&wakes), 1);
    ck_assert_uint_eq(vg_snapshot_worker_in_flight(&w), 0);
    ck_assert_ptr_eq(jobs[0]->owner, &owner);
    ck_assert_str_eq(jobs[0]->error, "");
    ck_assert_int_eq(jobs[0]->jpeg.width, 80);
    ck_assert_int_eq(jobs[0]->jpeg.height, 60);
    ck_assert_str_ne(jobs[1]->error, "");
    ck_assert_ptr_null(jobs[1]->jpeg.data);
    vg_snapshot_job_free(jobs[0]);
    vg_snapshot_job_free(jobs[1]);
    /* Stopping with a job still queued frees it. */
    vg_snapshot_worker_post(&w, vg_snapshot_job_new(config, key, 0, &owner));
    vg_snapshot_worker_stop(&w);
    ck_assert_int_eq(atomic_load(&config->refcount), 1);
    ck_assert_int_eq(atomic_load(&key->refcount), 1);
    vg_frame_unref(config);
    vg_frame_unref(key);
}
END_TEST

static void gst_up(void) {
    gst_init(NULL, NULL);
}
static void gst_down(void) {
    gst_deinit();
}

static Suite *snapshot_suite(void) {
    Suite *s = suite_create("snapshot");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, widths_in_range_are_taken_and_nonsense_is_refused_with_the_range);
    tcase_add_test(pure, the_relay_keeps_its_newest_keyframe_past_a_gop_too_long_to_cache);
    suite_add_tcase(s, pure);
    if (UNDER_VALGRIND()) {
        fprintf(stderr, "test_snapshot: under valgrind, the decoding cases are left out\n");
        return s;
    }
    TCase *gst = tcase_create("gstreamer");
    tcase_add_unchecked_fixture(gst, gst_up, gst_down);
    tcase_set_timeout(gst, 120);
    tcase_add_test(gst, an_h264_keyframe_becomes_a_jpeg_scaled_with_its_shape_and_never_up);
    tcase_add_test(gst, an_h265_keyframe_becomes_a_jpeg);
    tcase_add_test(gst, a_codec_vigil_does_not_decode_or_a_delta_frame_is_refused_with_a_reason);
    tcase_add_test(gst, the_worker_hands_jobs_back_with_a_wake_up);
    suite_add_tcase(s, gst);
    return s;
}

VG_CHECK_MAIN(snapshot_suite)
