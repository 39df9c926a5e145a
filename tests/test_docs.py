"""The README stays true: every setting and every command is documented there."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.parser import build_parser
from core.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [f.alias for f in Settings.model_fields.values() if f.alias and f"`{f.alias}`" not in README]
    assert not missing, f"undocumented settings: {missing}"


def test_every_command_is_documented_in_the_readme() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name in sub.choices if f"`perpvol {name}" not in README]
    assert not missing, f"undocumented commands: {missing}"
