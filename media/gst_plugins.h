/* gst_plugins.h -- the GStreamer elements vigil builds pipelines from, and
 * forgetting every other plugin after gst_init().
 *
 * gst_init() reads the registry of every installed plugin (263 on a Debian
 * desktop set-up): about 2 MiB of heap for factories vigil never creates.
 * vigil creates elements only by name, through vg_gst_make(), and never
 * autoplugs (no decodebin), so the plugins it needs are known: those that
 * provide the factories in vg_gst_factories[], which lists both what media/
 * creates and what those elements create inside themselves (rtspsrc makes an
 * rtpbin and UDP sockets). tests/integration/compose.test.js checks that
 * every factory media/ names is in the list.
 *
 * Thread: main, between gst_init() and the first pipeline. */
#ifndef VIGIL_MEDIA_GST_PLUGINS_H
#define VIGIL_MEDIA_GST_PLUGINS_H

#include <stddef.h>

/* NULL-terminated. */
extern const char *const vg_gst_factories[];

/* Removes from the registry every plugin that provides none of
 * vg_gst_factories[] and gives the freed heap back. Returns how many plugins
 * were removed. The registry cache on disk is not touched. */
size_t vg_gst_prune_plugins(void);

#endif
