/* test_agent_media.c -- the agent's camera (agent/media.h), run for real:
 * test:// gives Annex-B H.264 that starts at a keyframe carrying its SPS,
 * times that increase, a keyframe every keyframe_s and a codecs string that
 * is the SPS's, with test audio on the same clock, and with latency_mark
 * its capture time in the picture, read back as the browser does; a taker that stops keeps
 * at most max_queue_ms queued (the age, not a GOP, bounds it) and resumes at
 * a keyframe, as after ag_media_skip(); H.264 and H.265 files play in real
 * time and loop with their times going on; bad sources are refused naming
 * them (and never their password); a missing camera fails to start with its
 * reason; an unreachable RTSP camera restarts every second; a real one
 * (tests/tools/rtsp_camera, when built) is passed through, and once killed
 * and back, sending resumes at a keyframe with later times.
 *
 * Resolutions are small: the test machine has two cores. Under valgrind
 * the pipelines cannot keep real time, so the waits, and the bounds that
 * depend on keeping it, grow by SLOW: plain and ASan runs check them as
 * they are. */
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/media.h"
#include "check_main.h"
#include "common/clock.h"
#include "temp_dir.h"
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SLOW (RUNNING_ON_VALGRIND ? 6 : 1)
#else
#define SLOW 1
#endif

#define HEADROOM  24
#define MAX_TAKEN 2048

static atomic_int wakes;
static void count_wake(void *user) {
    (void)user;
    atomic_fetch_add(&wakes, 1);
}

static ag_media_config test_config(void) {
    return (ag_media_config){.source = "test://",
                             .width = 320,
                             .height = 240,
                             .fps = 15,
                             .bitrate_kbps = 300,
                             .keyframe_s = 1,
                             .headroom = HEADROOM};
}

/* What a test has running, for the teardown to stop should the test fail
 * half-way: without a fork (CK_FORK=no, valgrind) a pipeline left playing
 * would hold up gst_deinit for ever. */
static ag_media *live_media;
static pid_t live_camera;
static char live_dir[64];

static ag_media *start(const ag_media_config *c) {
    char err[256] = "";
    ag_media *m = ag_media_new(c, count_wake, NULL, err, sizeof(err));
    ck_assert_msg(m, "ag_media_new(%s): %s", c->source, err);
    live_media = m;
    ck_assert_msg(ag_media_start(m, err, sizeof(err)) == 0, "start %s: %s", c->source, err);
    return m;
}

static void stop(ag_media *m) {
    live_media = NULL;
    ag_media_free(m);
}

static void make_dir(char *dir, size_t len) {
    temp_dir_make(dir, len, "agent-media");
    snprintf(live_dir, sizeof(live_dir), "%s", dir);
}

static void remove_dir(const char *dir) {
    char copy[64];
    snprintf(copy, sizeof(copy), "%s", dir);
    live_dir[0] = '\0';
    temp_dir_remove(copy);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The next frame, waiting up to timeout_ms for it; NULL if none came. */
static ag_frame *take_next(ag_media *m, int timeout_ms) {
    int64_t end = vg_monotonic_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        ag_frame *f = ag_media_take(m);
        if (f || vg_monotonic_us() > end) return f;
        sleep_ms(2);
    }
}

typedef struct taken {
    ag_frame *f[MAX_TAKEN];
    int n;
} taken;

/* Takes frames as they come for ms milliseconds, appending to t. */
static void take_for(ag_media *m, int ms, taken *t) {
    int64_t end = vg_monotonic_us() + (int64_t)ms * 1000;
    while (vg_monotonic_us() < end) {
        ag_frame *f;
        while ((f = ag_media_take(m))) {
            ck_assert_int_lt(t->n, MAX_TAKEN);
            t->f[t->n++] = f;
        }
        sleep_ms(2);
    }
}

