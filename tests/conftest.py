"""Shared fixtures. Every test that takes ``db_url`` (or ``store``) runs on SQLite and on
PostgreSQL. PostgreSQL tests use a private schema in the server named by
PAPERWIRE_TEST_POSTGRES_URL (default: the local server, database ``test``); they are skipped
with the reason when it is unreachable, unless PAPERWIRE_TEST_REQUIRE_POSTGRES=1 (CI sets it),
in which case they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from paperwire.config import Settings
from paperwire.store import Store
from paperwire.store.schema import metadata

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get(
    "PAPERWIRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL server for this test session, dropped afterwards."""
    schema = f"pw_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any connection failure means "no PostgreSQL here"
        reason = f"PostgreSQL not reachable at {PG_URL}: {str(exc).splitlines()[0]}"
        if os.environ.get("PAPERWIRE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    Store.open(url).close()  # migrate once per session
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'paperwire.db'}"
    url: str = request.getfixturevalue("pg_schema_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of built model files for the whole session (building one takes seconds)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def settings(db_url: str, tmp_path: Path, models_dir: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db_url, models_dir=models_dir)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running the CLI against this test's database and home."""
    for name in list(os.environ):
        if name.startswith("PAPERWIRE_") and not name.startswith("PAPERWIRE_TEST_"):
            monkeypatch.delenv(name)
    env = {
        "PAPERWIRE_HOME": str(settings.home),
        "PAPERWIRE_DATABASE_URL": settings.database_url,
        "PAPERWIRE_MODELS_DIR": str(settings.resolved_models_dir),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


# -- SMTP (digests): a real, fault-injecting server on loopback; see tests/smtp_server.py ------

from smtp_server import FaultySmtpServer  # noqa: E402  (tests/ is on sys.path, like conftest)


@pytest.fixture
def smtp_server() -> Iterator[FaultySmtpServer]:
    """A started :class:`smtp_server.FaultySmtpServer` on 127.0.0.1 (no AUTH, no TLS)."""
    with FaultySmtpServer() as server:
        yield server
