"""Docs that tests keep honest: every command and every web route is in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from fastapi.routing import APIRoute

from paperwire.app import Paperwire
from paperwire.cli import app as cli_app
from paperwire.config import Settings
from paperwire.web.app import create_app

README = (Path(__file__).parent.parent / "README.md").read_text()


def _commands(cmd: Any, prefix: str) -> list[str]:
    """Every leaf command's full name (Typer vendors click, so groups are duck-typed)."""
    subs = getattr(cmd, "commands", None)
    if subs:
        return [name for sub_name, sub in sorted(subs.items())
                for name in _commands(sub, f"{prefix} {sub_name}")]
    return [prefix]


def test_every_command_is_in_the_readme() -> None:
    names = _commands(typer.main.get_command(cli_app), "paperwire")
    assert "paperwire digest send" in names and "paperwire subscribe" in names
    missing = [n for n in names if f"`{n}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_route_is_in_the_readme(tmp_path: Path) -> None:
    app = create_app(Paperwire(Settings(home=tmp_path)))
    paths = {r.path for r in app.routes if isinstance(r, APIRoute)}
    assert {"/unsubscribe", "/api/subscribe", "/dev/outbox"} <= paths
    missing = sorted(p for p in paths if f"`{p.split('{')[0]}" not in README)
    assert not missing, f"routes missing from README.md: {missing}"
