/* wirescript [-r] [-s] SOCKET | [-r] [-s] -x DAEMON [ARG...]: one fixed
 * series of requests to a utmpd on an empty file (docs/PROTOCOL.md: V, E,
 * r, e, i, l, B, R, I, L, P and an unknown opcode), and every reply
 * printed: status bytes and the protocol's integers in hex as they came
 * (big-endian on every host), records decoded field by field from the
 * host's own wire struct (skarnet's utmps struct utmpx, memcpy'd: host
 * byte order, 392 bytes on i386, 400 elsewhere). The transcript is the
 * same for a daemon of any architecture that behaves the same; -r prints
 * records as raw hex instead, for comparing two hosts of one byte order
 * and layout byte for byte. -s sends only skarnet utmps 0.1.2's own
 * requests (E, r, e, i, l) and an unknown opcode, on which its
 * utmps-utmpd hangs up. -x runs DAEMON ARG... on one end of a socket
 * pair (its stdin and stdout), as s6-ipcserver runs skarnet's, with
 * PROTO=IPC and IPCREMOTEEUID/IPCREMOTEEGID our own ids, in the working
 * directory, and prints how it ended once we hang up. Exit 111 on a
 * connection error or a short reply, never a hang (5 s receive
 * timeout). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "utmps_wire.h"

#define CURSOR (8 + 1 + sizeof(struct utmps_utmpx))

static const char *sock;
static int raw, base;
static char **daemon_argv; /* -x */
static pid_t daemon_pid;
static unsigned char cursor[CURSOR]; /* the last cursor a daemon returned */

/* -x: the daemon on the other end of a socket pair, as s6-ipcserver
 * starts it for a client (skarnet's reads its client's ids from there). */
static int spawn(void)
{
    char id[16];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || (daemon_pid = fork()) < 0) {
        perror("wirescript: socketpair, fork");
        exit(111);
    }
    if (daemon_pid == 0) {
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        close(sv[0]);
        close(sv[1]);
        setenv("PROTO", "IPC", 1);
        snprintf(id, sizeof id, "%u", (unsigned)geteuid());
        setenv("IPCREMOTEEUID", id, 1);
        snprintf(id, sizeof id, "%u", (unsigned)getegid());
        setenv("IPCREMOTEEGID", id, 1);
        execvp(daemon_argv[0], daemon_argv);
        perror("wirescript: exec");
        _exit(111);
    }
    close(sv[1]);
    return sv[0];
}

static int conn(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 5 };
    int fd = daemon_argv ? spawn() : socket(AF_UNIX, SOCK_STREAM, 0);
    strncpy(sa.sun_path, sock, sizeof sa.sun_path - 1);
    if (fd < 0 || (!daemon_argv && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)) {
        perror("wirescript: connect");
        exit(111);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void get(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0) {
            printf("  short reply (%zu of %zu bytes)\n", got, n);
            exit(111);
        }
        got += r;
    }
}

static void put(int fd, const void *buf, size_t n)
{
    if (write(fd, buf, n) != (ssize_t)n) {
        perror("wirescript: write");
        exit(111);
    }
}

