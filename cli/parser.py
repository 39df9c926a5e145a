"""The `perpvol` command line: every command, option and help text. Imports only argparse and the venue
registry, so `perpvol --help` (and a typing error) answers without loading any command's code.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from core.records import EXCHANGES, Exchange
from core.venues import parse_exchange

__all__ = ["EXCHANGES", "NEW_SECRET_ENV", "build_parser"]

# `perpvol rotate-secret` reads the new secret from here (one is generated when it is unset).
NEW_SECRET_ENV = "PERPVOL_NEW_SECRET_KEY"

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
  options for every kind: count=N (only the next N requests), probability=P (0..1), path=PREFIX
  examples:
    --fault bybit:throttle:count=3,retry_after=1
    --fault '*:latency:ms=200,probability=0.1'
    --fault woox:missing_field:field=24hAmount
  control endpoints: GET|POST|DELETE /_sim/faults, GET /_sim/health
"""


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


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
    web.add_argument("--workers", type=int, default=1, help="server worker processes (granian only; default 1)")
    sub.add_parser("worker", help="run one arq worker (several may run at once)")
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

    stat = sub.add_parser("status", help="venue health, backfill progress and row counts")
    stat.add_argument("--json", action="store_true", help="print one JSON document")
    _account_parsers(sub)
    return parser


def _account_parsers(sub: Any) -> None:
    """`perpvol user create EMAIL` and `perpvol rotate-secret` (run by cli/commands/accounts.py)."""
    user = sub.add_parser("user", help="manage user accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_sub.add_parser(
        "create",
        help="create an account (works when PERPVOL_SIGNUP=closed)",
        description="Create a user. The password is asked for twice, or read from stdin with --password-stdin.",
    )
    create.add_argument("email")
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser(
        "rotate-secret",
        help="re-encrypt every stored exchange credential under a new APP_SECRET_KEY",
        description="Reads the current secret from APP_SECRET_KEY and the new one from "
        f"{NEW_SECRET_ENV} (one is generated and printed when it is unset). All credentials are "
        "re-encrypted in one transaction, or none is. Then set APP_SECRET_KEY to the new secret and "
        "restart the web app and workers.",
    )
