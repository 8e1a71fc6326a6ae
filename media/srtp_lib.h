/* srtp_lib.h -- libsrtp, loaded the first time an srtp:// stream needs it.
 *
 * Debian builds libsrtp2 on NSS: linking it would map libsrtp2, libnss3,
 * libnssutil3 and libnspr4 into every vigil process (about 0.5 MiB of
 * resident memory, and their start-up relocations) whether or not any stream
 * uses SRTP. vigil calls these six functions only, through this table, from
 * a library opened with dlopen() on first use. Types and constants still come
 * from <srtp2/srtp.h>.
 *
 * Thread: any; the first call loads and initialises (srtp_init) once per
 * process; the library is never unloaded. */
#ifndef VIGIL_MEDIA_SRTP_LIB_H
#define VIGIL_MEDIA_SRTP_LIB_H

#include <srtp2/srtp.h>
#include <stddef.h>

typedef struct vg_srtp_lib {
    srtp_err_status_t (*create)(srtp_t *session, const srtp_policy_t *policy);
    srtp_err_status_t (*dealloc)(srtp_t session);
    srtp_err_status_t (*unprotect)(srtp_t ctx, void *srtp_hdr, int *len_ptr);
    void (*policy_aes_gcm_128_16_auth)(srtp_crypto_policy_t *p);
    void (*policy_aes_cm_128_hmac_sha1_80)(srtp_crypto_policy_t *p);
} vg_srtp_lib;

/* The loaded, initialised library; NULL with err set (what dlopen, dlsym or
 * srtp_init said) if it cannot be had. The result is the same for the whole
 * process. */
const vg_srtp_lib *vg_srtp_lib_get(char *err, size_t errlen);

#endif
