
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_SIM_NEWS_H_INCLUDED_
#define _KX_SIM_NEWS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_json.h"
#include "kx_sim.h"


/*
 * Generated news items for the simulated market, a pure function of
 * (seed, symbol, time) like the bars: time is cut into 4-hour slots,
 * and a slot holds an item or not, at a keyed moment within it.  The
 * sentiment follows the symbol's simulated move that day (up by more
 * than a quarter of its daily volatility: positive; down as much:
 * negative), so headlines agree with the chart.  Every item says that
 * it is simulated, and its source and address are made up (example.com),
 * so that nobody mistakes it for real news.
 */

typedef enum {
    KX_SIM_NEUTRAL = 0,
    KX_SIM_POSITIVE,
    KX_SIM_NEGATIVE
} kx_sim_sentiment_e;


#define KX_SIM_NEWS_ID_LEN      64     /* Polygon's ids are 43 */
#define KX_SIM_NEWS_TITLE_MAX   160
#define KX_SIM_NEWS_SUMMARY_MAX 320
#define KX_SIM_NEWS_URL_MAX     512    /* real article URLs */

/* how far back kx_sim_news() looks */
#define KX_SIM_NEWS_HORIZON_MS  (INT64_C(180) * 86400000)


typedef struct {
    char                id[KX_SIM_NEWS_ID_LEN];  /* "sim-" and 16 hex */
    unsigned            sym;
    int64_t             published_ms;
    kx_sim_sentiment_e  sentiment;
    const char         *source;
    char                title[KX_SIM_NEWS_TITLE_MAX];
    char                summary[KX_SIM_NEWS_SUMMARY_MAX];
    char                url[KX_SIM_NEWS_URL_MAX];
} kx_sim_news_t;


/*
 * The newest items of symbol index sym published before before_ms
 * (at most KX_SIM_NEWS_HORIZON_MS earlier), newest first, into
 * out[0..max).  Sets *n; KX_SIM_OK, KX_SIM_ENOSYM or KX_SIM_EINVAL.
 * To page, ask again with before_ms = the last item's published_ms.
 */
int kx_sim_news(const kx_sim_t *sim, size_t sym, int64_t before_ms,
    kx_sim_news_t *out, size_t max, size_t *n);

const char *kx_sim_sentiment_name(kx_sim_sentiment_e s);

/*
 * {"id","symbol","title","summary","source","url","published_at",
 *  "sentiment","tickers":[...]}
 */
void kx_sim_news_json(kx_jw_t *w, const kx_sim_news_t *item);


#endif /* _KX_SIM_NEWS_H_INCLUDED_ */
