"""The project's own rules, enforced where CI sees them: ruff everywhere, ``mypy --strict``
on core/, sdk/ and plugins/ (the files pyproject.toml's ``[tool.mypy]`` names), and rooms
a newcomer can find: no production module over :data:`MAX_MODULE_LINES` lines and no
class over :data:`MAX_CLASS_METHODS` methods, unless its docstring has a paragraph that
starts with ``Size:`` and says why."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean():
    result = _run("ruff", "check", ".", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_core_sdk_and_plugins():
    result = _run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert result.returncode == 0, result.stdout + result.stderr


MAX_MODULE_LINES = 600
MAX_CLASS_METHODS = 25
#: What counts as production code (migrations are history, written once).
SOURCES = ("core", "plugins", "sdk")


def _says_why(docstring: str | None) -> bool:
    return any(part.lstrip().startswith("Size:") for part in (docstring or "").split("\n\n"))


def _oversized() -> list[str]:
    found = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            tree = ast.parse(source)
            where = path.relative_to(ROOT)
            lines = source.count("\n")
            if lines > MAX_MODULE_LINES and not _says_why(ast.get_docstring(tree)):
                found.append(f"{where}: {lines} lines (split it, or say why under 'Size:')")
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                methods = sum(
                    isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) for item in node.body
                )
                if methods > MAX_CLASS_METHODS and not _says_why(ast.get_docstring(node)):
                    found.append(
                        f"{where}:{node.lineno}: class {node.name} has {methods} methods "
                        "(split it, or say why under 'Size:')"
                    )
    return found


def test_modules_and_classes_stay_a_readable_size():
    assert _oversized() == []


def test_the_size_rule_reads_a_size_paragraph():
    assert _says_why("What it does.\n\nSize: one contract a third party implements whole.")
    assert not _says_why("What it does. Size matters.")