static void free_taken(taken *t) {
    for (int i = 0; i < t->n; i++)
        ag_frame_free(t->f[i]);
    t->n = 0;
}

/* The frames a test holds: here rather than on its stack, for the teardown
 * to free them should the test fail. */
static taken got;

static bool starts_with_start_code(const ag_frame *f) {
    const uint8_t *d = f->data;
    return f->len > 4 && d[0] == 0 && d[1] == 0 && (d[2] == 1 || (d[2] == 0 && d[3] == 1));
}

/* The first NAL unit of `type` in an Annex-B frame, or NULL. */
static const uint8_t *nal_of(const ag_frame *f, bool hevc, int type) {
    const uint8_t *d = f->data;
    for (size_t i = 0; i + 3 < f->len; i++) {
        if (d[i] || d[i + 1] || d[i + 2] != 1) continue;
        int t = hevc ? (d[i + 3] >> 1) & 0x3f : d[i + 3] & 0x1f;
        if (t == type) return d + i + 3;
    }
    return NULL;
}

static bool matches(const char *re, const char *s) {
    regex_t r;
    ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    bool yes = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return yes;
}

/* ---- test:// -------------------------------------------------------------- */

START_TEST(test_source_gives_keyframe_first_with_sps_rising_times_and_audio_on_its_clock) {
    ag_media_config c = test_config();
    c.audio = "test";
    atomic_store(&wakes, 0);
    ag_media *m = start(&c);
    ck_assert(ag_media_has_audio(m));
    ck_assert_int_eq(ag_media_audio_channels(m), 1);

    taken *t = &got;
    /* The first frame within 3 s, and it is video: until the first
     * keyframe, audio is dropped as in a skip. */
    ag_frame *first = take_next(m, 3000 * SLOW);
    ck_assert_msg(first, "no frame within 3 s");
    t->f[t->n++] = first;
    ck_assert_int_eq(first->kind, AG_FRAME_VIDEO);
    ck_assert(first->key);
    ck_assert_ptr_eq(first->data, first->buf + HEADROOM);
    ck_assert(starts_with_start_code(first));
    const uint8_t *sps = nal_of(first, false, 7);
    ck_assert_msg(sps, "the first keyframe has no SPS");
    ck_assert_ptr_nonnull(nal_of(first, false, 8)); /* and its PPS */

    char codec[64];
    ag_media_codec(m, codec, sizeof(codec));
    ck_assert_msg(matches("^avc1\\.[0-9A-F]{6}$", codec), "codec '%s'", codec);
    char from_sps[64];
    snprintf(from_sps, sizeof(from_sps), "avc1.%02X%02X%02X", sps[1], sps[2], sps[3]);
    ck_assert_str_eq(codec, from_sps);
    ck_assert_str_eq(ag_media_codec_family(m), "h264");

    /* Three keyframes at least: 0, 1, 2 s. */
    take_for(m, 2300 * SLOW, t);
    int64_t last_video = INT64_MIN, last_audio = INT64_MIN, keys[64];
    int nkeys = 0, nvideo = 0, naudio = 0;
    for (int i = 0; i < t->n; i++) {
        ag_frame *f = t->f[i];
        ck_assert_ptr_eq(f->data, f->buf + HEADROOM);
        ck_assert_uint_gt(f->len, 0);
        if (f->kind == AG_FRAME_VIDEO) {
            nvideo++;
            ck_assert(starts_with_start_code(f));
            ck_assert_msg(f->pts_us > last_video, "video pts %lld after %lld", (long long)f->pts_us,
                          (long long)last_video);
            last_video = f->pts_us;
            if (f->key) {
                ck_assert_ptr_nonnull(nal_of(f, false, 7)); /* SPS in front of every keyframe */
                if (nkeys < 64) keys[nkeys++] = f->pts_us;
            }
        } else {
            ck_assert_int_eq(f->kind, AG_FRAME_AUDIO);
            naudio++;
            ck_assert(!f->key);
            ck_assert(f->len < 8 || memcmp(f->data, "OpusHead", 8)); /* no header as a frame */
            ck_assert_msg(f->pts_us > last_audio, "audio pts %lld after %lld", (long long)f->pts_us,
                          (long long)last_audio);
            last_audio = f->pts_us;
            /* one clock: the sound is within a second of the picture */
            ck_assert_msg(llabs(f->pts_us - last_video) < 1000000 * SLOW,
                          "audio at %lld, video at %lld", (long long)f->pts_us,
                          (long long)last_video);
        }
    }
    ck_assert_int_ge(nkeys, 3);
    for (int i = 1; i < nkeys; i++) {
        int64_t gap = keys[i] - keys[i - 1];
        ck_assert_msg(gap >= 800000 && gap <= 1250000 * SLOW, "keyframes %lld us apart",
                      (long long)gap);
    }
    if (SLOW == 1) {
        ck_assert_int_ge(nvideo, 25); /* 15 fps for 2.3 s */
        ck_assert_int_ge(naudio, 50); /* 20 ms Opus frames */
    } else {
        ck_assert_int_ge(nvideo, 5);
        ck_assert_int_ge(naudio, 5);
    }
    ck_assert_int_ge(atomic_load(&wakes), 1);
    ag_media_stats s;
    ag_media_stats_get(m, &s);
    ck_assert_uint_ge(s.video_frames, (uint64_t)nvideo);
    ck_assert_uint_ge(s.audio_frames, (uint64_t)naudio);
    ck_assert_uint_eq(s.restarts, 0);
    if (SLOW == 1) ck_assert_uint_eq(s.skips, 0); /* taken as they came: nothing was late */
    free_taken(t);
    stop(m);
}
END_TEST

