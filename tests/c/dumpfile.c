/* dumpfile FILE: every entry of FILE as the C library itself reads it
 * (utmpxname, getutxent; no shim), one line each, then "records N".
 * scripts/test-arch runs it on the daemons' files on each architecture. */
#define _GNU_SOURCE
#include <stdio.h>
#include <utmpx.h>

int main(int argc, char **argv)
{
    struct utmpx *u;
    int n = 0;
    if (argc != 2 || utmpxname(argv[1]) != 0) {
        fprintf(stderr, "usage: dumpfile FILE\n");
        return 100;
    }
    setutxent();
    while ((u = getutxent())) {
        printf("type=%d pid=%d line=%.32s id=%.4s user=%.32s host=%.256s exit=%d/%d "
               "session=%ld sec=%lld usec=%lld addr=%08x\n",
               u->ut_type, (int)u->ut_pid, u->ut_line, u->ut_id, u->ut_user, u->ut_host,
               u->ut_exit.e_termination, u->ut_exit.e_exit, (long)u->ut_session,
               (long long)u->ut_tv.tv_sec, (long long)u->ut_tv.tv_usec,
               (unsigned)u->ut_addr_v6[0]);
        n++;
    }
    endutxent();
    printf("records %d\n", n);
    return 0;
}
