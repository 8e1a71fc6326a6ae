/* fuzz_common.h -- what the libFuzzer targets in fuzz/ share: the fixed
 * token secret, a config with streams and devices, and two fake device
 * transports named "mqtt" and "coap" that send nothing (no thread, no
 * socket) so commands can be issued and answered without a broker.
 *
 * Every target is single-threaded; nothing here is locked. */
#ifndef VIGIL_FUZZ_COMMON_H
#define VIGIL_FUZZ_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "control/control.h"

/* libFuzzer's entry points, defined by each fuzz_<target>.c. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The token secret of every fuzz config (fuzz/seedgen.c signs with it). */
#define FUZZ_SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"

/* The SRTP master key and salt of the fuzzed srtp:// receivers (both
 * profiles use its first bytes; fuzz/seedgen.c protects with it):
 * key[i] = i * 7 + 1. */
void fuzz_srtp_key(uint8_t *key, size_t len);
/* The RTP payload type the fuzzed receivers accept. */
#define FUZZ_RTP_PT 96

/* A full config document: server limits, streams demo/door/yard/porch
 * (porch: publish://, H.264 and Opus), auth
 * with FUZZ_SECRET and anonymous access to "demo", and two devices, cam1
 * (mqtt, stream demo) and lamp1 (coap). */
extern const char fuzz_config_text[];

/* Fake transports.  "mqtt" accepts every command and reports it sent, and
 * then at once acknowledged (with a result) when fuzz_fake_ack is set (the
 * default); "coap" accepts and reports it sent, except commands named
 * "reboot", which it refuses (send fails). */
extern const control_plugin fuzz_fake_mqtt, fuzz_fake_coap;
extern int fuzz_fake_ack;

/* A started control_t with the fake transports and the devices of
 * fuzz_config_text (parsed once); NULL on failure (a harness bug). */
control_t *fuzz_control_new(control_event_fn sink, void *sink_user);

/* The callbacks and core the last started fake transport was given, to
 * inject device reports as a plugin thread would. */
extern const control_callbacks *fuzz_transport_cb;
extern control_core *fuzz_transport_core;

/* Only errors from vg_log (called from LLVMFuzzerInitialize). control/
 * still prints malformed device reports on stderr: the scripts run the
 * targets with -close_fd_mask=2 (sanitizer reports still show). */
void fuzz_quiet(void);

/* Aborts (a finding) with a message: the harness's own checks. */
void fuzz_fail(const char *what, const char *detail) __attribute__((noreturn));

#endif
