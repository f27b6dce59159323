-- 0001_schemas: one schema per service, and the few helpers every schema uses.
--
-- Conventions for every migration in this directory (scripts/kx-migrate):
--   * a file runs inside ONE transaction together with the insert of its
--     version row: never write BEGIN/COMMIT, never use statements that cannot
--     run in a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...);
--   * an applied file is never edited (its checksum is recorded): change the
--     schema with a new, higher-numbered file;
--   * no foreign keys across schemas: each service owns its schema and may be
--     moved to its own database later (ARCHITECTURE.md §4, seed "Database Per
--     Service"); identifiers of another service's rows are plain uuid columns;
--   * timestamps are timestamptz, money and quantities NUMERIC, never float;
--   * every table whose rows belong to a user has user_id uuid NOT NULL and an
--     index whose first column is user_id.

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS trading;
CREATE SCHEMA IF NOT EXISTS agents;
CREATE SCHEMA IF NOT EXISTS market;
CREATE SCHEMA IF NOT EXISTS retrieval;
CREATE SCHEMA IF NOT EXISTS notify;
CREATE SCHEMA IF NOT EXISTS scheduler;

COMMENT ON SCHEMA auth      IS 'Kianax auth: users, refresh tokens (gateway kx_auth)';
COMMENT ON SCHEMA trading   IS 'Kianax trading service: portfolios, positions, orders, trades';
COMMENT ON SCHEMA agents    IS 'Kianax agent service: agents and their executions';
COMMENT ON SCHEMA market    IS 'Kianax market data service: symbols, bars, quotes, news';
COMMENT ON SCHEMA retrieval IS 'Kianax information retrieval service: documents, embeddings';
COMMENT ON SCHEMA notify    IS 'Kianax notification service: notifications, preferences';
COMMENT ON SCHEMA scheduler IS 'Kianax scheduler service: triggers, schedules, leases';

-- Keeps updated_at honest whatever the writer forgets: attached as a
-- BEFORE UPDATE trigger to every table that has an updated_at column.
CREATE OR REPLACE FUNCTION public.kx_touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION public.kx_touch_updated_at() IS
    'BEFORE UPDATE trigger: sets NEW.updated_at = now()';
