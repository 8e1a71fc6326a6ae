/* test_retention.c -- retention in a real temporary directory: by age, by
 * size, oldest first, and nothing but the stream's own recordings. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "temp_dir.h"
#include "media/retention.h"

static char dir[256];
static const int64_t NOW = 2000000000; /* 2033: a fixed "now" */

/* A file of `size` bytes last written `age_s` before NOW. */
static void make(const char *name, size_t size, int64_t age_s) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < size; i++)
        fputc('x', f);
    fclose(f);
    struct timespec t[2] = {{.tv_sec = (time_t)(NOW - age_s)}, {.tv_sec = (time_t)(NOW - age_s)}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0);
}

static bool present(const char *name) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void setup(void) {
    temp_dir_make(dir, sizeof(dir), "retention");
}

static void teardown(void) {
    temp_dir_remove(dir);
}

START_TEST(by_age_removes_only_what_is_older) {
    make("cam-20330101T000000Z.mp4", 100, 9 * 86400);
    make("cam-20330105T000000Z.mp4", 100, 3 * 86400);
    make("cam-20330108T000000Z.mp4", 100, 60);
    vg_retention_result r;
    ck_assert_int_eq(vg_retention_apply(dir, "cam", NOW, 7 * 86400, 0, &r), 0);
    ck_assert_uint_eq(r.deleted, 1);
    ck_assert_uint_eq(r.kept, 2);
    ck_assert_uint_eq(r.bytes_kept, 200);
    ck_assert(!present("cam-20330101T000000Z.mp4"));
    ck_assert(present("cam-20330105T000000Z.mp4"));
    ck_assert(present("cam-20330108T000000Z.mp4"));
}
END_TEST

START_TEST(by_size_removes_oldest_first_until_under) {
    /* written out of name order: the age decides, not the name */
    make("cam-b.mp4", 400, 300);
    make("cam-a.mp4", 400, 200);
    make("cam-c.mp4", 400, 100);
    make("cam-d.mp4", 400, 10);
    vg_retention_result r;
    ck_assert_int_eq(vg_retention_apply(dir, "cam", NOW, 0, 1000, &r), 0);
    ck_assert_uint_eq(r.deleted, 2);
    ck_assert_uint_eq(r.bytes_freed, 800);
    ck_assert_uint_eq(r.bytes_kept, 800);
    ck_assert(!present("cam-b.mp4"));
    ck_assert(!present("cam-a.mp4"));
    ck_assert(present("cam-c.mp4"));
    ck_assert(present("cam-d.mp4"));
}
END_TEST

START_TEST(same_age_goes_by_name) {
    make("cam-20330101T000002Z.mp4", 100, 50);
    make("cam-20330101T000001Z.mp4", 100, 50);
    vg_retention_result r;
    ck_assert_int_eq(vg_retention_apply(dir, "cam", NOW, 0, 150, &r), 0);
    ck_assert(!present("cam-20330101T000001Z.mp4"));
    ck_assert(present("cam-20330101T000002Z.mp4"));
}
END_TEST

START_TEST(other_files_are_left_alone) {
    make("notes.txt", 5000, 99 * 86400);
    make("door-20200101T000000Z.mp4", 5000, 99 * 86400); /* another stream's */
    make("camera-20200101T000000Z.mp4", 5000, 99 * 86400); /* "cam" is not its prefix */
    make("cam-20200101T000000Z.mp4.part", 5000, 99 * 86400);
    make("cam-20200101T000000Z.mp4", 5000, 99 * 86400);
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/cam-dir.mp4", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    vg_retention_result r;
    ck_assert_int_eq(vg_retention_apply(dir, "cam", NOW, 86400, 1, &r), 0);
    ck_assert_uint_eq(r.deleted, 1);
    ck_assert(!present("cam-20200101T000000Z.mp4"));
    ck_assert(present("notes.txt"));
    ck_assert(present("door-20200101T000000Z.mp4"));
    ck_assert(present("camera-20200101T000000Z.mp4"));
    ck_assert(present("cam-20200101T000000Z.mp4.part"));
    ck_assert(present("cam-dir.mp4"));
}
END_TEST

START_TEST(no_limits_and_missing_directory_do_nothing) {
    make("cam-1.mp4", 100, 99 * 86400);
    vg_retention_result r;
    ck_assert_int_eq(vg_retention_apply(dir, "cam", NOW, 0, 0, &r), 0);
    ck_assert_uint_eq(r.deleted, 0);
    ck_assert_uint_eq(r.kept, 1);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    ck_assert_int_eq(vg_retention_apply(missing, "cam", NOW, 1, 1, &r), 0);
    ck_assert_uint_eq(r.deleted + r.kept, 0);
}
END_TEST

static Suite *retention_suite(void) {
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, by_age_removes_only_what_is_older);
    tcase_add_test(tc, by_size_removes_oldest_first_until_under);
    tcase_add_test(tc, same_age_goes_by_name);
    tcase_add_test(tc, other_files_are_left_alone);
    tcase_add_test(tc, no_limits_and_missing_directory_do_nothing);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(retention_suite)
