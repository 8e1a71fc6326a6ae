/* reload.h -- a new configuration applied to the running server: SIGHUP and
 * POST /api/admin/reload.
 *
 * The whole new file is loaded and checked first (the loader is app/main.c's:
 * the file plus the command line's overrides, as at start); a file that does
 * not validate, or devices that cannot start from it, refuse the reload as a
 * whole and the running configuration stays. Then, in place:
 *
 *   - streams: an added one starts; a removed one ends for its viewers and
 *     publisher (`stream.removed`) and is freed once its pipelines are gone;
 *     a changed one (source, options, variants or transcode) is replaced by
 *     a new stream on the same channel, and its viewers move to it, so they
 *     see it restart (`stream.state`) without subscribing again; an
 *     unchanged stream is not touched: its viewers' frames flow on without
 *     a gap. A stream whose "record" alone changed keeps running and gets
 *     a new recorder (the old one's segment ends; the report's
 *     "recording_changed"). Every client hears `streams.changed`.
 *   - devices: when a section device control reads ("devices", "control",
 *     "mqtt", "coap") changed, control restarts from the new ones; commands
 *     still without a final status end `failed` ("device configuration
 *     reloaded").
 *   - auth: a new secret signs from now on, and tokens signed with the
 *     previous one stay valid for auth.rotation_grace_s (server/secrets.h);
 *     anonymous streams and allowed origins apply to the next request, and
 *     anonymous viewers of a stream no longer open to them are unsubscribed.
 *   - limits apply to the next connection, message or command; the viewer
 *     queue limits to streams the reload adds or changes.
 *   - what only a restart can change (server.port, bind, tls_cert, tls_key,
 *     web_root, http_redirect_port, idle_timeout_s, metrics_bind) keeps its running value and is named in
 *     the report's "restart_needed".
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_RELOAD_H
#define VIGIL_SERVER_RELOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

typedef struct vg_server vg_server;
typedef struct vg_retired vg_retired;

/* Loads and validates a whole configuration into *out: 0, or -1 with a
 * message naming the field in err (and *out left empty). */
typedef int (*vg_config_loader)(void *ctx, vg_config *out, char *err, size_t errlen);

/* Gives the server its loader (borrowed for the server's life); without one
 * a reload is refused. */
void vg_server_set_loader(vg_server *srv, vg_config_loader load, void *ctx);

/* Loads the configuration again and applies it. 0 with *report (new
 * reference: what changed, as POST /api/admin/reload answers), or -1 with
 * why in err (nothing changed). Logs either way. */
int vg_server_reload(vg_server *srv, json_t **report, char *err, size_t errlen);

/* Removed streams wait until their pipelines are gone and the inbox has
 * been drained after that (whatever they posted is applied to nothing, and
 * nothing can post any more). Each tick: check before the drain, free
 * after it; `all` at shutdown, once the reaper has stopped. */
void vg_reload_check_retired(vg_server *srv);
void vg_reload_free_retired(vg_server *srv, bool all);
/* Frees the configurations reloads made (at shutdown). */
void vg_reload_free_configs(vg_server *srv);

#endif
