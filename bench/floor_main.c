/* floor_main.c -- vigil-floor: the cost of fan-out on this machine.
 *
 *   vigil-floor --clip FILE.fmp4 [--port P] [--bind 127.0.0.1] [--fps 30]
 *               [--streams K] [--tls-cert FILE --tls-key FILE [--ktls]]
 *
 * Plays a fragmented MP4 file (bench/make_clip.sh makes it from the bench
 * clip) at real time and sends every fragment to every subscribed WebSocket
 * client, speaking just enough vigil.v1 for the load client to measure it
 * exactly as it measures vigil: the upgrade, a subscribe reply, the init
 * segment and the current GOP on subscribe, then each fragment with the
 * 16-byte header. Each frame's headers are built once; each client gets one
 * writev per frame (floor_client.c). One thread, epoll, a timerfd, no
 * library beyond libc (and OpenSSL's SHA-1 for the upgrade). With
 * --streams K it serves streams s0..s<K-1>, all replaying the clip in step,
 * each with its own frames and GOP. With --tls-cert and --tls-key it serves
 * wss instead (bench/floor_tls.h): the same fan-out, each frame built in one
 * piece once and written with SSL_write; --ktls asks OpenSSL for kernel TLS
 * and the floor says on stderr whether the kernel took the sending. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench/floor_client.h"
#include "bench/floor_tls.h"
#include "bench/fmp4_file.h"

typedef struct floor {
    int epfd, listen_fd, timer_fd;
    SSL_CTX *tls; /* NULL: plain ws */
    fmp4_clip clip;
    floor_stream *streams; /* all replay the same clip in step */
    size_t nstreams, gop_cap;
    floor_frame **frames; /* this tick's frame of each stream */
    uint64_t ticks;
    floor_client **clients;
    size_t nclients, cap;
    floor_client *dead; /* dropped, freed once no event of this batch can name them */
} floor_t;

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void drop_client(floor_t *fl, floor_client *c) {
    size_t i = c->slot;
    fl->clients[i] = fl->clients[--fl->nclients];
    fl->clients[i]->slot = i;
    close(c->fd);
    c->fd = -1;
    c->dead = fl->dead;
    fl->dead = c;
}

static void free_dead(floor_t *fl) {
    while (fl->dead) {
        floor_client *c = fl->dead;
        fl->dead = c->dead;
        floor_client_free(c);
    }
}

