/* reload.c -- a new configuration applied in place (see reload.h).
 *
 * In order: load and check everything that can fail (the file, and device
 * control started from it), then change streams, devices, auth and
 * settings, then tell the clients and log the report. Nothing in the
 * running server is touched before the last check has passed. */
#include "server/reload.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/devices.h"
#include "server/publisher.h"
#include "server/cluster_node.h"
#include "server/server.h"

/* A removed stream waiting for its pipelines to go (reaper mark). */
struct vg_retired {
    vg_retired *next;
    vg_stream *stream;
    uint64_t mark;
    bool ready; /* the mark had passed before the last drain of the inbox */
};

/* Settings the listener was made with: only a restart changes them. */
static const char *const restart_only[] = {"port",     "bind",     "web_root",
                                           "tls_cert", "tls_key",  "tls_ktls",
                                           "http_redirect_port", "idle_timeout_s",
                                           "metrics_bind"};

void vg_server_set_loader(vg_server *srv, vg_config_loader load, void *ctx) {
    srv->load_config = load;
    srv->load_config_ctx = ctx;
}

/* ---- what changed ------------------------------------------------------- */

static bool same_json(const json_t *a, const json_t *b) {
    return a == b || (a && b && json_equal(a, b));
}

static bool same_variants(const vg_stream_config *a, const vg_stream_config *b) {
    if (a->nvariants != b->nvariants) return false;
    for (size_t i = 0; i < a->nvariants; i++)
        if (strcmp(a->variants[i].name, b->variants[i].name) ||
            strcmp(a->variants[i].source, b->variants[i].source) ||
            !same_json(a->variants[i].options, b->variants[i].options))
            return false;
    const vg_transcode_config *x = &a->transcode, *y = &b->transcode;
    return x->enabled == y->enabled &&
           (!x->enabled || (!strcmp(x->codec, y->codec) && x->max_height == y->max_height &&
                            x->bitrate_kbps == y->bitrate_kbps));
}

static bool same_stream(const vg_stream_config *a, const vg_stream_config *b) {
    return !strcmp(a->source, b->source) && same_json(a->options, b->options) &&
           same_variants(a, b);
}

static const vg_stream_config *config_stream(const vg_config *c, const char *id) {
    for (size_t i = 0; i < c->nstreams; i++)
        if (!strcmp(c->streams[i].id, id)) return &c->streams[i];
    return NULL;
}

/* True when a section device control reads differs. */
static bool device_sections_differ(const json_t *a, const json_t *b) {
    const json_t *roots[2] = {a, b};
    for (int r = 0; r < 2; r++) {
        const char *key;
        json_t *v;
        if (!roots[r]) continue;
        json_object_foreach((json_t *)roots[r], key, v) {
            if (control_owns_config_section(key) &&
                !same_json(v, json_object_get(roots[1 - r], key)))
                return true;
        }
    }
    return false;
}

/* Settings only a restart applies keep their running values in `next`;
 * the rest of the changed settings go to `changed`. */
static int split_settings(const vg_config *cur, vg_config *next, json_t *changed,
                          json_t *restart_needed) {
    json_t *diff = json_array();
    if (!diff) return -1;
    vg_config_server_diff(cur, next, diff);
    size_t i;
    json_t *name;
    int rc = 0;
    json_array_foreach(diff, i, name) {
        const char *setting = json_string_value(name) + strlen("server.");
        bool fixed = false;
        for (size_t k = 0; k < sizeof(restart_only) / sizeof(restart_only[0]); k++)
            fixed |= !strcmp(setting, restart_only[k]);
        if (fixed && vg_config_server_copy(next, cur, setting)) rc = -1;
        json_array_append(fixed ? restart_needed : changed, name);
    }
    json_decref(diff);
    return rc;
}

/* ---- streams ------------------------------------------------------------ */

static void retire(vg_server *srv, vg_stream *st) {
    vg_stream_stop(st); /* its pipelines go to the reaper */
    vg_retired *r = calloc(1, sizeof(*r));
    if (!r) {
        /* Freeing it now could meet its pipelines' last events: keep it. */
        vg_log(VG_LOG_ERROR, "reload: out of memory; stream %s stopped but kept", st->id);
        return;
    }
    r->stream = st;
    r->mark = vg_reaper_mark(&srv->reaper);
    r->next = srv->retired;
    srv->retired = r;
}

void vg_reload_check_retired(vg_server *srv) {
    for (vg_retired *r = srv->retired; r; r = r->next)
        r->ready = vg_reaper_passed(&srv->reaper, r->mark);
}