START_TEST(a_taker_that_stops_finds_at_most_max_queue_ms_queued_from_a_keyframe) {
    ag_media_config c = test_config();
    c.max_queue_ms = 300;
    ag_media *m = start(&c);
    sleep_ms(1500 * SLOW);
    ag_media_stats s;
    ag_media_stats_get(m, &s);
    ck_assert_uint_ge(s.skips, 1);
    ck_assert_uint_gt(s.dropped_video, 0);
    /* Bounded by age, not by a GOP (15 frames here): at most 300 ms, and
     * the frame that came since the bound was last applied (67 ms). */
    ck_assert_msg(s.queued_frames <= 7, "%u frames queued", s.queued_frames);
    int64_t now = vg_monotonic_us();
    ag_frame *f = ag_media_take(m);
    if (f) {
        ck_assert_msg(now - f->queued_us <= (300 + 67 + 60) * 1000 * SLOW,
                      "the oldest frame waited %lld us", (long long)(now - f->queued_us));
    } else {
        f = take_next(m, 2000 * SLOW); /* in a skip: the next frame ends it */
        ck_assert_ptr_nonnull(f);
    }
    /* After a skip the queue restarts at a keyframe. */
    ck_assert_int_eq(f->kind, AG_FRAME_VIDEO);
    ck_assert(f->key);
    ck_assert_ptr_nonnull(nal_of(f, false, 7));
    int64_t first_pts = f->pts_us, last_pts = f->pts_us;
    ag_frame_free(f);
    while ((f = ag_media_take(m))) {
        last_pts = f->pts_us;
        ag_frame_free(f);
    }
    ck_assert_msg(last_pts - first_pts <= 400000 * SLOW, "%lld us of video queued",
                  (long long)(last_pts - first_pts));
    stop(m);
}
END_TEST

