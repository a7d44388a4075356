/* wireput SOCKET TYPE USER LINE ID PID HOST SEC: one pututxline sent as
 * skarnet's client sends it: the byte 'E', then utmps' struct utmpx
 * copied byte for byte (utmps_utmpx_pack is a memcpy), as built against
 * musl (64-bit tv_sec and tv_usec); prints the status byte of the reply.
 * On a big-endian host every number goes out big-endian. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "utmps_wire.h"


int main(int argc, char **argv)
{
    struct utmps_utmpx u;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char buf[1 + sizeof u], status;
    int fd;
    if (argc != 9) {
        fprintf(stderr, "usage: wireput SOCKET TYPE USER LINE ID PID HOST SEC\n");
        return 100;
    }
    memset(&u, 0, sizeof u);
    u.ut_type = atoi(argv[2]);
    strncpy(u.ut_user, argv[3], sizeof u.ut_user);
    strncpy(u.ut_line, argv[4], sizeof u.ut_line);
    strncpy(u.ut_id, argv[5], sizeof u.ut_id);
    u.ut_pid = atoi(argv[6]);
    strncpy(u.ut_host, argv[7], sizeof u.ut_host);
    u.ut_tv.tv_sec = atoll(argv[8]);
    u.ut_tv.tv_usec = 654321;
    u.ut_session = 4321;
    u.ut_addr_v6[0] = 0x01020304;
    buf[0] = 'E';
    memcpy(buf + 1, &u, sizeof u);
    strncpy(sa.sun_path, argv[1], sizeof sa.sun_path - 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("wireput: connect");
        return 111;
    }
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || read(fd, &status, 1) != 1) {
        perror("wireput");
        return 111;
    }
    printf("size %u status %d\n", (unsigned)sizeof u, status);
    return 0;
}
