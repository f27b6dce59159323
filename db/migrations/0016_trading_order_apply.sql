-- 0016_trading_order_apply: order_apply() writes the events, trades,
-- position and outbox rows of a change in one statement.
--
-- 0009's order_apply() ran them as four statements; each one of a
-- PL/pgSQL function pays its own plan check (a lock per table and index),
-- executor start and end, and snapshot.  Now they are the CTEs of one
-- INSERT (each CTE writes a different table, and none reads what another
-- writes).  The portfolio UPDATE and the order's INSERT or UPDATE stay
-- statements of their own: their row counts decide the errors (KX001,
-- KX002), which abort the whole transaction, so nothing of a refused
-- change is kept either way.  Same signature, same rows written.

CREATE OR REPLACE FUNCTION trading.order_apply(p jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_user  uuid := (p->>'user_id')::uuid;
    v_o     jsonb := p->'order';
    v_id    uuid := (p->'order'->>'id')::uuid;
    v_n     integer;
BEGIN
    -- the version check and the conditional UPDATE of 0003 in one
    -- statement: with check_buying_power, a change that would overspend
    -- matches no row
    UPDATE trading.portfolios pf
       SET cash_balance = pf.cash_balance + (p->>'cash_delta')::numeric,
           reserved_cash = pf.reserved_cash
                           + (p->>'reserved_delta')::numeric,
           realized_pl = pf.realized_pl + (p->>'realized_delta')::numeric
     WHERE pf.user_id = v_user
       AND (NOT p ? 'expect_version'
            OR pf.xmin = (p->>'expect_version')::xid)
       AND (NOT coalesce((p->>'check_buying_power')::boolean, false)
            OR pf.cash_balance + (p->>'cash_delta')::numeric
               - pf.reserved_cash - (p->>'reserved_delta')::numeric >= 0);

    IF NOT FOUND THEN
        IF p ? 'expect_version' THEN
            -- which of the two: decide again under the lock, where the
            -- buying power check gives the answer
            RAISE EXCEPTION 'the portfolio changed or buying power is short'
                  USING ERRCODE = 'KX002';
        END IF;

        RAISE EXCEPTION 'insufficient buying power'
              USING ERRCODE = 'KX001';
    END IF;

    IF (p->>'insert')::boolean THEN
        INSERT INTO trading.orders
               (id, user_id, client_order_id, symbol, side, type,
                time_in_force, quantity, notional, limit_price, stop_price,
                filled_qty, filled_avg_price, reserved_amount, status, broker,
                broker_order_id, reject_reason, agent_id, agent_execution_id,
                created_at, updated_at, submitted_at, filled_at, canceled_at,
                expired_at, triggered_at)
        SELECT v_id, v_user, r.client_order_id, r.symbol, r.side, r.type,
               r.time_in_force, r.quantity, r.notional, r.limit_price,
               r.stop_price, r.filled_qty, r.filled_avg_price,
               r.reserved_amount, r.status, r.broker, r.broker_order_id,
               r.reject_reason, r.agent_id, r.agent_execution_id,
               r.created_at, r.updated_at, r.submitted_at, r.filled_at,
               r.canceled_at, r.expired_at, r.triggered_at
          FROM jsonb_populate_record(NULL::trading.orders, v_o) r
        ON CONFLICT (user_id, client_order_id) DO NOTHING;

    ELSE
        UPDATE trading.orders o
           SET status = r.status,
               filled_qty = r.filled_qty,
               filled_avg_price = r.filled_avg_price,
               reserved_amount = r.reserved_amount,
               broker_order_id = coalesce(r.broker_order_id,
                                          o.broker_order_id),
               reject_reason = r.reject_reason,
               filled_at = r.filled_at,
               canceled_at = r.canceled_at,
               expired_at = r.expired_at,
               triggered_at = r.triggered_at,
               submitted_at = coalesce(o.submitted_at, r.submitted_at)
          FROM jsonb_populate_record(NULL::trading.orders, v_o) r
         WHERE o.id = v_id AND o.user_id = v_user
           AND o.status = p->>'expect_status'
           AND o.filled_qty = (p->>'expect_filled_qty')::numeric;
    END IF;

    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RAISE EXCEPTION 'the order changed' USING ERRCODE = 'KX002';
    END IF;

    -- the rest of the change in one statement (one executor start, one
    -- plan check, not four); the CTEs touch different tables
    WITH ev AS (
        INSERT INTO trading.order_events
               (order_id, user_id, status, filled_qty, price, detail, at)
        SELECT v_id, v_user, e.status, e.filled_qty, e.price,
               coalesce(e.detail, '{}'), e.at
          FROM jsonb_to_recordset(coalesce(p->'events', '[]'))
               AS e(status text, filled_qty numeric, price numeric,
                    detail jsonb, at timestamptz)
    ), tr AS (
        INSERT INTO trading.trades
               (id, user_id, order_id, symbol, side, quantity, price,
                execution_id, executed_at)
        SELECT t.id, v_user, v_id, v_o->>'symbol', v_o->>'side', t.quantity,
               t.price, t.execution_id, t.executed_at
          FROM jsonb_to_recordset(coalesce(p->'trades', '[]'))
               AS t(id uuid, quantity numeric, price numeric,
                    execution_id text, executed_at timestamptz)
    ), pos_gone AS (
        DELETE FROM trading.positions
         WHERE p ? 'position'
           AND (p->'position'->>'quantity')::numeric = 0
           AND user_id = v_user AND symbol = p->'position'->>'symbol'
    ), pos AS (
        INSERT INTO trading.positions (user_id, symbol, quantity, avg_cost)
        SELECT v_user, p->'position'->>'symbol',
               (p->'position'->>'quantity')::numeric,
               (p->'position'->>'avg_cost')::numeric
         WHERE p ? 'position'
           AND (p->'position'->>'quantity')::numeric <> 0
        ON CONFLICT (user_id, symbol) DO UPDATE
           SET quantity = EXCLUDED.quantity,
               avg_cost = EXCLUDED.avg_cost
    )
    INSERT INTO trading.outbox (type, user_id, payload, created_at)
    SELECT x.type, v_user, x.payload, now()
      FROM jsonb_to_recordset(coalesce(p->'outbox', '[]'))
           AS x(type text, payload jsonb);

    RETURN 1;
END;
$$;
