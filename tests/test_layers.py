"""The import direction of the layers holds: read off the source (every import, also those inside functions
and under TYPE_CHECKING), so a new `import webapp` in a worker fails here before it ships.

    core  <-  storage, exchanges  <-  workers, webapp  <-  cli

Inside the web app the views sit on top: they parse the request, call a document or view-model function
and render. Figures (sums, shares, Decimal arithmetic) are computed below them, in core, `webapp/view_models/`
and the document modules (`webapp/assets_doc.py`, `webapp/own_volume.py`), which never import a view.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each layer and the packages of ours it may import (itself included).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "storage": frozenset({"core", "storage"}),
    "exchanges": frozenset({"core", "exchanges"}),
    "workers": frozenset({"core", "storage", "exchanges", "workers"}),
    "webapp": frozenset({"core", "storage", "exchanges", "webapp"}),
    "cli": frozenset({"core", "storage", "exchanges", "workers", "webapp", "cli"}),
}


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the layered packages under `root`, by dotted name."""
    found: dict[str, Path] = {}
    for package in ALLOWED:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def imports(path: Path, known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, module) for every import of one of our packages in the file; `from a import b` names the
    module `a.b` when that is a module, else `a`."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield node.lineno, full if full in known else node.module


def layer_violations(root: Path) -> list[str]:
    found = modules(root)
    problems = []
    for name, path in found.items():
        layer = name.split(".")[0]
        for line, target in imports(path, set(found)):
            top = target.split(".")[0]
            if top in ALLOWED and top not in ALLOWED[layer]:
                problems.append(f"{path.relative_to(root)}:{line}: {layer} must not import {target}")
    return problems


