/* plugin_list.c -- the transports built into vigil.  A new transport is a
 * new control/plugin_<name>.c exporting a control_plugin table, plus one
 * line here; the core does not change.
 */
#include <stddef.h>
#include <string.h>

#include "control/control_internal.h"

static const control_plugin *const builtin[] = {
    &control_plugin_mqtt,
    &control_plugin_coap,
    &control_plugin_agent,
};

int control_register_builtin_plugins(control_t *c, char *err, size_t errlen) {
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (control_register_plugin(c, builtin[i], err, errlen) < 0) return -1;
    return 0;
}

int control_owns_config_section(const char *name) {
    if (!strcmp(name, "devices") || !strcmp(name, "control")) return 1;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (!strcmp(name, builtin[i]->name)) return 1;
    return 0;
}
