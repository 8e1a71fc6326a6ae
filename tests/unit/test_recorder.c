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

/* The whole content of a segment file, NUL-terminated. */
static char *slurp(const char *name) {
    char p[512];
    snprintf(p, sizeof(p), "%s/cam/%s", root, name);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s missing", p);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
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

static Suite *recorder_suite(void) {
    Suite *s = suite_create("recorder");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, segments_start_at_keyframes_after_segment_s_and_at_a_new_init);
    tcase_add_test(tc, a_full_queue_drops_to_the_next_keyframe_and_counts);
    tcase_add_test(tc, an_uncreatable_directory_is_an_error_and_retried_later);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(recorder_suite)
