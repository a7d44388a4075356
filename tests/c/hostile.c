/* hostile: the shim inside demanding hosts, for the tests.
 *
 *   hostile fork      iterate utmpx, fork after the first entry; parent and
 *                     child each print the rest ("P line" / "C line")
 *   hostile threads N  N threads, each 100 rounds of pututxline, a full
 *                     getutxent scan and a getutxline; prints "ok" or "bad ..."
 *   hostile writes N TAG  N pututxline of new entries TAG/i, each followed by
 *                     updwtmpx; prints "put i ok|err" and "wtmp i ok|err"
 *   hostile signals N  N rounds of put, scan, search and append while a
 *                     timer interrupts the process every 200 us (no
 *                     SA_RESTART); prints "ok SIGNALS" or the failures
 *   hostile mixed N W  writer W (0-15): N operations, k % 3 == 0 a put of slot
 *                     (k/3) % 8 (pid k), 1 a read, 2 an append (pid k);
 *                     prints failures only, then "done"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmpx.h>

static void rest(const char *who)
{
    struct utmpx *u;
    while ((u = getutxent()))
        printf("%s %.32s\n", who, u->ut_line);
    fflush(stdout);
}

/* One thread: puts of its own line, scans, searches. The cursor is per
 * process (as in glibc), so other threads move it: searches may miss
 * (ESRCH), but nothing else may fail and no call may hang. */
static void *worker(void *arg)
{
    int me = (int)(long)arg;
    for (int round = 0; round < 100; round++) {
        struct utmpx q, *u;
        memset(&q, 0, sizeof q);
        q.ut_type = USER_PROCESS;
        q.ut_pid = round + 1;
        snprintf(q.ut_line, sizeof q.ut_line, "thr/%d", me);
        snprintf(q.ut_id, sizeof q.ut_id, "t%d", me);
        strcpy(q.ut_user, "root");
        setutxent();
        if (!pututxline(&q)) {
            printf("bad pututxline errno=%d\n", errno);
            return (void *)1;
        }
        errno = 0;
        while ((u = getutxent()))
            ;
        if (errno) {
            printf("bad getutxent errno=%d\n", errno);
            return (void *)1;
        }
        setutxent();
        if (!getutxline(&q) && errno != ESRCH) {
            printf("bad getutxline errno=%d\n", errno);
            return (void *)1;
        }
    }
    return NULL;
}

static volatile sig_atomic_t ticks;
static void tick(int sig)
{
    (void)sig;
    ticks++;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "fork")) {
        setutxent();
        struct utmpx *u = getutxent();
        if (!u) {
            printf("empty\n");
            return 1;
        }
        printf("first %.32s\n", u->ut_line);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            rest("C");
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        rest("P");
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
    }
    if (argc == 3 && !strcmp(argv[1], "threads")) {
        int n = atoi(argv[2]);
        pthread_t t[64];
        for (int i = 0; i < n && i < 64; i++)
            pthread_create(&t[i], NULL, worker, (void *)(long)i);
        int bad = 0;
        for (int i = 0; i < n && i < 64; i++) {
            void *r;
            pthread_join(t[i], &r);
            bad |= r != NULL;
        }
        printf(bad ? "bad\n" : "ok\n");
        return bad;
    }
    if (argc == 4 && !strcmp(argv[1], "writes")) {
        int n = atoi(argv[2]);
        for (int i = 0; i < n; i++) {
            struct utmpx u;
            memset(&u, 0, sizeof u);
            u.ut_type = USER_PROCESS;
            u.ut_pid = i + 1;
            snprintf(u.ut_line, sizeof u.ut_line, "%s/%d", argv[3], i);
            char id[16];
            snprintf(id, sizeof id, "%x", i);
            memcpy(u.ut_id, id, sizeof u.ut_id);
            strcpy(u.ut_user, "root");
            setutxent();
            printf("put %d %s\n", i, pututxline(&u) ? "ok" : "err");
            errno = 0;
            updwtmpx("/var/log/wtmp", &u);
            printf("wtmp %d %s\n", i, errno && errno != ESRCH ? "err" : "ok");
            fflush(stdout);
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "signals")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = tick; /* no SA_RESTART: system calls see EINTR */
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 200}, {0, 200}};
        setitimer(ITIMER_REAL, &it, NULL);
        int n = atoi(argv[2]), bad = 0;
        for (int i = 0; i < n; i++) {
            struct utmpx u, *r;
            memset(&u, 0, sizeof u);
            u.ut_type = USER_PROCESS;
            u.ut_pid = i;
            snprintf(u.ut_line, sizeof u.ut_line, "sig/%d", i % 4);
            snprintf(u.ut_id, sizeof u.ut_id, "s%d", i % 4);
            strcpy(u.ut_user, "root");
            setutxent();
            if (!pututxline(&u)) {
                printf("put %d: %d\n", i, errno);
                bad++;
            }
            setutxent();
            errno = 0;
            while ((r = getutxent()))
                ;
            if (errno) {
                printf("scan %d: %d\n", i, errno);
                bad++;
            }
            setutxent();
            if (!getutxline(&u)) {
                printf("line %d: %d\n", i, errno);
                bad++;
            }
            errno = 0;
            updwtmpx("/var/log/wtmp", &u);
            if (errno && errno != ESRCH && errno != EINTR) {
                printf("append %d: %d\n", i, errno);
                bad++;
            }
        }
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        if (!bad)
            printf("ok %d\n", (int)ticks);
        return bad != 0;
    }
    if (argc == 4 && !strcmp(argv[1], "mixed")) {
        int n = atoi(argv[2]), w = atoi(argv[3]);
        for (int k = 0; k < n; k++) {
            struct utmpx u, *r;
            memset(&u, 0, sizeof u);
            int slot = (k / 3) % 8;
            snprintf(u.ut_line, sizeof u.ut_line, "m%d/%d", w, slot);
            u.ut_id[0] = 'A' + w;
            u.ut_id[1] = '0' + slot;
            u.ut_pid = k;
            strcpy(u.ut_user, "root");
            u.ut_type = (k / 24) % 2 ? DEAD_PROCESS : USER_PROCESS;
            switch (k % 3) {
            case 0:
                setutxent();
                if (!pututxline(&u))
                    printf("put %d failed: %d\n", k, errno);
                break;
            case 1:
                setutxent();
                errno = 0;
                while ((r = getutxent()))
                    ;
                if (errno)
                    printf("read %d failed: %d\n", k, errno);
                break;
            case 2:
                u.ut_type = USER_PROCESS;
                errno = 0;
                updwtmpx("/var/log/wtmp", &u);
                if (errno && errno != ESRCH)
                    printf("append %d failed: %d\n", k, errno);
                break;
            }
        }
        printf("done\n");
        return 0;
    }
    fprintf(stderr, "usage: hostile fork | threads N | writes N TAG | mixed N W\n");
    return 2;
}
