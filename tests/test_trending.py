from datetime import date, timedelta

import pytest

from paperwire.models import Paper, Signal
from paperwire.services import trending_view
from paperwire.store import Store
from paperwire.trending import MAX_AGE_DAYS, MIN_EVIDENCE, effective_as_of, rank, window_bounds

AS_OF = date(2025, 6, 13)


def sig(pid: str, days_ago: int, value: float, source: str = "hf_upvotes") -> Signal:
    return Signal(pid, source, AS_OF - timedelta(days=days_ago), value)


def test_recent_burst_beats_older_larger_total() -> None:
    """40 upvotes today outrank 60 spread evenly over the month."""
    burst = [sig("burst", 0, 40)]
    spread = [sig("spread", d, 2) for d in range(30)]
    entries = rank(burst + spread, AS_OF, "month")
    assert [e.paper_id for e in entries] == ["burst", "spread"]
    assert entries[1].total == 60


def test_decay_halves_per_half_life() -> None:
    # week half-life is 3 days: 8 upvotes three days ago score 4
    [e] = rank([sig("a", 3, 8)], AS_OF, "week")
    assert e.score == pytest.approx(4.0)


def test_window_excludes_older_signals() -> None:
    signals = [sig("old", 7, 100), sig("new", 6, 3)]
    assert [e.paper_id for e in rank(signals, AS_OF, "week")] == ["new"]
    assert [e.paper_id for e in rank(signals, AS_OF, "day")] == []
    assert window_bounds("week", AS_OF) == (AS_OF - timedelta(days=6), AS_OF)


def test_minimum_evidence() -> None:
    entries = rank([sig("one", 0, MIN_EVIDENCE - 1), sig("two", 0, MIN_EVIDENCE)], AS_OF, "day")
    assert [e.paper_id for e in entries] == ["two"]


def test_ties_are_deterministic() -> None:
    signals = [sig("b", 1, 5), sig("a", 1, 5), sig("c", 1, 5)]
    first = [e.paper_id for e in rank(signals, AS_OF, "week")]
    again = [e.paper_id for e in rank(list(reversed(signals)), AS_OF, "week")]
    assert first == again == ["a", "b", "c"]


def test_unknown_sources_weigh_nothing_and_window_name_checked() -> None:
    assert rank([sig("x", 0, 50, source="mystery")], AS_OF, "day") == []
    with pytest.raises(ValueError, match="unknown window"):
        rank([], AS_OF, "year")


def test_reason_and_series() -> None:
    [one] = rank([sig("b", 1, 3)], AS_OF, "week")
    assert one.reason == "#1 this week: 3 upvotes on Hugging Face on 2025-06-12"
    [e] = rank([sig("a", 0, 10), sig("a", 2, 5)], AS_OF, "week")
    assert e.reason == "#1 this week: 15 upvotes on Hugging Face from 2025-06-11 to 2025-06-13"
    assert e.series == ((AS_OF - timedelta(days=2), 5.0), (AS_OF, 10.0))


def test_effective_as_of() -> None:
    assert effective_as_of(AS_OF, None) is None
    assert effective_as_of(AS_OF, AS_OF - timedelta(days=40)) == AS_OF - timedelta(days=40)
    assert effective_as_of(AS_OF, AS_OF + timedelta(days=1)) == AS_OF


def test_view_falls_back_to_latest_data_and_says_so(store: Store) -> None:
    papers = [Paper(id=f"2506.0000{i}", title=f"P{i}", categories=("cs.CL" if i % 2 else "cs.CV",))
              for i in range(4)]
    signals = [Signal(p.id, "hf_upvotes", AS_OF - timedelta(days=i), 10 + i)
               for i, p in enumerate(papers)]
    store.write_batch(papers, signals)
    view = trending_view(store, "week", requested=date(2026, 11, 27))
    assert view.as_of == AS_OF and view.stale
    assert view.note is not None and "2025-06-13" in view.note
    assert view.entries[0][1].id == "2506.00000"
    cl = trending_view(store, "week", requested=AS_OF, category="cs.CL")
    assert not cl.stale
    assert [p.id for _, p in cl.entries] == ["2506.00001", "2506.00003"]
    assert [e.rank for e, _ in cl.entries] == [1, 2]


def test_old_papers_do_not_trend_again() -> None:
    """A paper first released long before the window (say, revised as v2 now) is not new."""
    signals = [sig("revised-old", 0, 90), sig("fresh", 0, 10), sig("unknown-date", 0, 5)]
    born = {
        "revised-old": AS_OF - timedelta(days=6 + MAX_AGE_DAYS + 1),
        "fresh": AS_OF - timedelta(days=6 + MAX_AGE_DAYS),
        "unknown-date": None,
    }
    entries = rank(signals, AS_OF, "week", first_version=born)
    assert [e.paper_id for e in entries] == ["fresh", "unknown-date"]
    assert [e.rank for e in entries] == [1, 2]
