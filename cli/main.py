"""The `perpvol` command. Each subcommand's work lives in `cli/commands/`; this file parses and imports
a command's code only when that command runs, so `perpvol --help` loads argparse and the venue registry
and little else (bench/imports.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, NoReturn, TypeVar

from cli.commands import accounts_args
from core.records import EXCHANGES, Exchange
from core.venues import DEFAULT_URLS, parse_exchange

if TYPE_CHECKING:
    from core.settings import Settings

FAULT_HELP = """\
faults (--fault, repeatable; also at run time: POST /_sim/faults with the same keys as JSON):
  VENUE:KIND[:key=value,...]   VENUE is bybit, woox, hyperliquid, paradex or * (all)
  kinds:
    latency        answer after ms=N milliseconds (default 500)
    timeout        hold the request for ms=N (default 60000) so the client times out
    throttle       answer as the venue does when rate limited; retry_after=S adds Retry-After
    error5xx       answer HTTP status=N (default 503) with an HTML body
    malformed      a 200 whose body is not valid JSON
    truncated      a 200 whose JSON body is cut in half
    missing_field  drop every field named field=NAME from the JSON body
    partial        a valid 200 with every list of rows cut to its first keep=F share (default 0.5)
    skew           the venue's clock runs ms=N milliseconds ahead (negative: behind)
  options for every kind: count=N (only the next N requests), probability=P (0..1), path=PREFIX
  examples:
    --fault bybit:throttle:count=3,retry_after=1
    --fault '*:latency:ms=200,probability=0.1'
    --fault woox:missing_field:field=24hAmount
    --fault bybit:partial:path=/v5/market/tickers
    --fault woox:skew:ms=180000
  control endpoints: GET|POST|DELETE /_sim/faults, GET /_sim/health
