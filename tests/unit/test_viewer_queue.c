/* test_viewer_queue.c -- the per-viewer queue policy: bounded by count and
 * by age, skip to the next keyframe when full or late, mark the frame after a
 * skip, close a viewer that stays too slow, never lose an unsent init
 * segment. */
#include "check_main.h"
#include "media/viewer_queue.h"

static vg_frame *media(bool key) {
    return vg_frame_new(VG_FRAME_MEDIA, key ? VG_FRAME_KEYFRAME : 0, 1, 0, 4);
}

/* Pushes a new frame and drops the test's own reference. */
static vg_push_result push(vg_viewer_queue *q, bool key, int64_t now) {
    vg_frame *f = media(key);
    vg_frame *resync = vg_viewer_queue_needs_resync(q, f, now)
                           ? vg_frame_copy_with_flags(f, f->flags | VG_FRAME_AFTER_SKIP)
                           : NULL;
    vg_push_result r = vg_viewer_queue_push(q, f, resync, now);
    vg_frame_unref(f);
    vg_frame_unref(resync);
    return r;
}

/* Pops the oldest frame, which must carry exactly these flags. */
static void assert_pop_flags(vg_viewer_queue *q, uint8_t flags) {
    vg_frame *f = vg_viewer_queue_pop(q);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->flags, flags);
    vg_frame_unref(f);
}

START_TEST(first_frame_must_be_keyframe) {
    vg_viewer_queue q;
    ck_assert_int_eq(vg_viewer_queue_init(&q, 8, 3, 10000000), 0);
    ck_assert_int_eq(push(&q, false, 0), VG_PUSH_DROPPED);
    ck_assert_int_eq(push(&q, true, 0), VG_PUSH_QUEUED);
    ck_assert_int_eq(push(&q, false, 0), VG_PUSH_QUEUED);
    ck_assert_uint_eq(q.count, 2);
    vg_frame *f = vg_viewer_queue_pop(&q);
    ck_assert(vg_frame_is_keyframe(f));
    ck_assert_uint_eq(f->flags & VG_FRAME_AFTER_SKIP, 0);
    vg_frame_unref(f);
    vg_viewer_queue_free(&q);
}
END_TEST

START_TEST(full_queue_skips_to_next_keyframe_marked) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 4, 0, 10000000);
    push(&q, true, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(push(&q, false, 0), VG_PUSH_QUEUED);
    ck_assert_uint_eq(q.count, 4);
    /* Full: this delta overflows; everything queued goes, the viewer skips. */
    ck_assert_int_eq(push(&q, false, 0), VG_PUSH_SKIPPED);
    ck_assert_uint_eq(q.count, 0);
    ck_assert_uint_eq(q.skips, 1);
    ck_assert_int_eq(push(&q, false, 0), VG_PUSH_DROPPED);
    ck_assert_uint_eq(q.frames_dropped, 4 + 1 + 1);
    ck_assert_int_eq(push(&q, true, 0), VG_PUSH_QUEUED);
    vg_frame *f = vg_viewer_queue_pop(&q);
    ck_assert(vg_frame_is_keyframe(f));
    ck_assert_uint_eq(f->flags & VG_FRAME_AFTER_SKIP, VG_FRAME_AFTER_SKIP);
    ck_assert_uint_eq(vg_frame_wire(f)[2], VG_FRAME_KEYFRAME | VG_FRAME_AFTER_SKIP);
    vg_frame_unref(f);
    /* Back to normal: the next delta is queued unmarked. */
    ck_assert_int_eq(push(&q, false, 0), VG_PUSH_QUEUED);
    f = vg_viewer_queue_pop(&q);
    ck_assert_uint_eq(f->flags, 0);
    vg_frame_unref(f);
    vg_viewer_queue_free(&q);
}
END_TEST

START_TEST(overflow_on_a_keyframe_delivers_it_marked) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 3, 0, 10000000);
    push(&q, true, 0);
    push(&q, false, 0);
    push(&q, false, 0);
    ck_assert_int_eq(push(&q, true, 0), VG_PUSH_SKIPPED);
    ck_assert_uint_eq(q.count, 1);
    assert_pop_flags(&q, VG_FRAME_KEYFRAME | VG_FRAME_AFTER_SKIP);
    vg_viewer_queue_free(&q);
}
END_TEST

