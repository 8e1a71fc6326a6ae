/* validate_command.c -- checks commands against the parameter schema a
 * device declares in the config, before anything is sent.
 *
 * A device's "commands" object maps a command name to its parameters:
 *   "ptz":   {"pan": {"type":"number","min":-1,"max":1}, ...}
 *   "light": {"on": {"type":"bool"}}
 *   "reboot": {}
 * A parameter spec has "type" (number | integer | bool | string), optional
 * "min"/"max" (numbers), "values" (allowed strings), "max_length"
 * (strings) and "optional": true.  Every error names the parameter.
 *
 * Pure functions, no state; any thread.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "control/control_internal.h"

static const char *const types[] = {"number", "integer", "bool", "boolean", "string"};

static int type_known(const char *t) {
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i]) == 0) return 1;
    return 0;
}

static int spec_check(const char *cmd, const char *param, const json_t *spec, char *err,
                      size_t errlen) {
    if (!json_is_object(spec)) {
        snprintf(err, errlen, "command '%s': parameter '%s' spec must be an object", cmd, param);
        return -1;
    }
    const char *t = json_string_value(json_object_get(spec, "type"));
    if (!t || !type_known(t)) {
        snprintf(err, errlen,
                 "command '%s': parameter '%s' needs a \"type\" of number, integer, bool or string",
                 cmd, param);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)spec, key, v) {
        if (strcmp(key, "min") == 0 || strcmp(key, "max") == 0) {
            if (!json_is_number(v)) {
                snprintf(err, errlen, "command '%s': parameter '%s': \"%s\" must be a number", cmd,
                         param, key);
                return -1;
            }
        } else if (strcmp(key, "values") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0) {
                snprintf(err, errlen,
                         "command '%s': parameter '%s': \"values\" must be a non-empty array", cmd,
                         param);
                return -1;
            }
        } else if (strcmp(key, "optional") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen,
                         "command '%s': parameter '%s': \"optional\" must be true or false", cmd,
                         param);
                return -1;
            }
        } else if (strcmp(key, "max_length") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(
                    err, errlen,
                    "command '%s': parameter '%s': \"max_length\" must be a non-negative integer",
                    cmd, param);
                return -1;
            }
        } else if (strcmp(key, "type") != 0 && strcmp(key, "label") != 0 &&
                   strcmp(key, "step") != 0) {
            snprintf(err, errlen, "command '%s': parameter '%s': unknown spec key \"%s\"", cmd,
                     param, key);
            return -1;
        }
    }
    json_t *mn = json_object_get(spec, "min"), *mx = json_object_get(spec, "max");
    if (mn && mx && json_number_value(mn) > json_number_value(mx)) {
        snprintf(err, errlen, "command '%s': parameter '%s': min is greater than max", cmd, param);
        return -1;
    }
    return 0;
}

int control_schema_check(const json_t *commands, char *err, size_t errlen) {
    if (!json_is_object(commands) || json_object_size(commands) == 0) {
        snprintf(err, errlen, "\"commands\" must be a non-empty object");
        return -1;
    }
    const char *name;
    json_t *params;
    json_object_foreach((json_t *)commands, name, params) {
        if (!control_id_is_valid(name)) {
            snprintf(err, errlen, "command name '%s' is not a valid name", name);
            return -1;
        }
        if (!json_is_object(params)) {
            snprintf(err, errlen, "command '%s': parameters must be an object", name);
            return -1;
        }
        const char *pname;
        json_t *spec;
        json_object_foreach(params, pname,
                            spec) if (spec_check(name, pname, spec, err, errlen) < 0) return -1;
    }
    return 0;
}

static int value_check(const char *cmd, const char *param, const json_t *spec, const json_t *v,
                       char *err, size_t errlen) {
    const char *t = json_string_value(json_object_get(spec, "type"));
    if (strcmp(t, "bool") == 0 || strcmp(t, "boolean") == 0) {
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "%s: parameter '%s' must be true or false", cmd, param);
            return -1;
        }
        return 0;
    }
    if (strcmp(t, "string") == 0) {
        if (!json_is_string(v)) {
            snprintf(err, errlen, "%s: parameter '%s' must be a string", cmd, param);
            return -1;
        }
        json_t *ml = json_object_get(spec, "max_length");
        if (ml && json_string_length(v) > (size_t)json_integer_value(ml)) {
            snprintf(err, errlen, "%s: parameter '%s' is longer than %lld characters", cmd, param,
                     (long long)json_integer_value(ml));
            return -1;
        }
        json_t *vals = json_object_get(spec, "values");
        if (vals) {
            size_t i;
            json_t *x;
            json_array_foreach(vals, i, x) if (json_is_string(x) &&
                                               strcmp(json_string_value(x), json_string_value(v)) ==
                                                   0) return 0;
            snprintf(err, errlen, "%s: parameter '%s' is not one of the allowed values", cmd,
                     param);
            return -1;
        }
        return 0;
    }
    /* number or integer */
    if (!json_is_number(v)) {
        snprintf(err, errlen, "%s: parameter '%s' must be a%s", cmd, param,
                 strcmp(t, "integer") == 0 ? "n integer" : " number");
        return -1;
    }
    double d = json_number_value(v);
    if (!isfinite(d)) {
        snprintf(err, errlen, "%s: parameter '%s' must be finite", cmd, param);
        return -1;
    }
    if (strcmp(t, "integer") == 0 && !json_is_integer(v) && d != floor(d)) {
        snprintf(err, errlen, "%s: parameter '%s' must be an integer", cmd, param);
        return -1;
    }
    json_t *mn = json_object_get(spec, "min"), *mx = json_object_get(spec, "max");
    if ((mn && d < json_number_value(mn)) || (mx && d > json_number_value(mx))) {
        if (mn && mx)
            snprintf(err, errlen, "%s: parameter '%s' must be between %g and %g", cmd, param,
                     json_number_value(mn), json_number_value(mx));
        else if (mn)
            snprintf(err, errlen, "%s: parameter '%s' must be at least %g", cmd, param,
                     json_number_value(mn));
        else
            snprintf(err, errlen, "%s: parameter '%s' must be at most %g", cmd, param,
                     json_number_value(mx));
        return -1;
    }
    return 0;
}

