
/*
 * Copyright (C) Kianax
 */


#include "market/kx_session.h"
#include "market/kx_sim_hours.h"

#include "kx_tap.h"


#define MIN_MS   KX_MS_PER_MINUTE
#define HOUR_MS  KX_MS_PER_HOUR
#define DAY_MS   KX_MS_PER_DAY


static int64_t
utc(int y, unsigned mo, unsigned d, int h, int mi)
{
    return kx_days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS
           + mi * MIN_MS;
}


int
main(void)
{
    size_t               n;
    int64_t              open, close;
    kx_jw_t              w;
    const char          *s;
    size_t               len;
    kx_session_event_t   ev[8];

    /* Wednesday 2026-11-25: EST, 09:30-16:00 New York = 14:30-21:00 UTC */
    open = utc(2026, 11, 25, 14, 30);
    close = utc(2026, 11, 25, 21, 0);

    n = kx_session_transitions(KX_SIM_HOURS_ALWAYS, 0, utc(2026, 12, 1, 0, 0),
                               ev, 8);
    kx_tap_ok(n == 0, "always: no transitions, ever");

    n = kx_session_transitions(KX_SIM_HOURS_NYSE, open - 250, open - 1, ev, 8);
    kx_tap_ok(n == 0, "nyse: nothing just before the open");

    n = kx_session_transitions(KX_SIM_HOURS_NYSE, open - 250, open, ev, 8);
    kx_tap_ok(n == 1 && ev[0].opened == 1 && ev[0].at_ms == open,
              "nyse: the open at the tick that reaches it");

    n = kx_session_transitions(KX_SIM_HOURS_NYSE, open, open + 250, ev, 8);
    kx_tap_ok(n == 0, "nyse: the open is not reported twice");

    n = kx_session_transitions(KX_SIM_HOURS_NYSE, open + 250, close + 100, ev,
                               8);
    kx_tap_ok(n == 1 && ev[0].opened == 0 && ev[0].at_ms == close,
              "nyse: the close, stamped with the closing instant");

    n = kx_session_transitions(KX_SIM_HOURS_NYSE, close, close, ev, 8);
    kx_tap_ok(n == 0, "an empty interval: nothing");

    n = kx_session_transitions(KX_SIM_HOURS_NYSE, close + 1, close, ev, 8);
    kx_tap_ok(n == 0, "time going backwards: nothing");

    /* a stall over the whole session: both, in order */
    n = kx_session_transitions(KX_SIM_HOURS_NYSE, open - 1000, close + 1000,
                               ev, 8);
    kx_tap_ok(n == 2 && ev[0].opened == 1 && ev[0].at_ms == open
              && ev[1].opened == 0 && ev[1].at_ms == close,
              "a stall across a session: opened then closed");

    /* Thursday 2026-11-26 is Thanksgiving, Friday an early close (13:00) */
    n = kx_session_transitions(KX_SIM_HOURS_NYSE, close,
                               utc(2026, 11, 27, 23, 0), ev, 8);
    kx_tap_ok(n == 2 && ev[0].at_ms == utc(2026, 11, 27, 14, 30)
              && ev[1].at_ms == utc(2026, 11, 27, 18, 0),
              "Thanksgiving has no session; Friday closes at 13:00 EST");

    /* a week: 5 sessions, 10 transitions; only the newest 3 kept */
    n = kx_session_transitions(KX_SIM_HOURS_NYSE, utc(2026, 11, 29, 0, 0),
                               utc(2026, 12, 5, 0, 0), ev, 3);
    kx_tap_ok(n == 3, "a long stall keeps max events");
    kx_tap_ok(n == 3 && ev[0].opened == 0
              && ev[0].at_ms == utc(2026, 12, 3, 21, 0)
              && ev[1].opened == 1 && ev[1].at_ms == utc(2026, 12, 4, 14, 30)
              && ev[2].opened == 0 && ev[2].at_ms == utc(2026, 12, 4, 21, 0),
              "... the newest ones, oldest first");

    /* daylight time: 2026-06-01 opens 13:30 UTC */
    n = kx_session_transitions(KX_SIM_HOURS_NYSE, utc(2026, 6, 1, 13, 0),
                               utc(2026, 6, 1, 14, 0), ev, 8);
    kx_tap_ok(n == 1 && ev[0].at_ms == utc(2026, 6, 1, 13, 30),
              "summer: the open at 13:30 UTC");

    ev[0].at_ms = open;
    ev[0].opened = 1;
    kx_jw_init(&w);
    kx_session_event_json(&w, &ev[0]);
    kx_tap_ok(kx_jw_finish(&w, &s, &len) == 0
              && len == strlen("{\"type\":\"market.opened\","
                               "\"at\":\"2026-11-25T14:30:00.000Z\"}")
              && memcmp(s, "{\"type\":\"market.opened\","
                        "\"at\":\"2026-11-25T14:30:00.000Z\"}", len) == 0,
              "the C2 message");
    kx_jw_free(&w);

    ev[0].opened = 0;
    kx_jw_init(&w);
    kx_session_event_json(&w, &ev[0]);
    kx_tap_ok(kx_jw_finish(&w, &s, &len) == 0
              && strstr(s, "\"type\":\"market.closed\"") != NULL,
              "market.closed");
    kx_jw_free(&w);

    return kx_tap_done();
}
