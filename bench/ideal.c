/* ideal SOCKET UPSTREAM: the least any daemon could cost `who` at a small
 * table, as a control for scripts/bench. One process, no fork, no file,
 * no lock, no admission: it asks the real daemon at UPSTREAM once for the
 * table as the shim does (a bulk read `R` from record 0, 128 at most),
 * keeps the reply, then listens on SOCKET and SOCKET.priv (the shim tries
 * the privileged twin first) and answers every `R` from memory. Prints
 * "ready" once it listens; runs until killed. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REQUEST 11 /* 'R', start (8 bytes), max (2 bytes), big-endian */
#define MAXCLIENTS 64

static const unsigned char request[REQUEST] = {'R', 0, 0, 0, 0, 0, 0, 0, 0, 0, 128};
static unsigned char reply[1 << 20];
static size_t reply_len;

static struct sockaddr_un address(const char *path, const char *suffix)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s%s", path, suffix);
    return a;
}

/* The real daemon's reply to the shim's first read: whatever it sends
 * until it has been quiet for 200 ms. */
static void learn(const char *upstream)
{
    struct sockaddr_un a = address(upstream, "");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) || write(fd, request, REQUEST) != REQUEST) {
        perror("ideal: upstream");
        exit(1);
    }
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 200) == 1) {
        ssize_t k = read(fd, reply + reply_len, sizeof reply - reply_len);
        if (k <= 0)
            break;
        reply_len += k;
    }
    close(fd);
    if (reply_len == 0 || reply[0] != 0) {
        fprintf(stderr, "ideal: no reply from upstream\n");
        exit(1);
    }
}

static int listener(const char *path, const char *suffix)
{
    struct sockaddr_un a = address(path, suffix);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(a.sun_path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 128)) {
        perror("ideal: listen");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ideal SOCKET UPSTREAM\n");
        return 2;
    }
    learn(argv[2]);
    struct pollfd p[2 + MAXCLIENTS];
    int n = 2;
    p[0] = (struct pollfd){listener(argv[1], ".priv"), POLLIN, 0};
    p[1] = (struct pollfd){listener(argv[1], ""), POLLIN, 0};
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        if (poll(p, n, -1) < 0)
            continue;
        for (int i = 0; i < 2; i++)
            if ((p[i].revents & POLLIN) && n < 2 + MAXCLIENTS) {
                int c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
                if (c >= 0)
                    p[n++] = (struct pollfd){c, POLLIN, 0};
            }
        for (int i = 2; i < n; i++) {
            if (!p[i].revents)
                continue;
            unsigned char req[REQUEST];
            ssize_t k = recv(p[i].fd, req, sizeof req, MSG_WAITALL);
            if (k == REQUEST && !memcmp(req, request, REQUEST)
                && send(p[i].fd, reply, reply_len, MSG_NOSIGNAL) == (ssize_t)reply_len)
                continue;
            /* The client closed, or asked for something else. */
            close(p[i].fd);
            p[i--] = p[--n];
        }
    }
}
