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
