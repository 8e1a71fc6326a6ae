/* test_fanout.c -- a stream's fan-out through its relays: one shared frame
 * for every viewer, the GOP cache for new viewers, and a stalled viewer that
 * neither delays nor disturbs the others. Runs the real stream and relay code
 * with no pipeline: frames are published by the test to the relay the stream
 * routes them to. */
#include "check_main.h"
#include "media/stream.h"

static int ready_calls, too_slow_calls, state_calls;
static vg_viewer *too_slow_viewer;

static void on_ready(vg_viewer *v) {
    (void)v;
    ready_calls++;
}
static void on_too_slow(vg_viewer *v) {
    too_slow_calls++;
    too_slow_viewer = v;
}
static void on_state(vg_stream *s, const char *reason) {
    (void)s;
    (void)reason;
    state_calls++;
}

static const vg_stream_hooks hooks = {{on_ready, on_too_slow}, on_state, NULL};

static vg_stream *make_stream(uint32_t queue_frames) {
    vg_stream_limits lim = {.queue_frames = queue_frames,
                            .slow_skips = 3,
                            .slow_window_us = 10000000,
                            .max_frame_bytes = 1 << 20,
                            .stall_timeout_us = 5000000};
    ready_calls = too_slow_calls = state_calls = 0;
    too_slow_viewer = NULL;
    return vg_stream_new("cam", "test://", NULL, 7, &lim, &hooks, NULL, NULL);
}

static void publish(vg_stream *s, uint8_t kind, bool key, int64_t now) {
    vg_frame *f = vg_frame_new(kind, key ? VG_FRAME_KEYFRAME : 0, s->channel, now, 100);
    vg_relay_slot slot = vg_frame_mode(f) == VG_MODE_WEBCODECS ? VG_RELAY_WEBCODECS : VG_RELAY_MSE;
    vg_relay_publish(vg_stream_relay(s, slot), f, now);
    vg_frame_unref(f);
}

static int attach(vg_stream *s, vg_viewer *v, vg_relay_slot slot, int64_t now) {
    return vg_relay_attach(vg_stream_relay(s, slot), v, now);
}

static uint32_t gop_count(vg_stream *s, vg_relay_slot slot) {
    return vg_stream_relay(s, slot)->gop.count;
}

static void drain(vg_viewer *v) {
    vg_frame *f;
    while ((f = vg_viewer_queue_pop(&v->queue)))
        vg_frame_unref(f);
}

START_TEST(every_viewer_gets_the_same_frame_memory) {
    vg_stream *s = make_stream(16);
    vg_viewer a = {0}, b = {0};
    ck_assert_int_eq(attach(s, &a, VG_RELAY_MSE, 0), 0);
    ck_assert_int_eq(attach(s, &b, VG_RELAY_MSE, 0), 0);
    ck_assert_uint_eq(vg_stream_viewer_count(s), 2);
    ck_assert_uint_eq(a.channel, 7);
    publish(s, VG_FRAME_INIT, false, 0);
    publish(s, VG_FRAME_MEDIA, true, 1);
    ck_assert_uint_eq(a.queue.count, 2);
    ck_assert_ptr_eq(a.queue.ring[1].frame, b.queue.ring[1].frame);
    ck_assert_int_eq(ready_calls, 2); /* once per viewer, when its queue became non-empty */
    vg_relay_detach(&a);
    vg_relay_detach(&b);
    ck_assert_uint_eq(vg_stream_viewer_count(s), 0);
    vg_stream_free(s);
}
END_TEST

START_TEST(new_viewer_starts_at_latest_keyframe_at_once) {
    vg_stream *s = make_stream(16);
    publish(s, VG_FRAME_INIT, false, 0);
    publish(s, VG_FRAME_MEDIA, true, 1);
    publish(s, VG_FRAME_MEDIA, false, 2);
    publish(s, VG_FRAME_MEDIA, true, 3); /* newest keyframe */
    publish(s, VG_FRAME_MEDIA, false, 4);
    publish(s, VG_FRAME_MEDIA, false, 5);
    vg_viewer v = {0};
    attach(s, &v, VG_RELAY_MSE, 6);
    ck_assert_uint_eq(v.queue.count, 4); /* init + key(3) + 4 + 5 */
    vg_frame *f = vg_viewer_queue_pop(&v.queue);
    ck_assert_uint_eq(f->kind, VG_FRAME_INIT);
    vg_frame_unref(f);
    f = vg_viewer_queue_pop(&v.queue);
    ck_assert(vg_frame_is_keyframe(f));
    ck_assert_int_eq(f->time_us, 3);
    vg_frame_unref(f);
    drain(&v);
    vg_relay_detach(&v);
    vg_stream_free(s);
}
END_TEST

