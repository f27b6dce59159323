-- 0015_trading_order_lock: order_lock() without a write per order.
--
-- 0009's order_lock() began with INSERT INTO trading.portfolios ... ON
-- CONFLICT DO NOTHING on every call (to create a new user's portfolio):
-- a statement with its executor start, constraint checks and a probe of
-- the primary key, for nothing once the portfolio exists.  Now it reads
-- first and inserts only when the portfolio is missing, then reads again
-- (a new statement, so a new snapshot that sees the row, its own or a
-- concurrent creator's: ON CONFLICT waits for that one to finish).  Under
-- the lock (p_lock) the portfolio is created before the row lock, as
-- before.  Same signature, same result.

CREATE OR REPLACE FUNCTION trading.order_lock(p_user uuid, p_cash numeric,
                                   p_symbol text, p_order_id uuid,
                                   p_client_order_id text, p_lock boolean)
RETURNS TABLE (
    r_now                   bigint,
    r_cash                  numeric,
    r_reserved              numeric,
    r_realized              numeric,
    r_max_order_value       numeric,
    r_max_position_value    numeric,
    r_max_open_orders       integer,
    r_allow_short           boolean,
    r_pos_qty               numeric,
    r_pos_avg_cost          numeric,
    r_open_orders           bigint,
    r_open_sell_qty         numeric,
    r_exec_ids              text,
    o_id                    uuid,
    o_client_order_id       text,
    o_symbol                text,
    o_side                  text,
    o_type                  text,
    o_time_in_force         text,
    o_quantity              numeric,
    o_notional              numeric,
    o_limit_price           numeric,
    o_stop_price            numeric,
    o_filled_qty            numeric,
    o_filled_avg_price      numeric,
    o_reserved_amount       numeric,
    o_status                text,
    o_broker                text,
    o_broker_order_id       text,
    o_reject_reason         text,
    o_created_at            bigint,
    o_updated_at            bigint,
    o_filled_at             bigint,
    o_canceled_at           bigint,
    o_expired_at            bigint,
    o_triggered_at          bigint,
    r_version               text
)
LANGUAGE plpgsql
AS $$
DECLARE
    v_order  trading.orders%ROWTYPE;
    v_sym    text;
    v_try    integer;
BEGIN
    IF p_lock THEN
        INSERT INTO trading.portfolios (user_id, cash_balance)
        VALUES (p_user, p_cash)
        ON CONFLICT (user_id) DO NOTHING;

        -- a statement of its own: what follows reads a snapshot taken
        -- after the lock, so it sees every change of the previous holder
        PERFORM 1 FROM trading.portfolios pf
          WHERE pf.user_id = p_user FOR UPDATE;
    END IF;

    IF p_order_id IS NOT NULL THEN
        SELECT * INTO v_order FROM trading.orders o
         WHERE o.id = p_order_id AND o.user_id = p_user;
    ELSIF p_client_order_id IS NOT NULL THEN
        SELECT * INTO v_order FROM trading.orders o
         WHERE o.user_id = p_user AND o.client_order_id = p_client_order_id;
    END IF;

    v_sym := coalesce(v_order.symbol, p_symbol);

    -- read; only a new user's first order finds no portfolio: create it
    -- and read again (0009 ran the INSERT ... ON CONFLICT DO NOTHING
    -- before every read)
    FOR v_try IN 1 .. 2 LOOP
        RETURN QUERY
        SELECT trading.usec(now()),
               pf.cash_balance, pf.reserved_cash, pf.realized_pl,
               rl.max_order_value, rl.max_position_value, rl.max_open_orders,
               coalesce(rl.allow_short, false),
               ps.quantity, ps.avg_cost,
               (SELECT count(*) FROM trading.orders oo
                 WHERE oo.user_id = p_user
                   AND oo.status IN ('new', 'accepted', 'partially_filled')),
               (SELECT coalesce(sum(oo.quantity - oo.filled_qty), 0)
                  FROM trading.orders oo
                 WHERE oo.user_id = p_user AND oo.symbol = v_sym
                   AND oo.side = 'sell' AND oo.quantity IS NOT NULL
                   AND oo.status IN ('new', 'accepted', 'partially_filled')),
               (SELECT string_agg(t.execution_id, ',') FROM trading.trades t
                 WHERE t.order_id = v_order.id AND t.execution_id IS NOT NULL),
               v_order.id, v_order.client_order_id, v_order.symbol,
               v_order.side, v_order.type, v_order.time_in_force,
               v_order.quantity, v_order.notional, v_order.limit_price,
               v_order.stop_price, v_order.filled_qty, v_order.filled_avg_price,
               v_order.reserved_amount, v_order.status, v_order.broker,
               v_order.broker_order_id, v_order.reject_reason,
               trading.usec(v_order.created_at), trading.usec(v_order.updated_at),
               trading.usec(v_order.filled_at), trading.usec(v_order.canceled_at),
               trading.usec(v_order.expired_at),
               trading.usec(v_order.triggered_at),
               pf.xmin::text
          FROM trading.portfolios pf
          LEFT JOIN trading.risk_limits rl ON rl.user_id = pf.user_id
          LEFT JOIN trading.positions ps
                 ON ps.user_id = pf.user_id AND ps.symbol = v_sym
         WHERE pf.user_id = p_user;

        EXIT WHEN FOUND OR p_lock;

        INSERT INTO trading.portfolios (user_id, cash_balance)
        VALUES (p_user, p_cash)
        ON CONFLICT (user_id) DO NOTHING;
    END LOOP;
END;
$$;
