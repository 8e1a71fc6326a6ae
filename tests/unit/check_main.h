/* check_main.h -- the main() every Check unit test shares: run one suite,
 * exit non-zero on any failure. */
#ifndef VIGIL_TESTS_CHECK_MAIN_H
#define VIGIL_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define VG_CHECK_MAIN(suite_fn)                                                                    \
    int main(void) {                                                                               \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                               \
    }

#endif
