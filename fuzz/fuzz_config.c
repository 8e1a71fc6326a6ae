/* fuzz_config.c -- libFuzzer target: arbitrary bytes as the config file.
 *
 * As vg_config_load_file() reads it (json_loadb with duplicate keys
 * refused, then vg_config_load_json and vg_config_free), then the devices
 * part as the server loads it at start-up (control_registry_load with the
 * real transports' check_device), and the whole document once more as an
 * "auth" section (vg_config_load_auth), so auth-only inputs reach it without
 * getting past the rest of the validation first.
 *
 * Inputs naming a secret_file under /dev, /proc or /sys are skipped: the
 * loader would read /dev/stdin or /dev/tty as asked and block the fuzzer. */
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"
#include "fuzz/fuzz_common.h"
#include "server/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet();
    return 0;
}

/* True when a "secret_file" anywhere in v names a device or kernel file. */
static bool risky_secret_file(const json_t *v) {
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) if (risky_secret_file(e)) return true;
        return false;
    }
    if (!json_is_object(v)) return false;
    const char *key;
    json_t *e;
    json_object_foreach((json_t *)v, key, e) {
        const char *path = json_string_value(e);
        if (!strcmp(key, "secret_file") && path &&
            (strstr(path, "dev") || strstr(path, "proc") || strstr(path, "sys") ||
             strstr(path, "fd")))
            return true;
        if (risky_secret_file(e)) return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!root) return 0;
    if (risky_secret_file(root)) {
        json_decref(root);
        return -1; /* not added to the corpus */
    }
    char err[256] = "";
    vg_config c;
    if (vg_config_load_json(&c, root, err, sizeof(err)) == 0) {
        if (c.nstreams == 0 || !c.streams || !c.web_root) fuzz_fail("loaded config", "incomplete");
        static const control_plugin *const plugins[] = {&control_plugin_mqtt, &control_plugin_coap};
        control_registry reg;
        if (control_registry_load(&reg, root, plugins, 2, 20, 10000, err, sizeof(err)) == 0)
            control_registry_free(&reg);
        vg_config_free(&c);
    } else if (!err[0]) {
        fuzz_fail("config refused", "without a message");
    }

    vg_config a;
    memset(&a, 0, sizeof(a));
    if (vg_config_load_auth(&a, root, err, sizeof(err)) == 0 &&
        (a.auth.secret_len < 32 || a.auth.secret_len > sizeof(a.auth.secret)))
        fuzz_fail("auth secret", "length out of range");
    vg_config_free(&a);
    json_decref(root);
    return 0;
}
