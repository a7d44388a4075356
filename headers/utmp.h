/* utmp.h: the legacy names, glibc's extensions and libutempter's API,
 * as libutmps.so exports them. See utmpx.h. */
#ifndef _UTMP_H
#define _UTMP_H

#include "utmpx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UT_LINESIZE __UT_LINESIZE
#define UT_NAMESIZE __UT_NAMESIZE
#define UT_HOSTSIZE __UT_HOSTSIZE

#define _PATH_UTMP "/var/run/utmp"
#define _PATH_WTMP "/var/log/wtmp"
#define UTMP_FILE _PATH_UTMP
#define UTMP_FILENAME _PATH_UTMP
#define WTMP_FILE _PATH_WTMP
#define WTMP_FILENAME _PATH_WTMP

struct lastlog {
#ifdef __GLIBC__
	int32_t ll_time;
#else
	time_t ll_time;
#endif
	char ll_line[UT_LINESIZE];
	char ll_host[UT_HOSTSIZE];
};

struct utmp {
	__UTMPS_FIELDS
};

#define ut_name ut_user
#define ut_time ut_tv.tv_sec
#define ut_xtime ut_tv.tv_sec
#define ut_addr ut_addr_v6[0]

void setutent(void);
struct utmp *getutent(void);
struct utmp *getutid(const struct utmp *);
struct utmp *getutline(const struct utmp *);
struct utmp *pututline(const struct utmp *);
void endutent(void);
int utmpname(const char *);
void updwtmp(const char *, const struct utmp *);
int getutent_r(struct utmp *, struct utmp **);
int getutid_r(const struct utmp *, struct utmp *, struct utmp **);
int getutline_r(const struct utmp *, struct utmp *, struct utmp **);
void login(const struct utmp *);
int logout(const char *);
void logwtmp(const char *, const char *, const char *);

/* libutempter's API (its header is <utempter.h>); 1 = success. */
int utempter_add_record(int, const char *);
int utempter_remove_record(int);
int utempter_remove_added_record(void);
void utempter_set_helper(const char *);
void addToUtmp(const char *, const char *, int);
void removeFromUtmp(void);
void removeLineFromUtmp(const char *, int);

#ifdef __cplusplus
}
#endif

#endif
