"""``sdk`` is the contract third-party plugins build on: it must not change by accident.

Every name in ``sdk.__all__`` (and each public fixture and helper of ``sdk.testing``) is
rendered with its kind and signature — a class with its constructor, bases, public
methods, properties and constants — into ``tests/sdk/public_surface.txt``. The test fails
on any difference, so a removal or a changed signature is a decision recorded in
``CHANGELOG.md``, not a surprise for a plugin's author. To accept a change::

    CREATOR_UPDATE_SNAPSHOT=1 python -m pytest tests/sdk/test_public_surface.py
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import enum
import inspect
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import sdk
import sdk.testing

SNAPSHOT = Path(__file__).resolve().parent / "public_surface.txt"
UPDATE = "CREATOR_UPDATE_SNAPSHOT=1 python -m pytest tests/sdk/test_public_surface.py"

#: Literal types whose values are part of the contract (error codes, role names).
_LITERALS = (str, int, float, bool, type(None))
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_PROJECT_MODULES = ("core", "sdk", "plugins")


class _Annotation(str):
    """An annotation as written in the source, shown without quotes."""

    def __repr__(self) -> str:
        return str(self)


def _annotation_text(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return _ADDRESS.sub("", text)


def render_signature(obj: Any) -> str:
    """``(a: int, *, b: str = 'x') -> None``: annotations as strings, defaults by ``repr``
    without memory addresses."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = []
    for param in sig.parameters.values():
        if param.annotation is not param.empty:
            param = param.replace(annotation=_Annotation(_annotation_text(param.annotation)))
        params.append(param)
    returns = sig.return_annotation
    if returns is not sig.empty:
        returns = _Annotation(_annotation_text(returns))
    return _ADDRESS.sub("", str(sig.replace(parameters=params, return_annotation=returns)))


def _value(value: Any) -> str:
    if isinstance(value, _LITERALS):
        return f" = {value!r}"
    if isinstance(value, tuple | frozenset) and all(isinstance(v, _LITERALS) for v in value):
        return f" = {value!r}"
    return f": {type(value).__module__}.{type(value).__qualname__}"


def _is_project(klass: type) -> bool:
    return klass.__module__.split(".")[0] in _PROJECT_MODULES


def _fields(cls: type) -> set[str]:
    names = set(getattr(cls, "__struct_fields__", ()))
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    return names


def _function_kind(function: Any) -> str:
    return "async def" if inspect.iscoroutinefunction(function) else "def"


def render_class(name: str, cls: type) -> list[str]:
    bases = ", ".join(
        f"{base.__module__}.{base.__qualname__}" if not _is_project(base) else base.__name__
        for base in cls.__bases__
    )
    lines = [f"class {name}({bases}){render_signature(cls)}"]
    if issubclass(cls, enum.Enum):
        lines += [f"    member {m.name} = {m.value!r}" for m in cls]
        return lines
    members: dict[str, str] = {}
    fields = _fields(cls)
    for klass in cls.__mro__:
        if not _is_project(klass):
            continue
        for attr, raw in vars(klass).items():
            if attr.startswith("_") or attr in members or attr in fields:
                continue
            if isinstance(raw, staticmethod | classmethod):
                kind = "staticmethod" if isinstance(raw, staticmethod) else "classmethod"
                function = raw.__func__
                members[attr] = (
                    f"    {kind} {_function_kind(function)} {attr}"
                    f"{render_signature(getattr(cls, attr))}"
                )
            elif isinstance(raw, property):
                returns = inspect.signature(raw.fget).return_annotation if raw.fget else None
                shown = "" if returns in (None, inspect.Signature.empty) else returns
                members[attr] = f"    property {attr}: {_annotation_text(shown)}".rstrip(": ")
            elif inspect.isfunction(raw):
                members[attr] = f"    {_function_kind(raw)} {attr}{render_signature(raw)}"
            elif inspect.isclass(raw):
                members[attr] = f"    class {attr}"
            elif inspect.ismemberdescriptor(raw):  # a __slots__ entry
                members[attr] = f"    slot {attr}"
            elif not callable(raw):
                members[attr] = f"    attribute {attr}{_value(raw)}"
    lines += [members[attr] for attr in sorted(members)]
    return lines


