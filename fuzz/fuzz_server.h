/* fuzz_server.h -- a vigil server with one WebSocket session and no network,
 * for the targets that drive a session (fuzz_signaling.c, fuzz_publish.c),
 * as tests/unit/test_signaling.c does it: the real server struct, streams,
 * device control and session; lws is stubbed (fuzz_server.c), replies leave
 * through vg_session_on_writable and are checked to be JSON messages.
 *
 * fuzz_server.c also replaces control/plugin_list.c in these targets
 * (control_register_builtin_plugins, control_owns_config_section), so
 * vg_devices_start() starts the fake transports of fuzz_common.c instead of
 * libmosquitto and libcoap. Link it only into targets that want that. */
#ifndef VIGIL_FUZZ_SERVER_H
#define VIGIL_FUZZ_SERVER_H

#include <stdbool.h>

#include "server/server.h"

/* The config of fuzz_config_text, loaded by fuzz_server_init(). */
extern vg_config fuzz_server_config;

/* Once, from LLVMFuzzerInitialize. */
void fuzz_server_init(void);

/* Per input: a fresh server (streams of the config, "demo" live, device
 * control started) and one session on it with nobody signed in. */
void fuzz_server_up(vg_server *srv, vg_session *sess);
/* Frees everything fuzz_server_up made (the publisher, if any, first). */
void fuzz_server_down(vg_server *srv, vg_session *sess);

/* Writes what the session has queued, as the lws writable callbacks would;
 * false once the session has closed the connection (or sent its close
 * frame, after which lws hangs up). */
bool fuzz_server_write_out(vg_session *sess);

#endif
