-- 0002_auth: users and their refresh tokens (owned by the gateway's kx_auth).

-- Emails are stored normalised (trimmed, lower case): the writer lowers the
-- address before INSERT and before lookup, the CHECK refuses anything else,
-- so the plain UNIQUE constraint is a case-insensitive one.  (citext would do
-- the same, but a parameter sent as text compares case-sensitively with it.)
CREATE TABLE auth.users (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text        NOT NULL,
    password_hash  text        NOT NULL,
    display_name   text,
    status         text        NOT NULL DEFAULT 'active',
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_normalised
        CHECK (email = lower(btrim(email))),
    CONSTRAINT users_email_shape
        CHECK (length(email) BETWEEN 3 AND 254
               AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT users_password_hash_present
        CHECK (length(password_hash) > 0),
    CONSTRAINT users_display_name_len
        CHECK (display_name IS NULL OR length(display_name) <= 100),
    CONSTRAINT users_status_check
        CHECK (status IN ('active', 'disabled'))
);

COMMENT ON TABLE auth.users IS
    'One row per account. email is lower-cased by the writer (CHECKed).';
COMMENT ON COLUMN auth.users.password_hash IS
    'Self-describing hash string (e.g. $argon2id$..., $6$...), never the password';

CREATE TRIGGER users_touch_updated_at
    BEFORE UPDATE ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- Long-lived refresh tokens: only a hash of the token is stored, so a leaked
-- table does not leak sessions. Rotation revokes the old row and links it.
CREATE TABLE auth.refresh_tokens (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    token_hash    bytea       NOT NULL,
    user_agent    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    replaced_by   uuid        REFERENCES auth.refresh_tokens (id) ON DELETE SET NULL,

    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_expiry_after_creation CHECK (expires_at > created_at)
);

CREATE INDEX refresh_tokens_user_id_idx ON auth.refresh_tokens (user_id);
