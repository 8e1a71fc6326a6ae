/* gst_plugins.c -- keep only the GStreamer plugins vigil uses (see
 * gst_plugins.h). */
#include "media/gst_plugins.h"

#include <gst/gst.h>
#include <malloc.h>

const char *const vg_gst_factories[] = {
    /* gst_pipeline_new() makes one from the core's "staticelements" */
    "pipeline",
    "bin",
    /* every source and the pipeline tail (source.c, pipeline.c, publish.c,
     * rtp_ingest.c, audio_branch.c) */
    "appsink",
    "appsrc",
    "capsfilter",
    "clocksync",
    "queue",
    "filesrc",
    "qtdemux",
    "h264parse",
    "h264timestamper",
    "h265parse",
    "h265timestamper",
    "rtph265depay",
    "mp4mux",
    "videotestsrc",
    "x264enc",
    "timeoverlay",
    "clockoverlay",
    "textoverlay",
    "simplevideomark",
    "rtspsrc",
    "rtpjitterbuffer",
    "rtph264depay",
    "audiotestsrc",
    "audioconvert",
    "audioresample",
    "opusenc",
    "opusparse",
    "aacparse",
    "rtpopusdepay",
    "rtpmp4gdepay",
    "rtpmp4adepay",
    "rtppcmudepay",
    "rtppcmadepay",
    "mulawdec",
    "alawdec",
    /* made inside rtspsrc: its RTP session manager and transports */
    "rtpbin",
    "udpsrc",
    "udpsink",
    "fakesink",
    "srtpdec",
    /* a stream's transcode (transcode://, source.c); a plugin's library
     * is loaded only when a transcode first runs */
    "decodebin",
    "avdec_h264",
    "avdec_h265",
    "videoconvert",
    "videoscale",
    /* snapshots (snapshot.c): the decoders and scalers above, and */
    "jpegenc",
    NULL,
};

size_t vg_gst_prune_plugins(void) {
    GstRegistry *reg = gst_registry_get();
    GHashTable *keep = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (size_t i = 0; vg_gst_factories[i]; i++) {
        GstPluginFeature *f = gst_registry_lookup_feature(reg, vg_gst_factories[i]);
        if (!f) continue; /* not installed: vg_gst_make() reports it when a stream needs it */
        g_hash_table_add(keep, g_strdup(gst_plugin_feature_get_plugin_name(f)));
        gst_object_unref(f);
    }
    size_t removed = 0;
    GList *plugins = gst_registry_get_plugin_list(reg);
    for (GList *l = plugins; l; l = l->next) {
        GstPlugin *p = l->data;
        if (g_hash_table_contains(keep, gst_plugin_get_name(p))) continue;
        gst_registry_remove_plugin(reg, p);
        removed++;
    }
    gst_plugin_list_free(plugins);
    g_hash_table_destroy(keep);
    malloc_trim(0);
    return removed;
}