static void hex(const char *what, const unsigned char *p, size_t n)
{
    printf(" %s=", what);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void show(const unsigned char *p)
{
    struct utmps_utmpx r;
    if (raw) {
        hex("rec", p, sizeof r);
        return;
    }
    memcpy(&r, p, sizeof r);
    printf(" rec{type=%d pid=%d line=%.32s id=%.4s user=%.32s host=%.256s exit=%d/%d"
           " session=%d sec=%lld usec=%lld addr=%08x%08x%08x%08x}",
           r.ut_type, (int)r.ut_pid, r.ut_line, r.ut_id, r.ut_user, r.ut_host,
           r.ut_exit.e_termination, r.ut_exit.e_exit, (int)r.ut_session,
           (long long)r.ut_tv.tv_sec, (long long)r.ut_tv.tv_usec, r.ut_addr_v6[0],
           r.ut_addr_v6[1], r.ut_addr_v6[2], r.ut_addr_v6[3]);
}

static unsigned char status(int fd, const char *name)
{
    unsigned char s;
    get(fd, &s, 1);
    printf("%s: %02x", name, s);
    return s;
}

static void reply_cursor(int fd)
{
    get(fd, cursor, CURSOR);
    hex("pos", cursor, 9);
    show(cursor + 9);
}

static struct utmps_utmpx mk(int type, const char *user, const char *line, const char *id, int pid,
                     const char *host, long long sec)
{
    struct utmps_utmpx r;
    memset(&r, 0, sizeof r);
    r.ut_type = type;
    strncpy(r.ut_user, user, sizeof r.ut_user);
    strncpy(r.ut_line, line, sizeof r.ut_line);
    strncpy(r.ut_id, id, sizeof r.ut_id);
    r.ut_pid = pid;
    strncpy(r.ut_host, host, sizeof r.ut_host);
    r.ut_exit.e_termination = 1;
    r.ut_exit.e_exit = -2;
    r.ut_session = pid + 1;
    r.ut_tv.tv_sec = sec;
    r.ut_tv.tv_usec = 123456;
    r.ut_addr_v6[0] = 0x0a000001;
    r.ut_addr_v6[3] = 0xfffefdfc;
    return r;
}

static void op_simple(int fd, char op, const char *name)
{
    put(fd, &op, 1);
    if (status(fd, name) == 0 && (op == 'e')) {
        unsigned char b[sizeof(struct utmps_utmpx)];
        get(fd, b, sizeof b);
        show(b);
    }
    printf("\n");
}

static void op_put(int fd, struct utmps_utmpx r)
{
    unsigned char b[1 + sizeof r];
    b[0] = 'E';
    memcpy(b + 1, &r, sizeof r);
    put(fd, b, sizeof b);
    status(fd, "E");
    printf("\n");
}

static void op_id(int fd, int type, const char *id)
{
    unsigned char b[7] = { 'i', (unsigned char)(type >> 8), (unsigned char)type };
    strncpy((char *)b + 3, id, 4);
    put(fd, b, sizeof b);
    if (status(fd, "i") == 0) {
        unsigned char r[sizeof(struct utmps_utmpx)];
        get(fd, r, sizeof r);
        show(r);
    }
    printf("\n");
}

static void op_line(int fd, const char *line)
{
    unsigned char b[33] = { 'l' };
    strncpy((char *)b + 1, line, 32);
    put(fd, b, sizeof b);
    if (status(fd, "l") == 0) {
        unsigned char r[sizeof(struct utmps_utmpx)];
        get(fd, r, sizeof r);
        show(r);
    }
    printf("\n");
}

static void op_bulk(int fd, char op, uint64_t start, uint16_t max)
{
    unsigned char b[11] = { (unsigned char)op }, head[11];
    char name[2] = { op, 0 };
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)(start >> (56 - 8 * i));
    b[9] = max >> 8;
    b[10] = max & 0xff;
    put(fd, b, sizeof b);
    if (status(fd, name) != 0) {
        if (op == 'B') {
            get(fd, head, 8);
            hex("start", head, 8);
        }
        printf("\n");
        return;
    }
    get(fd, head, op == 'R' ? 11 : 10);
    hex("end,n,flags", head, op == 'R' ? 11 : 10);
    for (unsigned n = (unsigned)head[8] << 8 | head[9]; n > 0; n--) {
        unsigned char r[sizeof(struct utmps_utmpx)];
        get(fd, r, sizeof r);
        show(r);
    }
    printf("\n");
}

/* An opcode nobody knows: a status, or the daemon hangs up (skarnet's). */
static void op_unknown(int fd)
{
    unsigned char z = 'Z';
    put(fd, &z, 1);
    if (read(fd, &z, 1) == 1)
        printf("Z: %02x\n", z);
    else
        printf("Z: hung up\n");
}

