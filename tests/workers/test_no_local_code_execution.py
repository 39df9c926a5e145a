"""Nobody else on the machine can make a worker run code: the embedded Redis is reachable only through
a 0700 unix socket with a password, and job payloads are JSON, so a pickled payload is never loaded."""

from __future__ import annotations

import pickle
import stat
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from arq import func
from arq.connections import RedisSettings
from arq.worker import Worker

from storage.embedded import Services, publish_services, start_embedded_redis
from storage.job_codec import deserialize_job, serialize_job
from tests.conftest import make_settings
from workers.worker import worker_settings


class _CreatesAFile:
    """What an attacker queues: unpickling it creates `path` (stands in for running a shell command)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_embedded_redis_listens_on_a_private_socket_with_a_password(tmp_path: Path) -> None:
    server, url = start_embedded_redis(tmp_path / "redis")
    try:
        assert url.startswith("unix://:") and "@/" in url
        assert server.config_get("port")["port"] == "0", "no TCP port may be open"
        socket_path = Path(server.socket_file)
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(unix_socket_path=str(socket_path)).ping()
        assert redis.Redis.from_url(url).ping()
    finally:
        server.shutdown()


def test_the_shared_services_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = make_settings(PERPVOL_DATA_DIR=tmp_path)
    publish_services(settings, Services("postgresql:///perpvol?host=/tmp", "unix://:secret@/tmp/x/redis.socket"))
    assert stat.S_IMODE((tmp_path / "embedded.json").stat().st_mode) == 0o600


def test_the_deployed_worker_and_queue_use_json_jobs() -> None:
    deployed = worker_settings(make_settings(REDIS_URL="redis://127.0.0.1:6379/0"))
    assert deployed["job_serializer"] is serialize_job
    assert deployed["job_deserializer"] is deserialize_job
    assert deserialize_job(serialize_job({"f": "job", "a": ["bybit", 3]})) == {"f": "job", "a": ["bybit", 3]}


async def test_a_pickled_job_is_refused_and_never_unpickled(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    marker = tmp_path / "pwned"
    queue = f"{redis_prefix}:queue"
    client = aioredis.Redis.from_url(redis_url)
    # arq's own layout: the job's payload at arq:job:<id>, its id in the queue's sorted set.
    await client.set(f"arq:job:{redis_prefix}-evil", pickle.dumps({"f": "poll", "a": [_CreatesAFile(marker)]}))
    await client.zadd(queue, {f"{redis_prefix}-evil": 1})
    ran: list[str] = []

    async def poll(ctx: dict[str, Any], *args: Any) -> None:
        ran.append("poll")

    deployed = worker_settings(make_settings(REDIS_URL=redis_url))
    worker = Worker(
        functions=[func(poll, name="poll")],
        queue_name=queue,
        redis_settings=RedisSettings.from_dsn(redis_url),
        job_serializer=deployed["job_serializer"],
        job_deserializer=deployed["job_deserializer"],
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
        await client.delete(f"arq:job:{redis_prefix}-evil", queue, f"arq:result:{redis_prefix}-evil")
        await client.aclose()
    assert not marker.exists(), "the pickled payload was loaded"
    assert ran == [] and worker.jobs_failed == 1
