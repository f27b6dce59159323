
/*
 * Copyright (C) Kianax
 */


#include "core/kx_calendar.h"


int64_t
kx_days_from_civil(int64_t year, unsigned month, unsigned mday)
{
    int64_t  y, era, yoe, doy, doe;

    y = year - (month <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + mday - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


void
kx_civil_from_days(int64_t days, int64_t *year, unsigned *month,
    unsigned *mday)
{
    int64_t  z, era, doe, yoe, doy, mp;

    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *mday = (unsigned) (doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned) (mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}


unsigned
kx_weekday(int64_t days)
{
    int64_t  r;

    /* 1970-01-01 was a Thursday */
    r = (days + 4) % 7;

    return (unsigned) (r < 0 ? r + 7 : r);
}


unsigned
kx_days_in_month(int64_t year, unsigned month)
{
    static const unsigned char  days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        return 29;
    }

    return days[month - 1];
}


int
kx_date_valid(int64_t year, int64_t month, int64_t mday)
{
    return month >= 1 && month <= 12 && mday >= 1
           && mday <= (int64_t) kx_days_in_month(year, (unsigned) month);
}
