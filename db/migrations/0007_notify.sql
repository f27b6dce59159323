-- 0007_notify: notifications (in-app list, and the delivery record of email /
-- push / SMS), user preferences, push devices, and the inbox of consumed
-- events.

CREATE TABLE notify.notifications (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid        NOT NULL,
    -- order_filled, order_cancelled, portfolio_update, agent_executed, alert, ...
    type        text        NOT NULL,
    title       text,
    body        text,
    payload     jsonb       NOT NULL DEFAULT '{}',
    channel     text        NOT NULL DEFAULT 'in_app',
    status      text        NOT NULL DEFAULT 'pending',
    -- The domain event this notification was made from: with channel it makes
    -- a redelivered event notify once per channel.
    event_id    uuid,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    read_at     timestamptz,

    CONSTRAINT notifications_type_check CHECK (type ~ '^[a-z][a-z0-9_.]{0,63}$'),
    CONSTRAINT notifications_channel_check
        CHECK (channel IN ('in_app', 'email', 'push', 'sms')),
    CONSTRAINT notifications_status_check
        CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    CONSTRAINT notifications_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT notifications_sent_has_time CHECK (status <> 'sent' OR sent_at IS NOT NULL)
);

-- GET /notifications: newest first, keyset pagination.
CREATE INDEX notifications_user_created_idx
    ON notify.notifications (user_id, created_at DESC, id DESC);
-- Unread badge count.
CREATE INDEX notifications_user_unread_idx
    ON notify.notifications (user_id)
    WHERE read_at IS NULL AND channel = 'in_app';
-- Delivery worker: pending email/push/sms, oldest first.
CREATE INDEX notifications_pending_idx
    ON notify.notifications (created_at)
    WHERE status = 'pending' AND channel <> 'in_app';
CREATE UNIQUE INDEX notifications_event_channel_key
    ON notify.notifications (user_id, event_id, channel)
    WHERE event_id IS NOT NULL;

-- Per-user delivery preferences; a user with no row gets the column defaults.
-- per_type overrides by notification type, e.g.
--   {"order_filled":{"email":true,"push":true},"quote":{"in_app":false}}
-- Quiet hours (local time in tz) hold back push and SMS, not in-app.
CREATE TABLE notify.preferences (
    user_id             uuid        PRIMARY KEY,
    in_app_enabled      boolean     NOT NULL DEFAULT true,
    email_enabled       boolean     NOT NULL DEFAULT true,
    push_enabled        boolean     NOT NULL DEFAULT false,
    sms_enabled         boolean     NOT NULL DEFAULT false,
    email_address       text,
    phone_number        text,
    quiet_hours_start   time,
    quiet_hours_end     time,
    tz                  text        NOT NULL DEFAULT 'America/New_York',
    per_type            jsonb       NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT preferences_quiet_hours_pair
        CHECK ((quiet_hours_start IS NULL) = (quiet_hours_end IS NULL)),
    CONSTRAINT preferences_phone_e164
        CHECK (phone_number IS NULL OR phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    CONSTRAINT preferences_email_shape
        CHECK (email_address IS NULL OR email_address ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT preferences_per_type_object CHECK (jsonb_typeof(per_type) = 'object')
);

CREATE TRIGGER preferences_touch_updated_at
    BEFORE UPDATE ON notify.preferences
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Push targets (FCM registration tokens) of a user's devices.
CREATE TABLE notify.devices (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL,
    platform      text        NOT NULL,
    token         text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT devices_token_key UNIQUE (token),
    CONSTRAINT devices_platform_check CHECK (platform IN ('android', 'ios', 'web'))
);

CREATE INDEX devices_user_idx ON notify.devices (user_id);

-- Events consumed (see agents.inbox).
CREATE TABLE notify.inbox (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    type          text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX inbox_processed_idx ON notify.inbox (processed_at);