int control_command_validate(const json_t *commands, const char *name, const json_t *params,
                             char *err, size_t errlen) {
    if (!name || !*name) {
        snprintf(err, errlen, "missing command name");
        return -1;
    }
    const json_t *schema = json_object_get(commands, name);
    if (!schema) {
        snprintf(err, errlen, "unknown command '%s'", name);
        return -1;
    }
    if (params && !json_is_object(params) && !json_is_null(params)) {
        snprintf(err, errlen, "%s: parameters must be an object", name);
        return -1;
    }
    const char *key;
    json_t *v;
    if (json_is_object(params)) {
        json_object_foreach((json_t *)params, key, v) {
            json_t *spec = json_object_get(schema, key);
            if (!spec) {
                snprintf(err, errlen, "%s: unknown parameter '%s'", name, key);
                return -1;
            }
            if (value_check(name, key, spec, v, err, errlen) < 0) return -1;
        }
    }
    json_object_foreach((json_t *)schema, key, v) {
        if (json_is_true(json_object_get(v, "optional"))) continue;
        if (!json_is_object(params) || !json_object_get(params, key)) {
            snprintf(err, errlen, "%s: missing parameter '%s'", name, key);
            return -1;
        }
    }
    return 0;
}

int control_options_validate(const json_t *options, char *err, size_t errlen) {
    if (!options || json_is_null(options)) return 0;
    if (!json_is_object(options)) {
        snprintf(err, errlen, "options must be an object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)options, key, v) {
        if (strcmp(key, "qos") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 2) {
                snprintf(err, errlen, "option 'qos' must be 0, 1 or 2");
                return -1;
            }
        } else if (strcmp(key, "confirmable") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "option 'confirmable' must be true or false");
                return -1;
            }
        } else if (strcmp(key, "timeout_ms") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > 600000) {
                snprintf(err, errlen,
                         "option 'timeout_ms' must be an integer between 1 and 600000");
                return -1;
            }
        } else {
            snprintf(err, errlen, "unknown option '%s'", key);
            return -1;
        }
    }
    return 0;
}
