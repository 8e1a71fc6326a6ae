/* stream.c -- a stream's life: start, live, fail, back off, restart (see
 * stream.h). */
#include "media/stream.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/source.h"
#include "media/variant.h"
#include "common/log.h"

#define BACKOFF_FIRST_US 1000000LL
/* A camera back after a long outage is live within seconds; a try costs a
 * connection attempt, so every 5 s is still cheap. */
#define BACKOFF_MAX_US 5000000LL
/* The same failure again is logged at most this often (with a count). */
#define REPEAT_LOG_US 60000000LL
#define START_TIMEOUT_US 20000000LL

const char *vg_stream_state_name(vg_stream_state st) {
    switch (st) {
    case VG_STREAM_STARTING: return "starting";
    case VG_STREAM_LIVE: return "live";
    case VG_STREAM_RETRYING: return "retrying";
    case VG_STREAM_FAILED: return "failed";
    case VG_STREAM_STOPPED: return "stopped";
    }
    return "unknown";
}

vg_stream *vg_stream_new(const char *id, const char *source, json_t *options, uint32_t channel,
                         const vg_stream_limits *limits, const vg_stream_hooks *hooks,
                         vg_inbox *inbox, vg_reaper *reaper) {
    vg_stream *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    char redacted[512];
    vg_source_redact(source, redacted, sizeof(redacted));
    s->id = strdup(id);
    s->label = strdup(id);
    s->source = strdup(source);
    s->source_public = strdup(redacted);
    s->options = options ? json_incref(options) : NULL;
    s->channel = channel;
    s->limits = *limits;
    s->hooks = hooks;
    s->inbox = inbox;
    s->reaper = reaper;
    s->state = VG_STREAM_STOPPED;
    if (vg_source_is_publish(source) || vg_source_is_transcode(source)) {
        s->feed = vg_publish_feed_new(limits->publish_queue_bytes ? limits->publish_queue_bytes
                                                                  : 4 * 1024 * 1024);
        if (!s->feed) {
            vg_stream_free(s);
            return NULL;
        }
    }
    vg_relay_limits viewer_limits = {.queue_frames = limits->queue_frames,
                                     .slow_skips = limits->slow_skips,
                                     .slow_window_us = limits->slow_window_us,
                                     .max_age_us = limits->queue_max_age_us};
    bool ok = s->id && s->label && s->source && s->source_public;
    for (int i = 0; i < VG_RELAY_COUNT; i++)
        if (vg_relay_init(&s->relays[i], s, (vg_relay_slot)i, channel, &viewer_limits,
                          hooks ? &hooks->viewers : NULL))
            ok = false;
    if (!ok) {
        vg_stream_free(s);
        return NULL;
    }
    return s;
}

static void set_text(char **field, const char *value) {
    free(*field);
    *field = value ? strdup(value) : NULL;
}

/* A retry that fails for the same reason as the last one is not news: one
 * line a minute for a camera that stays away, not one per retry. */
static bool repeats_last_failure(vg_stream *s, vg_stream_state st, const char *reason,
                                 int64_t now_us) {
    bool same = st == VG_STREAM_RETRYING && s->state == VG_STREAM_RETRYING && reason &&
                s->logged_reason && !strcmp(reason, s->logged_reason);
    if (same && now_us - s->logged_at_us < REPEAT_LOG_US) {
        s->repeats_unlogged++;
        return true;
    }
    return false;
}

static void log_state(vg_stream *s, vg_stream_state st, const char *reason, int64_t now_us) {
    if (repeats_last_failure(s, st, reason, now_us)) return;
    char again[48] = "";
    if (s->repeats_unlogged)
        snprintf(again, sizeof(again), " (%u more time%s since)", s->repeats_unlogged,
                 s->repeats_unlogged == 1 ? "" : "s");
    vg_log(st == VG_STREAM_RETRYING || st == VG_STREAM_FAILED ? VG_LOG_WARN : VG_LOG_INFO,
           "stream %s: %s%s%s%s", s->label, vg_stream_state_name(st), reason ? ": " : "",
           reason ? reason : "", again);
    set_text(&s->logged_reason, reason);
    s->logged_at_us = now_us;
    s->repeats_unlogged = 0;
}

