/* clip_rules.h -- clips that device events start: the join of a camera and
 * the devices beside it.
 *
 *   "devices": [{"id": "bell", "transport": "mqtt", "stream": "door", ...,
 *                "clip_on": [{"match": {"button": "pressed"},
 *                             "pre_s": 10, "post_s": 20, "label": "doorbell"}]}]
 *
 * A telemetry message of the device whose object holds every field of
 * "match" with an equal value makes a clip of the device's stream (which
 * must record: its "record" section says where clips go), labelled and
 * marked with reason "device event" and the device. While a clip that the
 * device started is still being made, its further matches are counted and
 * add nothing: a button held down makes one clip. pre_s defaults to the
 * stream's record.preroll_s, post_s to 20.
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_CLIP_RULES_H
#define VIGIL_SERVER_CLIP_RULES_H

#include <jansson.h>
#include <stddef.h>

#include "server/config.h"

typedef struct vg_server vg_server;

/* Checks every device's "clip_on" against `config` (its streams and their
 * recording). 0, or -1 with a message naming the device and field. */
int vg_clip_rules_check(const vg_config *config, char *err, size_t errlen);

/* Telemetry `data` (borrowed) of `device` arrived: starts the clips its
 * rules ask for. */
void vg_clip_rules_telemetry(vg_server *srv, const char *device, const json_t *data);

#endif
