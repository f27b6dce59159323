-- 0003_trading: portfolios, positions, orders and their history, trades, risk
-- limits, and the trading outbox (domain events written in the same
-- transaction as the change, relayed to Redis Streams).
--
-- Money and quantities are NUMERIC(20,8): 12 integer digits, 8 decimals,
-- exactly the fixed-point range of the C side (int64 scaled by 1e8 holds
-- +/-92,233,720,368.54775807, so values above 9.2e10 must be refused by the
-- writer before they reach SQL).  Symbols are upper-case tickers; crypto
-- pairs such as BTC/USD are allowed.

-- Cash account of a user. total_value is not stored (it goes stale with every
-- quote): see the view trading.portfolio_values below.
CREATE TABLE trading.portfolios (
    user_id        uuid          PRIMARY KEY,
    currency       text          NOT NULL DEFAULT 'USD',
    cash_balance   numeric(20,8) NOT NULL DEFAULT 0,
    -- Cash held by open buy orders (sum of their reserved_amount). Kept here so
    -- that "reserve if enough buying power" is one conditional UPDATE:
    --   UPDATE trading.portfolios SET reserved_cash = reserved_cash + $2
    --    WHERE user_id = $1 AND cash_balance - reserved_cash >= $2
    reserved_cash  numeric(20,8) NOT NULL DEFAULT 0,
    realized_pl    numeric(20,8) NOT NULL DEFAULT 0,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT portfolios_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT portfolios_reserved_cash_nonneg CHECK (reserved_cash >= 0)
);

COMMENT ON COLUMN trading.portfolios.cash_balance IS
    'Settled cash; may go negative only if a broker reports it so (margin)';

CREATE TRIGGER portfolios_touch_updated_at
    BEFORE UPDATE ON trading.portfolios
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Holdings. quantity < 0 is a short position (only when risk_limits allow it).
CREATE TABLE trading.positions (
    user_id           uuid          NOT NULL,
    symbol            text          NOT NULL,
    quantity          numeric(20,8) NOT NULL,
    avg_cost          numeric(20,8) NOT NULL,
    current_price     numeric(20,8),
    price_updated_at  timestamptz,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    updated_at        timestamptz   NOT NULL DEFAULT now(),

    PRIMARY KEY (user_id, symbol),
    CONSTRAINT positions_symbol_check
        CHECK (symbol ~ '^[A-Z0-9][A-Z0-9./-]{0,19}$'),
    CONSTRAINT positions_avg_cost_nonneg CHECK (avg_cost >= 0),
    CONSTRAINT positions_current_price_pos
        CHECK (current_price IS NULL OR current_price > 0)
);

-- Price updates touch every holder of a symbol.
CREATE INDEX positions_symbol_idx ON trading.positions (symbol);

