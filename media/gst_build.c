/* gst_build.c -- element creation and chain linking with clear errors, and
 * caps reading (see gst_build.h). */
#include "media/gst_build.h"

#include <stdio.h>

GstElement *vg_gst_make(GstPipeline *p, const char *factory, const char *name, char *err,
                        size_t errlen) {
    GstElement *e = gst_element_factory_make(factory, name);
    if (!e) {
        snprintf(err, errlen, "GStreamer element '%s' is not available (missing plugin?)", factory);
        return NULL;
    }
    if (!gst_bin_add(GST_BIN(p), e)) {
        snprintf(err, errlen, "could not add '%s' to the pipeline", factory);
        gst_object_unref(e);
        return NULL;
    }
    return e;
}

int vg_gst_link_chain(GstElement **chain, size_t n, char *err, size_t errlen) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (!gst_element_link(chain[i], chain[i + 1])) {
            snprintf(err, errlen, "could not link %s to %s", GST_ELEMENT_NAME(chain[i]),
                     GST_ELEMENT_NAME(chain[i + 1]));
            return -1;
        }
    }
    return 0;
}

void vg_gst_setup_live_appsrc(GstElement *src, GstCaps *caps, bool stamp_at_arrival,
                              guint64 max_bytes) {
    if (caps) g_object_set(src, "caps", caps, NULL);
    g_object_set(src, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp",
                 (gboolean)stamp_at_arrival, "max-bytes", max_bytes, NULL);
    gst_util_set_object_arg(G_OBJECT(src), "leaky-type", "downstream");
}

GstCaps *vg_gst_pad_caps(GstPad *pad) {
    GstCaps *caps = gst_pad_get_current_caps(pad);
    return caps ? caps : gst_pad_query_caps(pad, NULL);
}

const GstStructure *vg_gst_caps_structure(const GstCaps *caps) {
    return caps && gst_caps_get_size(caps) ? gst_caps_get_structure(caps, 0) : NULL;
}

const char *vg_gst_caps_name(const GstCaps *caps) {
    const GstStructure *st = vg_gst_caps_structure(caps);
    return st ? gst_structure_get_name(st) : "";
}
