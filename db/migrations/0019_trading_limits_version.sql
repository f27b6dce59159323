-- 0019_trading_limits_version: changing a user's risk limits changes
-- the account's version.
--
-- The version the trading service checks when it writes an order
-- (order_apply()'s expect_version) is the portfolio row's xmin: every
-- write of order_apply() updates that row, so any change of cash,
-- positions or orders gives a new version.  Risk limits live in their own
-- table, and an operator's UPDATE of trading.risk_limits left the version
-- as it was: an order decided on the limits read before the change (and,
-- with kx_trading_account_cache, on limits the service remembered) passed
-- the check.  Now the change touches the portfolio row too, in the same
-- transaction.

CREATE FUNCTION trading.risk_limits_touch_portfolio()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE trading.portfolios SET updated_at = now()
         WHERE user_id = OLD.user_id;
    END IF;

    IF TG_OP <> 'DELETE' THEN
        UPDATE trading.portfolios SET updated_at = now()
         WHERE user_id = NEW.user_id
           AND (TG_OP = 'INSERT' OR NEW.user_id <> OLD.user_id);
    END IF;

    RETURN NULL;
END;
$$;

CREATE TRIGGER risk_limits_version
    AFTER INSERT OR UPDATE OR DELETE ON trading.risk_limits
    FOR EACH ROW EXECUTE FUNCTION trading.risk_limits_touch_portfolio();
