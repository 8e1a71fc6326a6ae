/* test_stream_lifecycle.c -- a stream's life with a real GStreamer pipeline
 * (the test source, tiny): starting, live with codecs, failure and restart
 * with exponential backoff, stale events from old pipelines ignored, a stall
 * detected, frames lost in the hand-off never published until a keyframe.
 *
 * The test plays the lws thread: it drains the inbox and ticks the stream
 * itself, with explicit clock values for the backoff checks. */
#include <gst/gst.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "media/stream.h"

static int state_changes;
static char last_reason[128];

static void on_ready(vg_viewer *v) {
    (void)v;
}
static void on_slow(vg_viewer *v) {
    (void)v;
}
static void on_state(vg_stream *s, const char *reason) {
    (void)s;
    state_changes++;
    snprintf(last_reason, sizeof(last_reason), "%s", reason ? reason : "");
}
static const vg_stream_hooks hooks = {{on_ready, on_slow}, on_state, NULL};

static vg_inbox inbox;
static vg_stream *stream;
static vg_viewer viewer;

static int64_t now(void) {
    return g_get_real_time();
}

/* Once per test case: GStreamer may be deinitialised only once a process. */
static void gst_up(void) {
    gst_init(NULL, NULL);
}
static void gst_down(void) {
    gst_deinit();
}

static void setup(void) {
    ck_assert_int_eq(vg_inbox_init(&inbox, 1024, NULL, NULL), 0);
    json_t *opts = json_pack("{s:i, s:i, s:i, s:i}", "width", 64, "height", 48, "fps", 30,
                             "bitrate_kbps", 100);
    vg_stream_limits lim = {.queue_frames = 256,
                            .slow_skips = 0,
                            .slow_window_us = 10000000,
                            .max_frame_bytes = 1 << 20,
                            .stall_timeout_us = 5000000};
    stream = vg_stream_new("t", "test://", opts, 3, &lim, &hooks, &inbox, NULL);
    json_decref(opts);
    ck_assert_ptr_nonnull(stream);
    memset(&viewer, 0, sizeof(viewer));
    ck_assert_int_eq(vg_relay_attach(vg_stream_relay(stream, VG_RELAY_MSE), &viewer, now()), 0);
    state_changes = 0;
}

static void teardown(void) {
    vg_relay_detach(&viewer);
    vg_stream_free(stream);
    vg_inbox_destroy(&inbox);
}

/* Applies what the pipeline posted; returns how many events. */
static int drain(void) {
    int n = 0;
    for (vg_event *ev = vg_inbox_take_all(&inbox), *next; ev; ev = next, n++) {
        next = ev->next;
        vg_stream_apply_event(ev->stream, ev, now());
        vg_event_free(ev);
    }
    return n;
}

/* Drains until the stream is live and the viewer has `frames` media frames. */
static void wait_live(unsigned frames) {
    for (int i = 0; i < 1000; i++) {
        drain();
        if (stream->state == VG_STREAM_LIVE && viewer.queue.count > frames) return;
        g_usleep(10000);
    }
    ck_abort_msg("not live: state %s, %u queued", vg_stream_state_name(stream->state),
                 viewer.queue.count);
}

static void empty_viewer(void) {
    vg_frame *f;
    while ((f = vg_viewer_queue_pop(&viewer.queue)))
        vg_frame_unref(f);
}

static void inject(vg_event_type type, const char *text) {
    vg_event ev = {
        .type = type, .stream = stream, .generation = stream->generation, .text = (char *)text};
    vg_stream_apply_event(stream, &ev, now());
}

START_TEST(starts_goes_live_and_delivers_init_then_keyframe) {
    vg_stream_start(stream, now());
    ck_assert_int_eq(stream->state, VG_STREAM_STARTING);
    ck_assert_ptr_nonnull(stream->pipeline);
    wait_live(5);
    ck_assert_ptr_nonnull(stream->codecs);
    ck_assert_msg(!strncmp(stream->codecs, "avc1.", 5), "codecs %s", stream->codecs);
    vg_frame *f = vg_viewer_queue_pop(&viewer.queue);
    ck_assert_uint_eq(f->kind, VG_FRAME_INIT);
    ck_assert_uint_eq(f->channel, 3);
    vg_frame_unref(f);
    f = vg_viewer_queue_pop(&viewer.queue);
    ck_assert_uint_eq(f->kind, VG_FRAME_MEDIA);
    ck_assert(vg_frame_is_keyframe(f));
    vg_frame_unref(f);
    ck_assert_uint_eq(vg_stream_frames_lost(stream), 0);
    vg_stream_stop(stream);
    ck_assert_int_eq(stream->state, VG_STREAM_STOPPED);
    ck_assert_ptr_null(stream->pipeline);
}
END_TEST

