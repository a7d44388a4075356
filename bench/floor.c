/* The least any in-process implementation could cost `who`, as a control
 * for scripts/bench: a preloaded library whose utmpxname, setutxent,
 * getutxent and endutxent (and the utmp.h names) read the named file
 * itself, 128 records per pread into a static buffer, with no daemon, no
 * lock, no check and no copy. What `who` still costs above it is its
 * own work (a stat of every terminal, the formatting) and the exec: a
 * reader of the API cannot go below this line. Linked with the minimal
 * layout (scripts/bench), the cheapest library to preload. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <utmpx.h>

#define RUN 128

static char name[4096] = "/var/run/utmp";
static struct utmpx run[RUN];
static size_t in_run, next;
static off_t offset;
static int fd = -1;

int utmpxname(const char *file)
{
    size_t len = strlen(file);
    if (len >= sizeof name)
        return -1;
    memcpy(name, file, len + 1);
    if (fd >= 0)
        close(fd);
    fd = -1;
    in_run = next = 0;
    offset = 0;
    return 0;
}

void setutxent(void)
{
    in_run = next = 0;
    offset = 0;
}

struct utmpx *getutxent(void)
{
    if (next == in_run) {
        if (fd < 0 && (fd = open(name, O_RDONLY | O_CLOEXEC)) < 0)
            return NULL;
        ssize_t got = pread(fd, run, sizeof run, offset);
        if (got < (ssize_t)sizeof run[0])
            return NULL;
        in_run = (size_t)got / sizeof run[0];
        next = 0;
        offset += (off_t)(in_run * sizeof run[0]);
    }
    return &run[next++];
}

void endutxent(void)
{
    if (fd >= 0)
        close(fd);
    fd = -1;
    in_run = next = 0;
    offset = 0;
}

int utmpname(const char *file) __attribute__((alias("utmpxname")));
void setutent(void) __attribute__((alias("setutxent")));
struct utmpx *getutent(void) __attribute__((alias("getutxent")));
void endutent(void) __attribute__((alias("endutxent")));
