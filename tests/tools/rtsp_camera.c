/*
 * rtsp_camera — a stand-in IP camera for the integration tests.
 *
 * Serves a live H.264 test pattern over RTSP on 127.0.0.1 only, so tests can
 * point vigil at rtsp://127.0.0.1:PORT/cam and then kill and restart the
 * "camera" to exercise the server's retry path.
 *
 *   rtsp_camera --port N [--path /cam] [--width W --height H --fps F]
 *               [--audio none|pcmu|pcma|aac|opus]
 *
 * With --audio the stream also has a test tone as a second RTP stream: G.711
 * (mulawenc/alawenc at 8 kHz, payload types 0/8), AAC (avenc_aac,
 * rtpmp4gpay, MPEG4-GENERIC) or Opus (opusenc, rtpopuspay).
 *
 * Prints "rtsp_camera ready rtsp://127.0.0.1:N/cam" on stdout once the socket
 * is listening (tests wait for that line), exits 0 on SIGTERM/SIGINT and 1 on
 * bad arguments or if it cannot serve.
 *
 * The media factory is shared: every client sees the same encoder, as with a
 * real camera, and a second viewer does not cost a second x264 instance on
 * the test machine's two cores.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

struct options {
    int port;
    const char *path;
    int width;
    int height;
    int fps;
    const char *audio; /* "none", "pcmu", "pcma", "aac", "opus" */
    int bframes;       /* 0: zero-latency Constrained Baseline-like stream */
    const char *profile; /* "main" or "high" with B-frames */
    const char *codec;   /* "h264" or "h265" */
};

/* The audio part of the launch line for each --audio value. */
static const struct {
    const char *name;
    const char *element; /* the encoder, checked up front */
    const char *launch;
} audio_kinds[] = {
    {"pcmu", "mulawenc",
     "audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample "
     "! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0"},
    {"pcma", "alawenc",
     "audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample "
     "! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8"},
    {"aac", "avenc_aac",
     "audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample "
     "! audio/x-raw,rate=48000,channels=2 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97"},
    {"opus", "opusenc",
     "audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample "
     "! audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay name=pay1 pt=98"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: rtsp_camera --port N [--path /cam] [--width W --height H --fps F]\n"
                 "  --port N    TCP port to listen on, 127.0.0.1 only (0 = any free port)\n"
                 "  --path P    mount point, starting with '/' (default /cam)\n"
                 "  --width W   frame width (default 640)\n"
                 "  --height H  frame height (default 360)\n"
                 "  --fps F     frames per second, also the keyframe interval (default 30)\n"
                 "  --audio A   none (default), pcmu, pcma, aac or opus: a test tone beside\n"
                 "              the video, as a second RTP stream\n"
                 "  --bframes N B-frames between references (default 0: x264 zerolatency;\n"
                 "              N > 0: what NVRs and many cameras send, SPS/PPS in the SDP)\n"
                 "  --profile P main (default) or high, with --bframes\n"
                 "  --codec C   h264 (default) or h265 (x265, with B-frames)\n");
}

/* Parses a whole-string decimal integer in [min, max]; false otherwise. */
static gboolean parse_int(const char *s, int min, int max, int *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return FALSE;
    *out = (int)v;
    return TRUE;
}

