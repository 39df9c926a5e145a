-- Accounts: users, sessions, encrypted exchange credentials and each user's own perp fills.
-- Forward-only like 0001. Secrets are never stored in clear: see core/security.py.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Opt-in public embed of the user's own aggregate: a revocable token and the figures it shows.
    embed_token   text UNIQUE,
    embed_fields  text[] NOT NULL DEFAULT '{}',
    UNIQUE (email)
);

-- Only a SHA-256 of the session token is stored: a database leak does not hand out sessions.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- One row per secret that has encrypted credentials; `fingerprint` is derived from the secret with
-- HKDF (not the secret, not the encryption key), so a process can tell which version it holds.
CREATE TABLE credential_keys (
    version     int PRIMARY KEY,
    fingerprint text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- AES-256-GCM ciphertext of the venue credential; associated data binds it to (version, user, venue, id).
CREATE TABLE credentials (
    id              uuid PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    exchange        text NOT NULL REFERENCES venues (exchange),
    label           text NOT NULL,
    key_hint        text NOT NULL,
    key_version     int NOT NULL REFERENCES credential_keys (version),
    nonce           bytea NOT NULL CHECK (length(nonce) = 12),
    ciphertext      bytea NOT NULL,
    permissions     text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL CHECK (status IN ('ok', 'expired', 'revoked', 'invalid', 'permission', 'error')),
    status_detail   text,
    expires_at      timestamptz,
    created_at      timestamptz NOT NULL,
    last_sync_at    timestamptz,
    last_sync_error text,
    -- Fills are complete from this time on (venues serve limited history, Hyperliquid the newest 10,000).
    history_from    timestamptz
);

CREATE INDEX credentials_user ON credentials (user_id);

-- Each perp fill once per user and venue: the venue's own fill id is the key, so a fill fetched twice
-- (overlapping windows, a resumed sync, two keys of the same account) never counts twice.
-- Fills outlive their credential unless the user asks to delete them with it.
CREATE TABLE user_fills (
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    exchange      text NOT NULL REFERENCES venues (exchange),
    fill_id       text NOT NULL,
    credential_id uuid REFERENCES credentials (id) ON DELETE SET NULL,
    symbol        text NOT NULL,
    executed_at   timestamptz NOT NULL,
    notional_usd  numeric NOT NULL CHECK (notional_usd >= 0 AND notional_usd <> 'NaN'),
    PRIMARY KEY (user_id, exchange, fill_id)
);

CREATE INDEX user_fills_user_time ON user_fills (user_id, executed_at);
CREATE INDEX user_fills_credential ON user_fills (credential_id);

-- Per credential and stream (e.g. Bybit linear / inverse): every fill before `synced_through` is stored.
CREATE TABLE fill_sync_cursors (
    credential_id  uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    stream         text NOT NULL,
    synced_through timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credential_id, stream)
);
