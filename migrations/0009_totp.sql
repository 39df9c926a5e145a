-- Optional TOTP second factor (RFC 6238). The shared secret is sealed like exchange credentials
-- (AES-256-GCM under APP_SECRET_KEY, bound to the user); recovery codes are stored as SHA-256 only.
-- Forward-only like the others.

CREATE TABLE user_totp (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key_version integer NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    -- NULL while enrolling: the second factor counts only once a code confirmed it.
    enabled_at  timestamptz,
    -- The newest 30-second time-step a code was accepted for: an older or equal one is a replay.
    last_step   bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE totp_recovery_codes (
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A password that passed for an account with TOTP: the second step must follow within minutes.
CREATE TABLE totp_pending_logins (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX totp_pending_logins_expires ON totp_pending_logins (expires_at);
