/* test_recorder.c -- the recorder, its writer thread and a sink together, in
 * a temporary directory: segments by time and by new init segment, and a
 * full queue dropping to the next keyframe, counted, without a byte of the
 * dropped frames on disk. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "temp_dir.h"
#include "media/recorder.h"

static char root[256];
static const int64_t T0 = 1796472000000000LL; /* 2026-12-05T12:00:00Z, µs */

/* A frame whose payload is `len` copies of `fill`. */
static vg_frame *frame(uint8_t kind, uint8_t flags, int64_t t, size_t len, char fill) {
    vg_frame *f = vg_frame_new(kind, flags, 1, t, len);
    ck_assert_ptr_nonnull(f);
    memset(vg_frame_payload(f), fill, len);
    return f;
}

/* Offers a new frame to the recorder and lets go of it. */
static void offer(vg_recorder *r, uint8_t kind, uint8_t flags, int64_t t, size_t len, char fill) {
    vg_frame *f = frame(kind, flags, t, len, fill);
    vg_recorder_frame(r, f, t);
    vg_frame_unref(f);
}

/* The whole content of a file under root, NUL-terminated. */
static char *slurp_path(const char *rel) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s missing", p);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* The whole content of one of the stream's segments. */
static char *slurp(const char *name) {
    char rel[300];
    snprintf(rel, sizeof(rel), "cam/%s", name);
    return slurp_path(rel);
}

static void setup(void) {
    temp_dir_make(root, sizeof(root), "recorder");
}

static void teardown(void) {
    temp_dir_remove(root);
}

static vg_recorder *recorder(vg_record_writer *w, size_t queue_bytes, uint32_t segment_s) {
    ck_assert_int_eq(vg_record_writer_start(w, queue_bytes), 0);
    vg_record_config cfg = {.mode = VG_RECORD_CONTINUOUS, .path = root, .segment_s = segment_s};
    vg_recorder *r = vg_recorder_new(&cfg, "cam", w);
    ck_assert_ptr_nonnull(r);
    return r;
}

#define KEY VG_FRAME_KEYFRAME
#define AUDIO VG_FRAME_AUDIO

START_TEST(segments_start_at_keyframes_after_segment_s_and_at_a_new_init) {
    vg_record_writer w;
    vg_recorder *r = recorder(&w, 1 << 20, 2);
    offer(r, VG_FRAME_MEDIA, KEY, T0, 4, 'x');  /* before any init: nothing to write */
    offer(r, VG_FRAME_INIT, 0, T0, 4, 'I');
    offer(r, VG_FRAME_MEDIA, AUDIO, T0, 2, 'a'); /* before the first keyframe: not written */
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 100000, 3, 'K');
    offer(r, VG_FRAME_MEDIA, AUDIO, T0 + 150000, 2, 'a');
    offer(r, VG_FRAME_MEDIA, 0, T0 + 200000, 3, 'd');
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 1100000, 3, 'K'); /* 1 s in: same segment */
    offer(r, VG_FRAME_MEDIA, 0, T0 + 2050000, 3, 'd');   /* 2 s in, but not a keyframe */
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 2100000, 3, 'L'); /* 2 s in: a new segment */
    offer(r, VG_FRAME_INIT, 0, T0 + 2500000, 4, 'J');   /* the source restarted */
    offer(r, VG_FRAME_MEDIA, 0, T0 + 2600000, 3, 'd');   /* waits for its keyframe */
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 3000000, 3, 'M');
    vg_recorder_free(r);
    vg_record_writer_stop(&w);
    ck_assert_str_eq(slurp("cam-20261205T120000Z.mp4"), "IIIIKKKaadddKKKddd");
    ck_assert_str_eq(slurp("cam-20261205T120002Z.mp4"), "IIIILLL");
    ck_assert_str_eq(slurp("cam-20261205T120003Z.mp4"), "JJJJMMM");
}
END_TEST

START_TEST(a_full_queue_drops_to_the_next_keyframe_and_counts) {
    vg_record_writer w;
    vg_recorder *r = recorder(&w, 1000, 60);
    offer(r, VG_FRAME_INIT, 0, T0, 4, 'I');
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 1, 3, 'K');
    offer(r, VG_FRAME_MEDIA, 0, T0 + 2, 5000, 'B'); /* more than the queue holds: dropped */
    offer(r, VG_FRAME_MEDIA, 0, T0 + 3, 3, 'd');    /* fits, but cannot be decoded: dropped */
    offer(r, VG_FRAME_MEDIA, AUDIO, T0 + 4, 2, 'a'); /* dropped with the rest until a keyframe */
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 5, 3, 'L');  /* resumes, in the same file */
    offer(r, VG_FRAME_MEDIA, 0, T0 + 6, 3, 'e');
    vg_record_status st;
    uint64_t dropped;
    vg_recorder_status(r, &st, &dropped);
    ck_assert_uint_eq(dropped, 3);
    vg_recorder_stop(r);
    /* the writer has written all it was given once it stops; the status says so */
    vg_record_writer_stop(&w);
    vg_recorder_status(r, &st, &dropped);
    ck_assert_int_eq(st.state, VG_RECORD_STOPPED);
    ck_assert_uint_eq(st.segments, 1);
    ck_assert_uint_eq(st.bytes, 4 + 3 + 3 + 3);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_str_eq(slurp("cam-20261205T120000Z.mp4"), "IIIIKKKLLLeee");
    ck_assert_int_eq(vg_record_writer_start(&w, 1000), 0); /* for the RELEASE */
    vg_recorder_free(r);
    vg_record_writer_stop(&w);
}
END_TEST

