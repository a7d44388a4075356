/* utmpctl: drive the utmpx API from the command line, for the tests.
 * Built with gcc and with musl-gcc; it only uses <utmpx.h>.
 *
 *   utmpctl put TYPE USER LINE ID PID [HOST]   pututxline, prints "ok" or "err ERRNO"
 *   utmpctl list                               setutxent + getutxent loop, one line per entry
 *   utmpctl id TYPE ID [LINE]                  getutxid
 *   utmpctl line LINE                          getutxline
 *   utmpctl wtmp FILE TYPE USER LINE ID PID [HOST [TIME]]
 *                                              updwtmpx (TIME: ut_tv.tv_sec, default now)
 *   utmpctl appends FILE                       updwtmpx for each line "TYPE USER LINE ID PID"
 *                                              of stdin, in one process; "ok"/"err ERRNO" each
 *   utmpctl layout                             prints sizeof(struct utmpx)
 *   utmpctl every MS N COMMAND...              COMMAND N times in this process, MS ms apart
 *   utmpctl clearenv COMMAND...                COMMAND after clearenv() and a setenv of every
 *                                              UTMPS_* to nowhere (as `login` clears its own)
 * TYPE is a number (7 = USER_PROCESS, 8 = DEAD_PROCESS, 6 = LOGIN_PROCESS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <utmpx.h>

static void fill(struct utmpx *u, char **a)
{
    struct timeval tv;
    memset(u, 0, sizeof *u);
    u->ut_type = atoi(a[0]);
    strncpy(u->ut_user, a[1], sizeof u->ut_user);
    strncpy(u->ut_line, a[2], sizeof u->ut_line);
    strncpy(u->ut_id, a[3], sizeof u->ut_id);
    u->ut_pid = atoi(a[4]);
    gettimeofday(&tv, NULL);
    u->ut_tv.tv_sec = tv.tv_sec;
    u->ut_tv.tv_usec = tv.tv_usec;
}

static void show(const struct utmpx *u)
{
    printf("%d %.32s %.32s %.4s %d %.256s %lld\n", u->ut_type, u->ut_user,
           u->ut_line, u->ut_id, (int)u->ut_pid, u->ut_host,
           (long long)u->ut_tv.tv_sec);
}

static int result(const struct utmpx *u)
{
    if (!u) {
        printf("err %d\n", errno);
        return 1;
    }
    show(u);
    return 0;
}

static int run(int argc, char **argv)
{
    struct utmpx u;
    if (argc >= 7 && !strcmp(argv[1], "put")) {
        fill(&u, argv + 2);
        if (argc >= 8)
            strncpy(u.ut_host, argv[7], sizeof u.ut_host);
        setutxent();
        struct utmpx *r = pututxline(&u);
        endutxent();
        if (!r) {
            printf("err %d\n", errno);
            return 1;
        }
        printf("ok\n");
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "list")) {
        struct utmpx *p;
        setutxent();
        errno = 0;
        while ((p = getutxent()))
            show(p);
        int e = errno;
        endutxent();
        if (e) {
            printf("err %d\n", e);
            return 1;
        }
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "id")) {
        memset(&u, 0, sizeof u);
        u.ut_type = atoi(argv[2]);
        strncpy(u.ut_id, argv[3], sizeof u.ut_id);
        if (argc >= 5)
            strncpy(u.ut_line, argv[4], sizeof u.ut_line);
        setutxent();
        return result(getutxid(&u));
    }
    if (argc == 3 && !strcmp(argv[1], "line")) {
        memset(&u, 0, sizeof u);
        strncpy(u.ut_line, argv[2], sizeof u.ut_line);
        setutxent();
        return result(getutxline(&u));
    }
    if (argc >= 8 && argc <= 10 && !strcmp(argv[1], "wtmp")) {
        fill(&u, argv + 3);
        if (argc >= 9)
            strncpy(u.ut_host, argv[8], sizeof u.ut_host);
        if (argc >= 10)
            u.ut_tv.tv_sec = atoll(argv[9]);
        errno = 0;
        updwtmpx(argv[2], &u);
        if (errno) {
            printf("err %d\n", errno);
            return 1;
        }
        printf("ok\n");
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "appends")) {
        char buf[512];
        while (fgets(buf, sizeof buf, stdin)) {
            char *a[5] = {0};
            int n = 0;
            for (char *t = strtok(buf, " \n"); t && n < 5; t = strtok(NULL, " \n"))
                a[n++] = t;
            if (n != 5) {
                printf("bad line\n");
                return 2;
            }
            fill(&u, a);
            errno = 0;
            updwtmpx(argv[2], &u);
            if (errno)
                printf("err %d\n", errno);
            else
                printf("ok\n");
            fflush(stdout);
        }
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "layout")) {
        printf("%zu\n", sizeof(struct utmpx));
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of utmpctl.c\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "clearenv")) {
        clearenv();
        setenv("UTMPS_UTMPD_SOCKET", "/nonexistent/.utmpd-socket", 1);
        setenv("UTMPS_WTMPD_SOCKET", "/nonexistent/.wtmpd-socket", 1);
        setenv("UTMPS_TIMEOUT_MS", "1", 1);
        argv[1] = argv[0];
        return run(argc - 1, argv + 1);
    }
    if (argc >= 5 && !strcmp(argv[1], "every")) {
        int ms = atoi(argv[2]), n = atoi(argv[3]), failed = 0;
        argv[3] = argv[0];
        for (int i = 0; i < n; i++) {
            if (i)
                usleep(ms * 1000);
            failed |= run(argc - 3, argv + 3);
            fflush(stdout);
        }
        return failed;
    }
    return run(argc, argv);
}
