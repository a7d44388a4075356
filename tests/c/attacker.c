/* attacker: what an ordinary user can do to the daemons' sockets, for the
 * tests (built with gcc, run without the shim, as a test user).
 *
 *   attacker hold SOCKET N          open N connections and keep them; prints
 *                                   "held K" (K connected), then waits to be killed
 *   attacker churn SOCKET SECONDS   non-blocking connect + close as fast as it can;
 *                                   prints "churned K"
 *   attacker keepalive SOCKET MS N  one connection, a `V` request every MS ms, N times;
 *                                   prints "served K" (answers before the daemon hung up)
 *   attacker fds SOCKET N           one wtmpd connection, N `A` requests each with
 *                                   a descriptor attached; prints "sent K", then
 *                                   waits for a line on stdin before it exits
 *   attacker handover SOCKET FILE FLAGS
 *                                   one wtmpd `A` request with FILE (opened with
 *                                   open(2) FLAGS, a number) attached; prints the
 *                                   status byte of the reply
 *   attacker pty N PROG ARGS...     opens ptys (/dev/ptmx) until it holds pts/N, makes
 *                                   that master descriptor 0 and runs PROG
 *   attacker appends SOCKET N       opens a pty of its own and sends wtmpd N `T` adds
 *                                   (libutempter's path, its master attached) on one
 *                                   connection; prints "ok K" and the errno of the
 *                                   first refusal
 *   attacker slots SOCKET CAP ROUNDS
 *                                   holds CAP served connections and checks one more
 *                                   is refused (EUSERS); then ROUNDS times closes one,
 *                                   retries until a new one is served (5 s at most)
 *                                   and checks one more is refused again; prints
 *                                   "ok ROUNDS ..." or "fail: why"
 *   attacker impostor SOCKET LOG    a fake daemon: listens on SOCKET (mode 0777),
 *                                   prints "listening", and for every client appends
 *                                   "uid UID bytes N fds M" to LOG (the client's uid,
 *                                   what it sent before it hung up or 1 s passed, the
 *                                   descriptors among it), answering nothing
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr;

static int sock(int flags)
{
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Reads exactly n bytes (1 s at most): 0 on success. */
static int recv_all(int fd, char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0)
            return -1;
        ssize_t k = recv(fd, buf + done, n - done, 0);
        if (k <= 0)
            return -1;
        done += k;
    }
    return 0;
}

/* One new connection asking `V`: 0 if served (its descriptor kept in
 * *out), the status byte if refused, -1 on any other outcome. */
