/* config_load.h -- configuration tests' loader: JSON text through
 * vg_config_load_json(), the message left in err. */
#ifndef VIGIL_TESTS_CONFIG_LOAD_H
#define VIGIL_TESTS_CONFIG_LOAD_H

#include <check.h>

#include "server/config.h"

/* The loader's result; a test JSON that does not parse fails the test. */
static inline int config_load_text(const char *text, vg_config *c, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    ck_assert_msg(root != NULL, "test JSON invalid: %s", je.text);
    err[0] = 0;
    int r = vg_config_load_json(c, root, err, errlen);
    json_decref(root);
    return r;
}

#endif