START_TEST(an_uncreatable_directory_is_an_error_and_retried_later) {
    char file[300];
    snprintf(file, sizeof(file), "%s/file", root);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    vg_record_writer w;
    ck_assert_int_eq(vg_record_writer_start(&w, 1 << 20), 0);
    vg_record_config cfg = {.mode = VG_RECORD_CONTINUOUS, .path = file, .segment_s = 60};
    vg_recorder *r = vg_recorder_new(&cfg, "cam", &w);
    offer(r, VG_FRAME_INIT, 0, T0, 4, 'I');
    offer(r, VG_FRAME_MEDIA, KEY, T0, 3, 'K');
    while (vg_record_writer_queued(&w)) /* the writer has taken it */
        usleep(1000);
    vg_record_status st;
    uint64_t dropped;
    for (int i = 0; i < 1000; i++) {
        vg_recorder_status(r, &st, &dropped);
        if (st.errors) break;
        usleep(1000);
    }
    ck_assert_int_eq(st.state, VG_RECORD_ERROR);
    ck_assert_msg(strstr(st.reason, "Not a directory"), "reason: %s", st.reason);
    /* the next keyframe sees the failure: no new try before retry_us */
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 1000000, 3, 'K');
    offer(r, VG_FRAME_MEDIA, KEY, T0 + VG_RECORD_RETRY_US / 2, 3, 'K');
    vg_record_writer_stop(&w);
    vg_recorder_status(r, &st, &dropped);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_uint_eq(dropped, 0); /* a failure is not a drop */
    /* after retry_us, the next keyframe tries again (and fails again) */
    ck_assert_int_eq(vg_record_writer_start(&w, 1 << 20), 0);
    offer(r, VG_FRAME_MEDIA, KEY, T0 + 1000000 + VG_RECORD_RETRY_US, 3, 'K');
    vg_record_writer_stop(&w);
    vg_recorder_status(r, &st, &dropped);
    ck_assert_uint_eq(st.errors, 2);
    ck_assert_int_eq(vg_record_writer_start(&w, 1 << 20), 0);
    vg_recorder_free(r);
    vg_record_writer_stop(&w);
}
END_TEST