START_TEST(too_many_skips_in_window_is_too_slow) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 2, 3, 10000000);
    vg_viewer_queue_note_blocked(&q); /* its connection is full */
    int64_t t = 1000000;
    vg_push_result last = VG_PUSH_QUEUED;
    int overflows = 0;
    /* A viewer that never drains: keyframe, delta, overflow, ... */
    for (int i = 0; i < 30 && last != VG_PUSH_TOO_SLOW; i++) {
        last = push(&q, i % 2 == 0, t + i * 100000);
        if (last == VG_PUSH_SKIPPED) overflows++;
    }
    ck_assert_int_eq(last, VG_PUSH_TOO_SLOW);
    ck_assert_int_eq(overflows, 2);
    ck_assert_uint_eq(q.skips, 3);
    vg_viewer_queue_free(&q);
}
END_TEST

START_TEST(skips_spread_over_time_are_tolerated) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 2, 3, 10000000);
    /* One overflow every 6 s: never 3 within 10 s. */
    for (int round = 0; round < 6; round++) {
        int64_t t = (int64_t)round * 6000000;
        push(&q, true, t);
        push(&q, false, t);
        ck_assert_int_eq(push(&q, false, t), VG_PUSH_SKIPPED);
        vg_frame *f;
        while ((f = vg_viewer_queue_pop(&q)))
            vg_frame_unref(f);
    }
    ck_assert_uint_eq(q.skips, 6);
    vg_viewer_queue_free(&q);
}
END_TEST

START_TEST(unsent_init_segment_survives_a_skip) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 3, 0, 10000000);
    vg_frame *init = vg_frame_new(VG_FRAME_INIT, 0, 1, 0, 8);
    ck_assert_int_eq(vg_viewer_queue_push(&q, init, NULL, 0), VG_PUSH_QUEUED);
    push(&q, true, 0);
    push(&q, false, 0);
    ck_assert_int_eq(push(&q, false, 0), VG_PUSH_SKIPPED);
    ck_assert_uint_eq(q.count, 1);
    vg_frame *f = vg_viewer_queue_pop(&q);
    ck_assert_ptr_eq(f, init);
    vg_frame_unref(f);
    vg_frame_unref(init);
    vg_viewer_queue_free(&q);
}
END_TEST

START_TEST(ring_grows_to_the_limit_keeping_order) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 100, 0, 10000000);
    uint32_t first_slots = q.slots;
    ck_assert_uint_lt(first_slots, 100); /* starts small */
    int64_t next_in = 0, next_out = 0;
    /* Wrap the small ring first, then grow it while it is wrapped. */
    for (int i = 0; i < 20; i++, next_in++) {
        vg_frame *f = vg_frame_new(VG_FRAME_MEDIA, i == 0 ? VG_FRAME_KEYFRAME : 0, 1, next_in, 4);
        ck_assert_int_eq(vg_viewer_queue_push(&q, f, NULL, 0), VG_PUSH_QUEUED);
        vg_frame_unref(f);
    }
    for (int i = 0; i < 10; i++, next_out++) {
        vg_frame *f = vg_viewer_queue_pop(&q);
        ck_assert_int_eq(f->time_us, next_out);
        vg_frame_unref(f);
    }
    /* Peeking sees the same order, across the wrap, and takes nothing. */
    for (uint32_t i = 0; i < 10; i++)
        ck_assert_int_eq(vg_viewer_queue_peek(&q, i)->time_us, next_out + i);
    ck_assert_ptr_null(vg_viewer_queue_peek(&q, 10));
    ck_assert_uint_eq(q.count, 10);
    for (int i = 0; i < 90; i++, next_in++) {
        vg_frame *f = vg_frame_new(VG_FRAME_MEDIA, 0, 1, next_in, 4);
        ck_assert_int_eq(vg_viewer_queue_push(&q, f, NULL, 0), VG_PUSH_QUEUED);
        vg_frame_unref(f);
    }
    ck_assert_uint_eq(q.count, 100);
    ck_assert_uint_eq(q.slots, 100); /* grown, but never beyond the limit */
    /* Full at the limit: the policy applies exactly as before. */
    vg_frame *f = vg_frame_new(VG_FRAME_MEDIA, 0, 1, next_in, 4);
    ck_assert_int_eq(vg_viewer_queue_push(&q, f, NULL, 0), VG_PUSH_SKIPPED);
    vg_frame_unref(f);
    ck_assert_uint_eq(q.count, 0);
    vg_viewer_queue_free(&q);

    vg_viewer_queue_init(&q, 100, 0, 10000000);
    for (int i = 0; i < 100; i++) {
        f = vg_frame_new(VG_FRAME_MEDIA, i == 0 ? VG_FRAME_KEYFRAME : 0, 1, i, 4);
        vg_viewer_queue_push(&q, f, NULL, 0);
        vg_frame_unref(f);
    }
    for (int i = 0; i < 100; i++) {
        f = vg_viewer_queue_pop(&q);
        ck_assert_int_eq(f->time_us, i);
        vg_frame_unref(f);
    }
    /* Drained: the ring is small again, and grows again for the next burst. */
    ck_assert_uint_lt(q.slots, first_slots);
    for (int i = 0; i < 50; i++) {
        f = vg_frame_new(VG_FRAME_MEDIA, 0, 1, 100 + i, 4);
        ck_assert_int_eq(vg_viewer_queue_push(&q, f, NULL, 0), VG_PUSH_QUEUED);
        vg_frame_unref(f);
    }
    for (int i = 0; i < 50; i++) {
        f = vg_viewer_queue_pop(&q);
        ck_assert_int_eq(f->time_us, 100 + i);
        vg_frame_unref(f);
    }
    vg_viewer_queue_free(&q);
}
END_TEST

