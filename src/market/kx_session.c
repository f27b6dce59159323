
/*
 * Copyright (C) Kianax
 */


#include "kx_session.h"


size_t
kx_session_transitions(kx_sim_hours_e mode, int64_t prev_ms, int64_t now_ms,
    kx_session_event_t *out, size_t max)
{
    int      opens;
    size_t   n, total, skip, keep;
    int64_t  t, next;

    if (max == 0 || now_ms <= prev_ms) {
        return 0;
    }

    /*
     * Two passes, counting then storing the newest max: two transitions
     * a day at most, so even a stall of a year costs little.
     * kx_sim_next_transition() answers the first transition strictly
     * after an instant, so prev_ms itself, covered by the previous
     * check, is excluded.
     */
    total = 0;

    for (t = prev_ms; /* void */; t = next) {
        next = kx_sim_next_transition(mode, t, &opens);
        if (next == KX_SIM_NEVER || next > now_ms) {
            break;
        }
        total++;
    }

    keep = (total > max) ? max : total;
    skip = total - keep;
    n = 0;

    for (t = prev_ms; n < keep; t = next) {
        next = kx_sim_next_transition(mode, t, &opens);

        if (skip) {
            skip--;
            continue;
        }

        out[n].at_ms = next;
        out[n].opened = opens;
        n++;
    }

    return n;
}


void
kx_session_event_json(kx_jw_t *w, const kx_session_event_t *ev)
{
    size_t  len;
    char    at[KX_SIM_TIME_FMT_MAX];

    len = kx_sim_time_format(ev->at_ms, at, sizeof(at));

    kx_jw_obj_begin(w);
    kx_jw_key(w, "type");
    kx_jw_str(w, ev->opened ? "market.opened" : "market.closed");
    kx_jw_key(w, "at");
    kx_jw_strn(w, at, len);
    kx_jw_obj_end(w);
}