START_TEST(stalled_viewer_does_not_disturb_a_reading_one) {
    vg_stream *s = make_stream(8);
    vg_viewer fast = {0}, stalled = {0};
    attach(s, &fast, VG_RELAY_MSE, 0);
    attach(s, &stalled, VG_RELAY_MSE, 0);
    /* Its connection takes nothing (what the writer notes): its skips count. */
    vg_viewer_queue_note_blocked(&stalled.queue);
    publish(s, VG_FRAME_INIT, false, 0);
    uint64_t fast_got = 0;
    int64_t t = 1000000;
    /* 30 fps, keyframe each second, for 5 s; the fast viewer drains each frame. */
    for (int i = 0; i < 150; i++, t += 33333) {
        publish(s, VG_FRAME_MEDIA, i % 30 == 0, t);
        vg_frame *f;
        while ((f = vg_viewer_queue_pop(&fast.queue))) {
            if (f->kind == VG_FRAME_MEDIA) fast_got++;
            vg_frame_unref(f);
        }
    }
    ck_assert_uint_eq(fast_got, 150); /* every frame, none skipped */
    ck_assert_uint_eq(fast.queue.skips, 0);
    ck_assert_uint_ge(stalled.queue.skips, 3); /* the stalled one overflowed... */
    ck_assert_int_eq(too_slow_calls, 1);       /* ...and was reported once */
    ck_assert_ptr_eq(too_slow_viewer, &stalled);
    ck_assert(stalled.too_slow);
    ck_assert_uint_le(stalled.queue.count, 8); /* and never held more than its bound */
    vg_relay_detach(&fast);
    vg_relay_detach(&stalled);
    vg_stream_free(s);
}
END_TEST

START_TEST(gop_longer_than_cache_is_not_cached) {
    vg_stream *s = make_stream(8); /* GOP cache holds 7 */
    publish(s, VG_FRAME_INIT, false, 0);
    publish(s, VG_FRAME_MEDIA, true, 1);
    for (int i = 0; i < 10; i++)
        publish(s, VG_FRAME_MEDIA, false, 2 + i);
    ck_assert_uint_eq(gop_count(s, VG_RELAY_MSE), 0);
    vg_viewer v = {0};
    attach(s, &v, VG_RELAY_MSE, 20);
    ck_assert_uint_eq(v.queue.count, 1); /* only the init segment; waits for a keyframe */
    publish(s, VG_FRAME_MEDIA, false, 21);
    ck_assert_uint_eq(v.queue.count, 1);
    publish(s, VG_FRAME_MEDIA, true, 22);
    ck_assert_uint_eq(v.queue.count, 2);
    drain(&v);
    vg_relay_detach(&v);
    vg_stream_free(s);
}
END_TEST

/* WebCodecs viewers (kinds 3 and 4) beside MSE viewers (kinds 1 and 2): each
 * gets only its own mode's frames, starts with its own setup frame and GOP,
 * and the WebCodecs side skips to a keyframe marked "after skip" like MSE. */
