/* silent_host.c -- two ways a server host can say nothing, on 127.0.0.1,
 * for tests of clients that must not hang on them.
 *
 *   silent_host accept   accepts TCP connections, reads and discards what
 *                        comes, never writes (a port that answers the TCP
 *                        handshake and then nothing).
 *   silent_host drop     never completes a TCP handshake: a listen queue of
 *                        one, filled by our own connection, so the kernel
 *                        drops every further SYN, as a host behind a
 *                        firewall that drops packets does.
 *
 * Prints the port on stdout, then runs until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_loopback(int backlog, unsigned short *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("silent_host: listen");
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Fills the accept queue (backlog 0 holds one connection) and keeps it full. */
static int run_drop(void) {
    unsigned short port;
    int lfd = listen_loopback(0, &port);
    if (lfd < 0) return 1;
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("silent_host: fill the queue");
        return 1;
    }
    printf("%u\n", port);
    fflush(stdout);
    for (;;)
        pause();
}

static int run_accept(void) {
    unsigned short port;
    int lfd = listen_loopback(16, &port);
    if (lfd < 0) return 1;
    printf("%u\n", port);
    fflush(stdout);
    struct pollfd fds[64] = {{.fd = lfd, .events = POLLIN}};
    nfds_t n = 1;
    for (;;) {
        if (poll(fds, n, -1) < 0) continue;
        if ((fds[0].revents & POLLIN) && n < 64) {
            int c = accept(lfd, NULL, NULL);
            if (c >= 0) fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
        }
        for (nfds_t i = 1; i < n; i++) {
            if (!fds[i].revents) continue;
            char buf[512];
            if (read(fds[i].fd, buf, sizeof buf) <= 0) { /* gone: forget it */
                close(fds[i].fd);
                fds[i--] = fds[--n];
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "drop") == 0) return run_drop();
    if (argc == 2 && strcmp(argv[1], "accept") == 0) return run_accept();
    fprintf(stderr, "usage: silent_host accept|drop\n");
    return 2;
}