def import_cycles(root: Path) -> list[list[str]]:
    """The import cycles between our modules (each found once, from its smallest name)."""
    found = modules(root)
    graph = {name: sorted({t for _, t in imports(path, set(found)) if t in found}) for name, path in found.items()}
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, trail: list[str]) -> None:
        for nxt in graph[node]:
            if nxt == start:
                key = tuple(sorted(trail))
                if key not in seen:
                    seen.add(key)
                    cycles.append([*trail, start])
            elif nxt > start and nxt not in trail:
                walk(start, nxt, [*trail, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return cycles


# Names whose use in a view means money is being computed there rather than below it.
FIGURE_NAMES = frozenset({"Decimal", "sum", "money"})
FIGURE_METHODS = frozenset({"quantize"})
# The modules that wire views into the app (and so import them) although they are not views.
APP_WIRING = frozenset({"webapp.app", "webapp.account_routes", "webapp.asgi"})


def figure_computations(root: Path) -> list[str]:
    """Every place under webapp/views that computes a figure: uses Decimal, sum() or money(), or
    quantizes."""
    found: list[tuple[str, int, str]] = []
    for path in sorted((root / "webapp" / "views").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Name) and node.id in FIGURE_NAMES:
                name = node.id
            elif isinstance(node, ast.alias) and node.name in FIGURE_NAMES:
                name = node.name
            elif isinstance(node, ast.Attribute) and node.attr in FIGURE_METHODS:
                name = f".{node.attr}"
            else:
                continue
            found.append((str(path.relative_to(root)), node.lineno, name))
    return [f"{where}:{line}: {name}" for where, line, name in sorted(found)]


def view_imports_below_the_views(root: Path) -> list[str]:
    """Imports of webapp.views from web-app modules that are neither views nor the app's wiring."""
    found = modules(root)
    return [
        f"{path.relative_to(root)}:{line}: {name} imports {target}"
        for name, path in found.items()
        if name.startswith("webapp.") and not name.startswith("webapp.views") and name not in APP_WIRING
        for line, target in imports(path, set(found))
        if target.startswith("webapp.views")
    ]


def test_views_compute_no_figures() -> None:
    assert figure_computations(ROOT) == []


def test_view_models_and_documents_never_import_a_view() -> None:
    assert view_imports_below_the_views(ROOT) == []


def test_no_layer_imports_a_layer_above_it() -> None:
    assert layer_violations(ROOT) == []


def test_no_module_imports_the_cli() -> None:
    users = [
        f"{path.relative_to(ROOT)}:{line}"
        for name, path in modules(ROOT).items()
        if not name.startswith("cli")
        for line, target in imports(path, set(modules(ROOT)))
        if target.split(".")[0] == "cli"
    ]
    assert users == []


def test_there_are_no_import_cycles_between_modules() -> None:
    assert import_cycles(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    return tmp_path


def test_the_layer_check_catches_a_worker_that_imports_the_web_app(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"workers/jobs.py": "def f():\n    import webapp.app\n"})
    assert layer_violations(root) == ["workers/jobs.py:2: workers must not import webapp.app"]


def test_the_layer_check_catches_storage_importing_a_connector_for_types(tmp_path: Path) -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from exchanges import base\n"
    root = _tree(tmp_path, {"storage/fills.py": source, "exchanges/base.py": ""})
    assert layer_violations(root) == ["storage/fills.py:3: storage must not import exchanges.base"]


def test_the_cycle_check_catches_a_cycle_through_a_local_import(tmp_path: Path) -> None:
    files = {"webapp/a.py": "from webapp import b\n", "webapp/b.py": "def f():\n    from webapp.a import x\n"}
    assert import_cycles(_tree(tmp_path, files)) == [["webapp.a", "webapp.b", "webapp.a"]]


def test_the_figure_check_catches_a_share_computed_in_a_view(tmp_path: Path) -> None:
    (tmp_path / "webapp" / "views").mkdir(parents=True)
    source = (
        "from decimal import Decimal\n"
        "def share(rows, total):\n"
        "    return sum(r.volume for r in rows) / total\n"
        "def cents(value):\n"
        "    return value.quantize(Decimal('0.01'))\n"
    )
    (tmp_path / "webapp" / "views" / "page.py").write_text(source)
    assert figure_computations(tmp_path) == [
        "webapp/views/page.py:1: Decimal",
        "webapp/views/page.py:3: sum",
        "webapp/views/page.py:5: .quantize",
        "webapp/views/page.py:5: Decimal",
    ]


def test_the_view_import_check_catches_a_view_model_that_imports_a_view(tmp_path: Path) -> None:
    files = {"webapp/models.py": "from webapp.views import api\n", "webapp/app.py": "from webapp.views import api\n"}
    root = _tree(tmp_path, files)
    (root / "webapp" / "views").mkdir()
    (root / "webapp" / "views" / "__init__.py").write_text("")
    (root / "webapp" / "views" / "api.py").write_text("")
    assert view_imports_below_the_views(root) == ["webapp/models.py:1: webapp.models imports webapp.views.api"]


def figure_table_problems(root: Path) -> list[str]:
    """Files named in docs/architecture.md's "where each figure is computed" table that do not exist, and
    functions named right after a file that it does not define."""
    text = (root / "docs" / "architecture.md").read_text()
    table = text.split("## Where each figure on the dashboard is computed")[1].split("\n## ")[0]
    problems = []
    for path, name in re.findall(r"`([\w./-]+/[\w.-]+\.py)`(?: `(\w+)`)?", table):
        source = root / path
        if not source.is_file():
            problems.append(f"no file {path}")
            continue
        defined = {
            node.name
            for node in ast.parse(source.read_text()).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        }
        if name and name not in defined:
            problems.append(f"{path} defines no {name}")
    return problems


def test_the_architecture_page_names_files_and_functions_that_exist() -> None:
    assert figure_table_problems(ROOT) == []


def test_settings_and_storage_load_neither_quart_nor_altair() -> None:
    code = (
        "import sys, webapp, core.settings, core.current_volume, storage.db, storage.migrate, "
        "storage.current_cache, storage.queries.daily; "
        "print(sorted(m for m in ('quart', 'quart_schema', 'altair') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
