"""`perpvol migrate | web | worker | up`: prepare storage, run the parts, or run everything at once."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import parse_qs, urlsplit

import asyncpg

from cli import process_tree
from core.lifeline import name_self_as_parent
from core.settings import Settings
from core.venues import VENUES
from storage.db import create_pool, ensure_database
from storage.embedded import Services, free_port, publish_services, start_services, unpublish_services
from storage.migrate import migrate

# A child that dies this soon after its start, this many times in a row, is broken, not unlucky.
FAST_CRASH_SECONDS = 10.0
FAST_CRASH_LIMIT = 3
# How long children get to stop after SIGTERM: above the web server's own drain bound (`perpvol web
# --drain-seconds`, default 10), so granian joins its workers itself before anything is killed.
STOP_GRACE_SECONDS = 15.0


class StartError(Exception):
    """Start-up cannot go on; the message is the one line the user sees."""


def check_port(host: str, port: int) -> None:
    """Fail now, before any URL is announced, if the web app could not listen on host:port."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers do: a port whose old connections linger in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartError(f"port {port} is already in use (use --port)") from None
        raise StartError(f"cannot listen on {host}:{port}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """What went wrong, as the OS says it ("connection refused"), not as a Python repr."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _os_cause(exc: BaseException) -> BaseException:
    """The OS error under a library's wrapper (redis-py words its own), else the error itself."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _target(url: str) -> str:
    """host:port of a database or Redis URL, or its unix socket path (passwords never shown)."""
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    socket_dir = parse_qs(parts.query).get("host")
    return socket_dir[0] if socket_dir else parts.path or url


def connect_error(what: str, setting: str, url: str, exc: BaseException) -> StartError:
    """`cannot connect to PostgreSQL at DATABASE_URL (127.0.0.1:1): connection refused`."""
    return StartError(f"cannot connect to {what} at {setting} ({_target(url)}): {_reason(exc)}")


async def prepare_database(settings: Settings, setting: str = "DATABASE_URL") -> list[int]:
    """Create the database if needed, refuse one made for the other data mode, migrate.

    `setting` names where the URL came from, for the one-line error when the server cannot be reached.
    """
    assert settings.database_url
    try:
        await ensure_database(settings.database_url)
        pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise connect_error("PostgreSQL", setting, settings.database_url, exc) from None
    try:
        applied = await migrate(pool, data_mode=settings.data_mode)
    finally:
        await pool.close()
    return applied


async def check_redis(url: str, setting: str = "REDIS_URL") -> None:
    """Reach Redis once before the children do, so a wrong REDIS_URL is one line, not a crash loop."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        raise connect_error("Redis", setting, url, _os_cause(exc)) from None
    finally:
        await client.aclose()


def resolve(settings: Settings) -> tuple[Settings, Services]:
    """Settings with concrete database and Redis URLs (embedded servers started where needed)."""
    services = start_services(settings)
    resolved = settings.model_copy(
        update={"database_url": services.database_url, "redis_url": services.redis_url}
    )
    return resolved, services


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.database_url or "",
            "REDIS_URL": settings.redis_url or "",
            "PERPVOL_DATA_MODE": settings.data_mode,
            "PERPVOL_REDIS_PREFIX": settings.redis_prefix,
            "PERPVOL_DATA_DIR": str(settings.data_dir),
            "PERPVOL_HOST": settings.host,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({venue.url_setting: settings.venue_url(name) for name, venue in VENUES.items()})
    return env


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    fast_crashes: int = 0
    started_at: float = 0.0
    last_line: str = ""
    _relay: threading.Thread | None = None

    def start(self) -> None:
        self.last_line = ""
        self.process = subprocess.Popen(self.argv, env=self.env, stderr=subprocess.PIPE)
        self.started_at = time.monotonic()
        assert self.process.stderr is not None
        # Pass the child's stderr through, remembering its last line: it says why the child died.
        self._relay = threading.Thread(target=self._pass_on, args=(self.process.stderr,), daemon=True)
        self._relay.start()

    def _pass_on(self, stream: IO[bytes]) -> None:
        for raw in stream:
            sys.stderr.buffer.write(raw)
            sys.stderr.buffer.flush()
            line = raw.decode(errors="replace").strip()
            if line:
                self.last_line = line

    def wait_for_output(self) -> None:
        if self._relay is not None:
            self._relay.join(timeout=2)


class ChildKeepsFailing(StartError):
    """A child crashed FAST_CRASH_LIMIT times in a row right after starting."""


@dataclass
class Supervisor:
    """Keeps the children running (a worker exits when Redis goes away) until told to stop, and gives up
    on a child that dies right after every start: restarting a broken setup only floods the terminal."""

    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    stopping: bool = False
    # Pause before restarting a child that died right after its start (tests shorten it).
    fast_crash_delay: float = 5.0
    stop_grace: float = STOP_GRACE_SECONDS

    def add(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, argv, env or self.env)
        child.start()
        self.children.append(child)
        return child

    def watch(self) -> None:
        while not self.stopping:
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None or self.stopping:
                    continue
                fast = time.monotonic() - child.started_at < FAST_CRASH_SECONDS
                child.fast_crashes = child.fast_crashes + 1 if fast else 0
                if child.fast_crashes >= FAST_CRASH_LIMIT:
                    child.wait_for_output()
                    why = f": {child.last_line}" if child.last_line else ""
                    raise ChildKeepsFailing(
                        f"{child.name} keeps exiting right after it starts ({child.fast_crashes} times, "
                        f"last exit code {code}); stopped everything{why}"
                    )
                # Back off when a child dies right after start, so a broken setup doesn't spin.
                delay = self.fast_crash_delay if fast else 0.5
                print(f"perpvol: {child.name} exited with {code}; restarting in {delay:g}s", file=sys.stderr)
                time.sleep(delay)
                child.restarts += 1
                child.start()
            time.sleep(0.3)

    def stop(self) -> None:
        self.stopping = True
        # Noted before anything stops: once a child is gone its own children are no longer below it.
        below = [p for child in self.children if child.process for p in process_tree.descendants(child.process.pid)]
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.wait_for_output()
        # A server worker whose parent was killed, or exited without joining it, ends here, not later.
        killed = process_tree.end(below, max(1.0, deadline - time.monotonic()))
        if killed:
            print(f"perpvol: killed {len(killed)} process(es) that did not stop in time", file=sys.stderr)


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def wait_until_listening(web: Child, host: str, port: int, timeout: float = 60.0) -> None:
    """Announce the URL only once it answers: a user who opens it at once must not get "refused"."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert web.process is not None
        code = web.process.poll()
        if code is not None:
            web.wait_for_output()
            why = f": {web.last_line}" if web.last_line else ""
            raise StartError(f"web exited with {code} while starting{why}")
        try:
            with socket.create_connection((target, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise StartError(f"web did not listen on {host}:{port} within {timeout:g}s")


def _sigterm_as_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_up(settings: Settings, host: str, port: int, simulate: bool, seed: int) -> None:
    """Check the port, start storage, migrate, then the children; any failure stops what was started."""
    check_port(host, port)
    # Every child (simulator, web, worker) stops when this process dies, even by SIGKILL.
    name_self_as_parent()
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    db_setting = "DATABASE_URL" if settings.database_url else "the embedded PostgreSQL"
    redis_setting = "REDIS_URL" if settings.redis_url else "the embedded Redis"
    sim_port = free_port() if simulate else 0
    if simulate:
        url = f"http://127.0.0.1:{sim_port}"
        settings = settings.model_copy(
            update={
                "data_mode": "simulated",
                "bybit_url": url,
                "woox_url": url,
                "hyperliquid_url": url,
                "paradex_url": url,
            }
        )
    resolved, services = resolve(settings)
    for line in services.embedded:
        print(f"perpvol: started embedded {line}")
    publish_services(settings, services)
    supervisor = Supervisor(child_env(resolved))
    try:
        applied = asyncio.run(prepare_database(resolved, db_setting))
        if applied:
            print(f"perpvol: applied migrations {applied}")
        asyncio.run(check_redis(resolved.redis_url or "", redis_setting))
        if simulate:
            supervisor.add(
                "simulator",
                cli_argv("sim", "--port", str(sim_port), "--seed", str(seed), "--quiet"),
                dict(os.environ),
            )
        web = supervisor.add("web", cli_argv("web", "--host", host, "--port", str(port)))
        supervisor.add("worker", cli_argv("worker"))
        wait_until_listening(web, host, port)
        label = " with SIMULATED data" if resolved.simulated else ""
        print(f"perpvol: running{label} at http://{host}:{port}/  (Ctrl-C stops everything)", flush=True)
        supervisor.watch()
    except KeyboardInterrupt:
        print("\nperpvol: stopping…", file=sys.stderr)
    finally:
        supervisor.stop()
        unpublish_services(settings)
        services.close()