static void set_state(vg_stream *s, vg_stream_state st, const char *reason) {
    if (s->state == st && !reason) return;
    log_state(s, st, reason, g_get_monotonic_time());
    s->state = st;
    if (s->hooks && s->hooks->state_changed) s->hooks->state_changed(s, reason);
}

static void drop_pipeline(vg_stream *s) {
    if (s->pipeline) vg_variant_main_down(s, g_get_monotonic_time());
    if (s->ingest) vg_rtp_ingest_attach(s->ingest, NULL, NULL); /* before the pipeline goes */
    if (s->feed) vg_publish_feed_attach(s->feed, NULL, NULL, NULL, 0);
    vg_recorder_stop(s->recorder); /* the segment ends with the run that made it */
    if (s->reaper)
        vg_reaper_push(s->reaper, s->pipeline);
    else
        vg_pipeline_free(s->pipeline);
    s->pipeline = NULL;
    /* Frames of the old pipeline cannot continue a new one's decoding. */
    for (int i = 0; i < VG_RELAY_COUNT; i++)
        vg_relay_reset(&s->relays[i]);
}

static void fail(vg_stream *s, const char *reason, int64_t now_us) {
    drop_pipeline(s);
    s->awaiting_packets = false;
    set_text(&s->last_error, reason);
    s->attempt++;
    s->restarts++;
    int64_t delay = BACKOFF_FIRST_US;
    for (uint32_t i = 1; i < s->attempt && delay < BACKOFF_MAX_US; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_US) delay = BACKOFF_MAX_US;
    s->retry_at_us = now_us + delay;
    set_state(s, VG_STREAM_RETRYING, reason);
}

void vg_stream_start(vg_stream *s, int64_t now_us) {
    char err[256] = "";
    if (s->remote) s->epoch = 0; /* ours from now on: the lease says under which epoch */
    s->remote = false;
    s->generation++;
    s->awaiting_packets = false;
    s->awaiting_publisher = false;
    if (s->feed && !vg_publish_feed_owner(s->feed)) {
        /* Nothing to run without a publisher: wait for one, no timer. */
        const char *waiting = s->parent ? "waiting for the main stream" : "waiting for a publisher";
        s->awaiting_publisher = true;
        set_text(&s->last_error, waiting);
        set_state(s, VG_STREAM_RETRYING, waiting);
        return;
    }
    if (vg_source_is_push(s->source) && !s->ingest) {
        /* The port may be taken for now: a failure to retry, not to give up on. */
        s->ingest = vg_rtp_ingest_new(s->source, s->options, s->id, err, sizeof(err));
        if (!s->ingest) {
            fail(s, err, now_us);
            return;
        }
    }
    s->pipeline = vg_pipeline_new(s->source, s->options, s->channel, s->limits.max_frame_bytes,
                                  s->inbox, s, s->generation, err, sizeof(err));
    if (!s->pipeline) {
        /* The pipeline cannot even be built (missing plugin): retrying won't help. */
        set_text(&s->last_error, err);
        set_state(s, VG_STREAM_FAILED, err);
        return;
    }
    if (s->ingest)
        vg_rtp_ingest_attach(s->ingest, s->pipeline->push_src, s->pipeline->push_audio_src);
    if (s->feed && vg_publish_feed_attach(s->feed, s->pipeline->push_src, s->pipeline->audio, err,
                                          sizeof(err))) {
        /* The publisher's audio cannot be relayed (a bad description):
         * retrying won't help, nor will the next frame. */
        drop_pipeline(s);
        set_text(&s->last_error, err);
        set_state(s, VG_STREAM_FAILED, err);
        return;
    }
    s->pipeline_started_us = now_us;
    s->last_frame_us = now_us; /* start of the start-up deadline */
    s->last_keyframe_us = 0;   /* a new run's first keyframe starts no interval */
    for (int i = 0; i < VG_RELAY_COUNT; i++)
        vg_relay_restart(&s->relays[i]);
    if (s->state != VG_STREAM_RETRYING) set_state(s, VG_STREAM_STARTING, NULL);
    if (vg_pipeline_start(s->pipeline, err, sizeof(err))) fail(s, err, now_us);
}

