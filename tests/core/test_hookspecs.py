"""The hook contract stays documented and tested (as Datasette checks its plugin hooks).

The hooks are core's (``core/hookspecs.py``) and those every installed plugin adds through
``register_hookspecs`` (``PluginManager.hookspec_sources``), third parties' included:

* every hook has a docstring, and ``docs/plugin-hooks.md`` shows its signature and that
  docstring — the page must be exactly what ``docs/generate_hooks_doc.py`` writes, so a
  changed docstring with a stale page fails;
* every hook has a test named ``test_hook_<name>`` somewhere under ``tests/``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pluggy
import pytest

from core import hookspecs
from core.hookspecs import hookimpl, hookspec
from core.plugins import PluginManager

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PAGE = ROOT / "docs" / "plugin-hooks.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "creator_docs_generate_hooks_doc", ROOT / "docs" / "generate_hooks_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _generator()
HOOKS = generator.hookspecs(hookspecs)
HOOK_NAMES = [name for name, _ in HOOKS]
#: Hooks installed plugins add: documented on the same page and tested the same way.
PLUGIN_HOOKS = [spec for _, specs in generator.plugin_hookspecs() for spec in specs]
ALL_HOOKS = HOOKS + PLUGIN_HOOKS
ALL_HOOK_NAMES = [name for name, _ in ALL_HOOKS]


def test_hookspecs_are_found() -> None:
    # the generator finds exactly the functions pluggy knows as specs
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    callers = vars(pm.hook).items()
    known = {name for name, caller in callers if isinstance(caller, pluggy.HookCaller)}
    assert set(HOOK_NAMES) == known
    assert len(HOOK_NAMES) >= 14


def test_every_installed_plugins_hooks_are_found() -> None:
    # nothing a plugin declares escapes the page and the checks below
    pm = PluginManager()
    callers = vars(pm.hook).items()
    known = {
        name
        for name, caller in callers
        if isinstance(caller, pluggy.HookCaller) and caller.has_spec()
    }
    assert set(ALL_HOOK_NAMES) == known
    assert {"website", "clone"} <= {plugin for plugin, _ in generator.plugin_hookspecs()}


class _ThirdPartySpecs:
    @hookspec
    def hooktest_third_party_hook(self) -> list[str]:  # type: ignore[empty-body]
        """A hook a third-party plugin declares for others to implement."""


class _ThirdParty:
    @hookimpl
    def register_hookspecs(self, plugin_manager: PluginManager) -> None:
        plugin_manager.add_hookspecs(_ThirdPartySpecs)


def test_a_third_partys_hooks_are_found() -> None:
    pm = PluginManager([], extra={"thirdparty": _ThirdParty()})
    found = dict(generator.plugin_hookspecs(pm))
    assert [name for name, _ in found["thirdparty"]] == ["hooktest_third_party_hook"]


@pytest.mark.parametrize(("name", "function"), ALL_HOOKS, ids=ALL_HOOK_NAMES)
def test_hookspec_has_a_docstring(name, function) -> None:
    doc = (function.__doc__ or "").strip()
    assert len(doc) > 20, f"hook {name} needs a docstring: it is the hook's documentation"


@pytest.mark.parametrize(("name", "function"), ALL_HOOKS, ids=ALL_HOOK_NAMES)
def test_hookspec_is_documented(name, function) -> None:
    page = PAGE.read_text()
    assert f"\n### {name}\n" in page, f"docs/plugin-hooks.md has no section for {name}"
    section = page.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
    assert generator.signature(name, function) in section
    assert generator.docstring_markdown(function) in section


def test_plugin_hooks_page_is_up_to_date() -> None:
    assert PAGE.read_text() == generator.render(), (
        "docs/plugin-hooks.md is stale: run python docs/generate_hooks_doc.py"
    )


def _test_functions() -> set[str]:
    pattern = re.compile(r"^\s*(?:async\s+)?def\s+(test_hook_\w+)\s*\(", re.MULTILINE)
    found: set[str] = set()
    for path in TESTS.rglob("*.py"):
        found.update(pattern.findall(path.read_text(errors="replace")))
    return found


@pytest.mark.parametrize("name", ALL_HOOK_NAMES)
def test_every_hook_has_a_test(name) -> None:
    assert f"test_hook_{name}" in _test_functions(), (
        f"hook {name} has no test: add a test function named test_hook_{name} under tests/"
    )