void vg_reload_free_retired(vg_server *srv, bool all) {
    vg_retired **p = &srv->retired;
    while (*p) {
        vg_retired *r = *p;
        if (!all && !r->ready) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        vg_stream_free(r->stream);
        free(r);
    }
}

static bool belongs_to(const vg_stream *sub_stream, const vg_stream *st) {
    return sub_stream == st || sub_stream->parent == st;
}

/* The subscriptions of session `s` to `st` or one of its variants end, and
 * the client hears why. */
static void end_subscriptions(vg_server *srv, vg_session *s, const vg_stream *st,
                              const char *reason) {
    for (uint32_t i = 0; i < s->nsubs;) {
        vg_subscription *sub = s->subs[i];
        if (!belongs_to(sub->stream, st)) {
            i++;
            continue;
        }
        srv->protocol->stream_removed(s, sub->stream, sub->viewer.channel, reason);
        vg_session_unsubscribe(s, sub->viewer.channel); /* the last one takes slot i */
    }
}

/* Every viewer and the publisher of a stream that goes away. */
static void end_clients(vg_server *srv, vg_stream *st, const char *reason) {
    for (vg_session *s = srv->sessions; s; s = s->next) {
        end_subscriptions(srv, s, st, reason);
        if (s->pub && s->pub->stream == st) {
            srv->protocol->stream_removed(s, st, s->pub->channel, reason);
            vg_publisher_stop(s, reason);
        }
    }
}

/* The viewers of every relay of `from` move to the same relay of `to`. */
static void move_relay_viewers(vg_stream *from, vg_stream *to, int64_t now_us) {
    for (int slot = 0; slot < VG_RELAY_COUNT; slot++) {
        vg_viewer *v;
        while ((v = from->relays[slot].viewers)) {
            vg_relay_move(v, &to->relays[slot], now_us);
            vg_subscription_of(v)->stream = to;
        }
    }
}

/* A changed stream: `next` takes `old`'s place and viewers; viewers of a
 * variant that `next` no longer has are told it is gone. A publisher
 * publishes again, to the new stream (1012: restarting). */
static void replace_stream(vg_server *srv, size_t index, vg_stream *next, int64_t now_us) {
    vg_stream *old = srv->streams[index];
    for (size_t i = 0; i < old->nvariants; i++) {
        vg_stream *ov = old->variants[i], *nv = vg_variant_find(next, ov->variant);
        if (!nv || nv == next) {
            for (vg_session *s = srv->sessions; s; s = s->next)
                end_subscriptions(srv, s, ov, "variant removed from the configuration");
            continue;
        }
        bool watched = vg_stream_viewer_count(ov) > 0;
        move_relay_viewers(ov, nv, now_us);
        if (watched) vg_variant_demand(nv, now_us);
    }
    move_relay_viewers(old, next, now_us);
    for (vg_session *s = srv->sessions; s; s = s->next)
        if (s->pub && s->pub->stream == old) {
            vg_publisher_stop(s, "stream reconfigured");
            vg_session_close(s, 1012, "stream reconfigured: publish again");
        }
    srv->streams[index] = next;
    retire(srv, old); /* before the start: a push source's UDP port is free again */
    vg_server_start_stream(srv, next, now_us);
}

/* Streams of `next` that are new, gone or changed; the report's "streams".
 * -1 on OOM (what was done stays done). */