START_TEST(after_a_skip_the_next_frame_is_a_video_keyframe) {
    ag_media_config c = test_config();
    c.audio = "test";
    ag_media *m = start(&c);
    taken *t = &got;
    take_for(m, 1200 * SLOW, t);
    ck_assert_int_gt(t->n, 0);
    int64_t before = t->f[t->n - 1]->pts_us;
    free_taken(t);
    ag_media_stats s0, s1;
    ag_media_stats_get(m, &s0);
    ag_media_skip(m);
    ag_media_skip(m); /* a skip already on is not a second one */
    ag_media_stats_get(m, &s1);
    ck_assert_uint_eq(s1.skips, s0.skips + 1);
    ck_assert_uint_eq(s1.queued_frames, 0);
    /* Audio is dropped while it skips: the video keyframe comes first. */
    ag_frame *f = take_next(m, 2000 * SLOW);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->kind, AG_FRAME_VIDEO);
    ck_assert(f->key);
    ck_assert_int_gt(f->pts_us, before);
    ag_frame_free(f);
    stop(m);
}
END_TEST

/* Decodes an H.264 keyframe and reads the latency mark of 320-pixel-wide
 * frames (8-pixel squares) as web/js/latency_mark.js would: true with the
 * 32 bits in *data when the sync squares were found. */
static bool read_mark(const ag_frame *key, guint64 *data) {
    GError *e = NULL;
    GstElement *p = gst_parse_launch(
        "appsrc name=in format=time caps=video/x-h264,stream-format=byte-stream,alignment=au "
        "! h264parse ! openh264dec ! videoconvert ! simplevideomarkdetect pattern-width=8 "
        "pattern-height=8 pattern-count=4 pattern-data-count=32 left-offset=0 bottom-offset=0 "
        "! fakesink",
        &e);
    ck_assert_msg(p && !e, "decoder: %s", e ? e->message : "?");
    GstElement *in = gst_bin_get_by_name(GST_BIN(p), "in");
    ck_assert_int_ne(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    GstBuffer *b = gst_buffer_new_memdup(key->data, key->len);
    GST_BUFFER_PTS(b) = 0;
    ck_assert_int_eq(gst_app_src_push_buffer(GST_APP_SRC(in), b), GST_FLOW_OK);
    gst_app_src_end_of_stream(GST_APP_SRC(in));
    GstBus *bus = gst_element_get_bus(p);
    bool found = false;
    GstMessage *msg;
    while ((msg = gst_bus_timed_pop_filtered(
                bus, 10 * GST_SECOND, GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR))) {
        GstMessageType type = GST_MESSAGE_TYPE(msg);
        const GstStructure *st = gst_message_get_structure(msg);
        gboolean have = FALSE;
        if (type == GST_MESSAGE_ELEMENT && gst_structure_has_name(st, "GstSimpleVideoMarkDetect") &&
            gst_structure_get_boolean(st, "have-pattern", &have) && have)
            found = gst_structure_get_uint64(st, "data", data);
        gst_message_unref(msg);
        if (type != GST_MESSAGE_ELEMENT) break;
    }
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(in);
    gst_object_unref(p);
    return found;
}

START_TEST(a_latency_mark_carries_the_capture_time_in_the_picture) {
    ag_media_config c = test_config();
    c.latency_mark = true;
    ag_media *m = start(&c);
    ag_frame *f = take_next(m, 3000 * SLOW);
    ck_assert_ptr_nonnull(f);
    ck_assert(f->key);
    int64_t now_ms = g_get_real_time() / 1000;
    guint64 mark = 0;
    bool found = read_mark(f, &mark);
    ag_frame_free(f);
    stop(m);
    ck_assert_msg(found, "no mark in the picture");
    /* the wall clock in ms modulo 2^32, a moment before it was taken */
    uint32_t age = (uint32_t)now_ms - (uint32_t)mark;
    ck_assert_msg(age < 3000u * SLOW, "marked %u ms before it was taken", age);
}
END_TEST

/* ---- file:// -------------------------------------------------------------- */

/* Encodes `frames` frames of 160x120 at `fps` into an MP4 with `encoder`
 * (a launch fragment ending in its parser). In a gst-launch-1.0 of its own:
 * valgrind watches only this process, and x265's assembly is not vigil's
 * to answer for. */
static void make_mp4(const char *path, const char *encoder, int frames, int fps) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "gst-launch-1.0 -q videotestsrc num-buffers=%d pattern=ball ! video/x-raw,width=160,"
             "height=120,framerate=%d/1,format=I420 ! %s ! mp4mux ! filesink location=%s",
             frames, fps, encoder, path);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

