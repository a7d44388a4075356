/* sequence FILE: run utmp calls read from stdin against utmpname(FILE),
 * printing every result, errno and returned record, for the differential
 * test (glibc itself vs the shim). One operation per line; "-" is an
 * empty field.
 *
 *   set | end | get | getr
 *   id TYPE ID LINE | idr TYPE ID LINE | line LINE | liner LINE
 *   put TYPE PID LINE ID USER HOST SEC USEC EXIT SESSION ADDR
 *
 * Output: the operation, "ok" or "fail", errno (reset to 0 before each
 * call), and the record returned, if any. The _r forms exist in glibc
 * only; in a musl build they run the plain form.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utmp.h>

static void field(char *dst, size_t n, const char *src)
{
    memset(dst, 0, n);
    if (strcmp(src, "-") != 0)
        strncpy(dst, src, n);
}

static void show(const char *op, const struct utmp *u, int e)
{
    if (!u) {
        printf("%s fail %d\n", op, e);
        return;
    }
    printf("%s ok %d [%d %d %.32s %.4s %.32s %.256s %d/%d %d %lld.%lld %x:%x:%x:%x]\n", op, e,
           u->ut_type, (int)u->ut_pid, u->ut_line, u->ut_id, u->ut_user,
           u->ut_host, u->ut_exit.e_termination, u->ut_exit.e_exit,
           (int)u->ut_session, (long long)u->ut_tv.tv_sec,
           (long long)u->ut_tv.tv_usec, u->ut_addr_v6[0], u->ut_addr_v6[1],
           u->ut_addr_v6[2], u->ut_addr_v6[3]);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sequence FILE < ops\n");
        return 2;
    }
    /* A line at a time, so that a test can drive it step by step. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (utmpname(argv[1]) != 0) {
        printf("utmpname fail %d\n", errno);
        return 1;
    }
    char buf[1024];
    while (fgets(buf, sizeof buf, stdin)) {
        char *a[12] = {0};
        int n = 0;
        for (char *t = strtok(buf, " \n"); t && n < 12; t = strtok(NULL, " \n"))
            a[n++] = t;
        if (n == 0)
            continue;
        struct utmp q, *r = NULL;
#ifdef __GLIBC__
        struct utmp res;
#endif
        memset(&q, 0, sizeof q);
        int e;
        if (!strcmp(a[0], "set")) {
            errno = 0;
            setutent();
            printf("set %d\n", errno);
        } else if (!strcmp(a[0], "end")) {
            errno = 0;
            endutent();
            printf("end %d\n", errno);
        } else if (!strcmp(a[0], "get") || !strcmp(a[0], "getr")) {
            errno = 0;
#ifdef __GLIBC__
            if (a[0][3] == 'r') {
                if (getutent_r(&res, &r) != 0)
                    r = NULL;
            } else
#endif
                r = getutent();
            e = errno;
            show(a[0], r, e);
        } else if ((!strcmp(a[0], "id") || !strcmp(a[0], "idr")) && n == 4) {
            q.ut_type = atoi(a[1]);
            field(q.ut_id, sizeof q.ut_id, a[2]);
            field(q.ut_line, sizeof q.ut_line, a[3]);
            errno = 0;
#ifdef __GLIBC__
            if (a[0][2] == 'r') {
                if (getutid_r(&q, &res, &r) != 0)
                    r = NULL;
            } else
#endif
                r = getutid(&q);
            e = errno;
            show(a[0], r, e);
        } else if ((!strcmp(a[0], "line") || !strcmp(a[0], "liner")) && n == 2) {
            field(q.ut_line, sizeof q.ut_line, a[1]);
            errno = 0;
#ifdef __GLIBC__
            if (a[0][4] == 'r') {
                if (getutline_r(&q, &res, &r) != 0)
                    r = NULL;
            } else
#endif
                r = getutline(&q);
            e = errno;
            show(a[0], r, e);
        } else if (!strcmp(a[0], "put") && n == 12) {
            q.ut_type = atoi(a[1]);
            q.ut_pid = atoi(a[2]);
            field(q.ut_line, sizeof q.ut_line, a[3]);
            field(q.ut_id, sizeof q.ut_id, a[4]);
            field(q.ut_user, sizeof q.ut_user, a[5]);
            field(q.ut_host, sizeof q.ut_host, a[6]);
            q.ut_tv.tv_sec = atoll(a[7]);
            q.ut_tv.tv_usec = atoll(a[8]);
            q.ut_exit.e_termination = atoi(a[9]);
            q.ut_exit.e_exit = -atoi(a[9]);
            q.ut_session = atoi(a[10]);
            q.ut_addr_v6[0] = strtoul(a[11], NULL, 16);
            q.ut_addr_v6[3] = ~q.ut_addr_v6[0];
            errno = 0;
            r = pututline(&q);
            e = errno;
            show("put", r, e);
        } else {
            printf("bad op %s\n", a[0]);
            return 2;
        }
    }
    return 0;
}
