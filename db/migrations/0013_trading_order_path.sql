-- 0013_trading_order_path: less work for PostgreSQL per order.
--
-- A market order that fills at once writes about a dozen rows (order,
-- three order_events, trade, position, portfolio, three outbox rows) and
-- the relay later marks the three outbox rows.  What it wrote but nobody
-- needed:
--
-- Foreign keys order_events -> orders and trades -> orders.  Their only
-- writer is trading.order_apply(), which inserts the events and trades of
-- the order it has just inserted or updated (under the portfolio's lock or
-- version check) in the same statement; the checks cost a lookup and a
-- row lock (FOR KEY SHARE) on the order per event and per trade.  Orders
-- are never deleted, so ON DELETE CASCADE/RESTRICT never fired.
ALTER TABLE trading.order_events
    DROP CONSTRAINT IF EXISTS order_events_order_id_fkey;
ALTER TABLE trading.trades
    DROP CONSTRAINT IF EXISTS trades_order_id_fkey;

-- Indexes that no query uses (modules/, the tests):
--  - order_events by user: an order's history is read by order_id
--    (order_events_order_idx stays);
--  - trades by order_id: the only lookup (order_lock's execution ids)
--    asks for execution_id IS NOT NULL, which the partial unique index
--    trades_order_execution_key answers;
--  - outbox by user: the relay reads unpublished rows in id order and
--    the streams are per user in Redis; every outbox row paid it twice
--    (insert, and the relay's non-HOT update that marks it);
--  - open orders by symbol: the matcher and the expiry sweep ask by
--    broker too (orders_open_broker_symbol_idx of 0009).
DROP INDEX IF EXISTS trading.order_events_user_idx;
DROP INDEX IF EXISTS trading.trades_order_idx;
DROP INDEX IF EXISTS trading.outbox_user_idx;
DROP INDEX IF EXISTS trading.orders_open_symbol_idx;
