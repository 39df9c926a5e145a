-- A venue's clock can be wrong. Snapshots are ordered by when perpvol fetched them (`taken_at`, the
-- poll's completion time), not by the venue's `as_of`; an `as_of` ahead of the local clock beyond a
-- tolerance is stored clamped, with what the venue said and why in the two columns below.
ALTER TABLE volume_snapshots
    ADD COLUMN venue_as_of timestamptz,
    ADD COLUMN as_of_note text;

CREATE INDEX volume_snapshots_fetched ON volume_snapshots (exchange, taken_at DESC);

-- A backfill that failed (storage, Redis or venue) says so on Status until a run succeeds: what went
-- wrong, when, and when the retry is due.
ALTER TABLE venue_status
    ADD COLUMN backfill_error text,
    ADD COLUMN backfill_error_at timestamptz,
    ADD COLUMN backfill_retry_at timestamptz;
