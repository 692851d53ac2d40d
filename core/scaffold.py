"""``creator new-plugin NAME``: a new plugin's distribution, in the built-in plugins'
layout, ready to install, test and type-check.

The files are ``core/scaffold_template/**.tmpl`` with ``@@placeholders@@`` (the plugin's
name, package, distribution, title and migration id) filled in, in paths and contents
alike. Placeholders rather than Jinja because the templates hold Jinja templates of
their own.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

from core.plugins import BUILTIN_PLUGINS, ENTRY_POINT_GROUP

TEMPLATE_DIR = Path(__file__).parent / "scaffold_template"
TEMPLATE_SUFFIX = ".tmpl"
#: Lower case, a letter first; short enough for the generated lines to stay in 100 columns.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,23}")
#: Names whose URLs or imports would collide with the platform's own.
RESERVED_NAMES = frozenset(
    {"account", "api", "auth", "core", "groups", "plugins", "sdk", "static", "test", "tests"}
)


class ScaffoldError(Exception):
    """The name or the target directory cannot be used."""


def installed_plugin_names() -> set[str]:
    """Names of the installed plugins (entry points) and core's built-in ones."""
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return names | {name.split(".")[0] for name, _ in BUILTIN_PLUGINS}


def check_name(name: str, taken: Iterable[str]) -> None:
    """Refuse a name that is not a lower-case identifier or that is already in use."""
    if not NAME_PATTERN.fullmatch(name) or "__" in name or name.endswith("_"):
        raise ScaffoldError(
            f"{name!r} is not a plugin name: use 2-24 lower-case letters, digits and single "
            "underscores, starting with a letter (e.g. 'recipes' or 'meal_plans')"
        )
    if keyword.iskeyword(name) or name in RESERVED_NAMES:
        raise ScaffoldError(f"{name!r} is reserved; choose another name")
    if name in set(taken):
        raise ScaffoldError(f"a plugin named {name!r} is already installed; choose another name")


def distribution_name(name: str) -> str:
    """``creator-meal-plans`` for the plugin ``meal_plans``."""
    return f"creator-{name.replace('_', '-')}"


def placeholders(name: str, now: datetime) -> dict[str, str]:
    return {
        "@@name@@": name,
        "@@package@@": f"creator_{name}",
        "@@dist@@": distribution_name(name),
        "@@Title@@": name.replace("_", " ").capitalize(),
        "@@migration_id@@": now.strftime("%Y-%m-%dT%H:%M:%S:%f"),
        "@@migration_stamp@@": now.strftime("%Y_%m_%dt%H_%M_%S_%f"),
    }


def _fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def default_directory(name: str) -> Path:
    """Where ``creator new-plugin NAME`` writes without ``--dir``."""
    return Path.cwd() / distribution_name(name)


def write_plugin(
    name: str,
    target: Path,
    *,
    taken: Iterable[str] | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Write the plugin ``name`` into ``target`` (new or empty); returns the files written,
    relative to ``target``. ``taken``: names in use (default: the installed plugins')."""
    check_name(name, installed_plugin_names() if taken is None else taken)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} exists and is not an empty directory")
    values = placeholders(name, now or datetime.now(UTC))
    written: list[Path] = []
    for source in sorted(TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = Path(_fill(str(source.relative_to(TEMPLATE_DIR)), values))
        relative = relative.with_name(relative.name.removesuffix(TEMPLATE_SUFFIX))
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_fill(source.read_text(encoding="utf-8"), values), "utf-8")
        written.append(relative)
    return written
