-- 0009_trading_engine: what the trading module needs beyond 0003.
--
-- Every change to a user's money is one decision of the trading module
-- (modules/kx_trading_op.c) on a consistent read of the account:
--
--     SELECT * FROM trading.order_lock(user, start_cash, symbol, id, cid,
--                                      false);
--         -- creates the portfolio lazily and reads, in one snapshot, what
--         -- the C core needs, with the portfolio row's version (xmin)
--     ... the C core decides (risk, matching, positions: src/trading) ...
--     SELECT trading.order_apply(changes::jsonb);
--         -- one statement, so one transaction: checks that the portfolio
--         -- is still at that version, then writes the decision: order,
--         -- order_events, trades, position, portfolio, outbox
--
-- Every writer of a user's orders, positions and money goes through
-- order_apply(), which always updates the portfolio row, so "the version
-- did not change" means "nothing the decision read changed".  When it did
-- (SQLSTATE KX002) the module decides again under the lock:
--
--     BEGIN; order_lock(..., true) (SELECT ... FOR UPDATE);
--     order_apply(changes without a version); COMMIT;
--
-- Both are functions so that the order path is two round trips; they hold
-- no domain logic (that is unit-tested C), only I/O.

-- When a stop or stop_limit order's stop price was reached: it is a market
-- or limit order from then on, even if the price moves back.
ALTER TABLE trading.orders ADD COLUMN triggered_at timestamptz;

-- The matcher of the paper broker: open orders of one broker and symbol.
CREATE INDEX orders_open_broker_symbol_idx
    ON trading.orders (broker, symbol, created_at)
    WHERE status IN ('new', 'accepted', 'partially_filled');

-- Microseconds since the epoch (timestamptz's resolution), the C side's
-- time unit; NULL stays NULL.  STABLE like extract() on a timestamptz, so
-- that the planner inlines it.
CREATE FUNCTION trading.usec(t timestamptz)
RETURNS bigint
LANGUAGE sql STABLE
AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

-- Reads the user's portfolio (creating it with p_cash if it is missing),
-- locked FOR UPDATE with p_lock, and returns, read after the lock: the
-- account, the user's risk limits,
-- the position in p_symbol (or in the order's symbol), the open orders,
-- and the order p_order_id, or else the order with client_order_id
-- p_client_order_id (NULLs when there is none).  "now" is the
-- transaction's time: the module stamps every row it writes with it;
-- r_version is the portfolio row's xmin.
CREATE FUNCTION trading.order_lock(p_user uuid, p_cash numeric,
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
BEGIN
    INSERT INTO trading.portfolios (user_id, cash_balance)
    VALUES (p_user, p_cash)
    ON CONFLICT (user_id) DO NOTHING;

    -- a statement of its own: what follows reads a snapshot taken after
    -- the lock, so it sees every change of the previous lock holder
    IF p_lock THEN
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
END;
$$;

-- Writes what the C core decided, under the lock order_lock() took.
-- p is
--   { "user_id": uuid,
--     "insert": bool,              -- a new order, else an update of one
--     "expect_status": text,       -- update only: the status read under
--     "expect_filled_qty": num,    --   the lock (a stale writer loses)
--     "check_buying_power": bool,  -- the change may not leave
--                                  --   cash - reserved < 0
--     "expect_version": text,      -- the portfolio's xmin as read, or
--                                  --   absent under the lock
--     "order": { every column of trading.orders but user_id },
--     "events": [ {status, filled_qty, price, detail, at} ],
--     "trades": [ {id, quantity, price, execution_id, executed_at} ],
--     "position": {symbol, quantity, avg_cost} | absent (0 deletes it),
--     "cash_delta", "reserved_delta", "realized_delta": numbers,
--     "outbox": [ {type, payload} ] }
-- Returns 1.  Raises SQLSTATE KX002 when the portfolio is no longer at
-- expect_version, the order not in the expected state, or a new order's
-- client_order_id exists (decide again, under the lock), and KX001 when
-- buying power would go negative.
CREATE FUNCTION trading.order_apply(p jsonb)
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

    INSERT INTO trading.order_events
           (order_id, user_id, status, filled_qty, price, detail, at)
    SELECT v_id, v_user, e.status, e.filled_qty, e.price,
           coalesce(e.detail, '{}'), e.at
      FROM jsonb_to_recordset(coalesce(p->'events', '[]'))
           AS e(status text, filled_qty numeric, price numeric,
                detail jsonb, at timestamptz);

    INSERT INTO trading.trades
           (id, user_id, order_id, symbol, side, quantity, price,
            execution_id, executed_at)
    SELECT t.id, v_user, v_id, v_o->>'symbol', v_o->>'side', t.quantity,
           t.price, t.execution_id, t.executed_at
      FROM jsonb_to_recordset(coalesce(p->'trades', '[]'))
           AS t(id uuid, quantity numeric, price numeric,
                execution_id text, executed_at timestamptz);

    IF p ? 'position' THEN
        IF (p->'position'->>'quantity')::numeric = 0 THEN
            DELETE FROM trading.positions
             WHERE user_id = v_user AND symbol = p->'position'->>'symbol';
        ELSE
            INSERT INTO trading.positions (user_id, symbol, quantity,
                                           avg_cost)
            VALUES (v_user, p->'position'->>'symbol',
                    (p->'position'->>'quantity')::numeric,
                    (p->'position'->>'avg_cost')::numeric)
            ON CONFLICT (user_id, symbol) DO UPDATE
               SET quantity = EXCLUDED.quantity,
                   avg_cost = EXCLUDED.avg_cost;
        END IF;
    END IF;

    INSERT INTO trading.outbox (type, user_id, payload, created_at)
    SELECT x.type, v_user, x.payload, now()
      FROM jsonb_to_recordset(coalesce(p->'outbox', '[]'))
           AS x(type text, payload jsonb);

    RETURN 1;
END;
$$;
