/* spawn N STDIN PROGRAM [ARGS...]: run PROGRAM N times, one after the
 * other, stdin from the file STDIN ("-" for /dev/null); prints the wall
 * time of each run in nanoseconds, one per line, then "maxrss KB" (the
 * largest resident set of any run). The caller's environment is passed
 * on (LD_PRELOAD included). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: spawn N STDIN PROGRAM [ARGS...]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *in = strcmp(argv[2], "-") ? argv[2] : "/dev/null";
    for (int i = 0; i < n; i++) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        long long t0 = now();
        if (posix_spawn(&pid, argv[3], &fa, NULL, argv + 3, environ) != 0) {
            perror("posix_spawn");
            return 1;
        }
        int st;
        waitpid(pid, &st, 0);
        long long t1 = now();
        posix_spawn_file_actions_destroy(&fa);
        if (!WIFEXITED(st)) {
            fprintf(stderr, "spawn: %s died\n", argv[3]);
            return 1;
        }
        printf("%lld\n", t1 - t0);
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("maxrss %ld\n", ru.ru_maxrss);
    return 0;
}
