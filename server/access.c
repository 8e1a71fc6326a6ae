/* access.c -- a client's rights and the checks on them (see access.h). */
#include "server/access.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static const char *const role_names[] = {"none", "viewer", "operator", "publisher", "admin", "device"};

const char *vg_role_name(vg_role r) {
    return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "none";
}

void vg_access_clear(vg_access *a) {
    json_decref(a->sub);
    json_decref(a->streams);
    json_decref(a->devices);
    memset(a, 0, sizeof(*a));
}

void vg_access_from_claims(vg_access *a, const json_t *claims) {
    vg_access_clear(a);
    const char *role = json_string_value(json_object_get(claims, "role"));
    for (int r = VG_ROLE_VIEWER; r <= VG_ROLE_DEVICE; r++)
        if (role && !strcmp(role, role_names[r])) a->role = (vg_role)r;
    json_t *sub = json_object_get(claims, "sub");
    a->sub = json_is_string(sub) ? json_incref(sub) : NULL;
    a->streams = json_incref(json_object_get(claims, "streams"));
    a->devices = json_incref(json_object_get(claims, "devices"));
    a->exp = (long long)json_integer_value(json_object_get(claims, "exp"));
}

void vg_access_anonymous(vg_access *a, const json_t *streams) {
    vg_access_clear(a);
    a->role = VG_ROLE_VIEWER;
    a->anonymous = true;
    a->streams = json_incref((json_t *)streams);
}

static bool matches(const json_t *patterns, const char *name) {
    size_t i;
    const json_t *p;
    json_array_foreach(patterns, i, p) {
        const char *glob = json_string_value(p);
        if (glob && fnmatch(glob, name, 0) == 0) return true;
    }
    return false;
}

bool vg_access_sees_stream(const vg_access *a, const char *stream_id) {
    if (a->role == VG_ROLE_NONE || a->role == VG_ROLE_DEVICE || !stream_id) return false;
    return a->role == VG_ROLE_ADMIN || matches(a->streams, stream_id);
}

bool vg_access_sees_device(const vg_access *a, const char *device_id) {
    if (a->role == VG_ROLE_NONE || a->role == VG_ROLE_DEVICE || a->anonymous || !device_id)
        return false;
    return a->role == VG_ROLE_ADMIN || matches(a->devices, device_id);
}

bool vg_access_commands_device(const vg_access *a, const char *device_id) {
    return (a->role == VG_ROLE_OPERATOR || a->role == VG_ROLE_ADMIN) &&
           vg_access_sees_device(a, device_id);
}

bool vg_access_publishes_stream(const vg_access *a, const char *stream_id) {
    if (!stream_id) return false;
    return a->role == VG_ROLE_ADMIN ||
           ((a->role == VG_ROLE_PUBLISHER || a->role == VG_ROLE_DEVICE) &&
            matches(a->streams, stream_id));
}

bool vg_access_serves_device(const vg_access *a, const char *device_id) {
    if (!device_id) return false;
    return a->role == VG_ROLE_ADMIN || (a->role == VG_ROLE_DEVICE && matches(a->devices, device_id));
}

const char *vg_access_sub(const vg_access *a) {
    if (a->anonymous) return "anonymous";
    return a->sub ? json_string_value(a->sub) : "";
}

bool vg_access_is_admin(const vg_access *a) {
    return a->role == VG_ROLE_ADMIN;
}

bool vg_access_expired(const vg_access *a, long long now_s) {
    return a->exp != 0 && a->exp <= now_s;
}

json_t *vg_access_describe(const vg_access *a) {
    json_t *o = json_pack("{s:s, s:s, s:b}", "sub", vg_access_sub(a), "role", vg_role_name(a->role),
                          "anonymous", a->anonymous);
    if (!o) return NULL;
    json_object_set_new(o, "streams", a->streams ? json_copy(a->streams) : json_array());
    json_object_set_new(o, "devices", a->devices ? json_copy(a->devices) : json_array());
    if (a->exp) json_object_set_new(o, "exp", json_integer(a->exp));
    return o;
}