START_TEST(an_h264_file_plays_in_real_time_and_loops_with_times_going_on) {
    char dir[64], path[128], uri[160];
    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/clip.mp4", dir);
    /* 1 s: 30 frames at 30 fps, a keyframe every 15 */
    make_mp4(path, "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! h264parse", 30,
             30);
    snprintf(uri, sizeof(uri), "file://%s", path);
    ag_media_config c = {.source = uri, .headroom = HEADROOM};
    ag_media *m = start(&c);
    ag_frame *first = take_next(m, 3000 * SLOW);
    ck_assert_ptr_nonnull(first);
    ck_assert_int_eq(first->kind, AG_FRAME_VIDEO);
    ck_assert(first->key);
    ck_assert(starts_with_start_code(first));
    ck_assert_ptr_nonnull(nal_of(first, false, 7));
    taken *t = &got;
    t->f[t->n++] = first;
    int64_t began = vg_monotonic_us();
    take_for(m, 2200 * SLOW, t);
    double secs = (double)(vg_monotonic_us() - began) / 1e6;
    int keys = 0;
    for (int i = 1; i < t->n; i++) {
        ck_assert_int_eq(t->f[i]->kind, AG_FRAME_VIDEO);
        ck_assert_msg(t->f[i]->pts_us > t->f[i - 1]->pts_us, "pts %lld after %lld at frame %d",
                      (long long)t->f[i]->pts_us, (long long)t->f[i - 1]->pts_us, i);
        keys += t->f[i]->key;
    }
    /* Past its 30 frames: it looped; and at 30 fps, not faster. */
    ck_assert_msg(t->n > 40, "%d frames", t->n);
    ck_assert_msg(t->n <= (int)(secs * 30) + 8, "%d frames in %.2f s: faster than real time", t->n,
                  secs);
    ck_assert_int_ge(keys, 3);
    ck_assert_str_eq(ag_media_codec_family(m), "h264");
    char codec[64];
    ag_media_codec(m, codec, sizeof(codec));
    ck_assert_msg(matches("^avc1\\.[0-9A-F]{6}$", codec), "codec '%s'", codec);
    ag_media_stats s;
    ag_media_stats_get(m, &s);
    ck_assert_uint_eq(s.restarts, 0); /* looped by seeking, not by restarting */
    free_taken(t);
    stop(m);
    remove_dir(dir);
}
END_TEST

START_TEST(an_h265_file_says_h265_and_hvc1) {
    char dir[64], path[128], uri[160];
    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/clip265.mp4", dir);
    make_mp4(path, "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! h265parse", 20,
             30);
    snprintf(uri, sizeof(uri), "file://%s", path);
    ag_media_config c = {.source = uri};
    ag_media *m = start(&c);
    ag_frame *f = take_next(m, 3000 * SLOW);
    ck_assert_ptr_nonnull(f);
    ck_assert(f->key);
    ck_assert(starts_with_start_code(f));
    ck_assert_ptr_nonnull(nal_of(f, true, 32)); /* VPS */
    ck_assert_ptr_nonnull(nal_of(f, true, 33)); /* SPS */
    ck_assert_ptr_nonnull(nal_of(f, true, 34)); /* PPS */
    ag_frame_free(f);
    ck_assert_str_eq(ag_media_codec_family(m), "h265");
    char codec[64];
    ag_media_codec(m, codec, sizeof(codec));
    /* x265's Main profile: compatible with Main and Main 10 */
    ck_assert_msg(matches("^hvc1\\.1\\.6\\.L[0-9]+(\\.[0-9A-F]{1,2})*$", codec), "codec '%s'",
                  codec);
    stop(m);
    remove_dir(dir);
}
END_TEST

