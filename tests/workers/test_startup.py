"""`perpvol up` / `web` when something is off: one line, a non-zero exit, nothing left running.

Each test drives the real `perpvol` process, as a user's shell does."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from cli import process_tree
from cli.commands.run import ChildKeepsFailing, Supervisor
from storage.db import quote_ident, with_database
from storage.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
PERPVOL = [sys.executable, "-m", "cli.main"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"PERPVOL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


def _perpvol(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PERPVOL, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def processes_of(data_dir: Path) -> list[int]:
    """Live processes started with this data dir in their environment (children inherit it)."""
    marker = f"PERPVOL_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def busy_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_up_with_a_port_out_of_range_exits_with_one_line(tmp_path: Path) -> None:
    result = _perpvol(["up", "--port", "99999"], _env(tmp_path))
    assert result.returncode == 2
    assert result.stderr == "perpvol: error: --port 99999 is not a port number (1-65535)\n"
    assert result.stdout == ""


def test_up_on_a_busy_port_says_so_in_one_line_before_announcing_a_url(tmp_path: Path, busy_port: int) -> None:
    result = _perpvol(["up", "--port", str(busy_port)], _env(tmp_path))
    assert result.returncode == 1
    assert result.stderr == f"perpvol: error: port {busy_port} is already in use (use --port)\n"
    assert "running" not in result.stdout and "http://" not in result.stdout
    assert processes_of(tmp_path) == []


def test_web_on_a_busy_port_says_so_in_one_line(tmp_path: Path, busy_port: int) -> None:
    result = _perpvol(["web", "--port", str(busy_port)], _env(tmp_path))
    assert result.returncode == 1
    assert result.stderr == f"perpvol: error: port {busy_port} is already in use (use --port)\n"


def test_up_simulate_with_an_unreachable_database_names_the_setting_and_leaves_nothing_running(
    tmp_path: Path, redis_url: str
) -> None:
    env = _env(tmp_path, DATABASE_URL="postgresql://nobody@127.0.0.1:1/x", REDIS_URL=redis_url)
    result = _perpvol(["up", "--simulate", "--port", str(free_port())], env)
    assert result.returncode == 1
    assert result.stderr == (
        "perpvol: error: cannot connect to PostgreSQL at DATABASE_URL (127.0.0.1:1): connection refused\n"
    )
    time.sleep(0.5)  # a child left behind would still be starting; it must not exist at all
    assert processes_of(tmp_path) == []
    assert "simulator" not in result.stdout


def test_up_with_an_unreachable_redis_names_the_setting(tmp_path: Path, db_dsn: str) -> None:
    # The database check comes first; point it at a server that answers so Redis is the one that fails.
    env = _env(tmp_path, DATABASE_URL=db_dsn, REDIS_URL="redis://127.0.0.1:1/0")
    result = _perpvol(["up", "--port", str(free_port())], env)
    assert result.returncode == 1
    assert result.stderr.endswith("cannot connect to Redis at REDIS_URL (127.0.0.1:1): connection refused\n")
    assert processes_of(tmp_path) == []


def test_supervisor_gives_up_on_a_child_that_keeps_crashing_and_says_which_and_why() -> None:
    crash = [sys.executable, "-c", "import sys; print('boom: bad config', file=sys.stderr); sys.exit(3)"]
    stay = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor = Supervisor(dict(os.environ), fast_crash_delay=0.05)
    supervisor.add("steady", stay)
    supervisor.add("web", crash)
    try:
        with pytest.raises(ChildKeepsFailing) as failure:
            supervisor.watch()
    finally:
        supervisor.stop()
    assert str(failure.value) == (
        "web keeps exiting right after it starts (3 times, last exit code 3); stopped everything: boom: bad config"
    )
    assert all(child.process is not None and child.process.poll() is not None for child in supervisor.children)


# A server that forks a worker and, on SIGTERM, exits without joining it (granian does so when it is
# killed mid-drain); the worker ignores SIGTERM. It writes the worker's pid to argv[1] once both run.
FORKING_SERVER = """
import os, signal, sys, time
worker = os.fork()
if worker == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
open(sys.argv[1], "w").write(str(worker))
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
while True:
    time.sleep(1)
