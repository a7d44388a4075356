/* churn: self-checking utmp records, written and read concurrently.
 *
 *   churn write SLOTS SEED MS   pututxline the entry of random slots for
 *                               MS ms, each time with a new version N; prints
 *                               "writes W errors E"
 *   churn file PATH SLOTS       writes version 0 of every slot to the plain
 *                               file PATH (this C library's layout), no API
 *   churn read MS               whole-table scans (setutxent, getutxent to the
 *                               end) for MS ms, at least one; prints "scans S
 *                               records R bad B first BAD-ENTRY"
 *   churn append PATH SEED MS   updwtmpx(PATH) of the entry of slot SEED for MS
 *                               ms, each with a new version; prints "writes W
 *                               errors E"
 *   churn scan PATH MS          as read, of utmpxname(PATH) (wtmp); also one
 *                               line "scan COUNT HASH" per scan, HASH the FNV-1a
 *                               of each entry's pid and slot (32-bit, little
 *                               endian), to compare with a prefix of the file
 *
 * The entry of slot K with version N: line "c/K", id K (4 bytes, base 36),
 * user "uN", pid N, tv_sec N, tv_usec N % 1000000, and a host made of N's
 * digits repeated over all its 256 bytes: a record torn between two
 * writes, or made of anything but one whole pututxline, breaks the rule
 * somewhere from its first field to its last.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <utmpx.h>

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1000LL + tv.tv_usec / 1000;
}

static void make(struct utmpx *u, unsigned slot, unsigned n)
{
    char digits[16];
    size_t len, i;
    memset(u, 0, sizeof *u);
    u->ut_type = USER_PROCESS;
    u->ut_pid = (pid_t)n;
    snprintf(u->ut_line, sizeof u->ut_line, "c/%u", slot);
    for (i = 0; i < 4; i++, slot /= 36)
        u->ut_id[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[slot % 36];
    snprintf(u->ut_user, sizeof u->ut_user, "u%u", n);
    len = (size_t)snprintf(digits, sizeof digits, "%u", n);
    for (i = 0; i < sizeof u->ut_host; i++)
        u->ut_host[i] = digits[i % len];
    u->ut_tv.tv_sec = n;
    u->ut_tv.tv_usec = n % 1000000;
}

/* Whether `u` is exactly one entry that `make` builds. */
static int whole(const struct utmpx *u)
{
    struct utmpx want;
    unsigned slot;
    char rest, line[sizeof u->ut_line + 1] = {0};
    if (u->ut_type != USER_PROCESS)
        return 0;
    memcpy(line, u->ut_line, sizeof u->ut_line);
    if (sscanf(line, "c/%u%c", &slot, &rest) != 1)
        return 0;
    make(&want, slot, (unsigned)u->ut_pid);
    return memcmp(u->ut_line, want.ut_line, sizeof want.ut_line) == 0
        && memcmp(u->ut_id, want.ut_id, sizeof want.ut_id) == 0
        && memcmp(u->ut_user, want.ut_user, sizeof want.ut_user) == 0
        && memcmp(u->ut_host, want.ut_host, sizeof want.ut_host) == 0
        && u->ut_tv.tv_sec == want.ut_tv.tv_sec
        && u->ut_tv.tv_usec == want.ut_tv.tv_usec;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "write") == 0) {
        unsigned slots = (unsigned)atoi(argv[2]), seed = (unsigned)atoi(argv[3]);
        long long end = now_ms() + atoi(argv[4]);
        unsigned writes = 0, errors = 0, n = seed * 1000000u;
        srandom(seed);
        while (now_ms() < end) {
            struct utmpx u;
            make(&u, (unsigned)random() % slots, ++n);
            setutxent();
            if (pututxline(&u))
                writes++;
            else
                errors++;
        }
        endutxent();
        printf("writes %u errors %u\n", writes, errors);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "file") == 0) {
        unsigned slots = (unsigned)atoi(argv[3]), k;
        FILE *f = fopen(argv[2], "w");
        if (!f)
            return 111;
        for (k = 0; k < slots; k++) {
            struct utmpx u;
            make(&u, k, 0);
            fwrite(&u, sizeof u, 1, f);
        }
        return fclose(f) == 0 ? 0 : 111;
    }
    if (argc == 5 && strcmp(argv[1], "append") == 0) {
        unsigned seed = (unsigned)atoi(argv[3]);
        long long end = now_ms() + atoi(argv[4]);
        unsigned writes = 0, n = seed * 1000000u;
        do {
            struct utmpx u;
            make(&u, seed, ++n);
            /* updwtmpx reports nothing: the file tells. */
            updwtmpx(argv[2], &u);
            writes++;
        } while (now_ms() < end);
        printf("writes %u errors 0\n", writes);
        return 0;
    }
    if ((argc == 3 && strcmp(argv[1], "read") == 0)
        || (argc == 4 && strcmp(argv[1], "scan") == 0)) {
        int scan = argc == 4;
        long long end = now_ms() + atoi(argv[argc - 1]);
        unsigned scans = 0, records = 0, bad = 0;
        char first[600] = "-";
        if (scan && utmpxname(argv[2]) != 0)
            return 111;
        do {
            struct utmpx *u;
            unsigned count = 0;
            unsigned long long hash = 14695981039346656037ull;
            setutxent();
            while ((u = getutxent())) {
                unsigned slot = 0;
                unsigned char key[8];
                char line[sizeof u->ut_line + 1] = {0};
                int i;
                memcpy(line, u->ut_line, sizeof u->ut_line);
                sscanf(line, "c/%u", &slot);
                for (i = 0; i < 4; i++) {
                    key[i] = (unsigned char)((unsigned)u->ut_pid >> (8 * i));
                    key[4 + i] = (unsigned char)(slot >> (8 * i));
                }
                for (i = 0; i < 8; i++)
                    hash = (hash ^ key[i]) * 1099511628211ull;
                count++;
                records++;
                if (!whole(u) && bad++ == 0)
                    snprintf(first, sizeof first, "%d|%.32s|%.4s|%.32s|%d|%.40s|%lld",
                             u->ut_type, u->ut_line, u->ut_id, u->ut_user,
                             (int)u->ut_pid, u->ut_host, (long long)u->ut_tv.tv_sec);
            }
            endutxent();
            scans++;
            if (scan)
                printf("scan %u %llu\n", count, hash);
        } while (now_ms() < end);
        printf("scans %u records %u bad %u first %s\n", scans, records, bad, first);
        return 0;
    }
    fprintf(stderr, "usage: churn write SLOTS SEED MS | churn file PATH SLOTS | churn read MS\n"
                    "       churn append PATH SEED MS | churn scan PATH MS\n");
    return 100;
}