def render_name(name: str, obj: Any) -> list[str]:
    marker = getattr(obj, "_fixture_function_marker", None)
    if marker is not None:  # a pytest fixture
        function = obj._get_wrapped_function()
        return [
            f"fixture {name}{render_signature(function)} "
            f"[scope={marker.scope}, autouse={marker.autouse}]"
        ]
    if inspect.isclass(obj):
        return render_class(name, obj)
    if inspect.isfunction(obj):
        return [f"{_function_kind(obj)} {name}{render_signature(obj)}"]
    if callable(obj) and not isinstance(obj, type):
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        if "typing" in kind or "collections.abc" in kind:
            return [f"alias {name} = {_ADDRESS.sub('', repr(obj))}"]
        return [f"object {name}: {kind}"]
    return [f"constant {name}{_value(obj)}"]


def _module_public_names(module: ModuleType) -> list[str]:
    """A module's public names: its ``__all__`` (a package re-exporting its modules says
    so there), else what it defines at top level, read from its source; pytest's own
    hooks (``pytest_*``) are the plugin's wiring, not its API."""
    declared = getattr(module, "__all__", None)
    if declared is not None:
        return sorted(n for n in declared if not n.startswith("pytest_"))
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text())
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return sorted({n for n in names if not n.startswith("_") and not n.startswith("pytest_")})


def render_surface() -> str:
    lines = ["# sdk.__all__"]
    for name in sorted(sdk.__all__):
        lines += render_name(name, getattr(sdk, name))
    lines += ["", "# sdk.testing (fixtures and helpers)"]
    for name in _module_public_names(sdk.testing):
        lines += render_name(name, getattr(sdk.testing, name))
    return "\n".join(lines) + "\n"


def _names(text: str) -> dict[str, str]:
    """Each top-level entry's name -> the entry's whole text (with its members)."""
    entries: dict[str, str] = {}
    current = section = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            # names of the second section are sdk.testing's: a Page there is not sdk.Page
            section = "sdk.testing." if "sdk.testing" in line else section
            current = ""
            continue
        if line.startswith("    ") and current:
            entries[current] += "\n" + line
            continue
        match = re.match(r"^(?:async def|def|class|fixture|constant|alias|object) (\w+)", line)
        current = section + (match.group(1) if match else line)
        entries[current] = line
    return entries


def test_public_surface_matches_the_snapshot() -> None:
    rendered = render_surface()
    if os.environ.get("CREATOR_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(rendered)
    recorded = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    if rendered == recorded:
        return
    old, new = _names(recorded), _names(rendered)
    removed = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    both = [name for name in set(old) & set(new) if old[name] != new[name]]
    # a class that only gained members is an addition; any other difference may break
    grown = sorted(n for n in both if set(old[n].splitlines()) <= set(new[n].splitlines()))
    changed = sorted(set(both) - set(grown))
    added += [f"{name} (new members)" for name in grown]
    advice = []
    if removed or changed:
        advice.append(
            "BREAKING: "
            + ", ".join([*(f"{n} removed" for n in removed), *(f"{n} changed" for n in changed)])
            + ". Plugins built on sdk may break: record it in CHANGELOG.md under "
            '"## [Unreleased]" ("### Removed" / "### Changed"), then regenerate the snapshot.'
        )
    if added:
        advice.append(
            f"Added: {', '.join(added)}. Record it in CHANGELOG.md under "
            '"## [Unreleased]" / "### Added", then regenerate the snapshot.'
        )
    diff = "".join(
        difflib.unified_diff(
            recorded.splitlines(keepends=True),
            rendered.splitlines(keepends=True),
            "tests/sdk/public_surface.txt",
            "sdk as imported now",
        )
    )
    advice.append(f"Regenerate with: {UPDATE}")
    raise AssertionError("sdk's public surface changed.\n" + "\n".join(advice) + "\n\n" + diff)


def test_rendering_is_stable() -> None:
    # no memory addresses, annotations without quotes, same text twice
    text = render_surface()
    assert text == render_surface()
    assert " at 0x" not in text
    assert "class Thing(msgspec.Struct)(id: uuid.UUID," in text
    assert "'UUID'" not in text


def test_changes_are_named() -> None:
    old = _names("# x\nclass A(B)(x: int)\n    def f(self) -> None\ndef g() -> int\n")
    new = _names("# x\nclass A(B)(x: int)\n    def f(self) -> str\n")
    assert set(old) == {"A", "g"}
    assert old["A"] != new["A"]
    assert "g" not in new
    grown = _names("# x\nclass A(B)(x: int)\n    def f(self) -> None\n    def h(self) -> None\n")
    assert set(old["A"].splitlines()) <= set(grown["A"].splitlines())
