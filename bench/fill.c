/* fill FILE N PID: write N USER_PROCESS records (glibc layout, through
 * glibc itself) for live pid PID into FILE, for the reading benchmark. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utmpx.h>

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int n = atoi(argv[2]);
    struct utmpx u;
    memset(&u, 0, sizeof u);
    u.ut_type = USER_PROCESS;
    u.ut_pid = atoi(argv[3]);
    strcpy(u.ut_user, "root");
    strcpy(u.ut_host, "bench.example");
    for (int i = 0; i < n; i++) {
        snprintf(u.ut_line, sizeof u.ut_line, "pts/%d", i);
        snprintf(u.ut_id, sizeof u.ut_id, "%d", i);
        u.ut_tv.tv_sec = 1700000000 + i;
        updwtmpx(argv[1], &u);
    }
    return 0;
}