static int apply_streams(vg_server *srv, const vg_config *next, json_t *report, int64_t now_us) {
    json_t *added = json_array(), *removed = json_array(), *restarted = json_array();
    json_t *recording = json_array();
    json_object_set_new(report, "added", added);
    json_object_set_new(report, "removed", removed);
    json_object_set_new(report, "restarted", restarted);
    json_object_set_new(report, "recording_changed", recording);
    if (!added || !removed || !restarted || !recording) return -1;
    const vg_config *cur = srv->config;
    for (size_t i = 0; i < srv->nstreams;) {
        vg_stream *st = srv->streams[i];
        if (config_stream(next, st->id)) {
            i++;
            continue;
        }
        json_array_append_new(removed, json_string(st->id));
        end_clients(srv, st, "stream removed from the configuration");
        memmove(&srv->streams[i], &srv->streams[i + 1],
                (srv->nstreams - i - 1) * sizeof(*srv->streams));
        srv->nstreams--;
        vg_cluster_node_stream_removed(srv, st->id);
        retire(srv, st);
    }
    for (size_t i = 0; i < srv->nstreams; i++) {
        vg_stream *st = srv->streams[i];
        const vg_stream_config *was = config_stream(cur, st->id), *now = config_stream(next, st->id);
        if (was && same_stream(was, now)) {
            /* Only its recording changed: the stream and its viewers go on. */
            if (!vg_record_config_equal(&was->record, &now->record)) {
                vg_stream_set_recorder(st, vg_server_make_recorder(srv, now), now_us);
                json_array_append_new(recording, json_string(st->id));
            }
            continue;
        }
        vg_stream *fresh = vg_server_make_stream(srv, now, st->channel, st);
        if (!fresh) return -1;
        json_array_append_new(restarted, json_string(st->id));
        replace_stream(srv, i, fresh, now_us);
    }
    vg_stream **grown = realloc(srv->streams, (next->nstreams ? next->nstreams : 1) *
                                                  sizeof(*srv->streams));
    if (!grown) return -1;
    srv->streams = grown;
    for (size_t i = 0; i < next->nstreams; i++) {
        const vg_stream_config *sc = &next->streams[i];
        if (vg_server_find_stream(srv, sc->id)) continue;
        vg_stream *st = vg_server_make_stream(srv, sc, srv->next_channel++, NULL);
        if (!st) return -1;
        srv->streams[srv->nstreams++] = st;
        json_array_append_new(added, json_string(sc->id));
        vg_server_start_stream(srv, st, now_us);
    }
    json_object_set_new(report, "unchanged",
                        json_integer((json_int_t)(srv->nstreams - json_array_size(added) -
                                                  json_array_size(restarted))));
    return 0;
}

/* Limits that running streams read as they go: stall timeout, largest
 * frame (at the next pipeline start), slow-viewer policy and queue age (at
 * the next viewer). The queue length stays with the relay's GOP cache. */
static void apply_stream_limits(vg_server *srv, const vg_config *next) {
    vg_stream_limits l = vg_server_stream_limits(next);
    for (size_t i = 0; i < srv->nstreams; i++) {
        vg_stream *st = srv->streams[i];
        for (size_t v = 0; v <= st->nvariants; v++) {
            vg_stream *x = v < st->nvariants ? st->variants[v] : st;
            x->limits.stall_timeout_us = l.stall_timeout_us;
            x->limits.max_frame_bytes = l.max_frame_bytes;
            x->limits.slow_skips = l.slow_skips;
            x->limits.slow_window_us = l.slow_window_us;
            x->limits.queue_max_age_us = l.queue_max_age_us;
            for (int r = 0; r < VG_RELAY_COUNT; r++) {
                x->relays[r].limits.slow_skips = l.slow_skips;
                x->relays[r].limits.slow_window_us = l.slow_window_us;
                x->relays[r].limits.max_age_us = l.queue_max_age_us;
            }
        }
    }
}

/* ---- auth --------------------------------------------------------------- */

/* Anonymous clients keep only what the new patterns open to them. */
static void reapply_anonymous(vg_server *srv, const json_t *patterns) {
    for (vg_session *s = srv->sessions; s; s = s->next) {
        if (!s->access.anonymous || s->closing) continue;
        if (!patterns) {
            vg_session_close(s, 4003, "anonymous access ended");
            continue;
        }
        vg_access_anonymous(&s->access, patterns);
        for (uint32_t i = 0; i < s->nsubs;) {
            vg_subscription *sub = s->subs[i];
            if (vg_access_sees_stream(&s->access, sub->stream->id)) {
                i++;
                continue;
            }
            srv->protocol->stream_removed(s, sub->stream, sub->viewer.channel,
                                          "no longer open to anonymous viewers");
            vg_session_unsubscribe(s, sub->viewer.channel);
        }
    }
}

static json_t *apply_auth(vg_server *srv, vg_config *next, int64_t now_us) {
    const vg_auth_config *cur = &srv->config->auth;
    vg_auth_config *a = &next->auth;
    /* No secret in either: the run's random one (and its admin token) stays. */
    if (cur->secret_ephemeral && a->secret_ephemeral) {
        memcpy(a->secret, cur->secret, cur->secret_len);
        a->secret_len = cur->secret_len;
    }
    bool rotated = cur->secret_len != a->secret_len ||
                   memcmp(cur->secret, a->secret, a->secret_len) != 0;
    if (rotated)
        vg_previous_secret_keep(&srv->previous_secret, cur->secret, cur->secret_len,
                                a->rotation_grace_s, now_us);
    bool anonymous = !same_json(cur->anonymous_streams, a->anonymous_streams);
    if (anonymous) reapply_anonymous(srv, a->anonymous_streams);
    return json_pack("{s:s, s:I, s:b, s:b}", "secret", rotated ? "rotated" : "unchanged",
                     "previous_valid_s", (json_int_t)(rotated ? a->rotation_grace_s : 0),
                     "anonymous_changed", anonymous, "origins_changed",
                     !same_json(cur->allowed_origins, a->allowed_origins));
}