void vg_stream_stop(vg_stream *s) {
    for (size_t i = 0; i < s->nvariants; i++)
        vg_stream_stop(s->variants[i]);
    drop_pipeline(s);
    vg_rtp_ingest_free(s->ingest);
    s->ingest = NULL;
    s->awaiting_packets = false;
    if (s->state != VG_STREAM_STOPPED) set_state(s, VG_STREAM_STOPPED, NULL);
}

void vg_stream_free(vg_stream *s) {
    if (!s) return;
    drop_pipeline(s); /* before its variants: the transcode hears of it */
    for (size_t i = 0; i < s->nvariants; i++)
        vg_stream_free(s->variants[i]);
    free(s->variants);
    vg_rtp_ingest_free(s->ingest);
    vg_publish_feed_free(s->feed);
    vg_recorder_free(s->recorder);
    for (int i = 0; i < VG_RELAY_COUNT; i++)
        vg_relay_free(&s->relays[i]);
    json_decref(s->options);
    free(s->id);
    free(s->label);
    free(s->variant);
    free(s->source);
    free(s->source_public);
    free(s->codecs);
    free(s->last_error);
    free(s->node);
    free(s->logged_reason);
    free(s);
}

static void count_ingest(vg_stream *s, const vg_frame *f, int64_t now_us) {
    /* Keyframe spacing by when they left the pipeline, not when the loop got
     * them: the loop's own delays stay out of it. */
    if (vg_frame_is_keyframe(f) && !vg_frame_is_audio(f)) {
        if (s->last_keyframe_us && f->time_us > s->last_keyframe_us)
            s->keyframe_interval_us = f->time_us - s->last_keyframe_us;
        s->last_keyframe_us = f->time_us;
    }
    s->frames_in++;
    s->bytes_in += f->payload_len;
    if (s->win_start_us == 0) s->win_start_us = now_us;
    if (!vg_frame_is_audio(f)) s->win_frames++; /* fps: video frames */
    s->win_bytes += f->payload_len;
    int64_t elapsed = now_us - s->win_start_us;
    if (elapsed >= 1000000) {
        s->fps = s->win_frames * 1e6 / (double)elapsed;
        s->bitrate_bps = (double)s->win_bytes * 8e6 / (double)elapsed;
        s->win_start_us = now_us;
        s->win_frames = 0;
        s->win_bytes = 0;
    }
}

void vg_stream_set_recorder(vg_stream *s, vg_recorder *rec, int64_t now_us) {
    vg_recorder_stop(s->recorder);
    vg_recorder_free(s->recorder);
    s->recorder = rec;
    /* Mid-run, the init segment the new recorder needs came long ago. */
    vg_frame *init = s->relays[VG_RELAY_MSE].setup;
    if (rec && init && s->pipeline) vg_recorder_frame(rec, init, now_us);
}

uint32_t vg_stream_viewer_count(const vg_stream *s) {
    uint32_t n = 0;
    for (int i = 0; i < VG_RELAY_COUNT; i++)
        n += s->relays[i].viewer_count;
    return n;
}

uint64_t vg_stream_frames_lost(const vg_stream *s) {
    uint64_t most = 0;
    for (int i = 0; i < VG_RELAY_COUNT; i++)
        if (s->relays[i].frames_lost > most) most = s->relays[i].frames_lost;
    return most;
}

/* A frame of this stream's run, from its pipeline or from the node that
 * ingests it: to its relay's viewers, and what follows a run. */
