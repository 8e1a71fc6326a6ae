/* test_recording_names.c -- the names and times the recordings API takes
 * (server/http_recordings.h): only a stream's own segment and clip names,
 * the route shapes, and ISO 8601 UTC times. */
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "server/http_recordings.h"

START_TEST(segment_and_clip_names) {
    time_t t = 0;
    ck_assert_int_eq(vg_recording_name_kind("cam-20261205T120000Z", "cam", &t), 1);
    ck_assert_int_eq((long)t, 1796472000L);
    ck_assert_int_eq(vg_recording_name_kind("cam-20261205T120000Z-2", "cam", &t), 1);
    ck_assert_int_eq(vg_recording_name_kind("cam-clip-20261205T120000Z", "cam", &t), 2);
    ck_assert_int_eq(vg_recording_name_kind("cam-clip-20261205T120000Z-13", "cam", &t), 2);
}
END_TEST

START_TEST(anything_else_is_refused) {
    time_t t = 0;
    static const char *const bad[] = {
        "gate-20261205T120000Z",      /* another stream's */
        "ca-20261205T120000Z",        /* a prefix of the stream's id */
        "cam-20261205T120000",        /* no Z */
        "cam-20261205T120000Z-0",     /* -0 is never written */
        "cam-20261205T120000Z-",      /* a dash without a number */
        "cam-20261205T120000Z-1234567", /* past any count of files a second */
        "cam-20261205T120000Z.mp4",   /* the suffix is not part of the name */
        "cam-20261205X120000Z",       /* not a T */
        "cam-2026120T5120000Z",       /* digits out of place */
        "cam-clip-",                  /* no time */
        "cam-../gate-20261205T120000Z",
        "cam-20261205T120000Z/..",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(vg_recording_name_kind(bad[i], "cam", &t) == 0, "%s", bad[i]);
}
END_TEST

START_TEST(routes) {
    ck_assert_int_eq(vg_recordings_route("/api/streams/cam/recordings"), VG_RECORDINGS_LIST);
    ck_assert_int_eq(vg_recordings_route("/api/streams/cam/recordings/x.mp4"),
                     VG_RECORDINGS_FILE);
    ck_assert_int_eq(vg_recordings_route("/api/streams/cam/recordings/"), VG_RECORDINGS_NONE);
    ck_assert_int_eq(vg_recordings_route("/api/streams/cam/recordings/a/b.mp4"),
                     VG_RECORDINGS_NONE);
    ck_assert_int_eq(vg_recordings_route("/api/streams/cam/recordings/x.jpg"), VG_RECORDINGS_NONE);
    ck_assert_int_eq(vg_recordings_route("/api/streams//recordings"), VG_RECORDINGS_NONE);
    ck_assert_int_eq(vg_recordings_route("/api/streams/cam/recordingsx"), VG_RECORDINGS_NONE);
    ck_assert_int_eq(vg_recordings_route("/api/streams/cam/snapshot.jpg"), VG_RECORDINGS_NONE);
}
END_TEST

START_TEST(iso_times) {
    int64_t ms = 0;
    ck_assert_int_eq(vg_recording_parse_time("2026-12-05T12:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 1796472000000LL);
    ck_assert_int_eq(vg_recording_parse_time("2026-12-05T12:00:00.5Z", &ms), 0);
    ck_assert_int_eq(ms, 1796472000500LL);
    ck_assert_int_eq(vg_recording_parse_time("2026-12-05T12:00:00.123456Z", &ms), 0);
    ck_assert_int_eq(ms, 1796472000123LL);
    static const char *const bad[] = {"2026-12-05T12:00:00", "2026-12-05T12:00:00+01:00",
                                      "2026-12-05", "yesterday", "2026-12-05T12:00:00.Z",
                                      "2026-13-05T12:00:00Z", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(vg_recording_parse_time(bad[i], &ms) == -1, "%s", bad[i]);
}
END_TEST

static Suite *names_suite(void) {
    Suite *s = suite_create("recording_names");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, segment_and_clip_names);
    tcase_add_test(tc, anything_else_is_refused);
    tcase_add_test(tc, routes);
    tcase_add_test(tc, iso_times);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(names_suite)