static void accept_all(floor_t *fl) {
    for (;;) {
        int fd = accept4(fl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (fl->nclients == fl->cap) {
            size_t cap = fl->cap ? fl->cap * 2 : 1024;
            floor_client **n = realloc(fl->clients, cap * sizeof(*n));
            if (!n) {
                close(fd);
                return;
            }
            fl->clients = n;
            fl->cap = cap;
        }
        floor_client *c = calloc(1, sizeof(*c));
        if (!c || (fl->tls && !(c->tls = floor_tls_accept(fl->tls, fd)))) {
            free(c);
            close(fd);
            return;
        }
        /* Every writev is a whole message: do not hold its tail back (Nagle). */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        c->slot = fl->nclients;
        fl->clients[fl->nclients++] = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(fl->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Starts a new GOP at a keyframe; keeps the frames since. */
static void gop_add(floor_t *fl, floor_stream *st, floor_frame *f) {
    if (f->key) {
        for (size_t g = 0; g < st->gop_len; g++)
            floor_frame_unref(st->gop[g]);
        st->gop_len = 0;
    }
    if (st->gop_len < fl->gop_cap) st->gop[st->gop_len++] = floor_frame_ref(f);
}

/* One frame period: the next fragment, stamped now, to every client. Every
 * stream sends the same fragment bytes (with its own frame and headers). */
static void tick(floor_t *fl) {
    size_t i = fl->ticks % fl->clip.nfrags;
    fmp4_fragment *fr = &fl->clip.frags[i];
    /* The clip's memory is rewritten only here, one loop after it was last
     * sent: no backlog (FLOOR_BACKLOG frames) can still hold it. */
    fmp4_set_sequence(fr, (uint32_t)(fl->ticks + 1));
    fl->ticks++;
    int64_t now = now_us();
    for (size_t k = 0; k < fl->nstreams; k++) {
        fl->frames[k] = floor_frame_media(2, fr->key, now, fr->data, fr->len, fl->tls != NULL);
        if (!fl->frames[k]) return;
        gop_add(fl, &fl->streams[k], fl->frames[k]);
    }
    for (size_t k = 0; k < fl->nclients;) {
        floor_client *c = fl->clients[k];
        if (!floor_client_send(c, fl->epfd, fl->frames[c->stream]))
            drop_client(fl, c); /* the last client moved into slot k */
        else
            k++;
    }
    for (size_t k = 0; k < fl->nstreams; k++)
        floor_frame_unref(fl->frames[k]);
}

static int listen_on(const char *bind_addr, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || inet_pton(AF_INET, bind_addr, &a.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
        perror("vigil-floor: listen");
        return -1;
    }
    return fd;
}

int main(int argc, char **argv) {
    const char *clip = NULL, *bind_addr = "127.0.0.1", *tls_cert = NULL, *tls_key = NULL;
    bool ktls = false;
    int port = 8090;
    double fps = 30;
    long nstreams = 1;
    static const struct option longopts[] = {
        {"clip", 1, 0, 'c'},    {"port", 1, 0, 'p'},    {"bind", 1, 0, 'b'},
        {"fps", 1, 0, 'f'},     {"streams", 1, 0, 's'}, {"tls-cert", 1, 0, 'C'},
        {"tls-key", 1, 0, 'K'}, {"ktls", 0, 0, 'k'},    {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': clip = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'b': bind_addr = optarg; break;
        case 'f': fps = atof(optarg); break;
        case 's': nstreams = atol(optarg); break;
        case 'C': tls_cert = optarg; break;
        case 'K': tls_key = optarg; break;
        case 'k': ktls = true; break;
        default:
            clip = NULL;
            optind = argc;
            break;
        }
    }
    if (!clip || fps <= 0 || nstreams < 1 || nstreams > 10000 || !tls_cert != !tls_key ||
        (ktls && !tls_cert)) {
        fprintf(stderr,
                "usage: vigil-floor --clip FILE.fmp4 [--port P] [--bind ADDR] [--fps F]\n"
                "                   [--streams K] [--tls-cert FILE --tls-key FILE [--ktls]]\n");
        return 2;
    }
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    floor_t fl = {0};
    if (tls_cert && !(fl.tls = floor_tls_context(tls_cert, tls_key, ktls))) return 1;
    char err[256];
    if (fmp4_clip_load(&fl.clip, clip, err, sizeof(err))) {
        fprintf(stderr, "vigil-floor: %s\n", err);
        return 1;
    }
    if (fl.clip.nfrags <= FLOOR_BACKLOG) {
        fprintf(stderr, "vigil-floor: the clip needs more than %d fragments\n", FLOOR_BACKLOG);
        return 1;
    }
    fl.gop_cap = fl.clip.nfrags;
    fl.nstreams = (size_t)nstreams;
    fl.streams = calloc(fl.nstreams, sizeof(*fl.streams));
    fl.frames = calloc(fl.nstreams, sizeof(*fl.frames));
    if (!fl.streams || !fl.frames) return 1;
    for (size_t k = 0; k < fl.nstreams; k++) {
        fl.streams[k].gop = calloc(fl.gop_cap, sizeof(*fl.streams[k].gop));
        fl.streams[k].init =
            floor_frame_media(1, false, now_us(), fl.clip.init, fl.clip.init_len, fl.tls != NULL);
        if (!fl.streams[k].gop || !fl.streams[k].init) return 1;
    }
    fl.listen_fd = listen_on(bind_addr, port);
    fl.epfd = epoll_create1(EPOLL_CLOEXEC);
    fl.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fl.listen_fd < 0 || fl.epfd < 0 || fl.timer_fd < 0) return 1;
    long period_ns = (long)(1e9 / fps);
    struct itimerspec its = {.it_interval = {period_ns / 1000000000, period_ns % 1000000000},
                             .it_value = {0, 1}};
    timerfd_settime(fl.timer_fd, 0, &its, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &fl.listen_fd};
    epoll_ctl(fl.epfd, EPOLL_CTL_ADD, fl.listen_fd, &ev);
    ev.data.ptr = &fl.timer_fd;
    epoll_ctl(fl.epfd, EPOLL_CTL_ADD, fl.timer_fd, &ev);
    fprintf(stderr, "vigil-floor: %zu stream(s) of %zu fragments at %.2f fps on %s:%d%s\n",
            fl.nstreams, fl.clip.nfrags, fps, bind_addr, port,
            !fl.tls ? ""
            : ktls  ? ", wss (ktls asked)"
                    : ", wss");

    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(fl.epfd, evs, 256, 1000);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &fl.listen_fd) {
                accept_all(&fl);
            } else if (p == &fl.timer_fd) {
                uint64_t due = 0;
                if (read(fl.timer_fd, &due, sizeof(due)) == sizeof(due))
                    while (due--)
                        tick(&fl);
            } else {
                floor_client *c = p;
                if (c->fd < 0) continue; /* dropped earlier in this batch */
                bool ok = true;
                if (evs[i].events & EPOLLOUT) ok = floor_client_on_writable(c, fl.epfd);
                if (ok &&
                    (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) || floor_client_wants_read(c)))
                    ok = floor_client_on_readable(c, fl.epfd, fl.streams, fl.nstreams);
                if (!ok) drop_client(&fl, c);
            }
        }
        free_dead(&fl);
    }
    while (fl.nclients)
        drop_client(&fl, fl.clients[0]);
    free_dead(&fl);
    for (size_t k = 0; k < fl.nstreams; k++) {
        for (size_t g = 0; g < fl.streams[k].gop_len; g++)
            floor_frame_unref(fl.streams[k].gop[g]);
        floor_frame_unref(fl.streams[k].init);
        free(fl.streams[k].gop);
    }
    free(fl.streams);
    free(fl.frames);
    free(fl.clients);
    fmp4_clip_free(&fl.clip);
    SSL_CTX_free(fl.tls);
    return 0;
}
