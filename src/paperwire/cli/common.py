"""What every command shares: the settings and the application object of this invocation,
output that a terminal cannot misread, one-line errors, JSON on stdout, and date options."""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from paperwire.app import Paperwire
from paperwire.config import Settings, load_settings

EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 1, 2, 3
out = Console()
err = Console(stderr=True)


class State:
    """This invocation's settings (loaded by the root callback) and application object."""

    settings: Settings | None = None
    app: Paperwire | None = None

    @classmethod
    def reset(cls, settings: Settings | None) -> None:
        cls.close()
        cls.settings = settings

    @classmethod
    def close(cls) -> None:
        if cls.app is not None:
            cls.app.close()
        cls.app = None


def settings() -> Settings:
    if State.settings is None:
        State.settings = load_settings()
    return State.settings


def application() -> Paperwire:
    """The application object of this invocation (built on first use, closed at exit)."""
    if State.app is None:
        State.app = Paperwire(settings())
    return State.app


# What a terminal would act on rather than show: escape sequences (CSI, OSC, and the rest of
# ESC …), C0 and C1 control characters but tab and newline, DEL, and the bidirectional
# overrides and isolates that reorder the text around them.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                      r"|[ -/]+[0-~]|[@-_]?)"
                      r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?")
_UNSHOWABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                         r"\u2066-\u2069]")
# The same characters, written as JSON escapes in --json output (lossless: the parsed value
# is unchanged); JSON already escapes C0.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` with nothing a terminal would interpret: imported titles and abstracts are
    untrusted, and an escape sequence in one could rewrite the screen or reverse a line."""
    return _UNSHOWABLE.sub("", _ESCAPES.sub("", text))


def cell(text: str) -> Text:
    """A table cell shown as is: no rich markup (``[bold]`` in a title stays text), no
    terminal controls."""
    return Text(terminal_text(text))


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``error: message`` as exactly one line on stderr and exit."""
    sys.stderr.write("error: " + " ".join(terminal_text(message).split()) + "\n")
    sys.exit(code)


def emit_json(doc: Any) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n")


def parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    from paperwire.search.query import check_day

    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    try:
        return check_day(day, repr(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