static vg_recorder *events_recorder(vg_record_writer *w) {
    ck_assert_int_eq(vg_record_writer_start(w, 1 << 20), 0);
    vg_record_config cfg = {.mode = VG_RECORD_EVENTS, .path = root, .segment_s = 60,
                            .preroll_s = 2, .preroll_mb = 1};
    vg_recorder *r = vg_recorder_new(&cfg, "cam", w);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* One GOP a second from `from` to `to` (exclusive): a keyframe filled with
 * 'A' + s, and a frame half a second later with 'a' + s. */
static void gops(vg_recorder *r, int from, int to) {
    for (int s = from; s < to; s++) {
        offer(r, VG_FRAME_MEDIA, KEY, T0 + s * 1000000LL, 1, (char)('A' + s));
        offer(r, VG_FRAME_MEDIA, 0, T0 + s * 1000000LL + 500000, 1, (char)('a' + s));
    }
}

START_TEST(a_clip_starts_in_the_preroll_and_ends_after_post_s) {
    vg_record_writer w;
    vg_recorder *r = events_recorder(&w);
    offer(r, VG_FRAME_INIT, 0, T0, 2, 'I');
    gops(r, 0, 5);
    vg_clip_request req = {.pre_s = 2, .post_s = 1, .label = "doorbell", .subject = "ops",
                           .reason = "request"};
    char name[VG_CLIP_NAME_MAX];
    int64_t start_us;
    int64_t asked = T0 + 4700000;
    ck_assert_int_eq(vg_recorder_clip(r, &req, asked, name, sizeof(name), &start_us),
                     VG_CLIP_STARTED);
    /* 2.7 s back: the keyframe of 2 s, and the name carries its second */
    ck_assert_str_eq(name, "cam-clip-20261205T120002Z");
    ck_assert_int_eq(start_us, T0 + 2000000);
    ck_assert(vg_recorder_clip_active(r, name));
    /* a second clip of the same second gets "-2" */
    ck_assert_int_eq(vg_recorder_clip(r, &req, asked, name, sizeof(name), &start_us),
                     VG_CLIP_STARTED);
    ck_assert_str_eq(name, "cam-clip-20261205T120002Z-2");
    gops(r, 5, 7); /* the keyframe of 6 s is past 5.7 s: both clips end there */
    ck_assert(!vg_recorder_clip_active(r, "cam-clip-20261205T120002Z"));
    ck_assert_uint_eq(r->nclips, 0);
    vg_recorder_free(r);
    vg_record_writer_stop(&w);
    ck_assert_str_eq(slurp_path("cam/clips/cam-clip-20261205T120002Z.mp4"), "IICcDdEeFf");
    ck_assert_str_eq(slurp_path("cam/clips/cam-clip-20261205T120002Z-2.mp4"), "IICcDdEeFf");
    json_error_t je;
    json_t *side = json_loads(slurp_path("cam/clips/cam-clip-20261205T120002Z.json"), 0, &je);
    ck_assert_ptr_nonnull(side);
    ck_assert_str_eq(json_string_value(json_object_get(side, "id")), "cam-clip-20261205T120002Z");
    ck_assert_str_eq(json_string_value(json_object_get(side, "kind")), "clip");
    ck_assert_str_eq(json_string_value(json_object_get(side, "label")), "doorbell");
    ck_assert_str_eq(json_string_value(json_object_get(side, "subject")), "ops");
    ck_assert_str_eq(json_string_value(json_object_get(side, "reason")), "request");
    ck_assert_str_eq(json_string_value(json_object_get(side, "requested_at")),
                     "2026-12-05T12:00:04.700Z");
    ck_assert_str_eq(json_string_value(json_object_get(side, "start")),
                     "2026-12-05T12:00:02.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(side, "end")), "2026-12-05T12:00:05.500Z");
    ck_assert(json_is_true(json_object_get(side, "complete")));
    ck_assert(json_is_null(json_object_get(side, "device"))); /* nobody's event */
    json_decref(side);
    /* events mode: no segment besides the clips */
    char seg[300];
    snprintf(seg, sizeof(seg), "%s/cam/cam-20261205T120000Z.mp4", root);
    struct stat st;
    ck_assert_int_ne(stat(seg, &st), 0);
}
END_TEST

START_TEST(clips_end_at_a_new_init_and_wait_for_a_keyframe_with_an_empty_ring) {
    vg_record_writer w;
    vg_recorder *r = events_recorder(&w);
    vg_clip_request req = {.pre_s = 2, .post_s = 10, .reason = "device event", .device = "bell"};
    char name[VG_CLIP_NAME_MAX];
    int64_t start_us;
    offer(r, VG_FRAME_INIT, 0, T0, 2, 'I');
    ck_assert_int_eq(vg_recorder_clip(r, &req, T0, name, sizeof(name), &start_us),
                     VG_CLIP_STARTED);
    ck_assert_int_eq(start_us, T0); /* nothing held yet */
    offer(r, VG_FRAME_MEDIA, 0, T0 + 100000, 1, 'x'); /* not a keyframe: not the clip's */
    gops(r, 1, 3);
    offer(r, VG_FRAME_INIT, 0, T0 + 3000000, 2, 'J'); /* the source restarted */
    ck_assert_uint_eq(r->nclips, 0);
    /* as many clips as VG_RECORDER_CLIPS_MAX, then busy */
    for (int i = 0; i < VG_RECORDER_CLIPS_MAX; i++)
        ck_assert_int_eq(vg_recorder_clip(r, &req, T0 + 3000000, name, sizeof(name), &start_us),
                         VG_CLIP_STARTED);
    ck_assert_int_eq(vg_recorder_clip(r, &req, T0 + 3000000, name, sizeof(name), &start_us),
                     VG_CLIP_BUSY);
    ck_assert_uint_eq(r->clips_refused, 1);
    vg_recorder_stop(r); /* the stream stopped: they end, without a frame */
    ck_assert_uint_eq(r->nclips, 0);
    vg_recorder_free(r);
    vg_record_writer_stop(&w);
    ck_assert_str_eq(slurp_path("cam/clips/cam-clip-20261205T120000Z.mp4"), "IIBbCc");
    json_t *side = json_loads(slurp_path("cam/clips/cam-clip-20261205T120000Z.json"), 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(side, "device")), "bell");
    ck_assert_str_eq(json_string_value(json_object_get(side, "reason")), "device event");
    ck_assert_str_eq(json_string_value(json_object_get(side, "start")), "2026-12-05T12:00:01.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(side, "end")), "2026-12-05T12:00:02.500Z");
    ck_assert(json_is_true(json_object_get(side, "complete")));
    json_decref(side);
    /* the clips that never had a frame left nothing behind */
    char p[300];
    snprintf(p, sizeof(p), "%s/cam/clips/cam-clip-20261205T120003Z.mp4", root);
    struct stat st;
    ck_assert_int_ne(stat(p, &st), 0);
}
END_TEST

static Suite *recorder_suite(void) {
    Suite *s = suite_create("recorder");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, segments_start_at_keyframes_after_segment_s_and_at_a_new_init);
    tcase_add_test(tc, a_full_queue_drops_to_the_next_keyframe_and_counts);
    tcase_add_test(tc, an_uncreatable_directory_is_an_error_and_retried_later);
    tcase_add_test(tc, a_clip_starts_in_the_preroll_and_ends_after_post_s);
    tcase_add_test(tc, clips_end_at_a_new_init_and_wait_for_a_keyframe_with_an_empty_ring);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(recorder_suite)
