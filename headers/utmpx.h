/* utmpx.h: what libutmps.so exports, for building against utmps-rs.
 *
 * Install with the rest of utmps-rs (include/utmps/) and compile with
 * `pkg-config --cflags --libs utmps`, i.e. -I.../include/utmps -lutmps.
 * The layout follows the C library being compiled against, which is also
 * how libutmps.so reads it at run time: glibc's 384-byte struct (32-bit
 * ut_tv) or musl's 400-byte one. x86_64 only.
 */
#ifndef _UTMPX_H
#define _UTMPX_H

#if !defined(__x86_64__)
#error "utmps-rs headers describe the x86_64 layouts"
#endif

#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define __UT_LINESIZE 32
#define __UT_NAMESIZE 32
#define __UT_HOSTSIZE 256

/* ut_type */
#define EMPTY         0
#define RUN_LVL       1
#define BOOT_TIME     2
#define NEW_TIME      3
#define OLD_TIME      4
#define INIT_PROCESS  5
#define LOGIN_PROCESS 6
#define USER_PROCESS  7
#define DEAD_PROCESS  8
#define ACCOUNTING    9

/* Routed by libutmps.so: utmp to utmps-utmpd, wtmp to utmps-wtmpd. */
#define _PATH_UTMPX "/var/run/utmp"
#define _PATH_WTMPX "/var/log/wtmp"
#define UTMPX_FILE _PATH_UTMPX
#define WTMPX_FILE _PATH_WTMPX

#ifndef __UTMPS_EXIT_STATUS
#define __UTMPS_EXIT_STATUS
struct exit_status {
	short e_termination;
	short e_exit;
};
#endif

/* The fields of struct utmpx and struct utmp, identical in both. */
#ifdef __GLIBC__
#define __UTMPS_FIELDS \
	short ut_type; \
	pid_t ut_pid; \
	char ut_line[__UT_LINESIZE]; \
	char ut_id[4]; \
	char ut_user[__UT_NAMESIZE]; \
	char ut_host[__UT_HOSTSIZE]; \
	struct exit_status ut_exit; \
	int32_t ut_session; \
	struct { int32_t tv_sec; int32_t tv_usec; } ut_tv; \
	int32_t ut_addr_v6[4]; \
	char __glibc_reserved[20];
#else
#define __UTMPS_FIELDS \
	short ut_type; \
	short __ut_pad1; \
	pid_t ut_pid; \
	char ut_line[__UT_LINESIZE]; \
	char ut_id[4]; \
	char ut_user[__UT_NAMESIZE]; \
	char ut_host[__UT_HOSTSIZE]; \
	struct exit_status ut_exit; \
	int ut_session, __ut_pad2; \
	struct timeval ut_tv; \
	unsigned ut_addr_v6[4]; \
	char __unused[20];
#endif

struct utmpx {
	__UTMPS_FIELDS
};

struct utmp;

void setutxent(void);
struct utmpx *getutxent(void);
struct utmpx *getutxid(const struct utmpx *);
struct utmpx *getutxline(const struct utmpx *);
struct utmpx *pututxline(const struct utmpx *);
void endutxent(void);
int utmpxname(const char *);
void updwtmpx(const char *, const struct utmpx *);
void getutmp(const struct utmpx *, struct utmp *);
void getutmpx(const struct utmp *, struct utmpx *);

#ifdef __cplusplus
}
#endif

#endif
