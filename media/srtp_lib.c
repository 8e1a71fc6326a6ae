/* srtp_lib.c -- opens libsrtp on first use (see srtp_lib.h). */
#include "media/srtp_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define VG_SRTP_SONAME "libsrtp2.so.1"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static vg_srtp_lib lib;
static const vg_srtp_lib *loaded; /* &lib once every symbol resolved and srtp_init succeeded */
static char load_error[160];

static void *symbol(void *handle, const char *name) {
    void *p = dlsym(handle, name);
    if (!p && !load_error[0])
        snprintf(load_error, sizeof(load_error), "%s: no symbol %s", VG_SRTP_SONAME, name);
    return p;
}

static void load(void) {
    void *h = dlopen(VG_SRTP_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof(load_error), "cannot load libsrtp: %s", dlerror());
        return;
    }
    srtp_err_status_t (*init)(void) = (srtp_err_status_t(*)(void))symbol(h, "srtp_init");
    /* dlsym returns object pointers; POSIX guarantees they convert to
     * function pointers. */
    *(void **)&lib.create = symbol(h, "srtp_create");
    *(void **)&lib.dealloc = symbol(h, "srtp_dealloc");
    *(void **)&lib.unprotect = symbol(h, "srtp_unprotect");
    *(void **)&lib.policy_aes_gcm_128_16_auth =
        symbol(h, "srtp_crypto_policy_set_aes_gcm_128_16_auth");
    /* srtp.h makes srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 a macro for this */
    *(void **)&lib.policy_aes_cm_128_hmac_sha1_80 = symbol(h, "srtp_crypto_policy_set_rtp_default");
    if (load_error[0]) return;
    /* libsrtp's global crypto kernel: set up once per process, never torn
     * down (streams of other threads may use it until exit). */
    srtp_err_status_t st = init();
    if (st != srtp_err_status_ok) {
        snprintf(load_error, sizeof(load_error), "srtp_init failed (error %d)", (int)st);
        return;
    }
    loaded = &lib;
}

const vg_srtp_lib *vg_srtp_lib_get(char *err, size_t errlen) {
    pthread_once(&once, load);
    if (!loaded && err) snprintf(err, errlen, "%s", load_error);
    return loaded;
}
