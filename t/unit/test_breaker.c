
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_breaker.h"

#include "kx_tap.h"


static const char  *verdict_name[] = { "deny", "allow", "probe" };


static kx_breaker_conf_t
conf_of(int64_t window, unsigned buckets, unsigned min, unsigned pct,
    int64_t cooldown, unsigned probes)
{
    kx_breaker_conf_t  c;

    c.window_ms = window;
    c.buckets = buckets;
    c.min_requests = min;
    c.failure_pct = pct;
    c.cooldown_ms = cooldown;
    c.probes = probes;

    return c;
}


static void
breaker(kx_breaker_t *b, kx_breaker_conf_t c)
{
    if (kx_breaker_init(b, &c) != 0) {
        diag("bad breaker configuration in test");
        exit(2);
    }
}


static void
state_is(kx_breaker_t *b, int64_t now, kx_breaker_state_e want,
    const char *name)
{
    kx_breaker_state_e  got;

    got = kx_breaker_state(b, now);

    if (!ok(got == want, "%s: %s", name, kx_breaker_state_name(want))) {
        diag("  got %s", kx_breaker_state_name(got));
    }
}


static void
allow_is(kx_breaker_t *b, int64_t now, kx_breaker_verdict_e want,
    const char *name)
{
    kx_breaker_verdict_e  got;

    got = kx_breaker_allow(b, now);

    if (!ok(got == want, "%s: %s", name, verdict_name[want])) {
        diag("  got %s", verdict_name[got]);
    }
}


static void
counts_is(kx_breaker_t *b, int64_t now, uint32_t calls, uint32_t failures,
    const char *name)
{
    uint32_t  c, f;

    kx_breaker_counts(b, now, &c, &f);

    if (!ok(c == calls && f == failures, "%s: %u calls, %u failures", name,
            calls, failures))
    {
        diag("  got %u calls, %u failures", c, f);
    }
}


/* one call through a closed breaker, with its outcome */
static void
call(kx_breaker_t *b, int64_t now, int success)
{
    if (kx_breaker_allow(b, now) == KX_BREAKER_DENY) {
        diag("call at %" PRId64 " denied unexpectedly", now);
    }

    kx_breaker_record(b, now, success);
}


static void
test_conf(void)
{
    kx_breaker_t       b;
    kx_breaker_conf_t  c;

    kx_breaker_conf_default(&c);

    ok(c.window_ms == 10000 && c.buckets == 10 && c.min_requests == 5
       && c.failure_pct == 50 && c.cooldown_ms == 5000 && c.probes == 1,
       "defaults: 10 s in 10 buckets, 5 calls, 50%%, 5 s, 1 probe");
    is_int(kx_breaker_init(&b, &c), 0, "defaults are valid");
    state_is(&b, 0, KX_BREAKER_CLOSED, "a new breaker");
    counts_is(&b, 0, 0, 0, "a new breaker");

    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               10000, 0, 5, 50, 5000, 1 }), -1, "0 buckets rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               10000, KX_BREAKER_BUCKETS_MAX + 1, 5, 50, 5000, 1 }), -1,
           "too many buckets rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               5, 10, 5, 50, 5000, 1 }), -1,
           "window shorter than its buckets rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               10000, 10, 0, 50, 5000, 1 }), -1, "min_requests 0 rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               10000, 10, 5, 0, 5000, 1 }), -1, "failure_pct 0 rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               10000, 10, 5, 101, 5000, 1 }), -1, "failure_pct 101 rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               10000, 10, 5, 50, -1, 1 }), -1, "negative cooldown rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               10000, 10, 5, 50, 5000, 0 }), -1, "0 probes rejected");
    is_int(kx_breaker_init(&b, &(kx_breaker_conf_t) {
               1, 1, 1, 100, 0, 1 }), 0, "smallest valid configuration");
}


static void
test_open_needs_min_requests(void)
{
    kx_breaker_t  b;

    breaker(&b, conf_of(10000, 10, 4, 50, 1000, 1));

    call(&b, 100, 0);
    call(&b, 200, 0);
    call(&b, 300, 0);
    state_is(&b, 300, KX_BREAKER_CLOSED, "3 of 3 failed, min 4");
    counts_is(&b, 300, 3, 3, "3 failures counted");
    allow_is(&b, 350, KX_BREAKER_ALLOW, "closed lets calls through");
    kx_breaker_record(&b, 400, 0);
    state_is(&b, 400, KX_BREAKER_OPEN, "4th failure opens");
    is_int(b.opened_at, 400, "opened at the 4th failure");
    is_int(b.opens, 1, "opens counted");
}


