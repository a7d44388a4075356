/* getent [FILE]: reads every utmpx record with getutxent, as `who` does
 * (the whole process, from exec to exit, is what the benchmark times),
 * and exits 0 when it read at least one. Built three ways by scripts/bench:
 * with glibc (reading FILE itself, or, under libutmps.so, through utmpd),
 * and with -DSKARNET against skarnet's libutmps, which always asks its
 * utmpd (FILE is ignored: its utmpxname does nothing). */
#ifdef SKARNET
#include <utmps/utmpx.h>
#else
#define _GNU_SOURCE
#include <utmpx.h>
#endif

int main(int argc, char **argv)
{
#ifndef SKARNET
    if (argc > 1 && utmpxname(argv[1]) != 0)
        return 111;
#else
    (void)argc;
    (void)argv;
#endif
    long n = 0;
    setutxent();
    while (getutxent())
        n++;
    endutxent();
    return n > 0 ? 0 : 1;
}
