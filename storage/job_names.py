"""The names both sides use for queued work, in one place.

arq registers a job under its function's name (workers/worker.py); the web app and the workers enqueue
it by that name, so the web app never imports the workers. tests/workers/test_worker.py checks that
the worker registers these names.
"""

from __future__ import annotations

# arq jobs enqueued by name.
BACKFILL_HISTORY = "backfill_history"  # workers.jobs.backfill_history(exchange, days=None)
SYNC_ONE_CREDENTIAL = "sync_one_credential"  # workers.account_jobs.sync_one_credential(credential_id)

# The checkpoint job (`backfill_checkpoints.job`) of the per-market daily-history backfill.
DAILY_BACKFILL = "daily_backfill"