"""


def test_stopping_the_supervisor_also_ends_a_server_worker_its_child_left_behind(tmp_path: Path) -> None:
    supervisor = Supervisor(dict(os.environ), stop_grace=1.0)
    pid_file = tmp_path / "worker.pid"
    web = supervisor.add("web", [sys.executable, "-c", FORKING_SERVER, str(pid_file)])
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the forking server never started its worker"
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    supervisor.stop()
    assert web.process is not None and web.process.poll() is not None
    assert not process_tree.running(worker), "the server's worker outlived the supervisor"


@pytest.fixture
async def fresh_dsn(pg_dsn: str) -> AsyncIterator[str]:
    """A database name nobody has created yet (`up` creates it, and `<name>_sim`); both dropped after."""
    dsn = with_database(pg_dsn, f"perpvol_test_{secrets.token_hex(6)}")
    yield dsn
    admin = await asyncpg.connect(pg_dsn)
    try:
        for name in (dsn.rsplit("/", 1)[1], dsn.rsplit("/", 1)[1] + "_sim"):
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()


def test_status_and_user_follow_a_running_simulated_instance_and_say_so_when_asked_for_real_data(
    tmp_path: Path, fresh_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    env = _env(tmp_path, DATABASE_URL=fresh_dsn, REDIS_URL=redis_url, PERPVOL_REDIS_PREFIX=redis_prefix)
    port = free_port()
    up = subprocess.Popen(
        [*PERPVOL, "up", "--simulate", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        line = up.stdout.readline()
        if line.startswith("perpvol: applied migrations"):
            line = up.stdout.readline()
        assert re.fullmatch(rf"perpvol: running with SIMULATED data at http://127\.0\.0\.1:{port}/ .*\n", line), line
        registry = json.loads((tmp_path / "embedded.json").read_text())
        assert registry["pid"] == up.pid and registry["data_mode"] == "simulated"

        followed = _perpvol(["status", "--json"], env)
        assert followed.returncode == 0, followed.stderr
        assert json.loads(followed.stdout)["data_mode"] == "simulated"
        assert followed.stderr == ""

        explicit = _perpvol(["status", "--json", "--simulate"], env)
        assert json.loads(explicit.stdout)["data_mode"] == "simulated"

        real = _perpvol(["status", "--json"], {**env, "PERPVOL_DATA_MODE": "real"})
        assert real.returncode == 0, real.stderr
        assert json.loads(real.stdout)["data_mode"] == "real"
        assert real.stderr == (
            f"perpvol: note: a simulated instance (pid {up.pid}) is running on {tmp_path}; "
            "this is real data (add --simulate for the simulated data)\n"
        )

        user = subprocess.run(
            [*PERPVOL, "user", "create", "sim@example.com", "--password-stdin"],
            cwd=ROOT,
            env=env,
            input="correct horse battery staple\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert user.returncode == 0, user.stderr
        # The user went to the simulated database, the one the running instance serves.
        assert asyncio.run(_users(fresh_dsn + "_sim")) == ["sim@example.com"]
        assert asyncio.run(_users(fresh_dsn)) == []
    finally:
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=60)
    assert up.returncode == 0, err
    assert "export PERPVOL" not in out + err and "APP_SECRET_KEY" not in out + err
    assert processes_of(tmp_path) == []
    assert not (tmp_path / "embedded.json").exists()


async def _users(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [row["email"] for row in await conn.fetch("SELECT email FROM users ORDER BY id")]
    finally:
        await conn.close()


def test_status_imports_neither_the_web_app_nor_charts_http_or_crypto(
    tmp_path: Path, db_dsn: str, redis_url: str
) -> None:
    # What makes `perpvol status` slow is importing what it never uses (Altair alone costs seconds).
    probe = (
        "import sys\n"
        "from cli.main import main\n"
        "try:\n    main(['status', '--json'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'webapp', 'altair', 'vl_convert', 'quart', 'httpx', 'argon2', 'cryptography', 'granian',"
        " 'exchanges'}\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    env = _env(tmp_path, DATABASE_URL=db_dsn, REDIS_URL=redis_url)
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout[: result.stdout.index("LOADED")])["data_mode"] == "real"
    assert result.stdout.rstrip().endswith("LOADED []"), result.stdout[-300:]
