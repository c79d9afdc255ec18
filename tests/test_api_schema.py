"""The API keeps the promises of its ``/openapi.json``: schemathesis (the real CLI, ``st``)
runs every operation of the schema against the app served on a loopback port, in its
coverage and fuzzing phases with every check (status codes declared, bodies matching their
models, schema-valid requests accepted and invalid ones refused, ``Allow`` on 405, no server
error), and must find nothing (issue 13).

Generic over the whole schema: a route added later is tested as soon as it is in the schema.
Seeded and bounded (``MAX_EXAMPLES`` per operation) to stay under a minute; for a longer
hunt raise ``PAPERWIRE_TEST_SCHEMATHESIS_EXAMPLES`` (100: about 2 minutes) or change
``PAPERWIRE_TEST_SCHEMATHESIS_SEED``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from accounts import session_cookie
from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.auth import csrf_for

MAX_EXAMPLES = int(os.environ.get("PAPERWIRE_TEST_SCHEMATHESIS_EXAMPLES", "25"))
SEED = int(os.environ.get("PAPERWIRE_TEST_SCHEMATHESIS_SEED", "1313"))
D = date(2026, 6, 10)
PAPERS = [Paper(id=f"2606.{i:05d}", title=f"Sparse and dense retrieval, part {i}",
                authors=("Ada Lovelace", "Alan Turing"),
                abstract=f"We compare sparse and dense retrieval on benchmark {i}.",
                categories=("cs.IR", "cs.CL"), primary_category="cs.IR",
                published=D - timedelta(days=i)) for i in range(1, 13)]
OLD_STYLE = Paper(id="hep-th/9901001", title="Strings, old style", authors=("Ed",),
                  abstract="An old-style id with a slash.", categories=("hep-th",),
                  primary_category="hep-th", published=date(1999, 1, 4))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the API's contract does not depend on the database."""
    return f"sqlite:///{tmp_path / 'paperwire.db'}"


def _config(path: Path, paper_ids: list[str]) -> Path:
    """Test data schemathesis cannot invent: stored papers' ids (half the time) and no
    cursor (a cursor is opaque and signed: only the server makes one; see test_api.py)."""
    ids = json.dumps(paper_ids)
    path.write_text(f"""
[dictionaries.papers]
values = {ids}

[parameters]
"query.cursor" = ""
"path.paper_id" = {{ dictionary = "papers", probability = 0.5 }}
"query.id" = {{ dictionary = "papers", probability = 0.5 }}
""")
    return path


def test_schemathesis_finds_nothing(settings: Settings, store: Store, tmp_path: Path) -> None:
    store.write_batch([*PAPERS, OLD_STYLE],
                      [Signal(p.id, "hf_upvotes", D, i) for i, p in enumerate(PAPERS, 1)])
    paperwire = Paperwire(settings, store)
    paperwire.index(embed=False)
    # a signed-in reader, so that upvotes and saves are tried for real, not only refused
    name, value = session_cookie(paperwire, "reader@example.org")
    config = _config(tmp_path / "schemathesis.toml", [p.id for p in (*PAPERS, OLD_STYLE)])
    st = Path(sys.executable).parent / "st"
    with served(create_app(paperwire)) as base:
        run = subprocess.run(
            [str(st), "--config-file", str(config), "run", f"{base}/openapi.json",
             "--phases", "coverage,fuzzing", "--checks", "all",
             "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
             "--request-timeout", "20", "--no-color",
             "-H", f"Cookie: {name}={value}",
             "-H", f"X-CSRF-Token: {csrf_for(paperwire.key, value)}"],
            capture_output=True, text=True, timeout=600, check=False,
            cwd=tmp_path)  # its cache folder goes there
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts and counts[1] == counts[2] and int(counts[1]) > 100, report[-3000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    assert selected and selected[1] == selected[2] and int(selected[1]) >= 8, report[-3000:]
