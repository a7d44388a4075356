/* ptylogin FILE USER: a login on a new pseudo-terminal of one's own, as an
 * ordinary user's terminal program records it: updwtmpx(FILE) of a
 * USER_PROCESS for USER on the pty's line; prints "ok" or "err ERRNO". */
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
    struct utmpx u;
    struct timeval tv;
    int m;
    if (argc != 3) {
        fprintf(stderr, "usage: ptylogin FILE USER\n");
        return 100;
    }
    m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
        printf("err %d\n", errno);
        return 1;
    }
    memset(&u, 0, sizeof u);
    u.ut_type = USER_PROCESS;
    u.ut_pid = getpid();
    strncpy(u.ut_line, ptsname(m) + 5, sizeof u.ut_line);
    strncpy(u.ut_id, ptsname(m) + strlen(ptsname(m)) - 4, sizeof u.ut_id);
    strncpy(u.ut_user, argv[2], sizeof u.ut_user);
    gettimeofday(&tv, NULL);
    u.ut_tv.tv_sec = tv.tv_sec;
    u.ut_tv.tv_usec = tv.tv_usec;
    errno = 0;
    updwtmpx(argv[1], &u);
    if (errno) {
        printf("err %d\n", errno);
        return 1;
    }
    printf("ok\n");
    return 0;
}
