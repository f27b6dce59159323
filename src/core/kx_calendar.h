
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_CALENDAR_H_INCLUDED_
#define _KX_CALENDAR_H_INCLUDED_


#include <stdint.h>


/*
 * The proleptic Gregorian calendar, with days counted from 1970-01-01:
 * the one piece of date arithmetic every parser of a date and the
 * simulated market's hours share.
 */

/* H. Hinnant's algorithms; month 1-12, mday 1-31 */
int64_t kx_days_from_civil(int64_t year, unsigned month, unsigned mday);
void kx_civil_from_days(int64_t days, int64_t *year, unsigned *month,
    unsigned *mday);

/* 0 = Sunday ... 6 = Saturday */
unsigned kx_weekday(int64_t days);

/* month 1-12 */
unsigned kx_days_in_month(int64_t year, unsigned month);

/*
 * Whether year-month-mday is a day of the calendar: a parser must check
 * it, kx_days_from_civil() carries 2025-02-29 silently into March.
 */
int kx_date_valid(int64_t year, int64_t month, int64_t mday);


#endif /* _KX_CALENDAR_H_INCLUDED_ */
