/* access.h -- what one client may do: its role and the streams and devices
 * its token names, and the checks every request goes through.
 *
 * Roles: viewer (watch allowed streams, see allowed devices), operator (also
 * command allowed devices), publisher (push the streams it names), admin
 * (everything, and the REST admin figures), device (a vigil-agent: push the
 * streams it names and serve the devices it names, and nothing else: to it
 * no stream and no device is visible). Anonymous clients, when the
 * config allows them, are viewers of auth.anonymous.streams only.
 *
 * Thread: lws service thread (each vg_access belongs to one session or one
 * HTTP request). */
#ifndef VIGIL_SERVER_ACCESS_H
#define VIGIL_SERVER_ACCESS_H

#include <jansson.h>
#include <stdbool.h>

typedef enum vg_role {
    VG_ROLE_NONE = 0, /* not authenticated */
    VG_ROLE_VIEWER,
    VG_ROLE_OPERATOR,
    VG_ROLE_PUBLISHER,
    VG_ROLE_ADMIN,
    VG_ROLE_DEVICE, /* a vigil-agent: publishes its streams, serves its devices */
} vg_role;

typedef struct vg_access {
    vg_role role;
    bool anonymous;
    json_t *sub;     /* the token's "sub" claim (owned ref), NULL: none */
    json_t *streams; /* array of patterns (owned ref), NULL: none */
    json_t *devices; /* array of patterns (owned ref), NULL: none */
    long long exp;   /* seconds since the epoch; 0: no expiry (anonymous) */
} vg_access;

/* From verified token claims (borrowed). */
void vg_access_from_claims(vg_access *a, const json_t *claims);
/* Anonymous viewer of the given stream patterns (borrowed, may be NULL). */
void vg_access_anonymous(vg_access *a, const json_t *streams);
void vg_access_clear(vg_access *a);

const char *vg_role_name(vg_role r);

bool vg_access_sees_stream(const vg_access *a, const char *stream_id);
bool vg_access_sees_device(const vg_access *a, const char *device_id);
bool vg_access_commands_device(const vg_access *a, const char *device_id);
/* May push stream_id (publisher, device, admin). */
bool vg_access_publishes_stream(const vg_access *a, const char *stream_id);
/* May serve device_id as its agent (device, admin). */
bool vg_access_serves_device(const vg_access *a, const char *device_id);
bool vg_access_is_admin(const vg_access *a);
/* Who the client is: the token's "sub", "anonymous", or "" (borrowed). */
const char *vg_access_sub(const vg_access *a);
/* True once the token has expired (never for anonymous access). */
bool vg_access_expired(const vg_access *a, long long now_s);

/* {"sub","role","streams","devices","exp"} for the hello reply. New ref. */
json_t *vg_access_describe(const vg_access *a);

#endif
