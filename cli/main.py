"""The `perpvol` command: `cli.parser` parses, each handler here imports the command it runs (in
`cli/commands/`, the workers or the web app) only when that command is asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn, TypeVar

from cli.parser import EXCHANGES, build_parser

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["build_parser", "main"]


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"perpvol: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    # pgserver asks platformdirs for a runtime dir, which warns on machines without XDG_RUNTIME_DIR.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    args = build_parser().parse_args(argv)
    from core.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    handler = {
        "fetch": _cmd_fetch,
        "sim": _cmd_sim,
        "up": _cmd_up,
        "web": _cmd_web,
        "worker": _cmd_worker,
        "migrate": _cmd_migrate,
        "backfill": _cmd_backfill,
        "status": _cmd_status,
        "user": _cmd_accounts,
        "rotate-secret": _cmd_accounts,
    }[args.command]
    try:
        handler(args, settings)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _cmd_fetch(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands import fetch
    from exchanges.errors import ExchangeError

    if args.what == "current":
        exchanges = (args.exchange,) if args.exchange else EXCHANGES
        results = asyncio.run(fetch.fetch_current(settings, exchanges))
        as_of = datetime.now(UTC)
        if args.json:
            fetch.dump_json(fetch.current_document(results, as_of))
        else:
            fetch.print_current(results, as_of, sys.stdout)
        raise SystemExit(1 if any(r.snapshot is None for r in results) else 0)
    if args.start > args.end:
        fail(f"--start {args.start} is after --end {args.end}")
    progress = sys.stderr if sys.stderr.isatty() else None
    try:
        rows = asyncio.run(
            fetch.fetch_history(settings, args.exchange, args.start, args.end, args.market, progress)
        )
    except ExchangeError as exc:
        fail(str(exc), code=1)
    doc = fetch.history_document(args.exchange, rows)
    if args.json:
        fetch.dump_json(doc)
    else:
        fetch.print_history(doc, sys.stdout)


def _cmd_sim(args: argparse.Namespace, settings: Settings) -> None:
    from exchanges import simulator
    from exchanges.sim.app import parse_fault

    try:
        faults = [parse_fault(spec) for spec in args.fault]
    except (TypeError, ValueError) as exc:
        fail(f"--fault: {exc}")
    app = simulator.build_simulator(
        args.seed, faults=faults, enforce_limits=not args.no_rate_limit, history_days=args.history_days
    )
    try:
        sock = simulator.bind_socket(args.host, args.port)
    except OSError as exc:
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    print(f"perpvol simulator (seed {args.seed}) serving Bybit, WOO X, Hyperliquid and Paradex at {url}")
    print(f"  export PERPVOL_BYBIT_URL={url} PERPVOL_WOOX_URL={url} \\")
    print(f"         PERPVOL_HYPERLIQUID_URL={url} PERPVOL_PARADEX_URL={url}", flush=True)
    asyncio.run(simulator.serve(app, sock))


def _cmd_up(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands.run import run_up

    _storage_errors(
        lambda: run_up(
            settings, args.host or settings.host, args.port or settings.port, args.simulate, args.seed
        )
    )


def _cmd_web(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands.run import child_env

    host, port = args.host or settings.host, args.port or settings.port
    with _resolved(settings) as resolved:
        if args.server == "granian":
            from granian import Granian
            from granian.constants import Interfaces

            # Granian's workers import the app themselves: hand them the resolved settings.
            os.environ.update(child_env(resolved))
            Granian(
                "webapp.asgi:app",
                address=host,
                port=port,
                interface=Interfaces.ASGI,
                factory=True,
                workers=args.workers,
                # Live streams never end by themselves: don't let them hold a shutdown for long.
                workers_kill_timeout=3,
                log_level="warning",  # type: ignore[arg-type]
            ).serve()
        else:
            import uvicorn

            from webapp.app import create_asgi

            uvicorn.run(create_asgi(resolved), host=host, port=port, log_level="warning", lifespan="on")


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from workers.worker import run_worker

    with _resolved(settings) as resolved:
        run_worker(resolved)


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands.run import prepare_database

    with _resolved(settings) as resolved:
        applied = _storage_errors(lambda: asyncio.run(prepare_database(resolved)))
    print(f"applied migrations {applied}" if applied else "database is up to date")


def _cmd_backfill(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands.backfill import run_backfill

    if args.days is not None and not 1 <= args.days <= 3650:
        fail("--days must be between 1 and 3650")
    exchanges = (args.exchange,) if args.exchange else EXCHANGES
    with _resolved(settings) as resolved:
        failed = _storage_errors(lambda: asyncio.run(run_backfill(resolved, exchanges, args.days)))
    raise SystemExit(1 if failed else 0)


def _cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from cli.commands.status import print_status, read_status

    with _resolved(settings) as resolved:
        doc = _storage_errors(lambda: asyncio.run(read_status(resolved)))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_status(doc, sys.stdout)


def _cmd_accounts(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands import accounts

    def run() -> int:
        with _resolved(settings) as resolved:
            return accounts.run(args, resolved)

    raise SystemExit(_storage_errors(run))


T = TypeVar("T")


@contextmanager
def _resolved(settings: Settings) -> Iterator[Settings]:
    """The settings with concrete database and Redis URLs; embedded servers started for them are stopped
    when the command ends, however it ends."""
    from cli.commands.run import resolve

    resolved, services = resolve(settings)
    try:
        yield resolved
    finally:
        services.close()


def _storage_errors(action: Callable[[], T]) -> T:
    """Turn storage problems into one clear line instead of a traceback."""
    import asyncpg

    from storage.migrate import MigrationError

    try:
        return action()
    except MigrationError as exc:
        fail(str(exc))
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"storage unavailable: {exc}", code=1)


if __name__ == "__main__":
    main()
