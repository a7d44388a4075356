/* Prints, at compile time, the layout of one struct utmpx: compile with
   -S and read the "@@name value" lines from the assembly (the technique of
   Linux's asm-offsets), so that no target binary has to run.
   Default: the C library's struct utmpx. -DWIRE: skarnet utmps' own struct
   utmpx (utmps_wire.h, the one the wire tests send). */
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <utmpx.h>

#ifdef WIRE
/* Compiled against musl, whose struct timeval is two 64-bit words on every
   architecture: skarnet's struct as its client sends it. */
# include "utmps_wire.h"
# define S struct utmps_utmpx
# define RESERVED _dummy
#elif defined __GLIBC__
# define S struct utmpx
# define RESERVED __glibc_reserved
#else
# define S struct utmpx
# define RESERVED __unused
#endif

#define OUT(name, value) __asm__ volatile("\n.ascii \"@@" name " %0\"" : : "i"(value))
#define OFF(field) OUT(#field, offsetof(S, field))
#define SIZE(field) OUT(#field "_size", sizeof(((S *)0)->field))

void probe(void)
{
    OUT("size", sizeof(S));
    OUT("align", _Alignof(S));
    OFF(ut_type);
    OFF(ut_pid);
    OFF(ut_line);
    OFF(ut_id);
    OFF(ut_user);
    OFF(ut_host);
    OFF(ut_exit);
    OFF(ut_session);
    SIZE(ut_session);
    OFF(ut_tv.tv_sec);
    SIZE(ut_tv.tv_sec);
    OFF(ut_tv.tv_usec);
    SIZE(ut_tv.tv_usec);
    OFF(ut_addr_v6);
    OFF(RESERVED);
    SIZE(RESERVED);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    OUT("big_endian", 1);
#else
    OUT("big_endian", 0);
#endif
}
