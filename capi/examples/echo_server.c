/*
 * An epoll echo server over the stack: non-blocking sockets, one epoll
 * instance, every connection's bytes written back as they come.
 *
 *   echo_server CONFIG PORT [SECONDS]
 *
 * CONFIG is a runtime configuration (as stackd takes); the server stops
 * after SECONDS (default 30) and prints how many connections and bytes it
 * served.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stack.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CONFIG PORT [SECONDS]\n", argv[0]);
        return 2;
    }
    double seconds = argc > 3 ? atof(argv[3]) : 30;
    if (stack_start(argv[1]) != 0) {
        perror("stack_start");
        return 1;
    }
    int l = stack_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (l < 0 || stack_bind(l, (struct sockaddr *)&a, sizeof a) != 0 || stack_listen(l, 128) != 0) {
        perror("listen");
        return 1;
    }
    int ep = stack_epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    stack_epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    printf("echo_server: listening on port %s\n", argv[2]);
    fflush(stdout);

    long conns = 0, bytes = 0;
    char buf[16384];
    double end = now() + seconds;
    while (now() < end) {
        struct epoll_event evs[64];
        int n = stack_epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int c;
                while ((c = stack_accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    stack_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    stack_epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    conns++;
                }
                if (errno != EAGAIN) {
                    perror("accept");
                }
                continue;
            }
            for (;;) {
                ssize_t got = stack_read(fd, buf, sizeof buf);
                if (got > 0) {
                    /* A blocking-style loop over a non-blocking socket:
                     * wait for room with epoll if the send buffer fills. */
                    ssize_t off = 0;
                    while (off < got) {
                        ssize_t w = stack_write(fd, buf + off, got - off);
                        if (w > 0) {
                            off += w;
                        } else if (errno == EAGAIN) {
                            struct epoll_event wev = {.events = EPOLLOUT, .data.fd = fd};
                            int wep = stack_epoll_create1(0);
                            stack_epoll_ctl(wep, EPOLL_CTL_ADD, fd, &wev);
                            stack_epoll_wait(wep, &wev, 1, 1000);
                            stack_close(wep);
                        } else {
                            break;
                        }
                    }
                    bytes += got;
                    continue;
                }
                if (got == 0 || errno != EAGAIN) {
                    /* End of stream or an error: done with it. */
                    stack_epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    stack_close(fd);
                }
                break;
            }
        }
    }
    printf("{\"echo_server\": {\"connections\": %ld, \"bytes\": %ld}}\n", conns, bytes);
    fflush(stdout);
    stack_stop();
    return 0;
}
