/* utempter: libutempter's API from a test program (linked with
 * -lutempter; the preloaded shim's definitions win).
 *
 *   utempter add FD HOST      prints utempter_add_record's result
 *   utempter remove FD        prints utempter_remove_record's result
 *   utempter add-remove FD    add, then utempter_remove_added_record
 *   utempter locked HOST      as xterm: a new pty (posix_openpt, grantpt),
 *                             added while still locked; prints the result,
 *                             the line, and whether the slave then opens
 *   utempter helper N PATH    runs libutempter's helper PATH ("add here")
 *                             N times on a new pty of its own, as the
 *                             library would; prints "ran N ok K"
 *   utempter killed HOST      as xterm killed as it starts: a new pty added
 *                             with a timer set to fire 100 us into the call,
 *                             whose handler removes the added entry and
 *                             exits; prints the line first
 */
#define _XOPEN_SOURCE 600
#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <utempter.h>

/* xterm's SIGTERM handler, in short. */
static void on_alarm(int sig)
{
    (void)sig;
    _exit(utempter_remove_added_record() == 1 ? 0 : 4);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "add")) {
        printf("%d\n", utempter_add_record(atoi(argv[2]), argv[3]));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "remove")) {
        printf("%d\n", utempter_remove_record(atoi(argv[2])));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "add-remove")) {
        int a = utempter_add_record(atoi(argv[2]), "both");
        int r = utempter_remove_added_record();
        printf("%d %d\n", a, r);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "locked")) {
        int m = posix_openpt(O_RDWR | O_NOCTTY);
        if (m < 0 || grantpt(m) != 0)
            return 1;
        int a = utempter_add_record(m, argv[2]);
        int s = unlockpt(m) == 0 ? open(ptsname(m), O_RDWR | O_NOCTTY) : -1;
        printf("%d %s %s\n", a, ptsname(m) + 5, s >= 0 ? "opens" : "locked");
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "killed")) {
        int m = posix_openpt(O_RDWR | O_NOCTTY);
        if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
            return 1;
        printf("%s\n", ptsname(m) + 5);
        fflush(stdout);
        signal(SIGALRM, on_alarm);
        struct itimerval t = {{0, 0}, {0, 100}};
        setitimer(ITIMER_REAL, &t, NULL);
        utempter_add_record(m, argv[2]);
        /* Not reached while the handler exits; if the add ends first, the
           handler runs here. */
        pause();
        return 3;
    }
    if (argc == 4 && !strcmp(argv[1], "helper")) {
        int n = atoi(argv[2]), ok = 0;
        int m = posix_openpt(O_RDWR | O_NOCTTY);
        if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
            return 1;
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) {
                dup2(m, 0);
                execl(argv[3], "utempter", "add", "here", (char *)0);
                _exit(127);
            }
            int st;
            if (p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0)
                ok++;
        }
        printf("ran %d ok %d\n", n, ok);
        return 0;
    }
    fprintf(stderr, "usage: utempter add FD HOST | remove FD | add-remove FD | locked HOST | killed HOST | helper N PATH\n");
    return 2;
}
