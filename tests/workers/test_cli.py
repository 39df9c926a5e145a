"""`perpvol fetch` and `perpvol sim` as a user runs them: real processes, the simulator on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PERPVOL = [sys.executable, "-m", "cli.main"]


def _run(args: list[str], sim_url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for venue in ("BYBIT", "WOOX", "HYPERLIQUID", "PARADEX"):
        env[f"PERPVOL_{venue}_URL"] = sim_url
    env["PERPVOL_HTTP_TIMEOUT"] = "5"
    return subprocess.run([*PERPVOL, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_fetch_current_json_is_one_document_whose_total_is_the_sum_of_venues(sim_url: str) -> None:
    result = _run(["fetch", "current", "--json"], sim_url)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [v["exchange"] for v in doc["exchanges"]] == ["bybit", "woox", "hyperliquid", "paradex"]
    assert all(v["ok"] and v["error"] is None and v["window"] == "rolling_24h" for v in doc["exchanges"])
    venue_totals = [Decimal(v["total_usd"]) for v in doc["exchanges"]]
    assert Decimal(doc["total_usd"]) == sum(venue_totals, Decimal(0))
    for venue in doc["exchanges"]:
        markets = sum((Decimal(m["volume_usd"]) for m in venue["markets"]), Decimal(0))
        assert markets == Decimal(venue["total_usd"])
        assert venue["source"].startswith(("GET ", "POST "))
    assert doc["as_of"].endswith("Z")


def test_a_failing_venue_is_reported_and_the_others_still_print(sim_url: str) -> None:
    httpx.post(f"{sim_url}/_sim/faults", json={"kind": "error5xx", "venue": "woox"})
    try:
        result = _run(["fetch", "current", "--json"], sim_url)
    finally:
        httpx.delete(f"{sim_url}/_sim/faults")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    woox = next(v for v in doc["exchanges"] if v["exchange"] == "woox")
    assert woox["ok"] is False and woox["total_usd"] is None and "HTTP 503" in woox["error"]
    ok = [Decimal(v["total_usd"]) for v in doc["exchanges"] if v["ok"]]
    assert len(ok) == 3 and Decimal(doc["total_usd"]) == sum(ok, Decimal(0))


def test_fetch_history_sums_markets_per_utc_day(sim_url: str) -> None:
    result = _run(
        ["fetch", "history", "--exchange", "woox", "--start", "2025-03-01", "--end", "2025-03-07", "--json"],
        sim_url,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["exchange"] == "woox"
    assert [d["day"] for d in doc["days"]] == [f"2025-03-0{i}" for i in range(1, 8)]
    assert all(Decimal(d["volume_usd"]) > 0 and d["markets"] > 0 for d in doc["days"])
    one = _run(
        [
            "fetch",
            "history",
            "--exchange",
            "woox",
            "--market",
            "PERP_BTC_USDT",
            "--start",
            "2025-03-01",
            "--end",
            "2025-03-01",
            "--json",
        ],
        sim_url,
    )
    assert json.loads(one.stdout)["days"][0]["markets"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["fetch", "history", "--exchange", "woox", "--start", "2025-03-07", "--end", "2025-03-01"],
            "after --end",
        ),
        (
            ["fetch", "history", "--exchange", "kraken", "--start", "2025-03-01", "--end", "2025-03-02"],
            "unknown exchange",
        ),
        (["fetch", "history", "--exchange", "woox", "--start", "March", "--end", "2025-03-02"], "not a date"),
        (["sim", "--fault", "bybit:explode"], "unknown fault kind"),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_2(args: list[str], message: str, sim_url: str) -> None:
    result = _run(args, sim_url)
    assert result.returncode == 2
    assert message in result.stderr


def test_unknown_market_is_a_clear_error(sim_url: str) -> None:
    result = _run(
        [
            "fetch",
            "history",
            "--exchange",
            "woox",
            "--market",
            "NOPE",
            "--start",
            "2025-03-01",
            "--end",
            "2025-03-01",
        ],
        sim_url,
    )
    assert result.returncode == 1
    assert "no perpetual market named 'NOPE'" in result.stderr


def test_bad_setting_stops_with_the_variable_named(sim_url: str) -> None:
    env = dict(os.environ, PERPVOL_BYBIT_URL="ftp://nope")
    result = subprocess.run([*PERPVOL, "fetch", "current"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "PERPVOL_BYBIT_URL" in result.stderr


def test_sim_help_documents_every_fault() -> None:
    result = subprocess.run([*PERPVOL, "sim", "--help"], cwd=ROOT, capture_output=True, text=True)
    for kind in ("latency", "timeout", "throttle", "error5xx", "malformed", "truncated", "missing_field"):
        assert kind in result.stdout
    assert "Retry-After" in result.stdout


def test_fetch_current_when_no_venue_answers_prints_no_data_never_a_zero_total() -> None:
    env = dict(os.environ)
    for venue in ("BYBIT", "WOOX", "HYPERLIQUID", "PARADEX"):
        env[f"PERPVOL_{venue}_URL"] = "http://127.0.0.1:1"  # nothing listens: connection refused
    env["PERPVOL_HTTP_TIMEOUT"] = "5"
    text = subprocess.run(
        [*PERPVOL, "fetch", "current"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert text.returncode == 1
    assert "$0.00" not in text.stdout
    last = text.stdout.rstrip().splitlines()[-1].split()
    assert last[:3] == ["total", "no", "data"] and "(no venue answered: check the network or proxy)" in text.stdout
    doc = subprocess.run(
        [*PERPVOL, "fetch", "current", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert json.loads(doc.stdout)["total_usd"] is None


class _ForwardProxy(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: records each absolute-form request and relays it to the simulator."""

    seen: ClassVar[list[str]] = []
    upstream: ClassVar[str] = ""

    def _relay(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = urlsplit(self.path)
        path = target.path + (f"?{target.query}" if target.query else "")
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
        answer = httpx.request(self.command, self.upstream + path, content=body, headers=headers, timeout=10)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _relay

    def log_message(self, *args: object) -> None:
        pass


def test_venues_are_reached_through_the_proxy_named_in_http_proxy_and_no_proxy_bypasses_it(sim_url: str) -> None:
    _ForwardProxy.upstream, _ForwardProxy.seen = sim_url, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    for venue in ("BYBIT", "WOOX", "HYPERLIQUID", "PARADEX"):
        # Only the proxy can reach these: .invalid names never resolve.
        env[f"PERPVOL_{venue}_URL"] = f"http://{venue.lower()}.perpvol.invalid"
    env.update({"HTTP_PROXY": f"http://127.0.0.1:{server.server_address[1]}", "PERPVOL_HTTP_TIMEOUT": "5"})
    try:
        proxied = subprocess.run(
            [*PERPVOL, "fetch", "current", "--exchange", "woox", "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proxied.returncode == 0, proxied.stderr
        assert json.loads(proxied.stdout)["exchanges"][0]["ok"] is True
        assert any(line.startswith("GET http://woox.perpvol.invalid/") for line in _ForwardProxy.seen)
        _ForwardProxy.seen.clear()
        bypassed = subprocess.run(
            [*PERPVOL, "fetch", "current", "--exchange", "woox", "--json"],
            cwd=ROOT,
            env={**env, "NO_PROXY": ".invalid"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bypassed.returncode == 1 and _ForwardProxy.seen == []
    finally:
        server.shutdown()
        server.server_close()