START_TEST(queue_shares_frames_without_copying) {
    vg_viewer_queue a, b;
    vg_viewer_queue_init(&a, 4, 0, 1);
    vg_viewer_queue_init(&b, 4, 0, 1);
    vg_frame *f = media(true);
    vg_viewer_queue_push(&a, f, NULL, 0);
    vg_viewer_queue_push(&b, f, NULL, 0);
    ck_assert_int_eq(atomic_load(&f->refcount), 3);
    vg_frame *fa = vg_viewer_queue_pop(&a), *fb = vg_viewer_queue_pop(&b);
    ck_assert_ptr_eq(fa, f);
    ck_assert_ptr_eq(fb, f);
    vg_frame_unref(fa);
    vg_frame_unref(fb);
    vg_frame_unref(f);
    vg_viewer_queue_free(&a);
    vg_viewer_queue_free(&b);
}
END_TEST

static vg_push_result push_init(vg_viewer_queue *q, int64_t now) {
    vg_frame *f = vg_frame_new(VG_FRAME_INIT, 0, 1, 0, 4);
    vg_push_result r = vg_viewer_queue_push(q, f, NULL, now);
    vg_frame_unref(f);
    return r;
}

/* 100 ms bound, frames 40 ms apart, nothing popped: the frame that finds the
 * oldest one waiting more than 100 ms skips, long before the 64-frame queue
 * is full; the next keyframe comes marked. */
START_TEST(late_queue_skips_to_next_keyframe) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 64, 0, 10000000);
    q.max_age_us = 100000;
    ck_assert_int_eq(push(&q, true, 0), VG_PUSH_QUEUED);
    ck_assert_int_eq(push(&q, false, 40000), VG_PUSH_QUEUED);
    ck_assert_int_eq(push(&q, false, 80000), VG_PUSH_QUEUED);
    ck_assert_int_eq(push(&q, false, 100000), VG_PUSH_QUEUED); /* exactly the bound: not late */
    ck_assert_int_eq(push(&q, false, 120000), VG_PUSH_SKIPPED_LATE);
    ck_assert_uint_eq(q.count, 0);
    ck_assert_uint_eq(q.skips, 1);
    ck_assert_uint_eq(q.late_skips, 1);
    ck_assert_uint_eq(q.frames_dropped, 4 + 1);
    ck_assert_int_eq(push(&q, false, 160000), VG_PUSH_DROPPED);
    ck_assert_int_eq(push(&q, true, 200000), VG_PUSH_QUEUED);
    assert_pop_flags(&q, VG_FRAME_KEYFRAME | VG_FRAME_AFTER_SKIP);
    vg_viewer_queue_free(&q);
}
END_TEST

/* A viewer that keeps up never skips however long it watches: age is how
 * long a frame waited in the queue, not how old it is. */
START_TEST(a_viewer_that_keeps_up_never_ages) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 64, 0, 10000000);
    q.max_age_us = 100000;
    for (int64_t t = 0; t < 10000000; t += 40000) {
        ck_assert_int_eq(push(&q, t % 2000000 == 0, t), VG_PUSH_QUEUED);
        vg_frame_unref(vg_viewer_queue_pop(&q));
    }
    ck_assert_uint_eq(q.skips, 0);
    vg_viewer_queue_free(&q);
}
END_TEST

/* An overdue keyframe is itself the way out: the queue skips and delivers it
 * marked at once, rather than waiting a whole GOP for the next one. */
