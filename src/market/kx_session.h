
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_SESSION_H_INCLUDED_
#define _KX_SESSION_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_json.h"
#include "kx_sim_hours.h"


/*
 * Market session transitions (contract C2) as a pure function of two
 * instants, so the publisher needs no state but the time of its
 * previous check, and a worker that was busy (or a clock that jumped)
 * still reports what happened meanwhile, in order, at the instants it
 * happened.  In always mode nothing ever happens.
 */

typedef struct {
    int64_t         at_ms;      /* the instant of the open or close */
    int             opened;     /* 1: market.opened, 0: market.closed */
} kx_session_event_t;


/*
 * The transitions t with prev_ms < t <= now_ms, oldest first.  When
 * more than max happened, the newest max of them (a long stall should
 * not replay a week of sessions).  Returns how many were stored.
 */
size_t kx_session_transitions(kx_sim_hours_e mode, int64_t prev_ms,
    int64_t now_ms, kx_session_event_t *out, size_t max);

/* {"type":"market.opened"|"market.closed","at":"<ISO 8601 UTC>"} */
void kx_session_event_json(kx_jw_t *w, const kx_session_event_t *ev);


#endif /* _KX_SESSION_H_INCLUDED_ */
