-- Sessions say when they were last used and by what client: an inactivity timeout besides the absolute
-- lifetime, and a page where users see (and end) their other sessions. Forward-only like 0001 and 0002.

ALTER TABLE sessions
    ADD COLUMN last_seen_at timestamptz,
    ADD COLUMN client text NOT NULL DEFAULT '' CHECK (length(client) <= 300);

UPDATE sessions SET last_seen_at = created_at;

ALTER TABLE sessions ALTER COLUMN last_seen_at SET NOT NULL;
