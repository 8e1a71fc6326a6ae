/* gst_build.h -- the steps every pipeline builder in media/ repeats:
 * create an element into a pipeline, and link a chain of elements, each
 * failing with a message that names the element; and read what a dynamic
 * pad or a caps carries.
 *
 * Thread: whoever builds the pipeline (it is not running yet); the caps
 * helpers from any thread. */
#ifndef VIGIL_MEDIA_GST_BUILD_H
#define VIGIL_MEDIA_GST_BUILD_H

#include <gst/gst.h>
#include <stdbool.h>
#include <stddef.h>

/* Creates `factory` (named `name`, or GStreamer's default name when NULL)
 * inside p; NULL with err set if the plugin is missing or the add fails. The
 * pipeline owns the element. */
GstElement *vg_gst_make(GstPipeline *p, const char *factory, const char *name, char *err,
                        size_t errlen);
/* Links chain[0] → chain[1] → … chain[n-1]; 0, or -1 with err naming the pair. */
int vg_gst_link_chain(GstElement **chain, size_t n, char *err, size_t errlen);

/* Sets up an appsrc that another thread feeds: live, in time format, leaky
 * (a full one drops the oldest buffers, so the feeding thread never waits
 * for the pipeline), holding at most max_bytes. `caps` may be NULL (set
 * later). With stamp_at_arrival the appsrc stamps each buffer with the
 * running time when it is pushed (RTP for a jitter buffer); without it the
 * feed brings its own timestamps. */
void vg_gst_setup_live_appsrc(GstElement *src, GstCaps *caps, bool stamp_at_arrival,
                              guint64 max_bytes);

/* A dynamic pad's caps: fixed ones, or else what it can produce. The caller
 * unrefs them; NULL when the pad says nothing. */
GstCaps *vg_gst_pad_caps(GstPad *pad);
/* The first structure of caps (borrowed), NULL for NULL or empty caps. */
const GstStructure *vg_gst_caps_structure(const GstCaps *caps);
/* Its media type ("video/x-h264", ...), "" when there is none. */
const char *vg_gst_caps_name(const GstCaps *caps);

#endif
