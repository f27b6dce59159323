
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <string.h>

#include "kx_sim_bars.h"
#include "kx_sim_news.h"


#define KX_SIM_NEWS_SLOT_MS     (4 * KX_MS_PER_HOUR)
/* a slot holds an item with probability 3/8 */
#define KX_SIM_NEWS_ODDS        3
#define KX_SIM_NEWS_ODDS_OF     8

#define KX_SIM_TAG_NEWS         UINT64_C(0x6e657773)


static void kx_sim_news_make(const kx_sim_t *sim, size_t sym, int64_t t,
    uint64_t key, kx_sim_news_t *item);
static int64_t kx_sim_news_floor(int64_t a, int64_t b);


static const char  *kx_sim_news_sources[] = {
    "Kianax Sim Wire",
    "Kianax Sim Markets Desk",
    "Kianax Sim Analyst Notes",
    "Kianax Sim Briefing"
};

#define KX_SIM_NEWS_NSOURCES \
    (sizeof(kx_sim_news_sources) / sizeof(kx_sim_news_sources[0]))

/* indexed by kx_sim_sentiment_e; %s is the company name */
static const char  *kx_sim_news_titles[3][4] = {
    {
        "%s to present at an upcoming industry conference",
        "What to watch for %s this week",
        "%s names a new member to its board",
        "%s trades in line with the market as investors await data"
    },
    {
        "%s shares climb after upbeat quarterly results",
        "Analysts raise price targets on %s",
        "%s gains as demand outlook improves",
        "%s expands share buyback program"
    },
    {
        "%s shares slide as margins come under pressure",
        "%s falls after cautious guidance",
        "Analyst downgrade weighs on %s",
        "%s faces questions over slowing growth"
    }
};

static const char  *kx_sim_news_moods[3] = {
    "Trading was steady",
    "The stock rose in the session",
    "The stock fell in the session"
};


int
kx_sim_news(const kx_sim_t *sim, size_t sym, int64_t before_ms,
    kx_sim_news_t *out, size_t max, size_t *n)
{
    int64_t   slot, last, first, t;
    uint64_t  key;

    *n = 0;

    if (sym >= sim->nsyms) {
        return KX_SIM_ENOSYM;
    }

    if (before_ms <= KX_SIM_MIN_MS + KX_SIM_NEWS_HORIZON_MS
        || before_ms > KX_SIM_MAX_MS)
    {
        return KX_SIM_EINVAL;
    }

    last = kx_sim_news_floor(before_ms - 1, KX_SIM_NEWS_SLOT_MS);
    first = kx_sim_news_floor(before_ms - KX_SIM_NEWS_HORIZON_MS,
                              KX_SIM_NEWS_SLOT_MS);

    for (slot = last; slot >= first && *n < max; slot--) {
        key = kx_prng_key(sim->seed, KX_SIM_TAG_NEWS, sym, (uint64_t) slot);

        if (key % KX_SIM_NEWS_ODDS_OF >= KX_SIM_NEWS_ODDS) {
            continue;
        }

        t = slot * KX_SIM_NEWS_SLOT_MS
            + (int64_t) ((key >> 8) % (uint64_t) KX_SIM_NEWS_SLOT_MS);

        if (t >= before_ms || t < before_ms - KX_SIM_NEWS_HORIZON_MS) {
            continue;
        }

        kx_sim_news_make(sim, sym, t, key, &out[*n]);
        (*n)++;
    }

    return KX_SIM_OK;
}


const char *
kx_sim_sentiment_name(kx_sim_sentiment_e s)
{
    switch (s) {
    case KX_SIM_POSITIVE:
        return "positive";
    case KX_SIM_NEGATIVE:
        return "negative";
    default:
        return "neutral";
    }
}


void
kx_sim_news_json(kx_jw_t *w, const kx_sim_news_t *item)
{
    char  ts[KX_SIM_TIME_FMT_MAX];

    kx_sim_time_format(item->published_ms, ts, sizeof(ts));

    kx_jw_obj_begin(w);
    kx_jw_key(w, "id");
    kx_jw_str(w, item->id);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, kx_symbol_at(item->sym)->symbol);
    kx_jw_key(w, "title");
    kx_jw_str(w, item->title);
    kx_jw_key(w, "summary");
    kx_jw_str(w, item->summary);
    kx_jw_key(w, "source");
    kx_jw_str(w, item->source);
    kx_jw_key(w, "url");
    kx_jw_str(w, item->url);
    kx_jw_key(w, "published_at");
    kx_jw_str(w, ts);
    kx_jw_key(w, "sentiment");
    kx_jw_str(w, kx_sim_sentiment_name(item->sentiment));
    kx_jw_key(w, "tickers");
    kx_jw_arr_begin(w);
    kx_jw_str(w, kx_symbol_at(item->sym)->symbol);
    kx_jw_arr_end(w);
    kx_jw_obj_end(w);
}


static void
kx_sim_news_make(const kx_sim_t *sim, size_t sym, int64_t t, uint64_t key,
    kx_sim_news_t *item)
{
    int64_t             day, now, prev, move, band;
    unsigned            pick;
    kx_sim_sentiment_e  s;
    const kx_symbol_t  *sy;

    sy = kx_symbol_at(sym);

    /* the day's simulated move against a quarter of its volatility */
    day = kx_sim_day_of(sim->hours, t);
    now = kx_sim_level(sim, sym, day);
    prev = kx_sim_level(sim, sym, day - 1);
    move = kx_sim_muldiv(now - prev, 40000, prev);
    band = sy->vol_bp;

    s = move > band ? KX_SIM_POSITIVE
                    : (move < -band ? KX_SIM_NEGATIVE : KX_SIM_NEUTRAL);
    pick = (unsigned) ((key >> 50) % 4);

    item->sym = (unsigned) sym;
    item->published_ms = t;
    item->sentiment = s;
    item->source = kx_sim_news_sources[(key >> 56) % KX_SIM_NEWS_NSOURCES];

    snprintf(item->id, sizeof(item->id), "sim-%016llx",
             (unsigned long long) key);
    snprintf(item->title, sizeof(item->title), kx_sim_news_titles[s][pick],
             sy->name);
    snprintf(item->summary, sizeof(item->summary),
             "%s. Simulated news item about %s (%s) generated by the Kianax"
             " market simulator for testing; it is not real news.",
             kx_sim_news_moods[s], sy->name, sy->symbol);
    snprintf(item->url, sizeof(item->url),
             "https://example.com/kianax-sim/news/%s", item->id);
}


static int64_t
kx_sim_news_floor(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }

    return q;
}
