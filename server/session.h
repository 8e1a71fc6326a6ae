/* session.h -- one WebSocket client of the vigil.v1 protocol.
 *
 * A session holds what the client has asked for (its subscriptions, each a
 * viewer of one relay of one stream), what is waiting to be written to it (a bounded
 * queue of text messages, plus each viewer's frame queue), and the text
 * message being reassembled. Per writable callback it writes text first, one
 * message (replies and events are small and time-sensitive), then media
 * round-robin across its channels so one busy channel cannot starve
 * another: a batch of frames straight to the socket while lws holds nothing
 * for it (server/media_write.h), else one frame through lws.
 *
 * Thread: every field is owned by the lws service thread; no lock. The
 * struct itself is lws's per-session data for the vigil.v1 protocol. */
#ifndef VIGIL_SERVER_SESSION_H
#define VIGIL_SERVER_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/stream.h"
#include "server/access.h"
#include "server/rate_limit.h"

typedef struct vg_server vg_server;
typedef struct vg_session vg_session;
typedef struct vg_publisher vg_publisher;

/* A text message waiting to be sent, with LWS_PRE headroom. */
typedef struct vg_outmsg {
    struct vg_outmsg *next;
    char *command_id; /* a command for an agent (malloc'd): reported delivered
                         once written (control/agent.h), else NULL */
    size_t len;
    unsigned char buf[];
} vg_outmsg;

/* One subscription: the session's viewer of one relay (media/relay.h). The
 * relay's hooks get the embedded viewer back; vg_subscription_of() finds the
 * subscription, and so the session, from it. */
typedef struct vg_subscription {
    vg_viewer viewer;
    vg_session *session;
    vg_stream *stream;
    vg_mode mode;
} vg_subscription;

static inline vg_subscription *vg_subscription_of(vg_viewer *v) {
    return (vg_subscription *)((char *)v - offsetof(vg_subscription, viewer));
}

#define VG_SESSION_MAX_OUT_MSGS  256
#define VG_SESSION_MAX_OUT_BYTES (1024 * 1024)

struct vg_session {
    struct lws *wsi;
    vg_server *server;
    vg_session *prev, *next; /* the server's session list */
    /* queued for a write in this turn of the loop (server/ready_list.h) */
    vg_session *ready_next;
    bool ready_queued;
    /* outgoing text */
    vg_outmsg *out_head, *out_tail;
    uint32_t out_count;
    size_t out_bytes;
    /* incoming text split over several frames or reads, being reassembled:
     * grown as needed up to limits.max_text_bytes, freed once handled */
    char *rx;
    size_t rx_len, rx_cap;
    /* subscriptions */
    vg_subscription **subs;
    uint32_t nsubs, subs_cap, max_subs;
    uint32_t rr; /* round-robin cursor over subs */
    /* the stream this client publishes, or NULL (server/publisher.h) */
    vg_publisher *pub;
    /* who the client is: role VG_ROLE_NONE until a valid hello (or a valid
     * access_token on the upgrade); closed if no hello by hello_deadline_us */
    vg_access access;
    int64_t hello_deadline_us;
    char peer[48]; /* the client's IP address */
    /* abuse limits: messages and commands per second; rejected messages in
     * the current one-second window (too many: closed with 1008) */
    vg_rate_limit msg_rate, cmd_rate;
    int64_t flood_window_us;
    uint32_t flood_rejected;
    /* device control: this client sent "devices" and gets the events of the
     * devices it may see; `serial` names the session as the owner of its
     * commands */
    bool watch_devices;
    uint64_t serial;
    /* the devices this connection serves as their agent ("serve"): array of
     * device ids (own ref), NULL when none */
    json_t *serves;
    /* counters */
    uint64_t messages_in, errors;
    /* closing: queued text goes out first (unless drop_text: the client did
     * not read it), then a close frame with this code; close_sent: it went
     * out, and the connection waits for the peer's close frame */
    bool closing, drop_text, close_sent;
    uint16_t close_code;
    const char *close_reason; /* a string literal (vg_session_close) */
};

/* Sets up a session for a new connection; -1 on OOM. */
int vg_session_init(vg_session *s, vg_server *server, struct lws *wsi, uint32_t max_subs);
/* Drops subscriptions and queued messages. The struct itself belongs to lws. */
void vg_session_destroy(vg_session *s);

/* Queues a JSON message; takes responsibility over msg (one reference).
 * Overflowing the queue closes the session with 1008. Returns 0 or -1. */
int vg_session_send_json(vg_session *s, json_t *msg);
/* Queues a text message already serialised (copied; the caller keeps text),
 * for events serialised once and sent to many sessions. Same limits. */
int vg_session_send_text(vg_session *s, const char *text, size_t len);
/* Queues a command for the agent on this connection (msg borrowed); once it
 * is written to the socket the server reports command_id delivered. Same
 * limits. */
int vg_session_send_command(vg_session *s, const json_t *msg, const char *command_id);

/* Starts closing with a close frame; if the peer does not let us write it
 * within a few seconds, or does not answer it with its own, the connection
 * is dropped. `reason` must be a string literal (it is kept, not copied). */
void vg_session_close(vg_session *s, uint16_t code, const char *reason);

/* What vg_session_subscribe did. */
typedef enum vg_subscribe_result {
    VG_SUBSCRIBED,            /* *out is the new subscription */
    VG_SUBSCRIBE_ALREADY,     /* this session already watches the stream */
    VG_SUBSCRIBE_TOO_MANY,    /* it has max_subs subscriptions */
    VG_SUBSCRIBE_NO_MEMORY,
} vg_subscribe_result;

/* Subscription management. subscribe attaches a new viewer to the stream's
 * relay for delivery `mode`; its init segment (or decoder configuration) and
 * GOP cache are queued at once. */
vg_subscribe_result vg_session_subscribe(vg_session *s, vg_stream *stream, vg_mode mode,
                                         vg_subscription **out);
vg_subscription *vg_session_find_channel(vg_session *s, uint32_t channel);
int vg_session_unsubscribe(vg_session *s, uint32_t channel);

/* The client asked to write: one message. Returns -1 when the connection must close. */
int vg_session_on_writable(vg_session *s);
/* Outside lws's callbacks, right after a viewer's queue filled (the server's
 * write_ready): writes media straight to the socket when only media waits and
 * lws holds nothing, and asks for POLLOUT when some is left. 1: done so; 0:
 * it did not apply, go through lws; -1: the connection is broken. */
int vg_session_write_direct(vg_session *s);

/* Takes one piece of an incoming text message. When the message is complete
 * it is handed to signaling/ (straight from `in` when it came in one piece, so
 * the common case copies nothing). Returns 0, or -1 when the message is larger
 * than max_text_bytes (the caller closes with 1009). */
int vg_session_on_text(vg_session *s, const void *in, size_t len, bool final,
                       uint32_t max_text_bytes);

/* Asks lws for a writable callback if anything is waiting. */
void vg_session_want_write(vg_session *s);

#endif
