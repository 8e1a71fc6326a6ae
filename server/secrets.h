/* secrets.h -- the token secrets in force: the config's, and for a while
 * after a reload replaced it (auth.rotation_grace_s), the previous one, so
 * that operators can rotate the secret without signing everyone out at once.
 *
 * Thread: lws service thread only (a reload writes, requests read). */
#ifndef VIGIL_SERVER_SECRETS_H
#define VIGIL_SERVER_SECRETS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_server vg_server;

typedef struct vg_previous_secret {
    unsigned char key[256];
    size_t len;
    int64_t until_us; /* wall clock; 0: none */
} vg_previous_secret;

/* A token's claims (new reference) if it is signed with the current secret,
 * or with the previous one while its grace lasts; else NULL with the reason
 * for the client in err (server/token.h). */
json_t *vg_server_verify_token(vg_server *srv, const char *token, char *err, size_t errlen);

/* The secret `old` (len bytes) was replaced: it stays valid for grace_s
 * more seconds from now_us (0: not at all). */
void vg_previous_secret_keep(vg_previous_secret *p, const unsigned char *old, size_t len,
                             uint32_t grace_s, int64_t now_us);

#endif
