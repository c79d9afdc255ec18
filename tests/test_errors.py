"""The error tree is whole: every exception class of the package lives in ``errors.py``,
derives from ``PaperwireError`` and is named in the tree of its docstring."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from pathlib import Path

import paperwire
from paperwire import errors

PACKAGE = Path(paperwire.__file__).parent
BUILTIN_ERRORS = {name for name, obj in vars(builtins).items()
                  if isinstance(obj, type) and issubclass(obj, BaseException)}


def _exception_classes_outside_errors() -> list[str]:
    """``module:Class`` for each class defined outside errors.py whose bases name an exception
    (a builtin one, or one of the package's)."""
    ours = {name for name, obj in vars(errors).items()
            if isinstance(obj, type) and issubclass(obj, BaseException)}
    known = BUILTIN_ERRORS | ours
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # classes deriving from another class of the same module count too
        local: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                         for b in node.bases}
                if bases & (known | local):
                    local.add(node.name)
                    found.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    return found


def test_no_exception_class_lives_outside_errors_py() -> None:
    assert _exception_classes_outside_errors() == []


def test_every_class_of_errors_py_is_in_the_tree_and_its_docstring() -> None:
    classes = {name: obj for name, obj in vars(errors).items()
               if isinstance(obj, type) and issubclass(obj, BaseException)
               and obj.__module__ == errors.__name__}
    drawn = set(re.findall(r"(?m)^\s*(?:[│├└─ ]*)(\w+)\s", inspect.getdoc(errors) or ""))
    for name, cls in classes.items():
        assert issubclass(cls, errors.PaperwireError), name
        assert name in drawn, f"{name} is missing from the tree in errors.py's docstring"
    assert {n for n in drawn if n in vars(errors)} == set(classes)


def test_record_errors_are_still_value_errors() -> None:
    """Parsers raise them where ``ValueError`` was raised before: callers that skip a bad
    record on ``ValueError`` keep doing so."""
    assert issubclass(errors.RecordError, ValueError)
    assert issubclass(errors.TooDeep, errors.RecordError)
    err = errors.RecordError("entry has no <id>", where="papers.jsonl:17")
    assert str(err) == "papers.jsonl:17: entry has no <id>"
    assert err.reason == "entry has no <id>" and err.where == "papers.jsonl:17"
