"""The layers of the package (pyproject.toml's ``[tool.importlinter]``, run by scripts/test
as ``lint-imports``): the tree as it is keeps them, and the check fails on an upward import
added to a copy of the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"
LAYERS = "Layers: surfaces > app > domains > store > records, config, errors"
CYCLES = "No import cycles between the modules of a package"


def lint(src: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with this project's contracts over the package under ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src, env=env, capture_output=True, text=True, timeout=300, check=False)


def copy_package(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "paperwire", src / "paperwire",
                    ignore=shutil.ignore_patterns("__pycache__", "demo_data", "static"))
    return src


def test_the_package_keeps_its_layers(tmp_path: Path) -> None:
    result = lint(copy_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{LAYERS} KEPT" in result.stdout and f"{CYCLES} KEPT" in result.stdout


@pytest.mark.parametrize(("module", "line", "importer", "imported"), [
    ("store/__init__.py", "import paperwire.web\n", "paperwire.store", "paperwire.web"),
    # the cycle config -> digests.mailer -> config this check replaced
    ("config.py", "import paperwire.digests.mailer\n", "paperwire.config",
     "paperwire.digests.mailer"),
    # a late import, inside a function, counts as much as one at the top
    ("models.py", "def _late() -> None:\n    import paperwire.search.engine\n",
     "paperwire.models", "paperwire.search.engine"),
])
def test_an_upward_import_fails_the_check(tmp_path: Path, module: str, line: str,
                                          importer: str, imported: str) -> None:
    src = copy_package(tmp_path)
    target = src / "paperwire" / module
    target.write_text(target.read_text() + "\n\n" + line)
    result = lint(src)
    assert result.returncode != 0
    assert f"{LAYERS} BROKEN" in result.stdout
    assert f"{importer} is not allowed to import {imported.rsplit('.', 1)[0]}" in result.stdout \
        or f"{importer} -> {imported}" in result.stdout, result.stdout