static bool take_frame(vg_stream *s, vg_relay_slot slot, uint64_t seq, vg_frame *f,
                       int64_t now_us) {
    vg_relay *r = &s->relays[slot];
    if (!vg_relay_admit(r, seq, f)) return false;
    s->last_frame_us = now_us;
    if (f->kind == VG_FRAME_MEDIA) count_ingest(s, f, now_us);
    if (s->state != VG_STREAM_LIVE && !s->remote) {
        s->attempt = 0;
        set_state(s, VG_STREAM_LIVE, NULL); /* tells viewers the codecs first */
    }
    vg_relay_publish(r, f, now_us);
    if (s->hooks && s->hooks->frame_out && !s->remote) s->hooks->frame_out(s, slot, seq, f);
    if (slot == VG_RELAY_MSE && !s->remote) vg_recorder_frame(s->recorder, f, now_us);
    if (slot == VG_RELAY_WEBCODECS) vg_variant_follow_main(s, f, now_us);
    return true;
}

void vg_stream_apply_event(vg_stream *s, const vg_event *ev, int64_t now_us) {
    if (ev->generation != s->generation || !s->pipeline) return; /* from a torn-down pipeline */
    switch (ev->type) {
    case VG_EVENT_CODECS: set_text(&s->codecs, ev->text); break;
    case VG_EVENT_FRAME:
        if (ev->relay < VG_RELAY_COUNT) take_frame(s, ev->relay, ev->seq, ev->frame, now_us);
        break;
    case VG_EVENT_ERROR: fail(s, ev->text ? ev->text : "pipeline error", now_us); break;
    case VG_EVENT_EOS: fail(s, "the source ended", now_us); break;
    }
}

/* Why a silent push source has nothing: plain silence, or packets that all
 * failed authentication since the last valid one (a camera with the wrong
 * key). */
static void silence_reason(vg_stream *s, char *out, size_t outlen) {
    long long secs = (long long)(vg_rtp_ingest_silence_us(s->ingest) / 1000000);
    uint64_t auth = vg_rtp_ingest_auth_failed(s->ingest) - s->auth_failed_mark;
    if (auth)
        snprintf(out, outlen, "no valid packets for %lld s (%llu failed authentication)", secs,
                 (unsigned long long)auth);
    else
        snprintf(out, outlen, "no packets for %lld s", secs);
}

/* A push source silent for its silence timeout is lost: no backoff, the
 * receiver keeps listening and the next accepted packet brings it back. */
static bool push_source_lost(vg_stream *s, int64_t now_us) {
    int64_t last = vg_rtp_ingest_last_packet_us(s->ingest);
    if (last != s->mark_last_packet) { /* valid packets since the last tick */
        s->mark_last_packet = last;
        s->auth_failed_mark = vg_rtp_ingest_auth_failed(s->ingest);
    }
    int64_t since = last > s->pipeline_started_us ? last : s->pipeline_started_us;
    if (now_us - since <= vg_rtp_ingest_silence_us(s->ingest)) return false;
    char reason[128];
    silence_reason(s, reason, sizeof(reason));
    drop_pipeline(s);
    set_text(&s->last_error, reason);
    s->restarts++; /* the next pipeline is a restart of the source */
    s->attempt = 0;
    s->awaiting_packets = true;
    s->auth_reported = vg_rtp_ingest_auth_failed(s->ingest) > s->auth_failed_mark;
    set_state(s, VG_STREAM_RETRYING, reason);
    return true;
}

/* While a lost push source waits: keeps the reason current (the count of
 * failures), and tells viewers once when failures start. */
static void push_source_waiting(vg_stream *s) {
    char reason[128];
    silence_reason(s, reason, sizeof(reason));
    if (s->last_error && !strcmp(reason, s->last_error)) return;
    set_text(&s->last_error, reason);
    bool failing = vg_rtp_ingest_auth_failed(s->ingest) > s->auth_failed_mark;
    if (failing && !s->auth_reported) {
        s->auth_reported = true;
        set_state(s, VG_STREAM_RETRYING, reason);
    }
}

int vg_stream_publisher_join(vg_stream *s, void *owner, const char *sub, const char *peer,
                             vg_publish_config *cfg, int64_t now_us) {
    if (!s->feed || vg_publish_feed_claim(s->feed, owner, sub, peer, cfg)) return -1;
    if (!s->parent) vg_log(VG_LOG_INFO, "stream %s: publisher %s (%s) joined", s->id, sub, peer);
    if (s->state == VG_STREAM_STOPPED || s->pipeline) return 0; /* stopping, or a re-publish */
    s->attempt = 0;
    vg_stream_start(s, now_us);
    return 0;
}