/* Fills *o from argv; prints the reason and returns FALSE on any error. */
static gboolean parse_args(int argc, char **argv, struct options *o) {
    gboolean have_port = FALSE;

    o->port = 0;
    o->path = "/cam";
    o->width = 640;
    o->height = 360;
    o->fps = 30;
    o->audio = "none";
    o->bframes = 0;
    o->profile = "main";
    o->codec = "h264";

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "rtsp_camera: %s needs a value\n", a);
            return FALSE;
        }
        const char *v = argv[++i];
        gboolean ok;
        if (strcmp(a, "--port") == 0) {
            ok = parse_int(v, 0, 65535, &o->port);
            have_port = ok;
        } else if (strcmp(a, "--path") == 0) {
            /* The mount point is pasted into a URL: keep it to one plain path. */
            ok = v[0] == '/' && v[1] != '\0' && strpbrk(v, " ?#\"'") == NULL;
            o->path = v;
        } else if (strcmp(a, "--width") == 0) {
            ok = parse_int(v, 16, 3840, &o->width);
        } else if (strcmp(a, "--height") == 0) {
            ok = parse_int(v, 16, 2160, &o->height);
        } else if (strcmp(a, "--fps") == 0) {
            ok = parse_int(v, 1, 120, &o->fps);
        } else if (strcmp(a, "--bframes") == 0) {
            ok = parse_int(v, 0, 4, &o->bframes);
        } else if (strcmp(a, "--codec") == 0) {
            ok = strcmp(v, "h264") == 0 || strcmp(v, "h265") == 0;
            o->codec = v;
        } else if (strcmp(a, "--profile") == 0) {
            ok = strcmp(v, "main") == 0 || strcmp(v, "high") == 0;
            o->profile = v;
        } else if (strcmp(a, "--audio") == 0) {
            ok = strcmp(v, "none") == 0;
            for (size_t k = 0; k < G_N_ELEMENTS(audio_kinds); k++)
                if (strcmp(v, audio_kinds[k].name) == 0) ok = TRUE;
            o->audio = v;
        } else {
            fprintf(stderr, "rtsp_camera: unknown option %s\n", a);
            return FALSE;
        }
        if (!ok) {
            fprintf(stderr, "rtsp_camera: bad value for %s: '%s'\n", a, v);
            return FALSE;
        }
    }
    if (!have_port) {
        fprintf(stderr, "rtsp_camera: --port is required\n");
        return FALSE;
    }
    /* x264 with 4:2:0 input needs even dimensions. */
    if (o->width % 2 != 0 || o->height % 2 != 0) {
        fprintf(stderr, "rtsp_camera: width and height must be even\n");
        return FALSE;
    }
    return TRUE;
}

/* Checks up front that every element of the launch line exists, so a missing
 * plugin fails here with its name instead of on the first client's DESCRIBE,
 * which a test would only see as a vague RTSP error. */
static gboolean check_element(const char *name) {
    GstElementFactory *f = gst_element_factory_find(name);
    if (f == NULL) {
        fprintf(stderr, "rtsp_camera: GStreamer element '%s' is missing\n", name);
        return FALSE;
    }
    gst_object_unref(f);
    return TRUE;
}

/* The launch line's audio part for o->audio, or "" for none. */
static const char *audio_launch(const struct options *o) {
    for (size_t k = 0; k < G_N_ELEMENTS(audio_kinds); k++)
        if (strcmp(o->audio, audio_kinds[k].name) == 0) return audio_kinds[k].launch;
    return "";
}

