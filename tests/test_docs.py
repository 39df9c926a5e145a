"""The README stays true: every setting and every command is documented there."""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

from cli.main import build_parser
from core.settings import Settings
from core.venues import LABELS
from exchanges.registry import CONNECTORS
from tests.conftest import make_settings
from webapp.app import create_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [f.alias for f in Settings.model_fields.values() if f.alias and f"`{f.alias}`" not in README]
    assert not missing, f"undocumented settings: {missing}"


def test_every_command_is_documented_in_the_readme() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name in sub.choices if f"`perpvol {name}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def _table(heading: str) -> list[list[str]]:
    """The cells of the first table under `## heading` (header and rule rows left out)."""
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), lines[first:]))
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


def _readme_paths(cell: str) -> set[str]:
    paths = set()
    for code in re.findall(r"`([^`]+)`", cell):
        path = re.sub(r"^(?:GET|POST|PUT|PATCH|DELETE) ", "", code)
        path = re.split(r"[?\[]", path, maxsplit=1)[0]
        if path.startswith("/"):
            paths.add(path)
    return paths


def _rule_paths(rule: str) -> set[str]:
    """A URL rule as the README writes it: `<uuid:id>` is `<id>`, `<any(svg, png):fmt>` each alternative."""
    rule = re.sub(r"<(?!any\()[a-z]+:([a-z_]+)>", r"<\1>", rule)
    choice = re.search(r"<any\(([^)]*)\):[a-z_]+>", rule)
    if choice is None:
        return {rule}
    alternatives = [name.strip() for name in choice.group(1).split(",")]
    return set().union(*(_rule_paths(rule[: choice.start()] + a + rule[choice.end() :]) for a in alternatives))


def test_the_readme_http_table_lists_exactly_the_apps_routes() -> None:
    app = create_app(make_settings())
    routes = set().union(*(_rule_paths(rule.rule) for rule in app.url_map.iter_rules()))
    documented = set().union(*(_readme_paths(row[0]) for row in _table("HTTP surfaces")))
    assert {"missing from the README": routes - documented, "not in the app": documented - routes} == {
        "missing from the README": set(),
        "not in the app": set(),
    }


def test_the_readme_says_where_each_figure_comes_from_as_each_connector_declares() -> None:
    rows = {row[0]: row[1:] for row in _table("Where every number comes from")}
    assert list(rows) == list(LABELS.values())
    for name, connector in CONNECTORS.items():
        info = connector.info
        for cell, source, text in zip(
            rows[LABELS[name]],
            (info.current_from, info.history_from),
            (info.current_source, info.history_source),
            strict=True,
        ):
            assert f"`{source.request}" in cell, (name, source.request, cell)
            assert source.endpoint in text, (name, source.endpoint, text)
            for field in source.fields:
                assert f"`{field}`" in cell and field in text, (name, field)
