/* lease.c -- the lease thread (see lease.h). */
#include "cluster/lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster_internal.h"
#include "common/log.h"

/* How long one key-value call may wait for JetStream: well under a round. */
#define KV_WAIT_MS 1000
/* A node's first claims wait this long after it connects: the others'
 * heartbeats (every second) say who is alive by then. */
#define CLAIM_AFTER_MS 1500

static char *lease_value(vg_lease_thread *t, uint64_t epoch, const char *info) {
    vg_cluster *c = t->cluster;
    json_t *v = json_pack("{s:s, s:I}", "node", c->node_id, "epoch", (json_int_t)epoch);
    if (!v) return NULL;
    if (c->advertise_url) json_object_set_new(v, "url", json_string(c->advertise_url));
    json_t *i = info ? json_loads(info, 0, NULL) : NULL;
    if (i) json_object_set_new(v, "info", i);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return text;
}

/* Opens (or creates) the bucket; false while JetStream cannot be reached. */
static bool open_bucket(vg_lease_thread *t) {
    if (t->kv) return true;
    vg_cluster *c = t->cluster;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = KV_WAIT_MS;
    jsCtx *js = NULL;
    if (natsConnection_JetStream(&js, atomic_load(&c->nc), &jo) != NATS_OK) return false;
    kvStore *kv = NULL;
    natsStatus st = js_KeyValue(&kv, js, t->bucket);
    if (st != NATS_OK) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = t->bucket;
        kc.Description = "vigil: which node ingests each stream and controls each device";
        kc.History = 1;
        kc.TTL = (int64_t)t->lease_ms * 1000000; /* nanoseconds */
        kc.Replicas = t->replicas;
        st = js_CreateKeyValue(&kv, js, &kc);
        if (st != NATS_OK) st = js_KeyValue(&kv, js, t->bucket); /* another node made it */
    }
    if (st != NATS_OK) {
        static int64_t logged;
        int64_t now = (int64_t)time(NULL);
        if (now - logged >= 60) {
            vg_log(VG_LOG_WARN, "cluster: cannot open key-value bucket %s: %s", t->bucket,
                   natsStatus_GetText(st));
            logged = now;
        }
        atomic_fetch_add(&c->lease_errors, 1);
        jsCtx_Destroy(js);
        return false;
    }
    t->js = js;
    t->kv = kv;
    return true;
}

static void close_bucket(vg_lease_thread *t) {
    kvStore_Destroy(t->kv);
    jsCtx_Destroy(t->js);
    t->kv = NULL;
    t->js = NULL;
}

/* Reports key `k` as the bucket says it is, when that changed. */
static void report(vg_lease_thread *t, vg_lease_key *k) {
    vg_cluster *c = t->cluster;
    kvEntry *e = NULL;
    json_t *v = NULL;
    if (kvStore_Get(&e, t->kv, k->key) == NATS_OK && kvEntry_Operation(e) == kvOp_Put)
        v = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, NULL);
    kvEntry_Destroy(e);
    const char *holder = json_string_value(json_object_get(v, "node"));
    snprintf(k->last_holder, sizeof(k->last_holder), "%s", holder ? holder : "");
    uint64_t epoch = (uint64_t)json_integer_value(json_object_get(v, "epoch"));
    json_t *info = json_object_get(v, "info");
    bool mine = holder && !strcmp(holder, c->node_id) && k->held;
    char *info_text = info ? json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *url = (char *)json_string_value(json_object_get(v, "url"));
    size_t n = 64 + (holder ? strlen(holder) : 0) + (info_text ? strlen(info_text) : 0) +
               (url ? strlen(url) : 0);
    char *said = malloc(n);
    if (said)
        snprintf(said, n, "%s|%" PRIu64 "|%d|%s|%s", holder ? holder : "", epoch, mine,
                 info_text ? info_text : "", url ? url : "");
    free(info_text);
    if (said && k->reported && !strcmp(said, k->reported)) {
        free(said);
        json_decref(v);
        return;
    }
    free(k->reported);
    k->reported = said;
    vg_cluster_report *r = calloc(1, sizeof(*r));
    if (r) {
        r->type = VG_CLUSTER_LEASE;
        r->key = strdup(k->key);
        r->holder = holder ? strdup(holder) : NULL;
        r->epoch = holder ? epoch : 0;
        r->mine = mine;
        r->text = url ? strdup(url) : NULL;
        r->info = info ? json_incref(info) : NULL;
        vg_cluster_post(c, r, false);
    }
    json_decref(v);
}

