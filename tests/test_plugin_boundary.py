"""The plugin boundary, enforced: plugins (ours and the third-party example) build on
``sdk`` alone.

* No module under ``plugins/`` or ``tests/thirdparty/`` imports ``core`` — not by an
  ``import`` statement, nor through ``importlib.import_module``/``__import__`` with a
  literal name. ``sdk`` is the contract; core's modules may change under a plugin.
* No plugin runs SQL on core's tables (the list is read from the ``CREATE TABLE``
  statements of core's migrations) or opens ``db.system()``, which sets row-level
  security aside: both tie a plugin to core's schema and tenancy internals. A plugin's
  SQL on its *own* tables is fine.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"
THIRDPARTY = ROOT / "tests" / "thirdparty"
CORE = ROOT / "core"


IMPORT_ADVICE = (
    "plugins import only `sdk`, never `core`: use the name `sdk` re-exports (see "
    "sdk/__init__.py); if sdk lacks it, add it to core and export it from sdk.__all__"
)
SQL_ADVICE = (
    "plugins do not run SQL on core's tables: use the sdk stores (Things, Connections, "
    "Events, Knowledge through Ontology/ScopedOntology, every_item for listings); when sdk "
    "lacks a facility, add a named one to core and export it from sdk"
)
SYSTEM_ADVICE = (
    "plugins do not open db.system() (it sets row-level security aside): work through a "
    "group's ScopedOntology, or add a named cross-group facility to core and export it "
    "from sdk"
)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _python_files(*folders: Path) -> list[Path]:
    return sorted(path for folder in folders for path in folder.rglob("*.py"))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _is_core(module: str | None) -> bool:
    return module is not None and (module == "core" or module.startswith("core."))


def _dynamic_import_target(node: ast.Call) -> str | None:
    """The literal module name of ``importlib.import_module("x")``, ``import_module("x")``
    or ``__import__("x")``; ``None`` for any other call."""
    func = node.func
    name = (
        func.attr
        if isinstance(func, ast.Attribute)
        else func.id
        if isinstance(func, ast.Name)
        else None
    )
    if name not in {"import_module", "__import__"} or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def core_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``(line, what)`` for each import of ``core`` in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_core(alias.name):
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and _is_core(node.module):
                yield node.lineno, f"from {node.module} import ..."
        elif isinstance(node, ast.Call):
            target = _dynamic_import_target(node)
            if _is_core(target):
                yield node.lineno, f"dynamic import of {target!r}"


_CREATE_TABLE = re.compile(
    r"\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\w+\.)?\"?(\w+)",
    re.IGNORECASE,
)


def core_tables() -> list[str]:
    """The tables core's migrations create, read from their ``CREATE TABLE`` statements."""
    tables: set[str] = set()
    for path in _python_files(CORE):
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                tables.update(name.lower() for name in _CREATE_TABLE.findall(node.value))
    # core/migrations.py documents the helper with a plugin's example table
    tables.discard("hello_notes")
    return sorted(tables)


CORE_TABLES = core_tables()
_TOUCHES_CORE_TABLE = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|ON)\s+(" + "|".join(CORE_TABLES) + r")\b", re.IGNORECASE
)


def _docstrings(tree: ast.Module) -> set[int]:
    """``id`` of each docstring node: prose, not SQL (\"... read from things ...\")."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _is_db_system_call(node: ast.AST) -> bool:
    """``<...>.db.system()`` or ``db.system()``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr != "system":
        return False
    owner = node.func.value
    return (isinstance(owner, ast.Name) and owner.id == "db") or (
        isinstance(owner, ast.Attribute) and owner.attr == "db"
    )


def core_table_uses(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``(line, what)`` for each SQL string on core's tables and each ``db.system()``."""
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            for match in _TOUCHES_CORE_TABLE.finditer(node.value):
                yield node.lineno, f"SQL {' '.join(match.group(0).split())!r}: {SQL_ADVICE}"
        elif _is_db_system_call(node):
            yield node.lineno, f"db.system(): {SYSTEM_ADVICE}"


BOUNDARY_FILES = _python_files(PLUGINS, THIRDPARTY)
PLUGIN_FILES = _python_files(PLUGINS)


def test_boundary_files_are_found() -> None:
    names = {_relative(path) for path in BOUNDARY_FILES}
    assert "plugins/website/plugin.py" in names
    assert "tests/thirdparty/creator-hello/creator_hello/plugin.py" in names


@pytest.mark.parametrize("path", BOUNDARY_FILES, ids=_relative)
def test_plugins_do_not_import_core(path: Path) -> None:
    found = [
        f"{_relative(path)}:{line}: {what}: {IMPORT_ADVICE}"
        for line, what in core_imports(_parse(path))
    ]
    assert not found, "\n".join(found)


def test_core_tables_come_from_core_migrations() -> None:
    expected = {"things", "connections", "events", "knowledge", "thing_knowledge"}
    expected |= {"groups", "people", "memberships", "event_outbox"}
    assert expected <= set(CORE_TABLES), CORE_TABLES


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=_relative)
def test_plugins_do_not_touch_core_tables(path: Path) -> None:
    found = [f"{_relative(path)}:{line}: {what}" for line, what in core_table_uses(_parse(path))]
    assert not found, "\n".join(found)


# -- the checks themselves -------------------------------------------------------------


def test_every_form_of_core_import_is_caught() -> None:
    source = (
        "import core\n"
        "import core.db as db\n"
        "from core.errors import NotFound\n"
        "import importlib\n"
        "importlib.import_module('core.plugins')\n"
        "__import__('core')\n"
        "from . import core\n"
        "import corefoo\n"
        "from sdk import Thing\n"
    )
    lines = [line for line, _ in core_imports(ast.parse(source))]
    assert sorted(lines) == [1, 2, 3, 5, 6]


def test_sql_on_core_tables_and_db_system_are_caught() -> None:
    source = (
        '"""Reads from things, in prose: not SQL."""\n'
        "async def f(platform, conn):\n"
        "    async with platform.db.system() as c:\n"
        "        await c.fetch('SELECT id FROM things WHERE id = $1')\n"
        "    await conn.execute('insert into   events (id) values ($1)')\n"
        "    await conn.execute('SELECT * FROM hello_notes JOIN groups g ON g.id = group_id')\n"
        "    await conn.execute('SELECT * FROM things_archive')\n"
    )
    lines = sorted(line for line, _ in core_table_uses(ast.parse(source)))
    assert lines == [3, 4, 5, 6]