/* ---- refusals and failures ------------------------------------------------ */

START_TEST(bad_sources_and_settings_are_refused_naming_them) {
    const struct {
        const char *source, *audio, *encoder;
        int width;
        const char *says;
        bool mark;
    } cases[] = {
        {"ftp://x", NULL, NULL, 0, "ftp://x", false},
        {"file:///nonexistent/vigil-clip.mp4", NULL, NULL, 0, "/nonexistent/vigil-clip.mp4", false},
        {"file://relative.mp4", NULL, NULL, 0, "file://relative.mp4", false},
        {"v4l2://video0", NULL, NULL, 0, "v4l2://video0", false},
        {"rtsp://", NULL, NULL, 0, "rtsp://", false},
        {"test://", "microphone", NULL, 0, "microphone", false},
        {"test://", "alsa:", NULL, 0, "alsa:", false},
        {"test://", NULL, "vigil-no-such-encoder", 0, "vigil-no-such-encoder", false},
        {"test://", NULL, NULL, 5, "width", false},
        /* never the password */
        {"file://viewer:secret@host/clip.mp4", NULL, NULL, 0, "file://***@host/clip.mp4", false},
        {"rtsp://camera.local/stream", NULL, NULL, 0, "latency_mark", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ag_media_config c = {.source = cases[i].source,
                             .audio = cases[i].audio,
                             .encoder = cases[i].encoder,
                             .width = cases[i].width,
                             .latency_mark = cases[i].mark};
        char err[256] = "";
        ag_media *m = ag_media_new(&c, NULL, NULL, err, sizeof(err));
        ck_assert_msg(!m, "%s was taken", cases[i].source);
        ck_assert_msg(strstr(err, cases[i].says), "%s: '%s'", cases[i].source, err);
        ck_assert_msg(!strstr(err, "secret"), "%s", err);
    }
    char err[64] = "";
    ck_assert_ptr_null(ag_media_new(&(ag_media_config){0}, NULL, NULL, err, sizeof(err)));
    ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(a_missing_camera_fails_to_start_with_its_reason) {
    ag_media_config c = test_config();
    c.source = "v4l2:///dev/vigil-no-camera";
    char err[256] = "";
    ag_media *m = live_media = ag_media_new(&c, NULL, NULL, err, sizeof(err));
    ck_assert_msg(m, "%s", err); /* a camera may be plugged in later */
    int64_t t0 = vg_monotonic_us();
    ck_assert_int_eq(ag_media_start(m, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "/dev/vigil-no-camera"), "'%s'", err);
    ck_assert_int_lt(vg_monotonic_us() - t0, 2000000 * SLOW);
    /* Nothing restarts behind the caller's back: it decides. */
    sleep_ms(1300);
    ag_media_stats s;
    ag_media_stats_get(m, &s);
    ck_assert_uint_eq(s.restarts, 0);
    ck_assert_int_eq(ag_media_start(m, err, sizeof(err)), -1); /* and can try again */
    stop(m);
}
END_TEST

START_TEST(an_unreachable_rtsp_camera_restarts_every_second_and_stops_at_once) {
    ag_media_config c = {.source = "rtsp://viewer:secret@127.0.0.1:1/cam"};
    ag_media *m = start(&c);
    ag_media_stats s = {0};
    int64_t end = vg_monotonic_us() + 4000000 * SLOW;
    while (s.restarts < 2 && vg_monotonic_us() < end) {
        sleep_ms(50);
        ag_media_stats_get(m, &s);
    }
    ck_assert_uint_ge(s.restarts, 2);
    ck_assert_ptr_null(ag_media_take(m));
    int64_t t0 = vg_monotonic_us();
    stop(m);
    ck_assert_int_lt(vg_monotonic_us() - t0, 2000000 * SLOW);
}
END_TEST

/* ---- a real RTSP camera --------------------------------------------------- */

/* The test camera (tests/tools/rtsp_camera): VIGIL_RTSP_CAMERA, else the
 * build's; NULL when it is not built. */
static const char *rtsp_camera_path(void) {
    const char *p = getenv("VIGIL_RTSP_CAMERA");
    if (!p) p = "build/tools/rtsp_camera";
    return access(p, X_OK) == 0 ? p : NULL;
}

/* Starts the camera on `port` (0: any) and returns its pid, its URL in url. */
static pid_t camera_up(const char *path, int port, char *url, size_t urllen) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char p[16];
        snprintf(p, sizeof(p), "%d", port);
        execl(path, path, "--port", p, "--width", "320", "--height", "240", "--fps", "15",
              "--audio", "opus", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[256] = "";
    size_t n = 0;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    while (n + 1 < sizeof(line) && !strchr(line, '\n') && poll(&pfd, 1, 10000 * SLOW) > 0) {
        ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        line[n] = '\0';
    }
    close(fds[0]);
    live_camera = pid;
    ck_assert_msg(sscanf(line, "rtsp_camera ready %200s", url) == 1 && strlen(url) < urllen,
                  "the camera said '%s'", line);
    return pid;
}

static void camera_down(pid_t pid) {
    live_camera = 0;
    kill(pid, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

START_TEST(an_rtsp_camera_is_passed_through_and_resumes_at_a_keyframe_after_it_comes_back) {
    const char *path = rtsp_camera_path();
    if (!path) {
        fprintf(stderr,
                "test_agent_media: no build/tools/rtsp_camera, RTSP pass-through not run\n");
        return;
    }
    char url[256];
    pid_t cam = camera_up(path, 0, url, sizeof(url));
    ag_media_config c = {.source = url, .audio = NULL};
    ag_media *m = start(&c);
    ag_frame *f = take_next(m, 5000 * SLOW);
    ck_assert_msg(f, "nothing from %s", url);
    ck_assert_int_eq(f->kind, AG_FRAME_VIDEO); /* its Opus was not even set up */
    ck_assert(f->key);
    ck_assert(starts_with_start_code(f));
    ck_assert_ptr_nonnull(nal_of(f, false, 7));
    ag_frame_free(f);
    ck_assert_str_eq(ag_media_codec_family(m), "h264");
    taken *t = &got;
    take_for(m, 500, t);
    ck_assert_int_gt(t->n, 3);
    int64_t before = t->f[t->n - 1]->pts_us;
    free_taken(t);

    /* The camera goes away: the pipeline restarts (and keeps restarting
     * while nobody answers). What was queued before is still good to send. */
    camera_down(cam);
    int port = 0;
    ck_assert_int_eq(sscanf(url, "rtsp://127.0.0.1:%d/", &port), 1);
    ag_media_stats s = {0};
    int64_t end = vg_monotonic_us() + 5000000 * SLOW;
    while (s.restarts < 1 && vg_monotonic_us() < end) {
        sleep_ms(20);
        ag_media_stats_get(m, &s);
    }
    ck_assert_uint_ge(s.restarts, 1);
    while ((f = ag_media_take(m))) {
        if (f->pts_us > before) before = f->pts_us;
        ag_frame_free(f);
    }
    /* It comes back on its port: sending resumes at a keyframe, later. */
    cam = camera_up(path, port, url, sizeof(url));
    f = take_next(m, 8000 * SLOW);
    ck_assert_msg(f, "nothing after the camera came back");
    ck_assert(f->key);
    ck_assert_ptr_nonnull(nal_of(f, false, 7));
    ck_assert_int_gt(f->pts_us, before); /* one clock across restarts */
    ag_frame_free(f);
    stop(m);
    camera_down(cam);
}
END_TEST

static void gst_up(void) {
    /* rtspsrc connects through GIO, which looks for a proxy resolver by
     * opening and closing every module in its directory from rtspsrc's
     * thread: glibc keeps some of that on lists valgrind counts as lost, and
     * its libproxy module trips valgrind too. Loopback needs no proxy: GIO
     * gets no modules here (its built-in resolver stays). */
    setenv("GIO_MODULE_DIR", "/nonexistent/vigil-test-no-gio-modules", 0);
    gst_init(NULL, NULL);
    /* Every plugin the tests use, opened now while the process has one
     * thread: glibc's dlopen in a process with threads keeps bookkeeping
     * that valgrind counts as lost, and each test leaves GStreamer's and
     * pango's threads behind it. (vigil's own tests make their pipelines'
     * elements before any of them runs.) */
    static const char *const used[] = {
        "appsink",
        "appsrc",
        "capsfilter",
        "queue",
        "filesrc",
        "fakesink",
        "videotestsrc",
        "timeoverlay",
        "textoverlay",
        "simplevideomark",
        "simplevideomarkdetect",
        "x264enc",
        "h264parse",
        "h265parse",
        "qtdemux",
        "rtspsrc",
        "rtspreal",
        "rtspwms", /* its extensions */
        "rtpbin",
        "rtpjitterbuffer",
        "udpsrc",
        "udpsink",
        "rtph264depay",
        "rtph265depay",
        "audiotestsrc",
        "audioconvert",
        "audioresample",
        "opusenc",
        "v4l2src",
        "videoconvert",
        "videoscale",
        "videorate",
        "openh264dec",
    };
    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
        GstElementFactory *f = gst_element_factory_find(used[i]);
        GstPluginFeature *loaded = f ? gst_plugin_feature_load(GST_PLUGIN_FEATURE(f)) : NULL;
        if (loaded) gst_object_unref(loaded);
        if (f) gst_object_unref(f);
    }
}

/* After each test, what a failed one left behind. */
static void leftovers_down(void) {
    if (live_media) stop(live_media);
    free_taken(&got);
    if (live_camera > 0) {
        kill(live_camera, SIGTERM);
        waitpid(live_camera, NULL, 0);
        live_camera = 0;
    }
    if (live_dir[0]) remove_dir(live_dir);
}
static void gst_down(void) {
    gst_deinit();
}

static Suite *agent_media_suite(void) {
    Suite *s = suite_create("agent_media");
    TCase *tc = tcase_create("pipelines");
    tcase_add_unchecked_fixture(tc, gst_up, gst_down);
    tcase_add_checked_fixture(tc, NULL, leftovers_down);
    tcase_set_timeout(tc, 60 * SLOW);
    tcase_add_test(tc, bad_sources_and_settings_are_refused_naming_them);
    tcase_add_test(tc,
                   test_source_gives_keyframe_first_with_sps_rising_times_and_audio_on_its_clock);
    tcase_add_test(tc, a_taker_that_stops_finds_at_most_max_queue_ms_queued_from_a_keyframe);
    tcase_add_test(tc, after_a_skip_the_next_frame_is_a_video_keyframe);
    tcase_add_test(tc, a_latency_mark_carries_the_capture_time_in_the_picture);
    tcase_add_test(tc, an_h264_file_plays_in_real_time_and_loops_with_times_going_on);
    tcase_add_test(tc, an_h265_file_says_h265_and_hvc1);
    tcase_add_test(tc, a_missing_camera_fails_to_start_with_its_reason);
    tcase_add_test(tc, an_unreachable_rtsp_camera_restarts_every_second_and_stops_at_once);
    tcase_add_test(tc,
                   an_rtsp_camera_is_passed_through_and_resumes_at_a_keyframe_after_it_comes_back);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(agent_media_suite)
