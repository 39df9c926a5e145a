"""The newcomer's path (scripts/newcomer) as part of the suite, so CI runs it: clone the committed HEAD,
install, `./run up --simulate`, `./run status` from a second process, Ctrl-C, nothing left running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_newcomer_clones_runs_the_simulated_app_checks_status_and_stops_it_cleanly() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "newcomer")], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "newcomer: ok: clone, install, up --simulate" in result.stdout
