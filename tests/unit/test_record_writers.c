/* test_record_writers.c -- a recording writer per disk: paths on one
 * filesystem share a writer (also paths not made yet, by their nearest
 * existing parent), another filesystem gets its own, and none is started
 * before it is asked for. */
#include <sys/stat.h>

#include "check_main.h"
#include "media/record_writers.h"

START_TEST(a_path_is_on_the_disk_of_its_nearest_existing_parent) {
    struct stat tmp, proc;
    ck_assert_int_eq(stat("/tmp", &tmp), 0);
    ck_assert_int_eq(stat("/proc", &proc), 0);
    dev_t dev;
    ck_assert_int_eq(vg_record_path_device("/tmp/vigil-no-such/dir/deeper", &dev), 0);
    ck_assert(dev == tmp.st_dev);
    ck_assert_int_eq(vg_record_path_device("/proc/vigil-no-such", &dev), 0);
    ck_assert(dev == proc.st_dev);
    struct stat here;
    ck_assert_int_eq(stat(".", &here), 0);
    ck_assert_int_eq(vg_record_path_device("vigil-no-such/rec", &dev), 0); /* relative */
    ck_assert(dev == here.st_dev);
}
END_TEST

START_TEST(one_writer_per_disk_started_when_first_asked) {
    vg_record_writers ws;
    vg_record_writers_init(&ws, 1 << 20);
    ck_assert_uint_eq(ws.n, 0);
    vg_record_writer *a = vg_record_writers_for(&ws, "/tmp/vigil-no-such/a");
    vg_record_writer *b = vg_record_writers_for(&ws, "/tmp/vigil-no-such/b");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(a, b);
    ck_assert_uint_eq(ws.n, 1);
    ck_assert(a->started);
    /* procfs is another filesystem: another writer (nothing is written here) */
    vg_record_writer *c = vg_record_writers_for(&ws, "/proc/vigil-no-such");
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(a, c);
    ck_assert_uint_eq(ws.n, 2);
    vg_record_writers_stop(&ws);
    ck_assert_uint_eq(ws.n, 0);
}
END_TEST

static Suite *record_writers_suite(void) {
    Suite *s = suite_create("record_writers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, a_path_is_on_the_disk_of_its_nearest_existing_parent);
    tcase_add_test(tc, one_writer_per_disk_started_when_first_asked);
    suite_add_tcase(s, tc);
    return s;
}

VG_CHECK_MAIN(record_writers_suite)