static int try_served(int *out)
{
    int fd = sock(0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    /* A refused connection may be closed before the request is sent:
     * its status byte is still there to read. */
    (void)send(fd, "V", 1, MSG_NOSIGNAL);
    unsigned char reply[9];
    if (recv_all(fd, (char *)reply, 1) != 0) {
        close(fd);
        return -1;
    }
    if (reply[0] != 0) {
        close(fd);
        return reply[0];
    }
    if (recv_all(fd, (char *)reply + 1, 8) != 0) {
        close(fd);
        return -1;
    }
    *out = fd;
    return 0;
}

/* A 401-byte `A` request: USER_PROCESS of user on line (the 400-byte wire record). */
static void append_request(char *req, const char *user, const char *line)
{
    memset(req, 0, 401);
    req[0] = 'A';
    req[1] = 7; /* ut_type, host order */
    strncpy(req + 1 + 8, line, 32);
    strncpy(req + 1 + 44, user, 32);
}

/* Sends n bytes of buf with descriptor pass attached: 0 if all went. */
static int send_with_fd(int fd, const char *buf, size_t n, int pass)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {(void *)buf, n};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass, sizeof(int));
    return sendmsg(fd, &m, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "pty")) {
        int want = atoi(argv[2]);
        for (int i = 0; i < 4096; i++) {
            int m = posix_openpt(O_RDWR | O_NOCTTY);
            if (m < 0 || grantpt(m) || unlockpt(m)) {
                perror("ptmx");
                return 1;
            }
            const char *name = ptsname(m);
            if (name && atoi(name + strlen("/dev/pts/")) == want) {
                dup2(m, 0);
                execv(argv[3], argv + 3);
                perror("exec");
                return 1;
            }
        }
        fprintf(stderr, "no pts/%d\n", want);
        return 1;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: see attacker.c\n");
        return 2;
    }
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[2], sizeof addr.sun_path - 1);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    if (argc == 4 && !strcmp(argv[1], "hold")) {
        int n = atoi(argv[3]), held = 0;
        for (int i = 0; i < n; i++) {
            int fd = sock(SOCK_NONBLOCK);
            if (fd < 0)
                break;
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
                held++;
            else
                close(fd);
        }
        printf("held %d\n", held);
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc == 4 && !strcmp(argv[1], "churn")) {
        double end = now() + atof(argv[3]);
        long k = 0;
        while (now() < end) {
            int fd = sock(SOCK_NONBLOCK);
            if (fd < 0)
                continue;
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
                k++;
            close(fd);
        }
        printf("churned %ld\n", k);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "slots")) {
        int cap = atoi(argv[3]), rounds = atoi(argv[4]), e, extra;
        int fds[cap];
        double slowest = 0;
        for (int i = 0; i < cap; i++)
            if ((e = try_served(&fds[i])) != 0) {
                printf("fail: connection %d of %d answered %d\n", i + 1, cap, e);
                return 1;
            }
        for (int r = 0;; r++) {
            if ((e = try_served(&extra)) != EUSERS) {
                printf("fail: round %d: connection %d answered %d, not EUSERS\n", r, cap + 1, e);
                return 1;
            }
            if (r == rounds)
                break;
            close(fds[r % cap]);
            double t0 = now();
            while ((e = try_served(&fds[r % cap])) == EUSERS) {
                if (now() - t0 > 5) {
                    printf("fail: round %d: the slot never came back\n", r);
                    return 1;
                }
                usleep(1000);
            }
            if (e != 0) {
                printf("fail: round %d: answered %d\n", r, e);
                return 1;
            }
            if (now() - t0 > slowest)
                slowest = now() - t0;
        }
        printf("ok %d rounds, a slot back within %.0f ms at most\n", rounds, slowest * 1000);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "keepalive")) {
        int ms = atoi(argv[3]), n = atoi(argv[4]), served = 0;
        int fd = sock(0);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            printf("connect %d\n", errno);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            char reply[9];
            if (send(fd, "V", 1, MSG_NOSIGNAL) != 1 || recv_all(fd, reply, 9) != 0 || reply[0] != 0)
                break;
            served++;
            usleep(ms * 1000);
        }
        printf("served %d\n", served);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "fds")) {
        int n = atoi(argv[3]), sent = 0;
        int fd = sock(0);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            printf("connect %d\n", errno);
            return 1;
        }
        char req[401];
        append_request(req, "nobody-at-all", "pts/0");
        for (int i = 0; i < n; i++) {
            int pass = open("/dev/null", O_RDONLY);
            if (send_with_fd(fd, req, sizeof req, pass) != 0)
                break;
            close(pass);
            char status;
            if (recv_all(fd, &status, 1) != 0)
                break;
            sent++;
        }
        printf("sent %d\n", sent);
        fflush(stdout);
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            return 0;
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "handover")) {
        int fd = sock(0);
        int pass = open(argv[3], atoi(argv[4]));
        if (pass < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            printf("open or connect %d\n", errno);
            return 1;
        }
        char req[401];
        append_request(req, "nobody-at-all", "pts/0");
        unsigned char status;
        if (send_with_fd(fd, req, sizeof req, pass) != 0 || recv_all(fd, (char *)&status, 1) != 0) {
            printf("lost %d\n", errno);
            return 1;
        }
        printf("%d\n", status);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "appends")) {
        int n = atoi(argv[3]), ok = 0, first_err = 0;
        int master = posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || grantpt(master) || unlockpt(master)) {
            perror("ptmx");
            return 1;
        }
        int fd = sock(0);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            printf("connect %d\n", errno);
            return 1;
        }
        char req[258] = {'T', 'a'}, record[400];
        for (int i = 0; i < n; i++) {
            char status = 0;
            int lost = send_with_fd(fd, req, sizeof req, master) != 0 ||
                       recv_all(fd, &status, 1) != 0 ||
                       (status == 0 && recv_all(fd, record, sizeof record) != 0);
            /* Closed, or ECONNABORTED (past the connection's lifetime, not
             * done): again on a new connection. */
            if (lost || status == 103) {
                close(fd);
                fd = sock(0);
                if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
                    break;
                i--;
                continue;
            }
            if (status == 0)
                ok++;
            else if (!first_err)
                first_err = status;
        }
        printf("ok %d %d\n", ok, first_err);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "impostor")) {
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(argv[2]);
        if (bind(l, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(l, 64) != 0 ||
            chmod(argv[2], 0777) != 0) {
            perror("impostor");
            return 1;
        }
        printf("listening\n");
        fflush(stdout);
        for (;;) {
            int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0)
                continue;
            struct ucred cred = {0};
            socklen_t len = sizeof cred;
            getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len);
            long bytes = 0;
            int fds = 0;
            struct pollfd p = {c, POLLIN, 0};
            while (poll(&p, 1, 1000) == 1) {
                char buf[4096];
                union {
                    char buf[CMSG_SPACE(4 * sizeof(int))];
                    struct cmsghdr align;
                } u;
                struct iovec iov = {buf, sizeof buf};
                struct msghdr m = {0};
                m.msg_iov = &iov;
                m.msg_iovlen = 1;
                m.msg_control = u.buf;
                m.msg_controllen = sizeof u.buf;
                ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
                if (n <= 0)
                    break;
                bytes += n;
                for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
                    if (h->cmsg_type == SCM_RIGHTS) {
                        int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (int i = 0; i < k; i++) {
                            int got;
                            memcpy(&got, CMSG_DATA(h) + i * sizeof(int), sizeof got);
                            close(got);
                        }
                        fds += k;
                    }
            }
            FILE *log = fopen(argv[3], "a");
            if (log) {
                fprintf(log, "uid %u bytes %ld fds %d\n", (unsigned)cred.uid, bytes, fds);
                fclose(log);
            }
            close(c);
        }
    }
    fprintf(stderr, "usage: see attacker.c\n");
    return 2;
}