void vg_stream_publisher_leave(vg_stream *s, void *owner, const char *reason, int64_t now_us) {
    (void)now_us;
    if (!s->feed || vg_publish_feed_owner(s->feed) != owner) return;
    vg_publish_feed_release(s->feed);
    if (s->state == VG_STREAM_STOPPED) return;
    if (s->pipeline) s->restarts++; /* the next publisher's pipeline is a restart */
    drop_pipeline(s);
    s->attempt = 0;
    s->awaiting_publisher = true;
    set_text(&s->last_error, reason);
    set_state(s, VG_STREAM_RETRYING, reason);
}

void vg_stream_tick(vg_stream *s, int64_t now_us) {
    for (size_t i = 0; i < s->nvariants; i++) {
        vg_variant_tick(s->variants[i], now_us);
        vg_stream_tick(s->variants[i], now_us);
    }
    if (s->remote) return; /* its node retries and watches it */
    if (!s->pipeline) {
        if (s->state != VG_STREAM_RETRYING || s->awaiting_publisher) return;
        bool due = s->awaiting_packets
                       ? vg_rtp_ingest_last_packet_us(s->ingest) != s->mark_last_packet
                       : now_us >= s->retry_at_us;
        if (due)
            vg_stream_start(s, now_us);
        else if (s->awaiting_packets)
            push_source_waiting(s);
        return;
    }
    if (s->ingest && push_source_lost(s, now_us)) return;
    int64_t limit = s->state == VG_STREAM_LIVE ? s->limits.stall_timeout_us : START_TIMEOUT_US;
    if (now_us - s->last_frame_us > limit) {
        char reason[96];
        snprintf(reason, sizeof(reason), "no frames for %lld s",
                 (long long)((now_us - s->last_frame_us) / 1000000));
        fail(s, reason, now_us);
    }
}

/* ---- cluster ------------------------------------------------------------ */

bool vg_stream_state_parse(const char *name, vg_stream_state *out) {
    for (int st = VG_STREAM_STARTING; name && st <= VG_STREAM_STOPPED; st++)
        if (!strcmp(name, vg_stream_state_name((vg_stream_state)st))) {
            *out = (vg_stream_state)st;
            return true;
        }
    return false;
}

void vg_stream_ingest(vg_stream *s, const char *node, uint64_t epoch, int64_t now_us) {
    bool was_remote = s->remote;
    s->remote = false;
    s->epoch = epoch;
    if (!s->node || strcmp(s->node, node)) set_text(&s->node, node);
    if (!was_remote && (s->pipeline || s->state == VG_STREAM_RETRYING)) return; /* runs */
    if (was_remote) {
        set_text(&s->last_error, NULL); /* why it waited was the follower's */
        for (int i = 0; i < VG_RELAY_COUNT; i++) {
            vg_relay_reset(&s->relays[i]);
            vg_relay_restart(&s->relays[i]);
        }
    }
    s->attempt = 0;
    vg_stream_start(s, now_us);
}

void vg_stream_follow(vg_stream *s, const char *node, uint64_t epoch, vg_stream_state st,
                      const char *codecs, const char *reason, int64_t now_us) {
    (void)now_us;
    if (!s->remote) {
        /* Another node has it now: ours stops, its viewers stay. */
        drop_pipeline(s);
        vg_rtp_ingest_free(s->ingest);
        s->ingest = NULL;
        s->awaiting_packets = s->awaiting_publisher = false;
        s->remote = true;
        s->epoch = 0;
    }
    if (epoch != s->epoch) {
        s->generation++; /* what the inbox still holds of the last run is stale */
        for (int i = 0; i < VG_RELAY_COUNT; i++) {
            vg_relay_reset(&s->relays[i]);
            vg_relay_rejoin(&s->relays[i]);
        }
        s->epoch = epoch;
        s->last_keyframe_us = 0;
        for (int i = 0; i < VG_RELAY_COUNT; i++)
            s->gop_setup[i] = NULL;
    }
    if (!node != !s->node || (node && strcmp(node, s->node))) set_text(&s->node, node);
    if (!codecs != !s->codecs || (codecs && strcmp(codecs, s->codecs))) set_text(&s->codecs, codecs);
    bool same_reason = (!reason && !s->last_error) ||
                       (reason && s->last_error && !strcmp(reason, s->last_error));
    if (!same_reason) set_text(&s->last_error, reason);
    if (st != s->state || !same_reason) set_state(s, st, reason);
}

