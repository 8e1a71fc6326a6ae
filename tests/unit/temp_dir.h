/* temp_dir.h -- a fresh directory under /tmp for one test, removed after:
 * a Check fixture's setup and teardown. */
#ifndef VIGIL_TESTS_TEMP_DIR_H
#define VIGIL_TESTS_TEMP_DIR_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Makes "/tmp/vigil-<name>-XXXXXX" into dir (at least 64 bytes). */
static inline void temp_dir_make(char *dir, size_t len, const char *name) {
    snprintf(dir, len, "/tmp/vigil-%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void temp_dir_remove(const char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

#endif
