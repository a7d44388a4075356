/* hostile: the shim inside demanding hosts, for the tests.
 *
 *   hostile fork      iterate utmpx, fork after the first entry; parent and
 *                     child each print the rest ("P line" / "C line")
 *   hostile threads N  N threads, each 100 rounds of pututxline, a full
 *                     getutxent scan and a getutxline; prints "ok" or "bad ..."
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    fprintf(stderr, "usage: hostile fork | hostile threads N\n");
    return 2;
}
