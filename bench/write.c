/* write UTMP WTMP N ID FSYNC: N login/logout pairs on line "b/ID"
 * (pututxline + updwtmpx, twice), as a login program does; with FSYNC=1
 * an fsync of the file after each write (what the daemons do, for the
 * plain-file baseline). Prints "ok" or the first error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <utmpx.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: write UTMP WTMP N ID FSYNC\n");
        return 2;
    }
    const char *utmp = argv[1], *wtmp = argv[2];
    int n = atoi(argv[3]), sync = atoi(argv[5]);
    int ufd = -1, wfd = -1;
    if (sync) {
        ufd = open(utmp, O_RDONLY);
        wfd = open(wtmp, O_RDONLY);
    }
    struct utmpx u;
    memset(&u, 0, sizeof u);
    snprintf(u.ut_line, sizeof u.ut_line, "b/%s", argv[4]);
    snprintf(u.ut_id, sizeof u.ut_id, "b%s", argv[4]);
    u.ut_pid = getpid();
    utmpxname(utmp);
    for (int i = 0; i < n; i++) {
        for (int login = 1; login >= 0; login--) {
            struct timeval tv;
            gettimeofday(&tv, NULL);
            u.ut_tv.tv_sec = tv.tv_sec;
            u.ut_tv.tv_usec = tv.tv_usec;
            u.ut_type = login ? USER_PROCESS : DEAD_PROCESS;
            strcpy(u.ut_user, login ? "root" : "");
            setutxent();
            if (!pututxline(&u)) {
                printf("pututxline: %s\n", strerror(errno));
                return 1;
            }
            if (sync && fsync(ufd) != 0)
                return 1;
            errno = 0;
            updwtmpx(wtmp, &u);
            if (errno && errno != ESRCH) {
                printf("updwtmpx: %s\n", strerror(errno));
                return 1;
            }
            if (sync && fsync(wfd) != 0)
                return 1;
        }
    }
    endutxent();
    printf("ok\n");
    return 0;
}
