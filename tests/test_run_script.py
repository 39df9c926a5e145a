"""`./run` on a fresh clone: quiet one-line install steps, runtime dependencies only for the app, and two
calls at once that do not break each other's .venv. Driven as a user's shell runs it, on a tiny stand-in
project (the real one installs for minutes) that uses the real `run` script unchanged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

STAND_IN = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "perpvol-stand-in"
version = "0.0.1"
license = "MIT"
requires-python = ">=3.11"
dependencies = []

[project.optional-dependencies]
dev = ["six"]

[project.scripts]
perpvol = "standin:main"

[tool.setuptools]
py-modules = ["standin"]
"""

MAIN = """\
import sys

def main() -> None:
    print("perpvol ran with", sys.argv[1:])
"""


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "run", tmp_path / "run")
    (tmp_path / "pyproject.toml").write_text(STAND_IN)
    (tmp_path / "standin.py").write_text(MAIN)
    return tmp_path


def test_two_run_calls_at_once_on_a_fresh_clone_install_once_and_both_succeed(clone: Path) -> None:
    calls = [
        subprocess.Popen(
            ["./run", "status", str(n)], cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for n in (1, 2)
    ]
    results = [(call.wait(timeout=300), *call.communicate()) for call in calls]
    for n, (code, out, err) in enumerate(results, start=1):
        assert code == 0, err
        assert out == f"perpvol ran with ['status', '{n}']\n"
    messages = "".join(err for _, _, err in results).splitlines()
    # One line per step, each from the script (pip's own output is in .venv/install.log), done once.
    assert all(line.startswith("perpvol: ") for line in messages), messages
    assert sum("installing perpvol and its runtime dependencies" in line for line in messages) == 1
    assert sum(line == "perpvol: installed" for line in messages) == 1


def test_running_the_app_installs_runtime_dependencies_only_the_test_command_adds_the_dev_extra(clone: Path) -> None:
    first = subprocess.run(["./run", "up"], cwd=clone, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    python = str(clone / ".venv" / "bin" / "python")
    assert subprocess.run([python, "-c", "import six"], capture_output=True).returncode != 0
    again = subprocess.run(["./run", "up"], cwd=clone, capture_output=True, text=True, timeout=60)
    assert again.stderr == "", "a second run must not install again"


def test_the_package_builds_without_deprecation_warnings(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    output = built.stdout + built.stderr
    assert "Deprecat" not in output and "deprecat" not in output