"""


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {value!r}")
    return int(value)


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"not a fraction above 0 and at most 1: {value!r}")
    return number


def _exchange(value: str) -> Exchange:
    try:
        return parse_exchange(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perpvol",
        description="Perpetual-futures volume across Bybit, WOO X, Hyperliquid and Paradex "
        "(USD notional, rolling 24h and UTC days).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetch = sub.add_parser("fetch", help="fetch once from the venues and print the figures")
    fetch_sub = fetch.add_subparsers(dest="what", required=True, metavar="WHAT")
    current = fetch_sub.add_parser("current", help="rolling-24h USD volume per venue and market")
    current.add_argument("--exchange", type=_exchange, help=f"only this venue ({', '.join(EXCHANGES)})")
    current.add_argument("--json", action="store_true", help="print one JSON document")
    history = fetch_sub.add_parser("history", help="daily USD volume per UTC day")
    history.add_argument("--exchange", type=_exchange, required=True, help=", ".join(EXCHANGES))
    history.add_argument("--market", help="one market by the venue's symbol (default: all, summed)")
    history.add_argument("--start", type=_day, required=True, help="first UTC day, YYYY-MM-DD")
    history.add_argument("--end", type=_day, required=True, help="last UTC day, YYYY-MM-DD")
    history.add_argument("--json", action="store_true", help="print one JSON document")

    sim = sub.add_parser(
        "sim",
        help="serve a simulator of all four venues' APIs on one port",
        description="Serve deterministic synthetic markets and 2+ years of history in each venue's "
        "exact API format. Point perpvol at it with PERPVOL_{BYBIT,WOOX,HYPERLIQUID,PARADEX}_URL="
        "http://127.0.0.1:PORT.",
        epilog=FAULT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8900, help="port to bind (default 8900)")
    sim.add_argument("--seed", type=int, default=1, help="seed of the synthetic data (default 1)")
    sim.add_argument("--fault", action="append", default=[], metavar="SPEC", help="inject a fault")
    sim.add_argument("--no-rate-limit", action="store_true", help="do not enforce the venues' rate limits")
    sim.add_argument("--history-days", type=int, default=800, help="days of history (default 800)")
    # `perpvol up --simulate` points perpvol at the simulator itself: its export hint would only confuse.
    sim.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    sim.add_argument(
        "--market-scale",
        type=_fraction,
        default=1.0,
        help="fraction of each venue's markets to list, 0..1 (default 1: about 150 Bybit markets); "
        "small values make quick multi-process runs",
    )

    up = sub.add_parser(
        "up",
        help="run everything: storage, migrations, web and worker",
        description="Start the web app and a worker, supervised, after migrating. Without DATABASE_URL / "
        "REDIS_URL an embedded PostgreSQL and Redis are started under PERPVOL_DATA_DIR and kept "
        "across restarts. Ctrl-C stops all of it.",
    )
    up.add_argument("--host", default=None, help="address for the web app (default PERPVOL_HOST, 127.0.0.1)")
    up.add_argument(
        "--port", type=int, default=None, help="port for the web app (default PERPVOL_PORT, 8000)"
    )
    up.add_argument(
        "--simulate",
        action="store_true",
        help="also start the exchange simulator and use it; simulated data goes to its own database "
        "and is labelled as such everywhere",
    )
    up.add_argument("--seed", type=int, default=1, help="simulator seed with --simulate (default 1)")

    web = sub.add_parser("web", help="run one web process (several may run at once)")
    web.add_argument("--host", default=None, help="address to bind (default PERPVOL_HOST)")
    web.add_argument("--port", type=int, default=None, help="port to bind (default PERPVOL_PORT)")
    web.add_argument(
        "--server",
        choices=("granian", "uvicorn"),
        default="granian",
        help="ASGI server (default granian: about twice uvicorn's throughput on /public/latest-volume)",
    )
    web.add_argument("--workers", type=_positive, default=1, help="server worker processes (granian only; default 1)")
    web.add_argument(
        "--drain-seconds",
        type=_positive,
        default=10,
        help="on SIGTERM, live clients are told to reconnect elsewhere and requests in flight get this long "
        "to finish before the process stops (default 10)",
    )
    sub.add_parser("worker", help="run one arq worker (several may run at once; reconnects when Redis goes away)")
    sub.add_parser("migrate", help="apply pending database migrations (under an advisory lock)")

    backfill = sub.add_parser(
        "backfill",
        help="fetch daily history into the database (resumable)",
        description="Fetch daily USD volume of every market, delisted ones included, for the last DAYS "
        "UTC days. Resumes from its checkpoints after an interruption; "
        "running it twice stores nothing twice.",
    )
    backfill.add_argument("--exchange", type=_exchange, help="only this venue (default: all four)")
    backfill.add_argument(
        "--days", type=int, default=None, help="days back (default PERPVOL_HISTORY_DAYS, 730)"
    )
    add_simulate(backfill)

    stat = sub.add_parser("status", help="venue health, backfill progress, row counts and estimate error")
    stat.add_argument("--json", action="store_true", help="print one JSON document")
    add_simulate(stat)
    accounts_args.add_parsers(sub, add_simulate)
    return parser


def add_simulate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="use the simulated data (default: the data of the `perpvol up` running on PERPVOL_DATA_DIR, "
        "else PERPVOL_DATA_MODE)",
    )


def follow(args: argparse.Namespace, settings: Settings) -> Settings:
    """The data mode (and simulator) of the instance running on this data dir, unless told otherwise."""
    from storage.embedded import follow_instance

    followed, note = follow_instance(settings, args.simulate)
    if note:
        print(f"perpvol: {note}", file=sys.stderr)
    return followed


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
    from core.lifeline import watch_parent
    from exchanges import simulator
    from exchanges.sim.app import parse_fault

    watch_parent()  # started by `perpvol up --simulate`: stop with it

    try:
        faults = [parse_fault(spec) for spec in args.fault]
    except (TypeError, ValueError) as exc:
        fail(f"--fault: {exc}")
    app = simulator.build_simulator(
        args.seed,
        faults=faults,
        enforce_limits=not args.no_rate_limit,
        history_days=args.history_days,
        market_scale=args.market_scale,
    )
    try:
        sock = simulator.bind_socket(args.host, args.port)
    except OSError as exc:
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    if not args.quiet:
        print(f"perpvol simulator (seed {args.seed}) serving Bybit, WOO X, Hyperliquid and Paradex at {url}")
        print(f"  export PERPVOL_BYBIT_URL={url} PERPVOL_WOOX_URL={url} \\")
        print(f"         PERPVOL_HYPERLIQUID_URL={url} PERPVOL_PARADEX_URL={url}", flush=True)
    asyncio.run(simulator.serve(app, sock))


def _web_port(args: argparse.Namespace, settings: Settings) -> int:
    """--port, checked here rather than by argparse so a bad one is a single line, not usage + error."""
    if args.port is None:
        return settings.port
    if not 1 <= args.port <= 65535:
        fail(f"--port {args.port} is not a port number (1-65535)")
    port: int = args.port
    return port


def _cmd_up(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands.run import run_up

    port = _web_port(args, settings)
    _storage_errors(lambda: run_up(settings, args.host or settings.host, port, args.simulate, args.seed))


def _cmd_web(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands.run import check_port, child_env
    from core.lifeline import name_self_as_parent, watch_parent

    watch_parent()  # started by `perpvol up`: stop with it
    host, port = args.host or settings.host, _web_port(args, settings)
    _storage_errors(lambda: check_port(host, port))
    with _resolved(settings) as resolved:
        # The listen address is one of the Host names the app answers to (PERPVOL_ALLOWED_HOSTS).
        resolved = resolved.model_copy(update={"host": host})
        if args.server == "granian":
            from granian import Granian
            from granian.constants import Interfaces

            # Granian's workers import the app themselves: hand them the resolved settings.
            os.environ.update(child_env(resolved))
            # ...and have them stop when this process dies, even by SIGKILL.
            name_self_as_parent()
            Granian(
                "webapp.asgi:app",
                address=host,
                port=port,
                interface=Interfaces.ASGI,
                factory=True,
                workers=args.workers,
                # Live streams end on SIGTERM (webapp/health.py); other requests get this long to finish.
                workers_kill_timeout=args.drain_seconds,
                log_level="warning",  # type: ignore[arg-type]
            ).serve()
        else:
            import uvicorn

            from webapp.app import create_asgi
            from webapp.collector import tune_for_serving

            asgi = create_asgi(resolved)
            tune_for_serving()
            uvicorn.run(
                asgi,
                host=host,
                port=port,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=args.drain_seconds,
            )


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from core.lifeline import watch_parent
    from workers.worker import run_worker

    watch_parent()  # started by `perpvol up`: stop with it
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
    settings = follow(args, settings)
    if settings.simulated and any(settings.venue_url(v) == url for v, url in DEFAULT_URLS.items()):
        # Simulated data must come from the simulator, never from a real venue.
        fail(
            f"no simulated instance is running on {settings.data_dir}: start `perpvol up --simulate` "
            "first (or point PERPVOL_*_URL at `perpvol sim`)"
        )
    with _resolved(settings) as resolved:
        failed = _storage_errors(lambda: asyncio.run(run_backfill(resolved, exchanges, args.days)))
    raise SystemExit(1 if failed else 0)


def _cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from cli.commands.status import print_status, read_status

    with _resolved(follow(args, settings)) as resolved:
        doc = _storage_errors(lambda: asyncio.run(read_status(resolved)))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_status(doc, sys.stdout)


def _cmd_accounts(args: argparse.Namespace, settings: Settings) -> None:
    from cli.commands import accounts

    followed = follow(args, settings)
    raise SystemExit(_storage_errors(lambda: accounts.run(args, followed)))


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

    from cli.commands.run import StartError
    from storage.migrate import MigrationError

    try:
        return action()
    except StartError as exc:
        fail(str(exc), code=1)
    except MigrationError as exc:
        fail(str(exc))
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"storage unavailable: {exc}", code=1)


if __name__ == "__main__":
    main()
