from datetime import date, datetime, timedelta

from sqlalchemy import inspect

from paperwire.models import Paper, Signal, merge, parse_arxiv_id
from paperwire.store import Store, db


def paper(pid: str = "2501.00001", **kw: object) -> Paper:
    base: dict[str, object] = {
        "id": pid, "title": "Sparse retrieval", "abstract": "We study $\\ell_1$ sparsity.",
        "authors": ("Ada Lovelace", "Alan Turing"), "categories": ("cs.IR", "cs.CL"),
        "primary_category": "cs.IR", "version": 1, "published": date(2025, 1, 2),
    }
    base.update(kw)
    return Paper(**base)  # type: ignore[arg-type]


def test_migrations_are_idempotent(db_url: str) -> None:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    before, after = db.upgrade(engine)
    assert before == after == db.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"papers", "signals", "alembic_version"} <= tables
    engine.dispose()


def test_sqlite_uses_wal_and_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_round_trip_keeps_every_field_and_order(store: Store) -> None:
    p = paper(comment="12 pages", journal_ref="JMLR 1", doi="10.1/x", updated=date(2025, 2, 1),
              authors=("Zed", "Ann", "Bob"))
    counts, _ = store.write_batch([p])
    assert counts.new == 1
    got = store.get_paper(p.id)
    assert got == p
    assert got is not None and got.authors == ("Zed", "Ann", "Bob")


def test_rewrite_identical_is_unchanged_and_keeps_changed_at(store: Store) -> None:
    t0 = datetime(2026, 1, 1, 12, 0)
    store.write_batch([paper()], now=t0)
    counts, _ = store.write_batch([paper()], now=t0 + timedelta(hours=1))
    assert (counts.new, counts.changed, counts.unchanged) == (0, 0, 1)
    assert store.max_changed_at() == t0


def test_newer_version_updates_text_but_keeps_first_version_date(store: Store) -> None:
    store.write_batch([paper(version=1, published=date(2025, 1, 2))])
    v2 = paper(version=2, title="Sparse retrieval, revised", published=date(2025, 3, 1),
               updated=date(2025, 3, 1))
    counts, _ = store.write_batch([v2])
    assert counts.changed == 1
    got = store.get_paper("2501.00001")
    assert got is not None
    assert (got.title, got.version) == ("Sparse retrieval, revised", 2)
    assert got.published == date(2025, 1, 2) and got.updated == date(2025, 3, 1)
    # an older version arriving late changes nothing
    counts, _ = store.write_batch([paper(version=1, title="old")])
    assert counts.unchanged == 1
    assert store.get_paper("2501.00001").title == "Sparse retrieval, revised"  # type: ignore[union-attr]


def test_same_version_only_fills_gaps() -> None:
    old = paper(categories=(), primary_category=None, comment=None)
    new = paper(title="Other", categories=("cs.LG",), primary_category="cs.LG", comment="c")
    merged = merge(old, new)
    assert merged.title == old.title
    assert merged.categories == ("cs.LG",) and merged.comment == "c"


def test_signals_upsert_and_query(store: Store) -> None:
    store.write_batch([paper(), paper("2501.00002")])
    s1 = Signal("2501.00001", "hf_upvotes", date(2025, 1, 3), 5)
    s2 = Signal("2501.00002", "hf_upvotes", date(2025, 1, 4), 7)
    _, sc = store.write_batch([], [s1, s2])
    assert sc.new == 2
    _, sc = store.write_batch([], [Signal("2501.00001", "hf_upvotes", date(2025, 1, 3), 9), s2])
    assert (sc.new, sc.changed, sc.unchanged) == (0, 1, 1)
    assert [s.value for s in store.signals_for("2501.00001")] == [9.0]
    assert store.latest_signal_day() == date(2025, 1, 4)
    assert store.latest_signal_day(on_or_before=date(2025, 1, 3)) == date(2025, 1, 3)
    between = store.signals_between(date(2025, 1, 4), date(2025, 1, 10))
    assert [s.paper_id for s in between] == ["2501.00002"]


def test_batch_is_all_or_nothing(store: Store) -> None:
    """A signal for an unknown paper violates the foreign key: the papers of that batch
    must not land either."""
    bad = Signal("9999.99999", "hf_upvotes", date(2025, 1, 3), 1)
    try:
        store.write_batch([paper()], [bad])
    except Exception:
        pass
    else:
        raise AssertionError("the batch should have failed")
    assert store.count_papers() == 0


def test_set_published_only_moves_earlier(store: Store) -> None:
    store.write_batch([paper(published=date(2025, 1, 5)), paper("2501.00002", published=None)])
    counts = store.set_published({
        "2501.00001": date(2025, 1, 9),
        "2501.00002": date(2025, 1, 7),
        "2501.99999": date(2025, 1, 1),
    })
    assert (counts.changed, counts.unchanged, counts.missing) == (1, 1, 1)
    assert store.get_paper("2501.00001").published == date(2025, 1, 5)  # type: ignore[union-attr]
    assert store.get_paper("2501.00002").published == date(2025, 1, 7)  # type: ignore[union-attr]


def test_iter_changed_since_pages_by_id(store: Store) -> None:
    t0 = datetime(2026, 1, 1)
    store.write_batch([paper(f"2501.{i:05d}") for i in range(25)], now=t0)
    store.write_batch([paper("2502.00001")], now=t0 + timedelta(days=1))
    batches = list(store.iter_changed_since(None, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 6]
    recent = [p.id for b in store.iter_changed_since(t0 + timedelta(hours=1)) for p, _ in b]
    assert recent == ["2502.00001"]


def test_parse_arxiv_id() -> None:
    assert parse_arxiv_id("2504.01234v3") == ("2504.01234", 3)
    assert parse_arxiv_id("arXiv:2504.01234") == ("2504.01234", None)
    assert parse_arxiv_id("https://arxiv.org/abs/hep-th/9901001v2") == ("hep-th/9901001", 2)
    assert parse_arxiv_id("math.AG/0601001") == ("math.AG/0601001", None)
    assert parse_arxiv_id("not an id") is None
    assert paper("hep-th/9901001").abs_url == "https://arxiv.org/abs/hep-th/9901001"
    assert paper("beir:42").abs_url is None


def test_a_new_cursor_written_by_many_at_once_is_written_once(store: Store) -> None:
    """Two workers' schedulers starting on a new database write the same new schedule key at
    the same moment: every write succeeds (an upsert, not a read then an insert that the
    other's insert beats), and one of the values is kept."""
    import threading

    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        barrier.wait()
        try:
            store.set_cursor("schedule:arxiv", {"last_run": f"2026-12-04T00:00:{i:02d}"})
        except BaseException as exc:  # what each writer met, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = store.get_cursor("schedule:arxiv")
    assert got is not None and got["last_run"].startswith("2026-12-04T00:00:")