/* A node's rank for a key (highest first): FNV-1a of node and key, mixed
 * (MurmurHash3's finaliser) so that ids differing in one character do not
 * rank in the same order for every key. */
static uint64_t rank(const char *node, const char *key) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = node; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Whether this node ranks first for key `k` among the nodes alive. */
static bool ranks_first(vg_lease_thread *t, const vg_lease_key *k) {
    uint64_t mine = rank(t->cluster->node_id, k->key);
    bool first = true;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; first && i < t->nalive; i++)
        if (rank(t->alive[i], k->key) > mine) first = false;
    pthread_mutex_unlock(&t->lock);
    return first;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One key's round: renew, claim, take or let go, as wanted. */
static void round_key(vg_lease_thread *t, vg_lease_key *k, int want, const char *info) {
    vg_cluster *c = t->cluster;
    natsStatus st = NATS_OK;
    uint64_t rev = 0;
    if (k->held && want == VG_LEASE_FOLLOW) {
        kvStore_Delete(t->kv, k->key);
        k->held = false;
    } else if (k->held) {
        char *v = lease_value(t, k->epoch, info);
        st = v ? kvStore_UpdateString(&rev, t->kv, k->key, v, k->rev) : NATS_NO_MEMORY;
        if (st == NATS_OK) {
            k->rev = rev;
        } else {
            /* Expired (a slow round) or taken: try to create it again with the
             * same epoch; if another node has it, we have lost it. */
            st = v ? kvStore_CreateString(&rev, t->kv, k->key, v) : NATS_NO_MEMORY;
            if (st == NATS_OK)
                k->rev = rev;
            else
                k->held = false;
        }
        free(v);
    } else if (want == VG_LEASE_CLAIM && now_ms() < t->claims_from_ms) {
        /* just connected: who else is alive is not known yet */
    } else if (want == VG_LEASE_CLAIM && !k->deferred && !k->last_holder[0] &&
               !ranks_first(t, k)) {
        k->deferred = true; /* its first-ranked node's turn; ours next round */
    } else if (want != VG_LEASE_FOLLOW) {
        k->deferred = false;
        /* The epoch is the revision this write gets, which is not known
         * before: write once to learn it, then again with it. */
        char *v = lease_value(t, 0, info);
        st = !v ? NATS_NO_MEMORY
             : want == VG_LEASE_TAKE ? kvStore_PutString(&rev, t->kv, k->key, v)
                                     : kvStore_CreateString(&rev, t->kv, k->key, v);
        free(v);
        if (st == NATS_OK) {
            k->epoch = rev;
            v = lease_value(t, k->epoch, info);
            uint64_t rev2 = 0;
            if (v && kvStore_UpdateString(&rev2, t->kv, k->key, v, rev) == NATS_OK) {
                k->held = true;
                k->rev = rev2;
            }
            free(v);
        }
    }
    if (st != NATS_OK && st != NATS_ERR && st != NATS_NOT_FOUND)
        atomic_fetch_add(&c->lease_errors, 1);
    report(t, k);
}

static void run_round(vg_lease_thread *t) {
    /* Snapshot what is wanted; the KV calls run without the lock. */
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (vg_lease_key **pp = &t->keys; *pp;) {
        vg_lease_key *k = *pp;
        if (k->forget) {
            *pp = k->next;
            if (k->held && t->kv) kvStore_Delete(t->kv, k->key);
            free(k->key);
            free(k->info);
            free(k->reported);
            free(k);
            continue;
        }
        n++;
        pp = &k->next;
    }
    vg_lease_key **keys = calloc(n ? n : 1, sizeof(*keys));
    int *wants = calloc(n ? n : 1, sizeof(*wants));
    char **infos = calloc(n ? n : 1, sizeof(*infos));
    size_t i = 0;
    for (vg_lease_key *k = t->keys; keys && wants && infos && k; k = k->next, i++) {
        keys[i] = k;
        wants[i] = k->want;
        infos[i] = k->info ? strdup(k->info) : NULL;
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t j = 0; keys && wants && infos && j < n; j++) {
        round_key(t, keys[j], wants[j], infos[j]);
        free(infos[j]);
    }
    free(keys);
    free(wants);
    free(infos);
}

/* Until the first connection: one try per round, each failure's reason
 * told to the service thread (which logs it when it changes, and once a
 * minute). libnats reconnects by itself after that. */