START_TEST(webcodecs_and_mse_viewers_each_get_their_own_frames) {
    vg_stream *s = make_stream(8);
    publish(s, VG_FRAME_DECODER_CONFIG, false, 0);
    publish(s, VG_FRAME_INIT, false, 0);
    publish(s, VG_FRAME_ACCESS_UNIT, true, 1);
    publish(s, VG_FRAME_ACCESS_UNIT, false, 2);
    publish(s, VG_FRAME_MEDIA, true, 1);
    vg_viewer wc = {0}, wc2 = {0}, mse = {0};
    attach(s, &wc, VG_RELAY_WEBCODECS, 3);
    attach(s, &wc2, VG_RELAY_WEBCODECS, 3);
    attach(s, &mse, VG_RELAY_MSE, 3);
    ck_assert_uint_eq(wc.queue.count, 3); /* config + key(1) + 2 */
    ck_assert_uint_eq(wc.queue.ring[0].frame->kind, VG_FRAME_DECODER_CONFIG);
    ck_assert_uint_eq(wc.queue.ring[1].frame->kind, VG_FRAME_ACCESS_UNIT);
    ck_assert(vg_frame_is_keyframe(wc.queue.ring[1].frame));
    ck_assert_ptr_eq(wc.queue.ring[2].frame, wc2.queue.ring[2].frame); /* one shared frame */
    ck_assert_uint_eq(mse.queue.count, 2);                 /* init + key(1) */
    ck_assert_uint_eq(mse.queue.ring[0].frame->kind, VG_FRAME_INIT);
    ck_assert_uint_eq(mse.queue.ring[1].frame->kind, VG_FRAME_MEDIA);
    ck_assert_uint_eq(gop_count(s, VG_RELAY_WEBCODECS), 2);
    ck_assert_uint_eq(gop_count(s, VG_RELAY_MSE), 1);

    /* wc stalls: its queue of 8 overflows, it drops to its config and waits
     * for a keyframe, which comes flagged after-skip; wc2 reads everything. */
    drain(&wc2);
    drain(&mse);
    for (int i = 0; i < 8; i++) {
        publish(s, VG_FRAME_ACCESS_UNIT, false, 10 + i);
        drain(&wc2);
    }
    ck_assert_uint_eq(wc.queue.skips, 1);
    ck_assert_uint_eq(wc.queue.count, 1); /* only the config kept */
    ck_assert_uint_eq(wc.queue.ring[wc.queue.head].frame->kind, VG_FRAME_DECODER_CONFIG);
    publish(s, VG_FRAME_ACCESS_UNIT, true, 20);
    ck_assert_uint_eq(wc.queue.count, 2);
    vg_frame *cfg = vg_viewer_queue_pop(&wc.queue);
    vg_frame *key = vg_viewer_queue_pop(&wc.queue);
    ck_assert_uint_eq(key->kind, VG_FRAME_ACCESS_UNIT);
    ck_assert_uint_eq(key->flags, VG_FRAME_KEYFRAME | VG_FRAME_AFTER_SKIP);
    ck_assert_uint_eq(vg_frame_wire(key)[2], VG_FRAME_KEYFRAME | VG_FRAME_AFTER_SKIP);
    ck_assert_uint_eq(wc2.queue.count, 1);
    ck_assert_uint_eq(wc2.queue.ring[wc2.queue.head].frame->flags, VG_FRAME_KEYFRAME);
    ck_assert_uint_eq(mse.queue.count, 0); /* no WebCodecs frame reached MSE */
    ck_assert_uint_eq(mse.queue.skips, 0);
    vg_frame_unref(cfg);
    vg_frame_unref(key);

    /* A new configuration (source restarted): the WebCodecs GOP starts over. */
    publish(s, VG_FRAME_DECODER_CONFIG, false, 30);
    ck_assert_uint_eq(gop_count(s, VG_RELAY_WEBCODECS), 0);
    ck_assert_uint_eq(gop_count(s, VG_RELAY_MSE), 1);
    publish(s, VG_FRAME_ACCESS_UNIT, false, 31); /* not decodable without a keyframe */
    ck_assert_uint_eq(wc.queue.count, 1);
    drain(&wc);
    drain(&wc2);
    vg_relay_detach(&wc);
    vg_relay_detach(&wc2);
    vg_relay_detach(&mse);
    vg_stream_free(s);
}
END_TEST

START_TEST(describe_reports_state_and_hides_credentials) {
    vg_stream_limits lim = {.queue_frames = 8, .max_frame_bytes = 1 << 20};
    vg_stream *s = vg_stream_new("door", "rtsp://admin:secret@cam.local/live", NULL, 1, &lim,
                                 &hooks, NULL, NULL);
    json_t *d = vg_stream_describe(s, 0);
    ck_assert_str_eq(json_string_value(json_object_get(d, "source")), "rtsp://cam.local/live");
    ck_assert_str_eq(json_string_value(json_object_get(d, "state")), "stopped");
    ck_assert(json_is_null(json_object_get(d, "codecs")));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "viewers")), 0);
    json_decref(d);
    vg_stream_free(s);
}
END_TEST

static Suite *fanout_suite(void) {
    Suite *s = suite_create("fanout");
    TCase *tc = tcase_create("fanout");
    tcase_add_test(tc, every_viewer_gets_the_same_frame_memory);
    tcase_add_test(tc, new_viewer_starts_at_latest_keyframe_at_once);
    tcase_add_test(tc, stalled_viewer_does_not_disturb_a_reading_one);
    tcase_add_test(tc, gop_longer_than_cache_is_not_cached);
    tcase_add_test(tc, webcodecs_and_mse_viewers_each_get_their_own_frames);
    tcase_add_test(tc, describe_reports_state_and_hides_credentials);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(fanout_suite)
