/* token.h -- vigil access tokens: signed claims, minted by `vigil token` and
 * checked on every WebSocket hello and REST request.
 *
 *   v1.<base64url(claims JSON)>.<base64url(HMAC-SHA256(secret, "v1." + claims part))>
 *
 * claims: {"sub":"alice","role":"viewer|operator|publisher|admin",
 *          "streams":["cam*"],"devices":["gate-*"],"iat":..., "exp":...}
 * (patterns are fnmatch(3) globs; exp and iat in seconds since the epoch).
 * The signature is checked in constant time before the claims are parsed.
 *
 * Pure functions, any thread. */
#ifndef VIGIL_SERVER_TOKEN_H
#define VIGIL_SERVER_TOKEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define VG_TOKEN_MAX_LEN  4096 /* longer tokens are refused unread */
#define VG_SECRET_MIN_LEN 32

/* Signs claims (borrowed) with secret; returns a new malloc'd token, or
 * NULL on OOM. */
char *vg_token_sign(const unsigned char *secret, size_t secret_len, const json_t *claims);

/* Checks a token: format, signature, expiry (against now_s) and the claims'
 * shape (sub string, known role, streams/devices arrays of strings, exp
 * integer). Returns the claims (new ref), or NULL with a reason for the
 * client in err ("malformed token", "bad signature", "token expired", ...). */
json_t *vg_token_verify(const unsigned char *secret, size_t secret_len, const char *token,
                        int64_t now_s, char *err, size_t errlen);

/* `vigil token ...` (server/token_cli.c): argv[0] is "token". Exit status. */
int vg_token_cli(int argc, char **argv);

#endif
