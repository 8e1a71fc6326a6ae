/* gst_build.h -- the two steps every pipeline builder in media/ repeats:
 * create an element into a pipeline, and link a chain of elements, each
 * failing with a message that names the element.
 *
 * Thread: whoever builds the pipeline (it is not running yet). */
#ifndef VIGIL_MEDIA_GST_BUILD_H
#define VIGIL_MEDIA_GST_BUILD_H

#include <gst/gst.h>
#include <stddef.h>

/* Creates `factory` (named `name`, or GStreamer's default name when NULL)
 * inside p; NULL with err set if the plugin is missing or the add fails. The
 * pipeline owns the element. */
GstElement *vg_gst_make(GstPipeline *p, const char *factory, const char *name, char *err,
                        size_t errlen);
/* Links chain[0] → chain[1] → … chain[n-1]; 0, or -1 with err naming the pair. */
int vg_gst_link_chain(GstElement **chain, size_t n, char *err, size_t errlen);

#endif