START_TEST(late_on_a_keyframe_delivers_it_marked) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 64, 0, 10000000);
    q.max_age_us = 100000;
    push(&q, true, 0);
    push(&q, false, 40000);
    ck_assert_int_eq(push(&q, true, 200000), VG_PUSH_SKIPPED_LATE);
    ck_assert_uint_eq(q.count, 1);
    assert_pop_flags(&q, VG_FRAME_KEYFRAME | VG_FRAME_AFTER_SKIP);
    vg_viewer_queue_free(&q);
}
END_TEST

/* An unsent init segment survives a late skip and does not age: after the
 * skip it is queued anew, so the next delta is not late because of it. */
START_TEST(init_segment_survives_a_late_skip_without_aging) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 64, 3, 10000000);
    q.max_age_us = 100000;
    push_init(&q, 0);
    push(&q, true, 0);
    ck_assert_int_eq(push(&q, false, 200000), VG_PUSH_SKIPPED_LATE);
    ck_assert_uint_eq(q.count, 1);
    ck_assert_int_eq(push(&q, false, 400000), VG_PUSH_DROPPED); /* waits for a key, no new skip */
    ck_assert_int_eq(push(&q, true, 440000), VG_PUSH_QUEUED);
    ck_assert_uint_eq(q.skips, 1);
    vg_frame *f = vg_viewer_queue_pop(&q);
    ck_assert_int_eq(f->kind, VG_FRAME_INIT);
    vg_frame_unref(f);
    vg_viewer_queue_free(&q);
}
END_TEST

/* Late skips count towards "too slow" like overflows. */
START_TEST(late_too_often_is_too_slow) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 64, 2, 10000000);
    q.max_age_us = 100000;
    vg_viewer_queue_note_blocked(&q);
    push(&q, true, 0);
    ck_assert_int_eq(push(&q, false, 200000), VG_PUSH_SKIPPED_LATE);
    push(&q, true, 240000);
    ck_assert_int_eq(push(&q, false, 400000), VG_PUSH_TOO_SLOW);
    vg_viewer_queue_free(&q);
}
END_TEST

/* Skips while the writer never found the connection full are the server's
 * lag (it did not get to the viewer in time): they skip, and never close the
 * viewer. Once the connection refuses bytes they count, until the queue
 * drains. */
START_TEST(skips_from_server_lag_never_close) {
    vg_viewer_queue q;
    vg_viewer_queue_init(&q, 64, 2, 10000000);
    q.max_age_us = 100000;
    int64_t t = 0;
    for (int i = 0; i < 10; i++, t += 240000) {
        push(&q, true, t);
        ck_assert_int_eq(push(&q, false, t + 200000), VG_PUSH_SKIPPED_LATE);
    }
    ck_assert_uint_eq(q.late_skips, 10);
    /* Now the connection is full: the second skip closes it. */
    vg_viewer_queue_note_blocked(&q);
    push(&q, true, t);
    ck_assert_int_eq(push(&q, false, t + 200000), VG_PUSH_SKIPPED_LATE);
    t += 240000;
    push(&q, true, t);
    /* The writer caught up in between: the queue drained, blocked is gone. */
    vg_frame *f;
    while ((f = vg_viewer_queue_pop(&q)))
        vg_frame_unref(f);
    ck_assert(!q.blocked);
    push(&q, true, t + 10000);
    ck_assert_int_eq(push(&q, false, t + 200000), VG_PUSH_SKIPPED_LATE);
    vg_viewer_queue_note_blocked(&q);
    push(&q, true, t + 240000);
    ck_assert_int_eq(push(&q, false, t + 400000), VG_PUSH_TOO_SLOW);
    vg_viewer_queue_free(&q);
}
END_TEST

static Suite *queue_suite(void) {
    Suite *s = suite_create("viewer_queue");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, first_frame_must_be_keyframe);
    tcase_add_test(tc, full_queue_skips_to_next_keyframe_marked);
    tcase_add_test(tc, overflow_on_a_keyframe_delivers_it_marked);
    tcase_add_test(tc, too_many_skips_in_window_is_too_slow);
    tcase_add_test(tc, skips_spread_over_time_are_tolerated);
    tcase_add_test(tc, unsent_init_segment_survives_a_skip);
    tcase_add_test(tc, queue_shares_frames_without_copying);
    tcase_add_test(tc, ring_grows_to_the_limit_keeping_order);
    tcase_add_test(tc, late_queue_skips_to_next_keyframe);
    tcase_add_test(tc, a_viewer_that_keeps_up_never_ages);
    tcase_add_test(tc, late_on_a_keyframe_delivers_it_marked);
    tcase_add_test(tc, init_segment_survives_a_late_skip_without_aging);
    tcase_add_test(tc, late_too_often_is_too_slow);
    tcase_add_test(tc, skips_from_server_lag_never_close);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(queue_suite)
