/* libutil: glibc's login(3), logout(3), logwtmp(3) from a test program.
 *
 *   libutil login USER HOST        login() on the terminal of fd 0; prints the tty
 *   libutil logout LINE            prints logout()'s result
 *   libutil logwtmp LINE USER HOST
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <utmp.h>

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "login")) {
        struct utmp u;
        memset(&u, 0, sizeof u);
        strncpy(u.ut_user, argv[2], sizeof u.ut_user);
        strncpy(u.ut_host, argv[3], sizeof u.ut_host);
        login(&u);
        const char *tty = ttyname(0);
        printf("%s\n", tty ? tty : "none");
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "logout")) {
        printf("%d\n", logout(argv[2]));
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "logwtmp")) {
        logwtmp(argv[2], argv[3], argv[4]);
        printf("done\n");
        return 0;
    }
    fprintf(stderr, "usage: libutil login USER HOST | logout LINE | logwtmp LINE USER HOST\n");
    return 2;
}