START_TEST(failures_back_off_exponentially_up_to_5_s) {
    vg_stream_start(stream, now());
    wait_live(1);
    const int64_t want_s[] = {1, 2, 4, 5, 5, 5, 5};
    for (size_t i = 0; i < sizeof(want_s) / sizeof(want_s[0]); i++) {
        uint64_t gen = stream->generation;
        int64_t t = now();
        inject(VG_EVENT_ERROR, "camera unplugged");
        ck_assert_int_eq(stream->state, VG_STREAM_RETRYING);
        ck_assert_str_eq(stream->last_error, "camera unplugged");
        ck_assert_str_eq(last_reason, "camera unplugged");
        ck_assert_ptr_null(stream->pipeline);
        int64_t delay = stream->retry_at_us - t;
        ck_assert_msg(delay >= want_s[i] * 1000000 && delay < want_s[i] * 1000000 + 200000,
                      "retry %zu after %lld us, want %lld s", i, (long long)delay,
                      (long long)want_s[i]);
        vg_stream_tick(stream, stream->retry_at_us - 1000); /* not yet */
        ck_assert_ptr_null(stream->pipeline);
        vg_stream_tick(stream, stream->retry_at_us);
        ck_assert_ptr_nonnull(stream->pipeline);
        ck_assert_uint_eq(stream->generation, gen + 1);
        ck_assert_int_eq(stream->state, VG_STREAM_RETRYING); /* until frames come */
    }
    ck_assert_uint_eq(stream->restarts, 7);
    empty_viewer();
    wait_live(1); /* back: the next failure starts at 1 s again */
    ck_assert_uint_eq(stream->attempt, 0);
    int64_t t = now();
    inject(VG_EVENT_EOS, NULL);
    ck_assert_str_eq(stream->last_error, "the source ended");
    ck_assert_int_lt(stream->retry_at_us - t, 1200000);
}
END_TEST

/* Lines of `path` that contain `needle`. */
static int count_lines(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

START_TEST(the_same_failure_again_is_not_logged_at_each_retry) {
    char path[] = "/tmp/vigil-test-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    vg_stream_start(stream, now());
    wait_live(1);
    for (int i = 0; i < 4; i++) {
        inject(VG_EVENT_ERROR, "camera unplugged");
        vg_stream_tick(stream, stream->retry_at_us);
    }
    inject(VG_EVENT_ERROR, "connection refused");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    ck_assert_uint_eq(stream->restarts, 5);                      /* every try was made */
    ck_assert_int_eq(count_lines(path, "retrying: camera unplugged"), 1); /* logged once */
    ck_assert_int_eq(count_lines(path, "retrying: connection refused (3 more times since)"), 1);
    unlink(path);
}
END_TEST

START_TEST(events_from_an_old_pipeline_are_ignored) {
    vg_stream_start(stream, now());
    wait_live(1);
    uint64_t old = stream->generation;
    inject(VG_EVENT_ERROR, "first");
    vg_stream_tick(stream, stream->retry_at_us);
    ck_assert_uint_eq(stream->generation, old + 1);
    vg_event stale = {.type = VG_EVENT_ERROR, .stream = stream, .generation = old, .text = "stale"};
    vg_stream_apply_event(stream, &stale, now());
    ck_assert_ptr_nonnull(stream->pipeline); /* the new pipeline was not touched */
    ck_assert_str_eq(stream->last_error, "first");
}
END_TEST

START_TEST(a_stalled_source_is_restarted) {
    vg_stream_start(stream, now());
    wait_live(1);
    vg_stream_tick(stream, now() + 4000000);
    ck_assert_int_eq(stream->state, VG_STREAM_LIVE);
    vg_stream_tick(stream, now() + 6000000);
    ck_assert_int_eq(stream->state, VG_STREAM_RETRYING);
    ck_assert_msg(strstr(stream->last_error, "no frames for") != NULL, "%s", stream->last_error);
}
END_TEST

START_TEST(frames_lost_in_the_hand_off_wait_for_a_keyframe) {
    vg_stream_start(stream, now());
    wait_live(1);
    /* Stop the real pipeline's frames from interfering: drain, then inject. */
    drain();
    empty_viewer();
    uint64_t seq = vg_stream_relay(stream, VG_RELAY_MSE)->next_seq + 3; /* three frames were dropped */
    vg_frame *delta = vg_frame_new(VG_FRAME_MEDIA, 0, 3, now(), 10);
    vg_frame *key = vg_frame_new(VG_FRAME_MEDIA, VG_FRAME_KEYFRAME, 3, now(), 10);
    vg_event ev = {.type = VG_EVENT_FRAME,
                   .stream = stream,
                   .generation = stream->generation,
                   .seq = seq,
                   .frame = delta};
    uint64_t lost = vg_stream_frames_lost(stream);
    vg_stream_apply_event(stream, &ev, now());
    ck_assert_uint_eq(vg_stream_frames_lost(stream), lost + 4); /* 3 missing + this undecodable one */
    ck_assert_uint_eq(viewer.queue.count, 0);
    ck_assert_uint_eq(vg_stream_relay(stream, VG_RELAY_MSE)->gop.count, 0);
    ev.seq = seq + 1;
    ev.frame = key;
    vg_stream_apply_event(stream, &ev, now());
    ck_assert_uint_eq(viewer.queue.count, 1); /* published from the keyframe on */
    ck_assert_uint_eq(vg_stream_relay(stream, VG_RELAY_MSE)->gop.count, 1);
    vg_frame_unref(delta);
    vg_frame_unref(key);
    json_t *d = vg_stream_describe(stream, now());
    ck_assert_int_eq(json_integer_value(json_object_get(d, "frames_lost")), (json_int_t)lost + 4);
    json_decref(d);
}
END_TEST

static Suite *lifecycle_suite(void) {
    Suite *s = suite_create("stream_lifecycle");
    TCase *tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, gst_up, gst_down);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, starts_goes_live_and_delivers_init_then_keyframe);
    tcase_add_test(tc, failures_back_off_exponentially_up_to_5_s);
    tcase_add_test(tc, the_same_failure_again_is_not_logged_at_each_retry);
    tcase_add_test(tc, events_from_an_old_pipeline_are_ignored);
    tcase_add_test(tc, a_stalled_source_is_restarted);
    tcase_add_test(tc, frames_lost_in_the_hand_off_wait_for_a_keyframe);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(lifecycle_suite)
