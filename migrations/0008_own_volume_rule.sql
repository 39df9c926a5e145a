-- Issue 13: one rule of what counts as a user's own volume (README, "A user's own volume: what counts").
--
-- Builder-deployed (HIP-3) Hyperliquid perps (coins `dex:COIN`) no longer count: their stored fills go.
DELETE FROM user_fills WHERE exchange = 'hyperliquid' AND symbol LIKE '%:%';

-- Fills the old rule dropped are read again: Bybit liquidations, block trades, auto-deleveraging and
-- perp spread legs, WOO X rows after a page smaller than 500, Hyperliquid pages answered newest first.
-- Every stream re-syncs its venue's whole lookback at its next run; stored fills stay, and fills fetched
-- again are dropped by their venue id, so nothing counts twice.
DELETE FROM fill_sync_cursors;

-- Bybit keys bound to IP addresses never expire; Bybit answers "1970-01-01T00:00:00Z" for them, which
-- was stored as their expiry.
UPDATE credentials
SET expires_at = NULL,
    status_detail = COALESCE(status_detail,
        'does not expire (bound to IP addresses; Bybit expires only keys without an IP whitelist)')
WHERE exchange = 'bybit' AND expires_at <= TIMESTAMPTZ '1970-01-02 00:00:00+00';
