-- 0017_trading_outbox_batch: one outbox row per order transaction.
--
-- A market order that fills at once has three events (order.created,
-- order.filled, portfolio.updated).  0016 wrote them as three outbox rows:
-- three heap tuples with three index entries each (id, event_id, the
-- unpublished index) at insert, and three non-HOT updates (new tuple, new
-- index entries) when the relay marked them, about a third of
-- PostgreSQL's CPU per order with the relay's fetch.  Now a transaction's
-- events are one row:
--
--   - one event: as before (event_id, type, payload = the event's);
--   - several: type 'kx.events', payload = the array of the events in
--     their order, [{"event_id", "type", "payload"}, ...]; event_id = the
--     first event's.  The trading module names every event (kx_txn.c).
--
-- The relay (ngx_http_kx_outbox_module) expands such a row into one
-- stream entry and one PUBLISH per event, exactly as if they were rows
-- (contract C3 unchanged for consumers: each event keeps its event_id,
-- a user's events keep their order), and marks the row once all of its
-- events are published.  trading.outbox_events shows one row per event.
--
-- Also: the BEFORE UPDATE triggers that stamp updated_at run only when
-- the writer did not set it; order_apply() sets it itself (a PL/pgSQL
-- call per updated portfolio, order and position row saved), and the
-- rows updated on every order leave room on their page for HOT updates.

ALTER TABLE trading.outbox DROP CONSTRAINT outbox_payload_object;
ALTER TABLE trading.outbox ADD CONSTRAINT outbox_payload_object
    CHECK (jsonb_typeof(payload) = 'object'
           OR (jsonb_typeof(payload) = 'array' AND type = 'kx.events'));

-- one row per event, whether stored alone or with its transaction's
CREATE VIEW trading.outbox_events AS
SELECT o.id,
       coalesce(e.n, 1)                                AS n,
       coalesce((e.v->>'event_id')::uuid, o.event_id)  AS event_id,
       coalesce(e.v->>'type', o.type)                  AS type,
       o.user_id,
       coalesce(e.v->'payload', o.payload)             AS payload,
       o.created_at,
       o.published_at,
       o.stream_id
  FROM trading.outbox o
  LEFT JOIN LATERAL jsonb_array_elements(
           CASE WHEN jsonb_typeof(o.payload) = 'array' THEN o.payload END)
       WITH ORDINALITY AS e(v, n) ON true;

COMMENT ON VIEW trading.outbox_events IS
    'One row per event of trading.outbox (a kx.events row holds several); '
    'stream_id is the row''s last event''s entry id';

DROP TRIGGER portfolios_touch_updated_at ON trading.portfolios;
CREATE TRIGGER portfolios_touch_updated_at
    BEFORE UPDATE ON trading.portfolios
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION public.kx_touch_updated_at();

DROP TRIGGER positions_touch_updated_at ON trading.positions;
CREATE TRIGGER positions_touch_updated_at
    BEFORE UPDATE ON trading.positions
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION public.kx_touch_updated_at();

DROP TRIGGER orders_touch_updated_at ON trading.orders;
CREATE TRIGGER orders_touch_updated_at
    BEFORE UPDATE ON trading.orders
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION public.kx_touch_updated_at();

ALTER TABLE trading.portfolios SET (fillfactor = 70);
ALTER TABLE trading.positions SET (fillfactor = 70);

-- as 0016, but: updated_at set here, and one outbox row (see above)
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
           realized_pl = pf.realized_pl + (p->>'realized_delta')::numeric,
           updated_at = now()
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
               submitted_at = coalesce(o.submitted_at, r.submitted_at),
               updated_at = now()
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
               avg_cost = EXCLUDED.avg_cost,
               updated_at = now()
    )
    INSERT INTO trading.outbox (event_id, type, user_id, payload, created_at)
    SELECT coalesce((b.x->0->>'event_id')::uuid, gen_random_uuid()),
           CASE WHEN jsonb_array_length(b.x) = 1 THEN b.x->0->>'type'
                ELSE 'kx.events' END,
           v_user,
           CASE WHEN jsonb_array_length(b.x) = 1 THEN b.x->0->'payload'
                ELSE b.x END,
           now()
      FROM (SELECT p->'outbox' AS x) b
     WHERE jsonb_typeof(b.x) = 'array' AND jsonb_array_length(b.x) > 0;

    RETURN 1;
END;
$$;

-- PL/pgSQL plans each statement anew (a custom plan: SQL functions such
-- as trading.usec() parsed and inlined, the relations' indexes and
-- statistics looked up) for as long as the planner thinks that pays; for
-- these statements it never does (their plans are index probes and row
-- inserts whatever the values).  perf of the backends showed parsing and
-- planning in the order path.
ALTER FUNCTION trading.order_apply(jsonb)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION trading.order_lock(uuid, numeric, text, uuid, text, boolean)
    SET plan_cache_mode = force_generic_plan;
