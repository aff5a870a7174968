/*
 * A plain POSIX client: connects, sends COUNT lines and checks each echo
 * (waiting with poll), half-closes, reads to the end. Nothing here knows
 * about the stack.
 *
 *   posix_client ADDRESS PORT COUNT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s ADDRESS PORT COUNT\n", argv[0]);
        return 2;
    }
    int count = atoi(argv[3]);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int s = -1;
    for (int tries = 0; tries < 20; tries++) {
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            break;
        }
        perror("connect");
        close(s);
        s = -1;
        usleep(200000);
    }
    if (s < 0) {
        return 1;
    }
    int ok = 0;
    char line[128], back[128];
    for (int i = 0; i < count; i++) {
        int len = snprintf(line, sizeof line, "line %d of the POSIX client\n", i);
        if (send(s, line, len, 0) != len) {
            perror("send");
            break;
        }
        int got = 0;
        while (got < len) {
            struct pollfd p = {.fd = s, .events = POLLIN};
            if (poll(&p, 1, 5000) != 1) {
                break;
            }
            ssize_t n = recv(s, back + got, len - got, 0);
            if (n <= 0) {
                break;
            }
            got += n;
        }
        ok += got == len && memcmp(line, back, len) == 0;
    }
    shutdown(s, SHUT_WR);
    char rest[64];
    ssize_t tail = read(s, rest, sizeof rest);
    close(s);
    printf("{\"posix_client\": {\"lines\": %d, \"echoed\": %d, \"tail\": %zd}}\n", count, ok, tail);
    fflush(stdout);
    return ok == count && tail == 0 ? 0 : 1;
}
