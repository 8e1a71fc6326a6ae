/* snapshots.c -- snapshots made once per keyframe, kept and shared (see
 * snapshots.h). */
#include "server/snapshots.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

int vg_snapshots_start(vg_snapshots *c, vg_wake_fn wake, void *ctx) {
    for (size_t i = 0; i < VG_SNAPSHOT_ENTRIES; i++)
        c->entries[i].owner = c;
    return vg_snapshot_worker_start(&c->worker, wake, ctx);
}

void vg_snapshots_stop(vg_snapshots *c) {
    vg_snapshot_worker_stop(&c->worker);
}

/* Forgets what an entry holds; it keeps its waiters. */
static void entry_clear(vg_snapshot_entry *e) {
    free(e->label);
    e->label = NULL;
    vg_frame_unref(e->key);
    e->key = NULL;
    vg_jpeg_clear(&e->jpeg);
    e->error[0] = 0;
    e->state = VG_SNAPSHOT_EMPTY;
}

void vg_snapshots_free(vg_snapshots *c) {
    for (size_t i = 0; i < VG_SNAPSHOT_ENTRIES; i++)
        entry_clear(&c->entries[i]);
}

static vg_snapshot_entry *find(vg_snapshots *c, const char *label, int width) {
    for (size_t i = 0; i < VG_SNAPSHOT_ENTRIES; i++) {
        vg_snapshot_entry *e = &c->entries[i];
        if (e->label && e->width == width && !strcmp(e->label, label)) return e;
    }
    return NULL;
}

/* A free entry, or else the least recently asked for that nobody waits
 * for; NULL when every one is being made. */
static vg_snapshot_entry *free_entry(vg_snapshots *c) {
    vg_snapshot_entry *best = NULL;
    for (size_t i = 0; i < VG_SNAPSHOT_ENTRIES; i++) {
        vg_snapshot_entry *e = &c->entries[i];
        if (!e->label) return e;
        if (e->state != VG_SNAPSHOT_MAKING && (!best || e->used < best->used)) best = e;
    }
    if (best) entry_clear(best);
    return best;
}

static void join(vg_snapshot_entry *e, vg_snapshot_wait *w, bool joined) {
    w->entry = e;
    w->joined = joined;
    w->prev = NULL;
    w->next = e->waiters;
    if (e->waiters) e->waiters->prev = w;
    e->waiters = w;
    e->owner->waiting++;
}

static void unlink_wait(vg_snapshot_wait *w) {
    vg_snapshot_entry *e = w->entry;
    if (w->prev)
        w->prev->next = w->next;
    else
        e->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->entry = NULL;
    e->owner->waiting--;
}

void vg_snapshot_wait_cancel(vg_snapshot_wait *w) {
    if (w && w->entry) unlink_wait(w);
}

/* Starts making `key` at `width` into `e` (free, or holding an older
 * keyframe's picture), with `w` waiting. False when out of memory. */
static bool start_job(vg_snapshots *c, vg_snapshot_entry *e, const char *label, int width,
                      vg_frame *config, vg_frame *key, vg_snapshot_wait *w) {
    vg_snapshot_job *job = vg_snapshot_job_new(config, key, width, e);
    char *copy = strdup(label);
    if (!job || !copy) {
        vg_snapshot_job_free(job);
        free(copy);
        return false;
    }
    entry_clear(e); /* nobody waits for an entry that is not being made */
    e->label = copy;
    e->width = width;
    e->key = vg_frame_ref(key);
    e->frame_time_us = key->time_us;
    e->state = VG_SNAPSHOT_MAKING;
    join(e, w, false);
    vg_snapshot_worker_post(&c->worker, job);
    return true;
}

vg_snapshot_ask vg_snapshots_ask(vg_snapshots *c, const char *label, int width, vg_frame *config,
                                 vg_frame *key, vg_snapshot_wait *w,
                                 const vg_snapshot_entry **out) {
    vg_snapshot_entry *e = find(c, label, width);
    if (e) e->used = ++c->asks;
    bool full = c->waiting >= VG_SNAPSHOT_WAITERS;
    if (e && e->state == VG_SNAPSHOT_MAKING && !full) {
        join(e, w, true);
        return VG_SNAPSHOT_WAITING;
    }
    if (e && e->key == key && e->state != VG_SNAPSHOT_MAKING) {
        if (e->state == VG_SNAPSHOT_MADE) c->cached++;
        *out = e;
        return VG_SNAPSHOT_GOT;
    }
    if (!full && vg_snapshot_worker_in_flight(&c->worker) < VG_SNAPSHOT_JOBS) {
        if (!e) e = free_entry(c);
        if (e) e->used = ++c->asks;
        if (e && start_job(c, e, label, width, config, key, w)) return VG_SNAPSHOT_WAITING;
    }
    c->busy++;
    return VG_SNAPSHOT_BUSY;
}

/* A finished job's result into its entry. */
static void settle(vg_snapshots *c, vg_snapshot_entry *e, vg_snapshot_job *job) {
    c->make_us_total += job->took_us;
    if (job->error[0]) {
        e->state = VG_SNAPSHOT_FAILED;
        memcpy(e->error, job->error, sizeof(e->error));
        c->failed++;
        vg_log(VG_LOG_WARN, "snapshot of %s failed: %s", e->label, e->error);
        return;
    }
    e->state = VG_SNAPSHOT_MADE;
    e->jpeg = job->jpeg;
    job->jpeg = (vg_jpeg){0};
    c->made++;
    vg_log(VG_LOG_DEBUG, "snapshot of %s: %dx%d, %zu bytes in %lld ms", e->label, e->jpeg.width,
           e->jpeg.height, e->jpeg.len, (long long)(job->took_us / 1000));
}

void vg_snapshots_take_done(vg_snapshots *c, vg_snapshot_answer_fn answer, void *ctx) {
    for (vg_snapshot_job *job = vg_snapshot_worker_take_done(&c->worker), *next; job; job = next) {
        next = job->next;
        vg_snapshot_entry *e = job->owner;
        settle(c, e, job);
        vg_snapshot_job_free(job);
        /* One at a time from the list itself: an answer may close another
         * waiter's connection, which cancels (unlinks) it. */
        vg_snapshot_wait *w;
        while ((w = e->waiters)) {
            bool joined = w->joined;
            unlink_wait(w);
            if (joined && e->state == VG_SNAPSHOT_MADE) c->cached++;
            answer(w, e, ctx);
        }
    }
}
