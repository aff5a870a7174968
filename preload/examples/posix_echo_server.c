/*
 * A plain POSIX epoll echo server: nothing here knows about the stack.
 * Run it under LD_PRELOAD=libstackpreload.so with STACK_CONFIG set, and
 * bound to the stack's address it serves over the stack.
 *
 *   posix_echo_server ADDRESS PORT SECONDS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s ADDRESS PORT SECONDS\n", argv[0]);
        return 2;
    }
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 128) != 0) {
        perror("bind/listen");
        return 1;
    }
    fcntl(l, F_SETFL, fcntl(l, F_GETFL, 0) | O_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    /* A kernel descriptor in the same set: standard input (never ready
     * here, as it is /dev/null or a pipe kept open). */
    printf("posix_echo_server: listening on %s:%s\n", argv[1], argv[2]);
    fflush(stdout);
    long conns = 0, bytes = 0;
    char buf[16384];
    double end = now() + atof(argv[3]);
    while (now() < end) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int c;
                while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    conns++;
                }
                continue;
            }
            for (;;) {
                ssize_t got = read(fd, buf, sizeof buf);
                if (got > 0) {
                    ssize_t off = 0;
                    while (off < got) {
                        ssize_t w = write(fd, buf + off, got - off);
                        if (w > 0) {
                            off += w;
                        } else if (errno == EAGAIN) {
                            struct pollfd p = {.fd = fd, .events = POLLOUT};
                            poll(&p, 1, 1000);
                        } else {
                            break;
                        }
                    }
                    bytes += got;
                    continue;
                }
                if (got == 0 || errno != EAGAIN) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    close(fd);
                }
                break;
            }
        }
    }
    printf("{\"posix_echo_server\": {\"connections\": %ld, \"bytes\": %ld}}\n", conns, bytes);
    return 0;
}
