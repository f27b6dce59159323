-- 0004_agents: AI trading agents, their executions (with the reasoning that
-- led to each decision), the agents outbox and inbox.

CREATE TABLE agents.agents (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL,
    name         text        NOT NULL,
    description  text,
    -- The strategy in the user's own words ("buy AAPL when RSI < 30 ...").
    strategy     text        NOT NULL,
    -- Symbols the agent watches and may trade; empty means "any".
    symbols      text[]      NOT NULL DEFAULT '{}',
    -- Agent-level limits on top of trading.risk_limits, e.g.
    -- {"max_order_value":"1000","max_position_value":"5000","max_daily_trades":3}
    risk_limits  jsonb       NOT NULL DEFAULT '{}',
    status       text        NOT NULL DEFAULT 'active',
    -- Decision engine: built-in rule interpreter or an LLM provider.
    provider     text        NOT NULL DEFAULT 'rules',
    model        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT agents_name_len CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    CONSTRAINT agents_strategy_len CHECK (length(strategy) BETWEEN 1 AND 20000),
    CONSTRAINT agents_risk_limits_object CHECK (jsonb_typeof(risk_limits) = 'object'),
    CONSTRAINT agents_status_check
        CHECK (status IN ('active', 'paused', 'archived')),
    CONSTRAINT agents_provider_check
        CHECK (provider IN ('rules', 'openai', 'anthropic', 'openai_compatible'))
);

CREATE INDEX agents_user_idx ON agents.agents (user_id, created_at DESC);
-- A user's live agents have distinct names; archived ones free the name.
CREATE UNIQUE INDEX agents_user_name_key
    ON agents.agents (user_id, lower(name))
    WHERE status <> 'archived';

CREATE TRIGGER agents_touch_updated_at
    BEFORE UPDATE ON agents.agents
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- One row per run of an agent: what it saw, what it decided and why, and the
-- order it placed (trading.orders.id, no cross-schema FK).
CREATE TABLE agents.agent_executions (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            uuid        NOT NULL,
    agent_id           uuid        NOT NULL REFERENCES agents.agents (id) ON DELETE CASCADE,
    trigger            text        NOT NULL DEFAULT 'manual',
    -- scheduler.triggers.id and the trigger.fired event that caused this run;
    -- the event id is unique so a redelivered event runs the agent once.
    trigger_id         uuid,
    trigger_event_id   uuid,
    dry_run            boolean     NOT NULL DEFAULT false,
    status             text        NOT NULL DEFAULT 'pending',
    context            jsonb       NOT NULL DEFAULT '{}',
    -- {"action":"buy|sell|hold","symbol":"AAPL","quantity":"10","type":"market",...}
    decision           jsonb,
    reasoning          text,
    order_id           uuid,
    error              text,
    provider           text,
    model              text,
    prompt_tokens      integer,
    completion_tokens  integer,
    latency_ms         integer,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz,

    CONSTRAINT agent_executions_trigger_check
        CHECK (trigger IN ('manual', 'time', 'price', 'news', 'market_event')),
    CONSTRAINT agent_executions_status_check
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'rejected')),
    CONSTRAINT agent_executions_context_object
        CHECK (jsonb_typeof(context) = 'object'),
    CONSTRAINT agent_executions_decision_object
        CHECK (decision IS NULL OR jsonb_typeof(decision) = 'object'),
    CONSTRAINT agent_executions_tokens_nonneg
        CHECK (coalesce(prompt_tokens, 0) >= 0 AND coalesce(completion_tokens, 0) >= 0
               AND coalesce(latency_ms, 0) >= 0),
    CONSTRAINT agent_executions_finished_after_start
        CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);

COMMENT ON COLUMN agents.agent_executions.status IS
    'pending -> running -> completed (decision taken, order placed or hold) | '
    'failed (provider/IO error) | rejected (decision refused by risk limits)';

CREATE INDEX agent_executions_user_idx
    ON agents.agent_executions (user_id, created_at DESC, id DESC);
CREATE INDEX agent_executions_agent_idx
    ON agents.agent_executions (agent_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX agent_executions_trigger_event_key
    ON agents.agent_executions (trigger_event_id)
    WHERE trigger_event_id IS NOT NULL;
-- Recovery after a crash: runs left pending/running.
CREATE INDEX agent_executions_unfinished_idx
    ON agents.agent_executions (created_at)
    WHERE status IN ('pending', 'running');

-- agent.executed, agent.decision_made (see trading.outbox for the protocol).
CREATE TABLE agents.outbox (
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
    ON agents.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_user_idx ON agents.outbox (user_id);

-- Events this service consumed (order.filled, trigger.fired, ...): the
-- consumer inserts the event_id in the transaction that handles the event,
-- so a redelivery (Redis Streams are at-least-once) is a no-op.
CREATE TABLE agents.inbox (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    type          text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX inbox_processed_idx ON agents.inbox (processed_at);