static gboolean check_elements(const struct options *o) {
    static const char *const names[] = {"videotestsrc", "capsfilter", "x264enc", "rtph264pay"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (!check_element(names[i])) return FALSE;
    for (size_t k = 0; k < G_N_ELEMENTS(audio_kinds); k++)
        if (strcmp(o->audio, audio_kinds[k].name) == 0 && !check_element(audio_kinds[k].element))
            return FALSE;
    return TRUE;
}

/* Used to drop every connected client on shutdown, so each gets its socket
 * closed now rather than whenever the process image goes away. */
static GstRTSPFilterResult remove_client(GstRTSPServer *server, GstRTSPClient *client,
                                         gpointer user_data) {
    (void)server;
    (void)client;
    (void)user_data;
    return GST_RTSP_FILTER_REMOVE;
}

static gboolean on_quit_signal(gpointer user_data) {
    g_main_loop_quit((GMainLoop *)user_data);
    return G_SOURCE_REMOVE;
}

/* Builds the server and its one mount. Returns NULL after printing why. */
static GstRTSPServer *make_server(const struct options *o) {
    GstRTSPServer *server = gst_rtsp_server_new();
    if (server == NULL) {
        fprintf(stderr, "rtsp_camera: gst_rtsp_server_new failed\n");
        return NULL;
    }
    /* Loopback only: tests must not expose a camera to the network. */
    gst_rtsp_server_set_address(server, "127.0.0.1");
    char service[16];
    snprintf(service, sizeof service, "%d", o->port);
    gst_rtsp_server_set_service(server, service);

    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    if (factory == NULL) {
        fprintf(stderr, "rtsp_camera: gst_rtsp_media_factory_new failed\n");
        g_object_unref(server);
        return NULL;
    }
    /* key-int-max = fps: one keyframe a second, so a (re)connecting relay gets
     * a decodable frame quickly. The caps pin size and rate. With B-frames:
     * no zerolatency tune (it turns them off), a fixed pattern of them, and
     * the profile asked for. */
    gchar *encoder =
        !strcmp(o->codec, "h265")
            ? g_strdup_printf("x265enc speed-preset=ultrafast key-int-max=%d ! rtph265pay "
                              "name=pay0 pt=96 config-interval=1",
                              o->fps)
        : o->bframes ? g_strdup_printf("x264enc speed-preset=ultrafast bframes=%d b-adapt=false "
                                     "key-int-max=%d ! video/x-h264,profile=%s",
                                     o->bframes, o->fps, o->profile)
                     : g_strdup_printf("x264enc tune=zerolatency key-int-max=%d", o->fps);
    /* The H.264 encoders above leave the payloader to here. */
    const char *pay = strcmp(o->codec, "h265") ? "! rtph264pay name=pay0 pt=96" : "";
    gchar *launch = g_strdup_printf("( videotestsrc is-live=true pattern=ball "
                                    "! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 "
                                    "! %s %s %s )",
                                    o->width, o->height, o->fps, encoder, pay, audio_launch(o));
    g_free(encoder);
    gst_rtsp_media_factory_set_launch(factory, launch);
    g_free(launch);
    gst_rtsp_media_factory_set_shared(factory, TRUE);

    GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
    if (mounts == NULL) {
        fprintf(stderr, "rtsp_camera: server has no mount points\n");
        g_object_unref(factory);
        g_object_unref(server);
        return NULL;
    }
    /* add_factory takes ownership of factory. */
    gst_rtsp_mount_points_add_factory(mounts, o->path, factory);
    g_object_unref(mounts);
    return server;
}

int main(int argc, char **argv) {
    struct options opt;

    gst_init(&argc, &argv);
    if (!parse_args(argc, argv, &opt)) {
        usage(stderr);
        return 1;
    }
    if (!check_elements(&opt)) return 1;

    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    if (loop == NULL) {
        fprintf(stderr, "rtsp_camera: g_main_loop_new failed\n");
        return 1;
    }
    GstRTSPServer *server = make_server(&opt);
    if (server == NULL) {
        g_main_loop_unref(loop);
        return 1;
    }

    /* attach() binds and listens; 0 means it could not (port in use, ...). */
    guint server_source = gst_rtsp_server_attach(server, NULL);
    if (server_source == 0) {
        fprintf(stderr, "rtsp_camera: cannot listen on 127.0.0.1:%d\n", opt.port);
        g_object_unref(server);
        g_main_loop_unref(loop);
        return 1;
    }

    guint sig_term = g_unix_signal_add(SIGTERM, on_quit_signal, loop);
    guint sig_int = g_unix_signal_add(SIGINT, on_quit_signal, loop);

    /* With --port 0 the kernel picked the port: report the real one. */
    int port = gst_rtsp_server_get_bound_port(server);
    printf("rtsp_camera ready rtsp://127.0.0.1:%d%s\n", port, opt.path);
    fflush(stdout);

    g_main_loop_run(loop);

    /* Whichever signal fired has removed its own source; drop the other. */
    GSource *s;
    if ((s = g_main_context_find_source_by_id(NULL, sig_term)) != NULL) g_source_destroy(s);
    if ((s = g_main_context_find_source_by_id(NULL, sig_int)) != NULL) g_source_destroy(s);
    g_source_remove(server_source);
    GList *left = gst_rtsp_server_client_filter(server, remove_client, NULL);
    g_list_free_full(left, g_object_unref);
    g_object_unref(server);
    g_main_loop_unref(loop);
    gst_deinit();
    return 0;
}
