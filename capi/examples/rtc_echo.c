/*
 * An echo server in run-to-completion style: no thread of its own, the
 * stack's loop calls it once per iteration (stack_run), and it never
 * waits: epoll with a zero timeout, non-blocking reads and writes.
 *
 *   rtc_echo CONFIG PORT SECONDS
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stack.h"

struct server {
    int port, listener, ep;
    double end;
    long conns, bytes;
    /* Bytes read and not yet written back, per descriptor (small test). */
    char pending[1024][4096];
    int pending_len[1024];
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int iteration(void *user) {
    struct server *s = user;
    if (s->listener < 0) {
        s->listener = stack_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->port)};
        if (stack_bind(s->listener, (struct sockaddr *)&a, sizeof a) != 0 ||
            stack_listen(s->listener, 128) != 0) {
            perror("listen");
            return 1;
        }
        s->ep = stack_epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->listener};
        stack_epoll_ctl(s->ep, EPOLL_CTL_ADD, s->listener, &ev);
        printf("rtc_echo: listening on port %d\n", s->port);
        fflush(stdout);
    }
    struct epoll_event evs[64];
    int n = stack_epoll_wait(s->ep, evs, 64, 0);
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == s->listener) {
            int c;
            while ((c = stack_accept4(s->listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                if (c >= 1024) {
                    stack_close(c);
                    continue;
                }
                s->pending_len[c] = 0;
                struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT, .data.fd = c};
                stack_epoll_ctl(s->ep, EPOLL_CTL_ADD, c, &cev);
                s->conns++;
            }
            continue;
        }
        /* Write back what waits, then read more if there is room. */
        int len = s->pending_len[fd];
        if (len > 0) {
            ssize_t w = stack_write(fd, s->pending[fd], len);
            if (w > 0) {
                memmove(s->pending[fd], s->pending[fd] + w, len - w);
                s->pending_len[fd] = len - w;
                s->bytes += w;
            }
        }
        if (s->pending_len[fd] == 0) {
            ssize_t got = stack_read(fd, s->pending[fd], sizeof s->pending[fd]);
            if (got > 0) {
                s->pending_len[fd] = got;
            } else if (got == 0 || errno != EAGAIN) {
                stack_epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
                stack_close(fd);
            }
        }
    }
    return now() > s->end;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CONFIG PORT SECONDS\n", argv[0]);
        return 2;
    }
    static struct server s;
    s.port = atoi(argv[2]);
    s.listener = -1;
    s.end = now() + atof(argv[3]);
    if (stack_run(argv[1], iteration, &s) != 0) {
        perror("stack_run");
        return 1;
    }
    printf("{\"rtc_echo\": {\"connections\": %ld, \"bytes\": %ld}}\n", s.conns, s.bytes);
    return 0;
}