bool vg_stream_remote_frame(vg_stream *s, vg_relay_slot slot, uint64_t seq, vg_frame *f,
                            int64_t now_us) {
    if (!s->remote || slot >= VG_RELAY_COUNT) return false;
    vg_relay *r = &s->relays[slot];
    if (seq == 0) { /* a GOP reply's setup frame: numbering starts with what follows */
        if (!vg_frame_is_setup(f)) return false;
        vg_relay_publish(r, f, now_us);
        vg_relay_rejoin(r);
        s->gop_setup[slot] = f;
        return true;
    }
    if (r->next_seq && seq < r->next_seq) return false; /* seen already */
    if (vg_frame_is_setup(f) && r->setup && r->setup == s->gop_setup[slot] &&
        r->setup->payload_len == f->payload_len &&
        !memcmp(vg_frame_payload(r->setup), vg_frame_payload(f), f->payload_len)) {
        r->next_seq = seq + 1; /* the one a GOP reply gave already: viewers have it */
        return true;
    }
    return take_frame(s, slot, seq, f, now_us);
}

json_t *vg_stream_describe(const vg_stream *s, int64_t now_us) {
    /* Rates are only meaningful while frames keep coming. */
    bool fresh = s->state == VG_STREAM_LIVE && now_us - s->last_frame_us < 2000000;
    json_t *d = json_object();
    if (!d) return NULL;
    json_object_set_new(d, "id", json_string(s->id));
    json_object_set_new(d, "source", json_string(s->source_public));
    json_object_set_new(d, "state", json_string(vg_stream_state_name(s->state)));
    json_object_set_new(d, "codecs", s->codecs ? json_string(s->codecs) : json_null());
    json_object_set_new(d, "viewers", json_integer(vg_stream_viewer_count(s)));
    json_object_set_new(d, "fps", json_real(fresh ? (int)(s->fps * 10 + 0.5) / 10.0 : 0.0));
    json_object_set_new(d, "bitrate_bps", json_integer(fresh ? (json_int_t)s->bitrate_bps : 0));
    json_object_set_new(d, "restarts", json_integer(s->restarts));
    json_object_set_new(d, "frames_lost", json_integer((json_int_t)vg_stream_frames_lost(s)));
    json_object_set_new(d, "last_error", s->last_error ? json_string(s->last_error) : json_null());
    if (s->node || s->remote) { /* a cluster's: node null while nobody ingests it */
        json_object_set_new(d, "node", s->node ? json_string(s->node) : json_null());
        json_object_set_new(d, "epoch", json_integer((json_int_t)s->epoch));
    }
    if (vg_source_is_push(s->source))
        json_object_set_new(d, "ingest", vg_rtp_ingest_describe(s->ingest, now_us));
    if (s->feed && !s->parent)
        json_object_set_new(d, "publish", vg_publish_feed_describe(s->feed, now_us));
    if (s->parent) {
        json_object_del(d, "id");
        json_object_set_new(d, "name", json_string(s->variant));
        json_object_set_new(d, "kind", json_string(vg_variant_kind(s)));
    }
    if (!s->parent)
        json_object_set_new(d, "record",
                            s->recorder ? vg_recorder_describe(s->recorder) : json_null());
    if (s->nvariants) {
        json_t *vs = json_array();
        for (size_t i = 0; vs && i < s->nvariants; i++)
            json_array_append_new(vs, vg_stream_describe(s->variants[i], now_us));
        json_object_set_new(d, "variants", vs);
    }
    return d;
}
