-- The underlying asset of every perp market (issue 12), set by the workers when they list a venue's
-- markets (core/asset_mapping.py reads the venue's own base-coin field). asset_status is NULL until a
-- market has been classified, 'unmapped' (with the reason) when its name cannot be read without guessing.
ALTER TABLE markets
    ADD COLUMN asset text,
    ADD COLUMN asset_multiplier numeric CHECK (asset_multiplier > 0),
    ADD COLUMN asset_status text CHECK (asset_status IN ('mapped', 'unmapped')),
    ADD COLUMN asset_reason text,
    ADD CONSTRAINT markets_asset_mapped CHECK ((asset_status = 'mapped') = (asset IS NOT NULL));

CREATE INDEX markets_asset ON markets (asset, exchange, symbol) WHERE asset IS NOT NULL;

-- Exact days from the venues' own rolling figures (issue 12). The rolling-24h figure read at 00:00 UTC
-- is the UTC day just ended: for every midnight the worker polled across, the snapshot nearest 00:00
-- (within one poll interval) is kept per venue and per market. `day` is the day the figure covers;
-- `offset_seconds` is as_of - midnight (negative: read just before it).
CREATE TABLE midnight_snapshots (
    exchange       text NOT NULL REFERENCES venues (exchange),
    day            date NOT NULL,
    as_of          timestamptz NOT NULL,
    offset_seconds numeric NOT NULL,
    volume_usd     numeric NOT NULL CHECK (volume_usd >= 0 AND volume_usd <> 'NaN'),
    markets        int NOT NULL,
    PRIMARY KEY (exchange, day)
);

CREATE TABLE midnight_market_volume (
    exchange   text NOT NULL REFERENCES venues (exchange),
    symbol     text NOT NULL,
    day        date NOT NULL,
    volume_usd numeric NOT NULL CHECK (volume_usd >= 0 AND volume_usd <> 'NaN'),
    PRIMARY KEY (exchange, symbol, day)
);

-- A day whose figure came from the midnight snapshot (`exact_at` = its as_of) keeps the venue's
-- candle-based estimate beside it in `estimate_usd`, so the estimate's error can be shown.
ALTER TABLE daily_market_volume
    ADD COLUMN exact_at timestamptz,
    ADD COLUMN estimate_usd numeric CHECK (estimate_usd >= 0 AND estimate_usd <> 'NaN');

-- The hourly revision and the backfill rewrite recent days from candles (estimated for Hyperliquid and
-- Paradex). Over a day that is exact from midnight, such a write keeps the exact figure and only
-- records the new estimate beside it: every writer of daily rows gets this without knowing about it.
CREATE FUNCTION keep_exact_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.estimate_usd := NEW.volume_usd;
    NEW.volume_usd := OLD.volume_usd;
    NEW.source := OLD.source;
    NEW.estimated := false;
    NEW.complete := true;
    RETURN NEW;
END
$$;

CREATE TRIGGER daily_market_volume_keep_exact
    BEFORE UPDATE ON daily_market_volume
    FOR EACH ROW
    WHEN (OLD.exact_at IS NOT NULL AND NEW.exact_at IS NOT DISTINCT FROM OLD.exact_at AND NEW.estimated)
    EXECUTE FUNCTION keep_exact_day();