/* ---- the reload ----------------------------------------------------------- */

/* The replaced configuration is freed unless device control still reads it. */
static void retire_config(vg_server *srv, vg_config *old) {
    if (!old) return; /* the caller's: it outlives the server */
    if (old == srv->control_source) {
        srv->control_config = old;
        return;
    }
    vg_config_free(old);
    free(old);
}

void vg_reload_free_configs(vg_server *srv) {
    vg_config *both[2] = {srv->control_config, srv->owned_config};
    for (int i = 0; i < 2; i++)
        if (both[i]) {
            vg_config_free(both[i]);
            free(both[i]);
        }
    srv->control_config = srv->owned_config = NULL;
}

static void log_report(const json_t *report) {
    char *text = json_dumps(report, JSON_COMPACT);
    vg_log(VG_LOG_INFO, "configuration reloaded: %s", text ? text : "(no memory for the report)");
    free(text);
}

static int refuse(vg_server *srv, const char *why, char *err, size_t errlen) {
    srv->reloads_refused_total++;
    snprintf(err, errlen, "%s", why);
    vg_log(VG_LOG_ERROR, "reload refused, the running configuration stays: %s", why);
    return -1;
}

int vg_server_reload(vg_server *srv, json_t **report, char *err, size_t errlen) {
    *report = NULL;
    if (!srv->load_config) return refuse(srv, "this server has no configuration file", err, errlen);
    char why[512];
    vg_config *next = calloc(1, sizeof(*next));
    if (!next) return refuse(srv, "out of memory", err, errlen);
    if (srv->load_config(srv->load_config_ctx, next, why, sizeof(why))) {
        free(next);
        return refuse(srv, why, err, errlen);
    }
    json_t *was_cluster = json_object_get(srv->config->root, "cluster"),
           *now_cluster = json_object_get(next->root, "cluster");
    if ((was_cluster || now_cluster) && !json_equal(was_cluster, now_cluster)) {
        vg_config_free(next);
        free(next);
        return refuse(srv, "cluster: a changed cluster section needs a restart", err, errlen);
    }
    json_t *r = json_object(), *changed = json_array(), *restart = json_array();
    bool devices = device_sections_differ(srv->config->root, next->root);
    control_t *control = NULL;
    if (!r || !changed || !restart || split_settings(srv->config, next, changed, restart) ||
        (devices && vg_devices_prepare(srv, next, &control, why, sizeof(why)))) {
        json_decref(r);
        json_decref(changed);
        json_decref(restart);
        vg_config_free(next);
        free(next);
        return refuse(srv, r && changed && restart ? why : "out of memory", err, errlen);
    }
    /* Checked: from here on, the new configuration is applied. */
    int64_t now_us = vg_server_now_us();
    json_t *streams = json_object();
    if (!streams || apply_streams(srv, next, streams, now_us))
        vg_log(VG_LOG_ERROR, "reload: out of memory while changing streams");
    apply_stream_limits(srv, next);
    json_object_set_new(r, "streams", streams);
    json_object_set_new(r, "auth", apply_auth(srv, next, now_us));
    if (devices) {
        size_t failed = vg_devices_replace(srv, control, next);
        if (srv->cluster) vg_cluster_node_devices_start(srv); /* the new devices' leases */
        json_object_set_new(r, "devices", json_pack("{s:s, s:I}", "control", "restarted",
                                                    "commands_failed", (json_int_t)failed));
        /* device control no longer reads the config it started from */
        if (srv->control_config) {
            vg_config_free(srv->control_config);
            free(srv->control_config);
            srv->control_config = NULL;
        }
    } else {
        json_object_set_new(r, "devices", json_pack("{s:s}", "control", "unchanged"));
    }
    json_object_set_new(r, "settings_changed", changed);
    json_object_set_new(r, "restart_needed", restart);
    vg_log_set_level((vg_log_level)next->log_level);
    vg_config *old = srv->owned_config;
    srv->config = srv->owned_config = next;
    retire_config(srv, old);
    srv->reloads_total++;
    srv->protocol->streams_changed(srv, streams);
    log_report(r);
    if (json_array_size(restart))
        vg_log(VG_LOG_WARN, "reload: some settings need a restart to apply (restart_needed)");
    *report = r;
    return 0;
}