static void
test_ratio(void)
{
    kx_breaker_t  b;

    breaker(&b, conf_of(10000, 10, 4, 50, 1000, 1));

    call(&b, 0, 1);
    call(&b, 0, 1);
    call(&b, 0, 1);
    call(&b, 0, 0);
    state_is(&b, 0, KX_BREAKER_CLOSED, "1 of 4 failed (25%)");
    call(&b, 0, 0);
    state_is(&b, 0, KX_BREAKER_CLOSED, "2 of 5 failed (40%)");
    call(&b, 0, 0);
    state_is(&b, 0, KX_BREAKER_OPEN, "3 of 6 failed (50%) opens");

    breaker(&b, conf_of(10000, 10, 4, 50, 1000, 1));

    call(&b, 0, 0);
    call(&b, 0, 0);
    call(&b, 0, 0);
    call(&b, 0, 1);
    state_is(&b, 0, KX_BREAKER_CLOSED,
             "3 of 4 failed but the 4th succeeded: a success never opens");
    call(&b, 0, 0);
    state_is(&b, 0, KX_BREAKER_OPEN, "the next failure opens (4 of 5)");

    breaker(&b, conf_of(10000, 10, 1, 100, 1000, 1));

    call(&b, 0, 1);
    call(&b, 0, 0);
    state_is(&b, 0, KX_BREAKER_CLOSED, "100%: 1 of 2 does not open");

    breaker(&b, conf_of(10000, 10, 1, 100, 1000, 1));

    call(&b, 0, 0);
    state_is(&b, 0, KX_BREAKER_OPEN, "min 1, 100%: one failure opens");
}


static void
test_open_half_open_close(void)
{
    kx_breaker_t  b;

    breaker(&b, conf_of(10000, 10, 2, 50, 1000, 1));

    call(&b, 5000, 0);
    call(&b, 5000, 0);
    state_is(&b, 5000, KX_BREAKER_OPEN, "opened");

    allow_is(&b, 5000, KX_BREAKER_DENY, "open denies at once");
    allow_is(&b, 5999, KX_BREAKER_DENY, "open denies 1 ms before cooldown");
    is_int(kx_breaker_retry_in(&b, 5999), 1, "retry_in 1 ms before");
    is_int(kx_breaker_retry_in(&b, 5400), 600, "retry_in 600 ms before");
    state_is(&b, 6000, KX_BREAKER_HALF_OPEN,
             "state() at the cooldown says half-open");
    ok(b.state == KX_BREAKER_OPEN, "state() changed nothing");
    is_int(kx_breaker_retry_in(&b, 6000), 0, "retry_in 0 at the cooldown");

    allow_is(&b, 6000, KX_BREAKER_PROBE, "after the cooldown: one probe");
    state_is(&b, 6000, KX_BREAKER_HALF_OPEN, "half-open with a probe out");
    allow_is(&b, 6001, KX_BREAKER_DENY, "a second call waits for the probe");
    allow_is(&b, 9000, KX_BREAKER_DENY, "... however long it takes");
    kx_breaker_record(&b, 9000, 1);
    state_is(&b, 9000, KX_BREAKER_CLOSED, "probe success closes");
    counts_is(&b, 9000, 0, 0, "closing empties the window");
    allow_is(&b, 9000, KX_BREAKER_ALLOW, "closed again lets calls through");
    kx_breaker_record(&b, 9000, 0);
    state_is(&b, 9000, KX_BREAKER_CLOSED,
             "one failure after closing: old failures are gone");
    kx_breaker_record(&b, 9001, 0);
    state_is(&b, 9001, KX_BREAKER_OPEN, "... two reopen it");
    is_int(b.opens, 2, "opened twice");
}


static void
test_probe_failure_reopens(void)
{
    kx_breaker_t  b;

    breaker(&b, conf_of(10000, 10, 1, 50, 1000, 1));

    call(&b, 0, 0);
    state_is(&b, 0, KX_BREAKER_OPEN, "opened at 0");
    allow_is(&b, 1500, KX_BREAKER_PROBE, "probe at 1500");
    kx_breaker_record(&b, 1700, 0);
    state_is(&b, 1700, KX_BREAKER_OPEN, "probe failure reopens");
    is_int(b.opened_at, 1700, "... with a new cooldown from the failure");
    allow_is(&b, 2000, KX_BREAKER_DENY, "denied at 2000 (old cooldown over)");
    allow_is(&b, 2699, KX_BREAKER_DENY, "denied at 2699");
    allow_is(&b, 2700, KX_BREAKER_PROBE, "probe at 2700");
    kx_breaker_record(&b, 2800, 1);
    state_is(&b, 2800, KX_BREAKER_CLOSED, "closed");
}


static void
test_release(void)
{
    kx_breaker_t  b;

    breaker(&b, conf_of(10000, 10, 1, 50, 1000, 1));

    call(&b, 0, 0);
    allow_is(&b, 1000, KX_BREAKER_PROBE, "probe");
    allow_is(&b, 1000, KX_BREAKER_DENY, "no second probe");
    kx_breaker_release(&b);
    state_is(&b, 1100, KX_BREAKER_HALF_OPEN, "release keeps half-open");
    allow_is(&b, 1100, KX_BREAKER_PROBE, "a released slot takes a new probe");
    kx_breaker_release(&b);
    kx_breaker_release(&b);
    ok(b.probes_out == 0, "extra releases do not underflow");

    breaker(&b, conf_of(10000, 10, 2, 50, 1000, 1));

    allow_is(&b, 0, KX_BREAKER_ALLOW, "closed");
    kx_breaker_release(&b);
    counts_is(&b, 0, 0, 0, "a released call is not counted");
}


