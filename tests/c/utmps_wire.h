/* skarnet utmps' own struct utmpx, the record on the wire: what its
 * client memcpy's, built against musl (64-bit tv_sec and tv_usec), in the
 * host's byte order and alignment (392 bytes on i386, 400 elsewhere). */
#include <stdint.h>
#include <sys/types.h>

struct utmps_utmpx {
    short ut_type;
    pid_t ut_pid;
    char ut_line[32];
    char ut_id[4];
    char ut_user[32];
    char ut_host[256];
    struct { short e_termination, e_exit; } ut_exit;
    pid_t ut_session;
    struct { int64_t tv_sec, tv_usec; } ut_tv;
    uint32_t ut_addr_v6[4];
    char _dummy[20];
};
