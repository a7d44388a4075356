/* headers: a program built against headers/ and linked with -lutmps (no
 * preload), with gcc and with musl-gcc.
 *
 *   headers layout             prints sizeof and key offsets of struct utmp/utmpx
 *   headers login LINE USER    pututline a USER_PROCESS entry, logwtmp it
 *   headers list               getutent_r over utmp
 *   headers logout LINE        prints logout()'s result
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <utmp.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "layout")) {
        printf("%zu %zu %zu %zu %zu\n", sizeof(struct utmp), sizeof(struct utmpx),
               offsetof(struct utmp, ut_host), offsetof(struct utmp, ut_tv),
               offsetof(struct utmpx, ut_addr_v6));
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "login")) {
        struct utmp u;
        memset(&u, 0, sizeof u);
        u.ut_type = USER_PROCESS;
        u.ut_pid = getpid();
        strncpy(u.ut_line, argv[2], sizeof u.ut_line);
        strncpy(u.ut_id, argv[2] + strlen(argv[2]) - 2, sizeof u.ut_id);
        strncpy(u.ut_name, argv[3], sizeof u.ut_name);
        if (utmpname(_PATH_UTMP) != 0)
            return 1;
        setutent();
        if (!pututline(&u)) {
            perror("pututline");
            return 1;
        }
        endutent();
        logwtmp(argv[2], argv[3], "headers.example");
        printf("ok\n");
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "list")) {
        struct utmp buf, *r;
        setutent();
        while (getutent_r(&buf, &r) == 0)
            printf("%d %.32s %.32s\n", r->ut_type, r->ut_name, r->ut_line);
        endutent();
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "logout")) {
        printf("%d\n", logout(argv[2]));
        return 0;
    }
    fprintf(stderr, "usage: headers layout | login LINE USER | list | logout LINE\n");
    return 2;
}
