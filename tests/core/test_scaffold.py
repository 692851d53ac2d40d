"""``creator new-plugin``: what it writes is a plugin a third party could ship. One is
generated, built and installed, and its own tests, ruff, mypy --strict and the boundary
rule (no ``core`` import) all pass on it; bad names and used directories are refused.

The plugin is installed into a directory of its own on the subprocesses' ``PYTHONPATH``,
not into the shared environment: a run killed half-way must not leave behind a plugin
that every later run would load. A real (not editable) install also proves the
templates, static files and migrations are in the distribution.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import cli
from core.scaffold import ScaffoldError, installed_plugin_names, write_plugin

ROOT = Path(__file__).resolve().parents[2]
#: As long as a name may be: the generated lines must still fit ruff's limits.
NAME = "scaffolded_gardens_notes"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    environ = {**os.environ, **(env or {})}
    done = subprocess.run(
        args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def lint(target: Path) -> None:
    run(sys.executable, "-m", "ruff", "check", "--no-cache", ".", cwd=target)
    run(sys.executable, "-m", "ruff", "format", "--no-cache", "--check", ".", cwd=target)


def core_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"{path}:{node.lineno}" for n in names if n.split(".")[0] == "core"]
    return found


def test_a_new_plugin_installs_and_passes_its_tests_types_and_the_boundary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "creator-scaffolded-gardens-notes"
    result = CliRunner().invoke(cli, ["new-plugin", NAME, "--dir", str(target)])
    assert result.exit_code == 0, result.output
    package = target / f"creator_{NAME}"
    for written in ("pyproject.toml", "README.md", f"tests/test_{NAME}.py"):
        assert f"  {written}\n" in result.output
        assert (target / written).is_file()
    assert f"cd {target}" in result.output and "python -m pytest" in result.output
    for module in ("plugin", "types", "services", "api", "pages", "settings"):
        assert (package / f"{module}.py").is_file(), module
    assert (package / "py.typed").is_file()
    assert len(list((package / "migrations").glob(f"{NAME}_*.py"))) == 1
    assert (package / "templates" / NAME / "items.html").is_file()
    assert (package / "static" / f"{NAME}.css").is_file()
    entry_point = f'{NAME} = "creator_{NAME}.plugin"'
    assert entry_point in (target / "pyproject.toml").read_text()

    python_files = sorted(target.rglob("*.py"))
    assert [hit for path in python_files for hit in core_imports(path)] == []
    lint(target)

    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    run(*pip, "--no-build-isolation", "--target", str(site), str(target), cwd=tmp_path)
    installed = site / f"creator_{NAME}"
    assert (installed / "templates" / NAME / "layout.html").is_file()
    assert (installed / "static" / f"{NAME}.js").is_file()

    # Its tests, importing the installed copy (-P: not the source beside them), with the
    # sdk.testing fixtures of this checkout.
    path = os.pathsep.join([str(site), str(ROOT)])
    pytest_command = [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    output = run(*pytest_command, cwd=target, env={"PYTHONPATH": path}, timeout=180)
    assert "4 passed" in output, output

    # Strict, as its pyproject says, with the platform's types (this checkout's sdk).
    mypy = [sys.executable, "-m", "mypy", f"--cache-dir={ROOT / '.mypy_cache' / 'scaffold'}"]
    output = run(*mypy, cwd=target, env={"MYPYPATH": str(ROOT)})
    assert "Success" in output, output


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Notes", "not a plugin name"),
        ("2notes", "not a plugin name"),
        ("my-notes", "not a plugin name"),
        ("notes__x", "not a plugin name"),
        ("n", "not a plugin name"),
        ("core", "reserved"),
        ("class", "reserved"),
        ("website", "already installed"),
    ],
)
def test_a_bad_or_taken_name_is_refused(tmp_path: Path, name: str, reason: str) -> None:
    with pytest.raises(ScaffoldError, match=reason):
        write_plugin(name, tmp_path / "out", taken={"website"})
    assert not (tmp_path / "out").exists()


def test_a_short_name_is_formatted_as_ruff_wants_too(tmp_path: Path) -> None:
    write_plugin("ab", tmp_path, taken=())
    lint(tmp_path)


def test_the_installed_plugins_names_are_taken() -> None:
    assert {"core", "website", "clone"} <= installed_plugin_names()


def test_a_directory_in_use_is_refused(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["new-plugin", "notes", "--dir", str(tmp_path / "used")])
    assert result.exit_code == 1
    assert "exists and is not an empty directory" in result.output
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["keep.txt"]

    result = CliRunner().invoke(cli, ["new-plugin", "Bad Name", "--dir", str(tmp_path / "x")])
    assert result.exit_code == 1 and "not a plugin name" in result.output
    assert "Traceback" not in result.output

    (tmp_path / "empty").mkdir()
    assert write_plugin("notes", tmp_path / "empty", taken=())


def test_writing_plugins_guide_quotes_what_the_scaffold_writes(tmp_path: Path) -> None:
    """Each code block of docs/writing-plugins.md marked ``<!-- scaffold FILE -->`` is a
    verbatim excerpt of FILE (a glob) as ``creator new-plugin recipes`` writes it."""
    write_plugin("recipes", tmp_path, taken=())
    guide = (ROOT / "docs" / "writing-plugins.md").read_text()
    quoted = re.findall(r"<!-- scaffold (\S+) -->\n```\w*\n(.*?)```", guide, re.DOTALL)
    assert len(quoted) >= 6
    for pattern, block in quoted:
        (path,) = tmp_path.glob(pattern)
        assert block in path.read_text(), f"docs/writing-plugins.md quotes {pattern} wrongly"