/* I, L, P at the last cursor returned. */
static void op_cursor(int fd, char op, const void *arg, size_t len)
{
    unsigned char b[1 + CURSOR + sizeof(struct utmps_utmpx)];
    char name[2] = { op, 0 };
    b[0] = op;
    memcpy(b + 1, cursor, CURSOR);
    memcpy(b + 1 + CURSOR, arg, len);
    put(fd, b, 1 + CURSOR + len);
    status(fd, name);
    if (op == 'P') {
        unsigned char appended;
        get(fd, &appended, 1);
        hex("appended", &appended, 1);
    }
    reply_cursor(fd);
    printf("\n");
}

/* Hang up; a daemon of our own (-x) then ends: how, is part of the
 * transcript (both utmpds exit 1 after an unknown opcode). */
static int finish(int fd)
{
    int st;
    close(fd);
    if (!daemon_argv)
        return 0;
    if (waitpid(daemon_pid, &st, 0) != daemon_pid) {
        perror("wirescript: waitpid");
        return 111;
    }
    if (WIFEXITED(st))
        printf("daemon: exit %d\n", WEXITSTATUS(st));
    else
        printf("daemon: signal %d\n", WTERMSIG(st));
    return 0;
}

int main(int argc, char **argv)
{
    struct utmps_utmpx r;
    int fd;
    for (; argc > 1 && argv[1][0] == '-'; argv++, argc--) {
        if (!strcmp(argv[1], "-r"))
            raw = 1;
        else if (!strcmp(argv[1], "-s"))
            base = 1;
        else if (!strcmp(argv[1], "-x") && argc > 2) {
            daemon_argv = argv + 2;
            argc = 2;
            break;
        } else
            argc = 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: wirescript [-r] [-s] SOCKET | [-r] [-s] -x DAEMON [ARG...]\n");
        return 100;
    }
    sock = daemon_argv ? "" : argv[1];
    printf("record size %u\n", (unsigned)sizeof r);
    fd = conn();
    if (!base) {
        unsigned char v = 'V', b[8];
        put(fd, &v, 1);
        if (status(fd, "V") == 0) {
            get(fd, b, 8);
            hex("version,caps", b, 8);
        }
        printf("\n");
    }
    op_put(fd, mk(2, "reboot", "~", "~~", 0, "6.1.0-arch", 1700000000));
    op_put(fd, mk(1, "runlevel", "~", "~~", '5', "", 1700000001));
    op_put(fd, mk(6, "LOGIN", "tty1", "1", 600, "", 1700000002));
    op_put(fd, mk(7, "alice", "pts/1", "ts/1", 701, "alice.example", 1700000003));
    op_put(fd, mk(7, "bob", "pts/2", "ts/2", 702, "", 4000000000LL));
    op_simple(fd, 'r', "r");
    for (int i = 0; i < 6; i++)
        op_simple(fd, 'e', "e");
    op_simple(fd, 'r', "r");
    op_id(fd, 7, "ts/2");
    op_simple(fd, 'r', "r");
    op_id(fd, 1, "");
    op_id(fd, 99, "x");
    op_simple(fd, 'r', "r");
    op_line(fd, "tty1");
    op_line(fd, "pts/9");
    if (base) {
        op_unknown(fd);
        return finish(fd);
    }
    op_bulk(fd, 'B', 0, 10);
    op_bulk(fd, 'B', 3, 1);
    op_bulk(fd, 'B', 9, 4);
    op_bulk(fd, 'R', 0, 2);
    op_bulk(fd, 'R', 0, 10);
    op_bulk(fd, 'R', 4, 1);
    op_bulk(fd, 'R', 7, 1);
    memset(cursor, 0, sizeof cursor);
    r = mk(8, "", "", "ts/1", 0, "", 0);
    op_cursor(fd, 'I', &r, sizeof r);
    op_cursor(fd, 'L', "tty1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32);
    r = mk(8, "", "tty1", "1", 600, "", 1700000009);
    op_cursor(fd, 'P', &r, sizeof r);
    r = mk(7, "carol", "pts/3", "ts/3", 703, "carol.example", 1700000010);
    op_cursor(fd, 'P', &r, sizeof r);
    op_bulk(fd, 'R', 0, 10);
    op_unknown(fd);
    return finish(fd);
}