static void
test_results_while_open(void)
{
    kx_breaker_t  b;

    breaker(&b, conf_of(10000, 10, 1, 50, 1000, 1));

    call(&b, 0, 0);
    kx_breaker_record(&b, 500, 1);
    state_is(&b, 500, KX_BREAKER_OPEN,
             "a late success (call from before) keeps it open");
    kx_breaker_record(&b, 900, 0);
    is_int(b.opened_at, 0, "a late failure does not extend the cooldown");
    allow_is(&b, 1000, KX_BREAKER_PROBE, "probe at the first cooldown");
}


static void
test_probes(void)
{
    kx_breaker_t  b;

    breaker(&b, conf_of(10000, 10, 1, 50, 100, 2));

    call(&b, 0, 0);
    allow_is(&b, 100, KX_BREAKER_PROBE, "probe 1 of 2");
    allow_is(&b, 100, KX_BREAKER_PROBE, "probe 2 of 2");
    allow_is(&b, 100, KX_BREAKER_DENY, "no third probe");
    kx_breaker_record(&b, 150, 1);
    state_is(&b, 150, KX_BREAKER_CLOSED, "the first success closes");
    kx_breaker_record(&b, 160, 0);
    state_is(&b, 160, KX_BREAKER_OPEN,
             "min 1: the other probe's failure, now counted closed, opens");
}


static void
test_window(void)
{
    kx_breaker_t  b;

    /* 10 s in 10 buckets of 1 s */
    breaker(&b, conf_of(10000, 10, 4, 50, 1000, 1));

    call(&b, 0, 0);
    call(&b, 999, 0);
    call(&b, 1000, 0);
    counts_is(&b, 1000, 3, 3, "three failures in buckets 0 and 1");
    counts_is(&b, 9999, 3, 3, "all still in the window at 9999");
    counts_is(&b, 10000, 1, 1, "bucket 0 left the window at 10000");
    counts_is(&b, 11000, 0, 0, "bucket 1 left at 11000");

    call(&b, 9999, 0);
    state_is(&b, 9999, KX_BREAKER_OPEN, "4 failures within 10 s open");

    breaker(&b, conf_of(10000, 10, 4, 50, 1000, 1));

    call(&b, 0, 0);
    call(&b, 999, 0);
    call(&b, 1000, 0);
    call(&b, 10000, 0);
    state_is(&b, 10000, KX_BREAKER_CLOSED,
             "the same 4 failures over 10 s + 1 bucket do not open");
    counts_is(&b, 10000, 2, 2, "two in the window");

    /* a bucket is reused after wrapping around: its old counts go */
    breaker(&b, conf_of(10000, 10, 100, 50, 1000, 1));

    call(&b, 2500, 1);
    call(&b, 2600, 0);
    call(&b, 12500, 1);
    counts_is(&b, 12500, 1, 0, "the wrapped bucket starts empty");
    counts_is(&b, 2600, 0, 0,
              "an earlier time sees no future bucket (and old ones are gone)");

    /* times before the epoch: floor division keeps buckets apart */
    breaker(&b, conf_of(10000, 10, 4, 50, 1000, 1));

    call(&b, -5000, 0);
    call(&b, -1, 0);
    call(&b, 0, 0);
    call(&b, 4000, 1);
    counts_is(&b, 4000, 4, 3, "negative times count in their buckets");
    counts_is(&b, 5000, 3, 2, "bucket -5 left the window at 5000");
    call(&b, 4001, 0);
    state_is(&b, 4001, KX_BREAKER_OPEN, "4 of 5 failed across zero");

    breaker(&b, conf_of(10000, 10, 100, 50, 1000, 1));

    call(&b, -1, 0);
    call(&b, 5000, 0);
    counts_is(&b, 5000, 2, 2, "buckets -1 and 5 are different buckets");

    breaker(&b, conf_of(10000, 10, 100, 50, 1000, 1));

    call(&b, -999, 0);
    counts_is(&b, 8999, 1, 1, "-999 is in bucket -1: in the window at 8999");
    counts_is(&b, 9000, 0, 0, "... and out of it at 9000 (floor, not trunc)");
}


static void
test_names(void)
{
    is_str(kx_breaker_state_name(KX_BREAKER_CLOSED), "closed", "name closed");
    is_str(kx_breaker_state_name(KX_BREAKER_OPEN), "open", "name open");
    is_str(kx_breaker_state_name(KX_BREAKER_HALF_OPEN), "half_open",
           "name half_open");
}


int
main(void)
{
    test_conf();
    test_open_needs_min_requests();
    test_ratio();
    test_open_half_open_close();
    test_probe_failure_reopens();
    test_release();
    test_results_while_open();
    test_probes();
    test_window();
    test_names();

    return kx_tap_done();
}
