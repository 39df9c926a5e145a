"""The job names the web app and the workers enqueue by (storage/job_names.py) are the ones the worker
registers, so a renamed job function cannot silently strand queued work."""

from __future__ import annotations

from storage.job_names import BACKFILL_HISTORY, DAILY_BACKFILL, SYNC_ONE_CREDENTIAL
from storage.queries.checkpoints import DEFAULT_JOB
from tests.conftest import make_settings
from webapp.accounts import FIRST_SYNC_JOB
from workers import account_jobs, ingest, jobs
from workers.worker import worker_settings


def test_the_worker_registers_every_job_that_is_enqueued_by_name() -> None:
    functions = worker_settings(make_settings())["functions"]
    registered = {f.name: f.coroutine for f in functions}
    assert registered == {
        BACKFILL_HISTORY: jobs.backfill_history,
        SYNC_ONE_CREDENTIAL: account_jobs.sync_one_credential,
    }


def test_the_web_app_enqueues_the_first_sync_under_the_registered_name() -> None:
    assert FIRST_SYNC_JOB == SYNC_ONE_CREDENTIAL


def test_ingest_and_the_checkpoint_queries_use_one_backfill_job_name() -> None:
    assert ingest.BACKFILL_JOB == DEFAULT_JOB == DAILY_BACKFILL