CREATE TRIGGER positions_touch_updated_at
    BEFORE UPDATE ON trading.positions
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Orders: the shape follows Alpaca's order object (PROVIDERS.md), restricted
-- to what Kianax supports.
CREATE TABLE trading.orders (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid          NOT NULL,
    client_order_id     text          NOT NULL DEFAULT gen_random_uuid()::text,
    symbol              text          NOT NULL,
    side                text          NOT NULL,
    type                text          NOT NULL DEFAULT 'market',
    time_in_force       text          NOT NULL DEFAULT 'day',
    quantity            numeric(20,8),
    notional            numeric(20,8),
    limit_price         numeric(20,8),
    stop_price          numeric(20,8),
    extended_hours      boolean       NOT NULL DEFAULT false,
    filled_qty          numeric(20,8) NOT NULL DEFAULT 0,
    filled_avg_price    numeric(20,8),
    -- Buying power held for this order (buys: limit x qty, or an estimate for
    -- market orders); released as it fills or ends.
    reserved_amount     numeric(20,8) NOT NULL DEFAULT 0,
    status              text          NOT NULL DEFAULT 'new',
    broker              text          NOT NULL DEFAULT 'paper',
    broker_order_id     text,
    reject_reason       text,
    -- Who placed it: NULL for the user, else the agent (agents schema, no FK).
    agent_id            uuid,
    agent_execution_id  uuid,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    submitted_at        timestamptz,
    filled_at           timestamptz,
    canceled_at         timestamptz,
    expired_at          timestamptz,

    CONSTRAINT orders_user_client_order_id_key UNIQUE (user_id, client_order_id),
    CONSTRAINT orders_client_order_id_len
        CHECK (length(client_order_id) BETWEEN 1 AND 48),
    CONSTRAINT orders_symbol_check
        CHECK (symbol ~ '^[A-Z0-9][A-Z0-9./-]{0,19}$'),
    CONSTRAINT orders_side_check CHECK (side IN ('buy', 'sell')),
    CONSTRAINT orders_type_check
        CHECK (type IN ('market', 'limit', 'stop', 'stop_limit')),
    CONSTRAINT orders_time_in_force_check
        CHECK (time_in_force IN ('day', 'gtc', 'ioc', 'fok')),
    CONSTRAINT orders_status_check
        CHECK (status IN ('new', 'accepted', 'partially_filled', 'filled',
                          'canceled', 'rejected', 'expired')),
    -- Exactly one of quantity and notional; notional only for market + day.
    CONSTRAINT orders_qty_xor_notional
        CHECK ((quantity IS NULL) <> (notional IS NULL)),
    CONSTRAINT orders_quantity_pos CHECK (quantity IS NULL OR quantity > 0),
    CONSTRAINT orders_notional_pos CHECK (notional IS NULL OR notional > 0),
    CONSTRAINT orders_notional_market_day
        CHECK (notional IS NULL OR (type = 'market' AND time_in_force = 'day')),
    CONSTRAINT orders_limit_price_iff_limit
        CHECK ((limit_price IS NOT NULL) = (type IN ('limit', 'stop_limit'))),
    CONSTRAINT orders_stop_price_iff_stop
        CHECK ((stop_price IS NOT NULL) = (type IN ('stop', 'stop_limit'))),
    CONSTRAINT orders_limit_price_pos CHECK (limit_price IS NULL OR limit_price > 0),
    CONSTRAINT orders_stop_price_pos CHECK (stop_price IS NULL OR stop_price > 0),
    CONSTRAINT orders_filled_qty_range
        CHECK (filled_qty >= 0 AND (quantity IS NULL OR filled_qty <= quantity)),
    CONSTRAINT orders_filled_avg_price_when_filled
        CHECK (filled_qty = 0 OR filled_avg_price IS NOT NULL),
    CONSTRAINT orders_filled_avg_price_pos
        CHECK (filled_avg_price IS NULL OR filled_avg_price > 0),
    CONSTRAINT orders_reserved_amount_nonneg CHECK (reserved_amount >= 0),
    CONSTRAINT orders_filled_has_time
        CHECK (status <> 'filled' OR (filled_at IS NOT NULL AND filled_qty > 0)),
    CONSTRAINT orders_partially_filled_has_fill
        CHECK (status <> 'partially_filled' OR filled_qty > 0),
    CONSTRAINT orders_canceled_has_time
        CHECK (status <> 'canceled' OR canceled_at IS NOT NULL),
    CONSTRAINT orders_expired_has_time
        CHECK (status <> 'expired' OR expired_at IS NOT NULL),
    CONSTRAINT orders_rejected_has_reason
        CHECK (status <> 'rejected' OR reject_reason IS NOT NULL),
    CONSTRAINT orders_broker_check CHECK (broker ~ '^[a-z][a-z0-9_]{0,31}$')
);

COMMENT ON TABLE trading.orders IS
    'Open statuses: new, accepted, partially_filled. Final: filled, canceled, rejected, expired.';

-- GET /orders: newest first, keyset pagination on (created_at, id).
CREATE INDEX orders_user_created_idx
    ON trading.orders (user_id, created_at DESC, id DESC);
-- Matching engine / expiry sweep: open orders of a symbol, oldest first.
CREATE INDEX orders_open_symbol_idx
    ON trading.orders (symbol, created_at)
    WHERE status IN ('new', 'accepted', 'partially_filled');
-- Risk check max_open_orders, GET /orders?status=open.
CREATE INDEX orders_open_user_idx
    ON trading.orders (user_id, created_at DESC)
    WHERE status IN ('new', 'accepted', 'partially_filled');
-- Broker trade updates arrive keyed by the broker's id.
CREATE UNIQUE INDEX orders_broker_order_id_key
    ON trading.orders (broker, broker_order_id)
    WHERE broker_order_id IS NOT NULL;
CREATE INDEX orders_agent_execution_idx
    ON trading.orders (agent_execution_id)
    WHERE agent_execution_id IS NOT NULL;

