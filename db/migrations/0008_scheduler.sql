-- 0008_scheduler: triggers that run agents, their schedules (with per-row
-- leases so that two scheduler instances never fire the same slot), the
-- history of firings, a leader lease table, the outbox and the inbox.

-- config by type (validated by the service; the CHECKs below only catch the
-- grossest mistakes):
--   time          {"cron":"35 9 * * 1-5","tz":"America/New_York"} or {"at":"2025-01-02T14:30:00Z"}
--   price         {"symbol":"AAPL","op":">","price":"150.00"}
--   news          {"symbols":["TSLA"],"keywords":["earnings"]}
--   market_event  {"event":"open","offset_minutes":15}
CREATE TABLE scheduler.triggers (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid        NOT NULL,
    agent_id          uuid        NOT NULL,
    name              text,
    type              text        NOT NULL,
    config            jsonb       NOT NULL DEFAULT '{}',
    status            text        NOT NULL DEFAULT 'active',
    -- Minimum time between two firings (price triggers would otherwise fire
    -- on every tick above the threshold).
    cooldown_seconds  integer     NOT NULL DEFAULT 0,
    -- NULL = unlimited; 1 = one-shot (status becomes 'completed').
    max_fires         integer,
    fire_count        integer     NOT NULL DEFAULT 0,
    last_fired_at     timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT triggers_type_check
        CHECK (type IN ('time', 'price', 'news', 'market_event')),
    CONSTRAINT triggers_status_check
        CHECK (status IN ('active', 'paused', 'completed', 'failed')),
    CONSTRAINT triggers_config_object CHECK (jsonb_typeof(config) = 'object'),
    CONSTRAINT triggers_time_config
        CHECK (type <> 'time' OR config ?| ARRAY['cron', 'at']),
    CONSTRAINT triggers_price_config
        CHECK (type <> 'price' OR config ?& ARRAY['symbol', 'op', 'price']),
    CONSTRAINT triggers_cooldown_nonneg CHECK (cooldown_seconds >= 0),
    CONSTRAINT triggers_max_fires_pos CHECK (max_fires IS NULL OR max_fires > 0),
    CONSTRAINT triggers_fire_count_nonneg CHECK (fire_count >= 0),
    CONSTRAINT triggers_name_len CHECK (name IS NULL OR length(name) <= 100)
);

CREATE INDEX triggers_user_idx ON scheduler.triggers (user_id, created_at DESC);
CREATE INDEX triggers_agent_idx ON scheduler.triggers (agent_id);
-- On every quote: active price triggers of that symbol.
CREATE INDEX triggers_price_symbol_idx
    ON scheduler.triggers ((config->>'symbol'))
    WHERE type = 'price' AND status = 'active';
-- On news / market open-close: active triggers of that type.
CREATE INDEX triggers_active_type_idx
    ON scheduler.triggers (type)
    WHERE status = 'active';

CREATE TRIGGER triggers_touch_updated_at
    BEFORE UPDATE ON scheduler.triggers
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Next run of each time / market_event trigger. An instance claims due rows
--   UPDATE scheduler.schedules SET lease_owner = $me,
--          lease_expires_at = now() + interval '30 s'
--    WHERE trigger_id IN (SELECT trigger_id FROM scheduler.schedules
--                          WHERE next_run <= now()
--                            AND (lease_expires_at IS NULL OR lease_expires_at < now())
--                          ORDER BY next_run LIMIT 100
--                          FOR UPDATE SKIP LOCKED)
--   RETURNING ...
-- fires them, then advances next_run and clears the lease in one transaction.
CREATE TABLE scheduler.schedules (
    trigger_id        uuid        PRIMARY KEY
                                  REFERENCES scheduler.triggers (id) ON DELETE CASCADE,
    user_id           uuid        NOT NULL,
    next_run          timestamptz,
    last_run          timestamptz,
    last_status       text,
    lease_owner       text,
    lease_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT schedules_last_status_check
        CHECK (last_status IS NULL OR last_status IN ('fired', 'skipped', 'failed')),
    CONSTRAINT schedules_lease_pair
        CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);

CREATE INDEX schedules_due_idx
    ON scheduler.schedules (next_run) WHERE next_run IS NOT NULL;
CREATE INDEX schedules_user_idx ON scheduler.schedules (user_id);

CREATE TRIGGER schedules_touch_updated_at
    BEFORE UPDATE ON scheduler.schedules
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Every firing of a trigger. id is also the event_id of its trigger.fired
-- event. For time triggers scheduled_for is the slot, and the unique key
-- makes a slot fire once even across a leader change.
CREATE TABLE scheduler.firings (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    trigger_id     uuid        NOT NULL REFERENCES scheduler.triggers (id) ON DELETE CASCADE,
    user_id        uuid        NOT NULL,
    agent_id       uuid        NOT NULL,
    scheduled_for  timestamptz,
    fired_at       timestamptz NOT NULL DEFAULT now(),
    reason         jsonb       NOT NULL DEFAULT '{}',

    CONSTRAINT firings_reason_object CHECK (jsonb_typeof(reason) = 'object')
);

CREATE UNIQUE INDEX firings_trigger_slot_key
    ON scheduler.firings (trigger_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;
CREATE INDEX firings_trigger_idx ON scheduler.firings (trigger_id, fired_at DESC);
CREATE INDEX firings_user_idx ON scheduler.firings (user_id, fired_at DESC);

-- Named leases for singleton work (ARCHITECTURE: "1 replica, leader
-- election"). Take or renew:
--   INSERT INTO scheduler.leases AS l (name, owner, expires_at)
--   VALUES ($1, $2, now() + $3::interval)
--   ON CONFLICT (name) DO UPDATE
--      SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
--          renewed_at = now(),
--          epoch = l.epoch + (l.owner <> EXCLUDED.owner)::int
--    WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
--   RETURNING epoch;          -- no row: someone else leads
-- epoch is a fencing token: it grows on every change of owner.
CREATE TABLE scheduler.leases (
    name         text        PRIMARY KEY,
    owner        text        NOT NULL,
    epoch        bigint      NOT NULL DEFAULT 1,
    acquired_at  timestamptz NOT NULL DEFAULT now(),
    renewed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- trigger.fired (see trading.outbox for the protocol).
CREATE TABLE scheduler.outbox (
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
    ON scheduler.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_user_idx ON scheduler.outbox (user_id);

-- Events consumed (see agents.inbox).
CREATE TABLE scheduler.inbox (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    type          text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX inbox_processed_idx ON scheduler.inbox (processed_at);
