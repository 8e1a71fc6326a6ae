/* test_recordings_index.c -- a recordings directory's names, kept between
 * listings: read again when the directory changed (and while a change is
 * too fresh for its time to tell), sorted by start, one stream's and one
 * kind's only; a missing directory has none. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check_main.h"
#include "server/recordings_index.h"
#include "temp_dir.h"

static char root[256];

static void setup(void) {
    temp_dir_make(root, sizeof(root), "recidx");
}

static void teardown(void) {
    temp_dir_remove(root);
}

static void touch(const char *name) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

/* The directory's modification time, `ago` seconds back. */
static void age_dir(int ago) {
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= ago;
    t[1] = t[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, root, t, 0), 0);
}

START_TEST(names_are_kept_until_the_directory_changes) {
    vg_recordings_index ix = {0};
    touch("cam-20261205T120100Z.mp4");
    touch("cam-20261205T120000Z.mp4");
    touch("cam-clip-20261205T120030Z.mp4");
    touch("cam-clip-20261205T120030Z.json");
    touch("gate-20261205T120000Z.mp4");
    touch("notes.txt");
    age_dir(10);
    size_t n;
    const vg_recording_file *v = vg_recordings_index_get(&ix, root, "cam", 1, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0].file, "cam-20261205T120000Z.mp4"); /* by start */
    ck_assert_str_eq(v[1].file, "cam-20261205T120100Z.mp4");
    ck_assert_int_eq(v[1].start_s - v[0].start_s, 60);
    ck_assert_uint_eq(ix.reads, 1);
    v = vg_recordings_index_get(&ix, root, "cam", 1, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(ix.reads, 1);
    ck_assert_uint_eq(ix.hits, 1);
    /* the clips and another stream are kept apart */
    v = vg_recordings_index_get(&ix, root, "cam", 2, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].file, "cam-clip-20261205T120030Z.mp4");
    v = vg_recordings_index_get(&ix, root, "gate", 1, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(ix.reads, 3);
    /* a new file: read again, and again while the change is fresh */
    touch("cam-20261205T120200Z.mp4");
    v = vg_recordings_index_get(&ix, root, "cam", 1, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(v[2].file, "cam-20261205T120200Z.mp4");
    ck_assert_uint_eq(ix.reads, 4);
    vg_recordings_index_get(&ix, root, "cam", 1, &n);
    ck_assert_uint_eq(ix.reads, 5);
    /* settled: kept again */
    age_dir(5);
    vg_recordings_index_get(&ix, root, "cam", 1, &n);
    vg_recordings_index_get(&ix, root, "cam", 1, &n);
    ck_assert_uint_eq(ix.reads, 6);
    ck_assert_uint_eq(n, 3);
    /* a missing directory has none */
    char gone[300];
    snprintf(gone, sizeof(gone), "%s/none", root);
    ck_assert_ptr_null(vg_recordings_index_get(&ix, gone, "cam", 1, &n));
    ck_assert_uint_eq(n, 0);
    vg_recordings_index_free(&ix);
}
END_TEST

START_TEST(the_least_recently_used_directory_gives_way) {
    vg_recordings_index ix = {0};
    touch("cam-20261205T120000Z.mp4");
    age_dir(10);
    char sub[VG_RECORDINGS_INDEX_DIRS + 1][300];
    for (int i = 0; i <= VG_RECORDINGS_INDEX_DIRS; i++) {
        snprintf(sub[i], sizeof(sub[i]), "%s/d%d", root, i);
        ck_assert_int_eq(mkdir(sub[i], 0755), 0);
    }
    size_t n;
    vg_recordings_index_get(&ix, root, "cam", 1, &n);
    for (int i = 0; i < VG_RECORDINGS_INDEX_DIRS; i++)
        vg_recordings_index_get(&ix, sub[i], "cam", 1, &n);
    /* root was the least recently used: it went, and is read again */
    uint64_t reads = ix.reads;
    const vg_recording_file *v = vg_recordings_index_get(&ix, root, "cam", 1, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].file, "cam-20261205T120000Z.mp4");
    ck_assert_uint_eq(ix.reads, reads + 1);
    vg_recordings_index_free(&ix);
}
END_TEST

static Suite *recordings_index_suite(void) {
    Suite *s = suite_create("recordings_index");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, names_are_kept_until_the_directory_changes);
    tcase_add_test(tc, the_least_recently_used_directory_gives_way);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(recordings_index_suite)
