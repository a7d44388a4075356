/* locker FILE...: take every lock an ordinary user can on each FILE (a
 * shared flock and a POSIX read lock, with a read-only descriptor), print
 * "locked", and hold them until killed. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            printf("cannot open %s\n", argv[i]);
            continue;
        }
        struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
        if (flock(fd, LOCK_SH) != 0 || fcntl(fd, F_SETLK, &fl) != 0) {
            printf("cannot lock %s\n", argv[i]);
            return 1;
        }
    }
    printf("locked\n");
    fflush(stdout);
    for (;;)
        pause();
}
