-- perpvol initial schema. Forward-only: never edit after it has been applied; add 0002_*.sql instead.
-- Money is NUMERIC without scale so venue figures round-trip exactly; times are timestamptz (UTC);
-- a "day" is a UTC calendar day stored as `date`.

-- Facts about the database itself, e.g. data_mode = 'real' | 'simulated' (the two never share a database).
CREATE TABLE meta (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE venues (
    exchange   text PRIMARY KEY,
    label      text NOT NULL,
    sort_order int  NOT NULL
);

INSERT INTO venues (exchange, label, sort_order) VALUES
    ('bybit', 'Bybit', 1),
    ('woox', 'WOO X', 2),
    ('hyperliquid', 'Hyperliquid', 3),
    ('paradex', 'Paradex', 4);

-- Markets are never deleted: a market a venue stops listing is marked delisted and keeps its history.
CREATE TABLE markets (
    exchange    text NOT NULL REFERENCES venues (exchange),
    symbol      text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('linear', 'inverse')),
    status      text NOT NULL CHECK (status IN ('trading', 'delisted', 'pending', 'suspended')),
    base        text NOT NULL,
    quote       text NOT NULL,
    extra       jsonb NOT NULL DEFAULT '{}'::jsonb,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    delisted_at timestamptz,
    PRIMARY KEY (exchange, symbol)
);

-- One row per market per UTC day. No FK to markets: history may be written before the market list.
CREATE TABLE daily_market_volume (
    exchange   text NOT NULL REFERENCES venues (exchange),
    symbol     text NOT NULL,
    day        date NOT NULL,
    volume_usd numeric NOT NULL CHECK (volume_usd >= 0 AND volume_usd <> 'NaN'),
    source     text NOT NULL,
    estimated  boolean NOT NULL DEFAULT false,
    complete   boolean NOT NULL DEFAULT true,
    fetched_at timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol, day)
);

-- The venue rollup is recomputed from the market rows of the touched days, so it can be rebuilt.
CREATE INDEX daily_market_volume_exchange_day ON daily_market_volume (exchange, day);

CREATE TABLE daily_venue_volume (
    exchange   text NOT NULL REFERENCES venues (exchange),
    day        date NOT NULL,
    volume_usd numeric NOT NULL,
    markets    int NOT NULL,
    estimated  boolean NOT NULL,
    complete   boolean NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (exchange, day)
);

CREATE INDEX daily_venue_volume_day ON daily_venue_volume (day);

-- Rolling-24h totals per poll. UNIQUE (exchange, as_of) makes a retried poll a no-op.
CREATE TABLE volume_snapshots (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exchange   text NOT NULL REFERENCES venues (exchange),
    as_of      timestamptz NOT NULL,
    taken_at   timestamptz NOT NULL,
    volume_usd numeric NOT NULL CHECK (volume_usd >= 0 AND volume_usd <> 'NaN'),
    markets    int NOT NULL,
    estimated  boolean NOT NULL,
    source     text NOT NULL,
    time_window text NOT NULL DEFAULT 'rolling_24h',
    UNIQUE (exchange, as_of)
);

CREATE INDEX volume_snapshots_as_of ON volume_snapshots (as_of);

-- The per-market figures of each venue's newest snapshot (replaced as a whole on each poll).
CREATE TABLE current_market_volume (
    exchange   text NOT NULL REFERENCES venues (exchange),
    symbol     text NOT NULL,
    volume_usd numeric NOT NULL CHECK (volume_usd >= 0 AND volume_usd <> 'NaN'),
    estimated  boolean NOT NULL,
    as_of      timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol)
);

CREATE INDEX current_market_volume_volume ON current_market_volume (volume_usd DESC);

CREATE TABLE venue_status (
    exchange             text PRIMARY KEY REFERENCES venues (exchange),
    last_attempt         timestamptz,
    last_success         timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    consecutive_failures int NOT NULL DEFAULT 0
);

-- Backfill runs forward from target_start; done_through is the last day fully stored.
CREATE TABLE backfill_checkpoints (
    exchange     text NOT NULL REFERENCES venues (exchange),
    symbol       text NOT NULL,
    job          text NOT NULL,
    target_start date NOT NULL,
    done_through date NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (exchange, symbol, job)
);

-- A lease per market and job; an expired lease may be taken over, so a killed worker's market resumes.
CREATE TABLE backfill_claims (
    exchange   text NOT NULL REFERENCES venues (exchange),
    symbol     text NOT NULL,
    job        text NOT NULL,
    worker_id  text NOT NULL,
    claimed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol, job)
);