CREATE TRIGGER orders_touch_updated_at
    BEFORE UPDATE ON trading.orders
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Every status transition of an order (and every fill), append-only.
CREATE TABLE trading.order_events (
    id          bigserial     PRIMARY KEY,
    order_id    uuid          NOT NULL REFERENCES trading.orders (id) ON DELETE CASCADE,
    user_id     uuid          NOT NULL,
    status      text          NOT NULL,
    filled_qty  numeric(20,8),
    price       numeric(20,8),
    detail      jsonb         NOT NULL DEFAULT '{}',
    at          timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT order_events_status_check
        CHECK (status IN ('new', 'accepted', 'partially_filled', 'filled',
                          'canceled', 'rejected', 'expired')),
    CONSTRAINT order_events_detail_object CHECK (jsonb_typeof(detail) = 'object')
);

CREATE INDEX order_events_order_idx ON trading.order_events (order_id, id);
CREATE INDEX order_events_user_idx ON trading.order_events (user_id, at DESC);

-- Executions (fills). execution_id is the broker's id of the fill, unique per
-- order, so a redelivered fill is recorded once.
CREATE TABLE trading.trades (
    id            uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid          NOT NULL,
    order_id      uuid          NOT NULL REFERENCES trading.orders (id) ON DELETE RESTRICT,
    symbol        text          NOT NULL,
    side          text          NOT NULL,
    quantity      numeric(20,8) NOT NULL,
    price         numeric(20,8) NOT NULL,
    fee           numeric(20,8) NOT NULL DEFAULT 0,
    execution_id  text,
    executed_at   timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT trades_symbol_check
        CHECK (symbol ~ '^[A-Z0-9][A-Z0-9./-]{0,19}$'),
    CONSTRAINT trades_side_check CHECK (side IN ('buy', 'sell')),
    CONSTRAINT trades_quantity_pos CHECK (quantity > 0),
    CONSTRAINT trades_price_pos CHECK (price > 0),
    CONSTRAINT trades_fee_nonneg CHECK (fee >= 0)
);

CREATE INDEX trades_user_executed_idx
    ON trading.trades (user_id, executed_at DESC, id DESC);
CREATE INDEX trades_order_idx ON trading.trades (order_id);
CREATE UNIQUE INDEX trades_order_execution_key
    ON trading.trades (order_id, execution_id)
    WHERE execution_id IS NOT NULL;

-- Per-user risk limits; NULL means "no limit of this kind" (the service may
-- still apply its configured defaults when a user has no row).
CREATE TABLE trading.risk_limits (
    user_id             uuid          PRIMARY KEY,
    max_order_value     numeric(20,8),
    max_position_value  numeric(20,8),
    max_open_orders     integer,
    max_daily_orders    integer,
    allow_short         boolean       NOT NULL DEFAULT false,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT risk_limits_max_order_value_pos
        CHECK (max_order_value IS NULL OR max_order_value > 0),
    CONSTRAINT risk_limits_max_position_value_pos
        CHECK (max_position_value IS NULL OR max_position_value > 0),
    CONSTRAINT risk_limits_max_open_orders_pos
        CHECK (max_open_orders IS NULL OR max_open_orders > 0),
    CONSTRAINT risk_limits_max_daily_orders_pos
        CHECK (max_daily_orders IS NULL OR max_daily_orders > 0)
);

CREATE TRIGGER risk_limits_touch_updated_at
    BEFORE UPDATE ON trading.risk_limits
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Transactional outbox: order.created, order.filled, order.cancelled,
-- portfolio.updated, ... inserted in the transaction that makes the change;
-- a relay XADDs unpublished rows (in id order) to the Redis stream and sets
-- published_at (and stream_id). event_id is the consumers' dedupe key.
CREATE TABLE trading.outbox (
    id            bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL DEFAULT gen_random_uuid(),
    type          text        NOT NULL,
    user_id       uuid        NOT NULL,
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
    ON trading.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_user_idx ON trading.outbox (user_id);

-- Valuation of every portfolio at the last known prices (falls back to cost
-- for a position that has no price yet).
CREATE VIEW trading.portfolio_values AS
SELECT p.user_id,
       p.currency,
       p.cash_balance,
       p.reserved_cash,
       p.cash_balance - p.reserved_cash                       AS buying_power,
       coalesce(v.positions_value, 0)                         AS positions_value,
       p.cash_balance + coalesce(v.positions_value, 0)        AS total_value,
       coalesce(v.unrealized_pl, 0)                           AS unrealized_pl,
       p.realized_pl,
       p.updated_at
  FROM trading.portfolios p
  LEFT JOIN (
        SELECT user_id,
               round(sum(quantity * coalesce(current_price, avg_cost)), 8)
                   AS positions_value,
               round(sum(quantity * (coalesce(current_price, avg_cost) - avg_cost)), 8)
                   AS unrealized_pl
          FROM trading.positions
         GROUP BY user_id
       ) v USING (user_id);
