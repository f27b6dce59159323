-- 0005_market: the market data service's durable store. Hot data lives in
-- Redis (quotes 1 s, history 1 h, news 5 min: seed "Caching Strategy"); these
-- tables keep the reference data, bars that no longer change, the last quote
-- of each symbol (survives a Redis restart) and news with its sentiment.
-- Market data is not owned by a user: no user_id here.

CREATE TABLE market.symbols (
    symbol       text        PRIMARY KEY,
    name         text,
    exchange     text,
    asset_class  text        NOT NULL DEFAULT 'us_equity',
    sector       text,
    industry     text,
    tradable     boolean     NOT NULL DEFAULT true,
    active       boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT symbols_symbol_check
        CHECK (symbol ~ '^[A-Z0-9][A-Z0-9./-]{0,19}$'),
    CONSTRAINT symbols_asset_class_check
        CHECK (asset_class IN ('us_equity', 'us_option', 'crypto', 'etf', 'index', 'fx'))
);

CREATE INDEX symbols_sector_idx ON market.symbols (sector) WHERE sector IS NOT NULL;

CREATE TRIGGER symbols_touch_updated_at
    BEFORE UPDATE ON market.symbols
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- OHLCV bars. timeframe is <n><unit>: 1m 5m 15m 30m 1h 4h 1d 1w 1mo.
-- t is the bar's opening instant. No FK to symbols: a provider may return
-- bars for a symbol the catalogue does not list yet.
CREATE TABLE market.bars (
    symbol     text          NOT NULL,
    timeframe  text          NOT NULL,
    t          timestamptz   NOT NULL,
    o          numeric(20,8) NOT NULL,
    h          numeric(20,8) NOT NULL,
    l          numeric(20,8) NOT NULL,
    c          numeric(20,8) NOT NULL,
    v          numeric(28,8) NOT NULL DEFAULT 0,
    vw         numeric(20,8),
    n          integer,
    source     text          NOT NULL DEFAULT 'sim',
    fetched_at timestamptz   NOT NULL DEFAULT now(),

    PRIMARY KEY (symbol, timeframe, t),
    CONSTRAINT bars_symbol_check
        CHECK (symbol ~ '^[A-Z0-9][A-Z0-9./-]{0,19}$'),
    CONSTRAINT bars_timeframe_check
        CHECK (timeframe ~ '^[1-9][0-9]{0,3}(m|h|d|w|mo)$'),
    CONSTRAINT bars_prices_pos CHECK (o > 0 AND h > 0 AND l > 0 AND c > 0),
    CONSTRAINT bars_high_low
        CHECK (h >= l AND h >= o AND h >= c AND l <= o AND l <= c),
    CONSTRAINT bars_volume_nonneg CHECK (v >= 0),
    CONSTRAINT bars_trades_nonneg CHECK (n IS NULL OR n >= 0)
);

COMMENT ON COLUMN market.bars.v IS 'Volume: shares (fractional for crypto)';

-- Last known quote per symbol (the live one is in Redis).
CREATE TABLE market.quotes (
    symbol      text          PRIMARY KEY,
    bid         numeric(20,8),
    bid_size    numeric(28,8),
    ask         numeric(20,8),
    ask_size    numeric(28,8),
    last        numeric(20,8),
    t           timestamptz   NOT NULL,
    source      text          NOT NULL DEFAULT 'sim',
    updated_at  timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT quotes_symbol_check
        CHECK (symbol ~ '^[A-Z0-9][A-Z0-9./-]{0,19}$'),
    CONSTRAINT quotes_prices_pos
        CHECK ((bid IS NULL OR bid > 0) AND (ask IS NULL OR ask > 0)
               AND (last IS NULL OR last > 0)),
    CONSTRAINT quotes_sizes_nonneg
        CHECK (coalesce(bid_size, 0) >= 0 AND coalesce(ask_size, 0) >= 0)
);

CREATE TRIGGER quotes_touch_updated_at
    BEFORE UPDATE ON market.quotes
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- News items. (provider, provider_id) dedupes what a provider sends twice.
-- sentiment is the overall label; insights keeps per-ticker detail, e.g.
-- Polygon's [{"ticker":"AAPL","sentiment":"positive","sentiment_reasoning":"..."}].
CREATE TABLE market.news (
    id               uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    provider         text          NOT NULL DEFAULT 'sim',
    provider_id      text,
    symbols          text[]        NOT NULL DEFAULT '{}',
    title            text          NOT NULL,
    summary          text,
    url              text,
    source           text,
    author           text,
    published_at     timestamptz   NOT NULL,
    sentiment        text,
    sentiment_score  numeric(5,4),
    insights         jsonb         NOT NULL DEFAULT '[]',
    created_at       timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT news_title_present CHECK (length(title) > 0),
    CONSTRAINT news_sentiment_check
        CHECK (sentiment IS NULL OR sentiment IN ('positive', 'negative', 'neutral')),
    CONSTRAINT news_sentiment_score_range
        CHECK (sentiment_score IS NULL OR sentiment_score BETWEEN -1 AND 1),
    CONSTRAINT news_insights_array CHECK (jsonb_typeof(insights) = 'array')
);

CREATE UNIQUE INDEX news_provider_id_key
    ON market.news (provider, provider_id) WHERE provider_id IS NOT NULL;
-- GET /news/:symbol  ->  WHERE symbols @> ARRAY[$1] ORDER BY published_at DESC
CREATE INDEX news_symbols_idx ON market.news USING gin (symbols);
CREATE INDEX news_published_idx ON market.news (published_at DESC);

-- market.opened, market.closed, news.published (see trading.outbox for the
-- protocol). Not user events: user_id is NULL unless an event is personal.
CREATE TABLE market.outbox (
    id            bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL DEFAULT gen_random_uuid(),
    type          text        NOT NULL,
    user_id       uuid,
    payload       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    stream_id     text,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,

    CONSTRAINT outbox_event_id_key UNIQUE (event_id),
    CONSTRAINT outbox_type_check CHECK (type ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
    CONSTRAINT outbox_payload_object CHECK (jsonb_typeof(payload) = 'object')
);

CREATE INDEX outbox_unpublished_idx
    ON market.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_user_idx ON market.outbox (user_id) WHERE user_id IS NOT NULL;
