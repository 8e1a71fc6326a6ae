/* test_clip_ring.c -- the pre-roll ring: it starts at a keyframe, keeps
 * span_us plus at most a GOP, obeys its byte bound a GOP at a time, and
 * finds where a clip from a given time starts. */
#include <string.h>

#include "check_main.h"
#include "media/clip_ring.h"

#define S 1000000LL
#define KEY VG_FRAME_KEYFRAME

/* Pushes a frame of `len` bytes at t (seconds, fractional) and lets go of it. */
static void push(vg_clip_ring *r, uint8_t flags, double t, size_t len) {
    vg_frame *f = vg_frame_new(VG_FRAME_MEDIA, flags, 1, (int64_t)(t * S), len);
    ck_assert_ptr_nonnull(f);
    vg_clip_ring_push(r, f);
    vg_frame_unref(f);
}

static double oldest_s(const vg_clip_ring *r) {
    return (double)vg_clip_ring_at(r, 0)->time_us / S;
}

/* One GOP a second: a keyframe and 9 frames, 100 bytes each. */
static void gops(vg_clip_ring *r, int from_s, int to_s) {
    for (int s = from_s; s < to_s; s++)
        for (int i = 0; i < 10; i++)
            push(r, i ? 0 : KEY, s + i / 10.0, 100);
}

START_TEST(it_starts_at_a_keyframe_and_keeps_the_span_plus_a_gop) {
    vg_clip_ring r;
    vg_clip_ring_init(&r, 3 * S, 1 << 20);
    push(&r, 0, 0.5, 100);             /* no keyframe yet: not kept */
    push(&r, VG_FRAME_AUDIO, 0.6, 10); /* nor audio */
    ck_assert_uint_eq(vg_clip_ring_count(&r), 0);
    gops(&r, 1, 10);
    /* at 9.9 s: the GOP of 6 s is the last whole 3 s back; it is kept whole */
    ck_assert(oldest_s(&r) == 6.0);
    ck_assert(vg_frame_is_keyframe(vg_clip_ring_at(&r, 0)));
    ck_assert_uint_eq(vg_clip_ring_count(&r), 40);
    ck_assert_uint_eq(r.bytes, 4000);
    /* a keyframe at 10: the 6 s GOP goes, the 7 s one reaches 3 s back */
    push(&r, KEY, 10, 100);
    ck_assert(oldest_s(&r) == 7.0);
    vg_clip_ring_free(&r);
}
END_TEST

START_TEST(a_clip_starts_at_the_last_keyframe_at_or_before_its_time) {
    vg_clip_ring r;
    vg_clip_ring_init(&r, 5 * S, 1 << 20);
    gops(&r, 0, 8);
    ck_assert(oldest_s(&r) == 2.0);
    ck_assert_uint_eq(vg_clip_ring_start(&r, 4 * S), 20); /* exactly a keyframe */
    ck_assert_uint_eq(vg_clip_ring_start(&r, (int64_t)(5.55 * S)), 30);
    ck_assert_uint_eq(vg_clip_ring_start(&r, 0), 0);      /* before the ring: its oldest */
    ck_assert_uint_eq(vg_clip_ring_start(&r, 99 * S), 50); /* after it: the newest keyframe */
    vg_clip_ring_free(&r);
}
END_TEST

START_TEST(the_byte_bound_drops_gops_from_the_front) {
    vg_clip_ring r;
    vg_clip_ring_init(&r, 60 * S, 2500);
    gops(&r, 0, 5);
    /* 60 s of span would keep everything; 2500 bytes keep two GOPs */
    ck_assert_uint_le(r.bytes, 2500);
    ck_assert(oldest_s(&r) == 3.0);
    ck_assert_uint_eq(r.overflows, 0);
    /* one GOP larger than the bound: the ring empties until a keyframe */
    push(&r, KEY, 5, 100);
    push(&r, 0, 5.1, 3000);
    ck_assert_uint_eq(vg_clip_ring_count(&r), 0);
    ck_assert_uint_eq(r.overflows, 1);
    push(&r, 0, 5.2, 100);
    ck_assert_uint_eq(vg_clip_ring_count(&r), 0);
    push(&r, KEY, 6, 100);
    ck_assert_uint_eq(vg_clip_ring_count(&r), 1);
    vg_clip_ring_free(&r);
}
END_TEST

START_TEST(clear_lets_go_and_waits_for_a_keyframe) {
    vg_clip_ring r;
    vg_clip_ring_init(&r, 5 * S, 1 << 20);
    gops(&r, 0, 3);
    vg_clip_ring_clear(&r);
    ck_assert_uint_eq(vg_clip_ring_count(&r), 0);
    ck_assert_uint_eq(r.bytes, 0);
    push(&r, 0, 4, 100);
    ck_assert_uint_eq(vg_clip_ring_count(&r), 0);
    vg_clip_ring_free(&r);
    /* more frames than the first slots: they grow, in order */
    vg_clip_ring_init(&r, 600 * S, 1 << 30);
    gops(&r, 10, 60);
    ck_assert_uint_eq(vg_clip_ring_count(&r), 500);
    for (size_t i = 1; i < 500; i++)
        ck_assert_int_lt(vg_clip_ring_at(&r, i - 1)->time_us, vg_clip_ring_at(&r, i)->time_us);
    vg_clip_ring_free(&r);
}
END_TEST

static Suite *clip_ring_suite(void) {
    Suite *s = suite_create("clip_ring");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, it_starts_at_a_keyframe_and_keeps_the_span_plus_a_gop);
    tcase_add_test(tc, a_clip_starts_at_the_last_keyframe_at_or_before_its_time);
    tcase_add_test(tc, the_byte_bound_drops_gops_from_the_front);
    tcase_add_test(tc, clear_lets_go_and_waits_for_a_keyframe);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(clip_ring_suite)
