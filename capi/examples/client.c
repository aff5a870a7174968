/*
 * A blocking client over the stack: connects, sends COUNT lines, reads
 * each echo back and checks it, half-closes, reads to the end.
 *
 *   client CONFIG ADDRESS PORT [COUNT]
 *
 * Prints one JSON line; exits 0 only if every echo matched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CONFIG ADDRESS PORT [COUNT]\n", argv[0]);
        return 2;
    }
    int count = argc > 4 ? atoi(argv[4]) : 100;
    if (stack_start(argv[1]) != 0) {
        perror("stack_start");
        return 1;
    }
    int s = stack_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    /* The peer may need a moment (ARP, its listener): retry briefly. */
    int tries = 0;
    while (stack_connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        if ((errno != ECONNREFUSED && errno != ETIMEDOUT) || ++tries > 20) {
            perror("connect");
            return 1;
        }
        stack_close(s);
        s = stack_socket(AF_INET, SOCK_STREAM, 0);
    }
    int ok = 0;
    char line[128], back[128];
    for (int i = 0; i < count; i++) {
        int len = snprintf(line, sizeof line, "line %d of the C client\n", i);
        if (stack_write(s, line, len) != len) {
            perror("write");
            break;
        }
        int got = 0;
        while (got < len) {
            ssize_t n = stack_read(s, back + got, len - got);
            if (n <= 0) {
                break;
            }
            got += n;
        }
        ok += got == len && memcmp(line, back, len) == 0;
    }
    stack_shutdown(s, SHUT_WR);
    char rest[64];
    ssize_t tail = stack_read(s, rest, sizeof rest);
    int error = 0;
    socklen_t elen = sizeof error;
    stack_getsockopt(s, SOL_SOCKET, SO_ERROR, &error, &elen);
    stack_close(s);
    printf("{\"client\": {\"lines\": %d, \"echoed\": %d, \"tail\": %zd, \"so_error\": %d}}\n", count, ok,
           tail, error);
    fflush(stdout);
    stack_stop();
    return ok == count && tail == 0 ? 0 : 1;
}