static void try_connect(vg_lease_thread *t) {
    vg_cluster *c = t->cluster;
    char why[256];
    if (atomic_load(&c->nc) || !vg_cluster_connect(c, why, sizeof(why))) return;
    vg_cluster_report *r = calloc(1, sizeof(*r));
    if (!r) return;
    r->type = VG_CLUSTER_LINK;
    r->connected = false;
    size_t n = strlen(why) + 48;
    r->text = malloc(n);
    if (r->text) snprintf(r->text, n, "cannot connect to NATS: %s", why);
    vg_cluster_post(c, r, false);
}

static void *lease_main(void *arg) {
    vg_lease_thread *t = arg;
    int64_t period_ms = t->lease_ms / 3;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        pthread_mutex_unlock(&t->lock);
        try_connect(t);
        if (atomic_load(&t->cluster->connected) && open_bucket(t)) {
            if (!t->claims_from_ms) t->claims_from_ms = now_ms() + CLAIM_AFTER_MS;
            run_round(t);
        }
        pthread_mutex_lock(&t->lock);
        if (t->stop) break;
        if (!t->kick) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += period_ms / 1000;
            until.tv_nsec += (period_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (!t->kick && !t->stop &&
                   pthread_cond_timedwait(&t->cond, &t->lock, &until) == 0) {
            }
        }
        t->kick = false;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int vg_lease_thread_start(vg_lease_thread *t, struct vg_cluster *c, const char *bucket,
                          int lease_ms, int replicas) {
    t->cluster = c;
    t->bucket = strdup(bucket);
    t->lease_ms = lease_ms;
    t->replicas = replicas;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (!t->bucket || pthread_create(&t->thread, NULL, lease_main, t)) return -1;
    t->started = true;
    return 0;
}

void vg_lease_thread_stop(vg_lease_thread *t) {
    if (!t->cluster) return;
    if (t->started) {
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        t->started = false;
    }
    /* Let go of what we hold, so others need not wait for the expiry. */
    bool up = atomic_load(&t->cluster->connected) && t->kv;
    for (vg_lease_key *k = t->keys, *next; k; k = next) {
        next = k->next;
        if (up && k->held) kvStore_Delete(t->kv, k->key);
        free(k->key);
        free(k->info);
        free(k->reported);
        free(k);
    }
    t->keys = NULL;
    for (size_t i = 0; i < t->nalive; i++)
        free(t->alive[i]);
    free(t->alive);
    t->alive = NULL;
    t->nalive = 0;
    close_bucket(t);
    free(t->bucket);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    t->cluster = NULL;
}

static vg_lease_key *find_locked(vg_lease_thread *t, const char *key) {
    for (vg_lease_key *k = t->keys; k; k = k->next)
        if (!k->forget && !strcmp(k->key, key)) return k;
    return NULL;
}

void vg_lease_set(vg_lease_thread *t, const char *key, int want, const json_t *info) {
    char *text = info ? json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    pthread_mutex_lock(&t->lock);
    vg_lease_key *k = find_locked(t, key);
    bool is_new = false;
    if (!k && (k = calloc(1, sizeof(*k)))) {
        if ((k->key = strdup(key))) {
            k->next = t->keys;
            t->keys = k;
            is_new = true;
        } else {
            free(k);
            k = NULL;
        }
    }
    if (k) {
        /* A new key, a take, a let-go or news of a held one is worth a
         * round now. */
        bool news = text && (!k->info || strcmp(text, k->info));
        if (is_new || (want != k->want && want != VG_LEASE_CLAIM) || news) {
            t->kick = true;
            pthread_cond_signal(&t->cond);
        }
        k->want = want;
        free(k->info);
        k->info = text;
        text = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    free(text);
}

void vg_lease_set_alive(vg_lease_thread *t, const char *const *nodes, size_t n) {
    char **copy = calloc(n ? n : 1, sizeof(*copy));
    if (!copy) return;
    for (size_t i = 0; i < n; i++)
        copy[i] = strdup(nodes[i]);
    pthread_mutex_lock(&t->lock);
    char **old = t->alive;
    size_t nold = t->nalive;
    t->alive = copy;
    t->nalive = n;
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < nold; i++)
        free(old[i]);
    free(old);
}

void vg_lease_refresh(vg_lease_thread *t) {
    pthread_mutex_lock(&t->lock);
    t->kick = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

void vg_lease_forget(vg_lease_thread *t, const char *key) {
    pthread_mutex_lock(&t->lock);
    vg_lease_key *k = find_locked(t, key);
    if (k) {
        k->forget = true;
        t->kick = true;
        pthread_cond_signal(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
}
