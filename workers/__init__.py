"""The ingest side: the arq worker, its jobs, the polling/backfill logic and the users' account sync."""
