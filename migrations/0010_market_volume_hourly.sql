-- One per-market rolling-24h sample per venue and UTC hour (the first poll of the hour), kept ~48 h, so
-- the Assets page can say how each asset's figure changed against about 24 h earlier. Every poll
-- (15 s) would be thousands of rows a minute; one an hour is enough for "about 24 h ago".
CREATE TABLE market_volume_hourly (
    exchange   text NOT NULL REFERENCES venues (exchange),
    hour       timestamptz NOT NULL,
    symbol     text NOT NULL,
    as_of      timestamptz NOT NULL,
    volume_usd numeric NOT NULL CHECK (volume_usd >= 0 AND volume_usd <> 'NaN'),
    PRIMARY KEY (exchange, hour, symbol)
);

-- The Assets page asks for the samples around one moment (now − 24 h) on every render.
CREATE INDEX market_volume_hourly_hour ON market_volume_hourly (hour);
