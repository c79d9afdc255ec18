from datetime import date, timedelta

import pytest

from paperwire.config import Settings, parse_weights
from paperwire.listings import trending_view
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.trending import (
    MAX_AGE_DAYS,
    MIN_EVIDENCE,
    PRODUCED_SOURCES,
    SOURCE_LABELS,
    SOURCE_WEIGHTS,
    count_phrase,
    data_day,
    effective_as_of,
    rank,
    shift_day,
    window_bounds,
)

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
    assert one.reason == "3 upvotes on Hugging Face on Thu 12 Jun; #1 this week"
    [e] = rank([sig("a", 0, 10), sig("a", 2, 5)], AS_OF, "week")
    assert e.reason == "15 upvotes on Hugging Face since Wed 11 Jun; #1 this week"
    assert e.series == ((AS_OF - timedelta(days=2), 5.0), (AS_OF, 10.0))
    [old] = rank([sig("c", 5, 1, "save")], AS_OF, "week")
    assert old.reason == "1 save here on Sun 8 Jun; #1 this week"


def test_reason_names_category_position() -> None:
    signals = [sig("a", 0, 30), sig("b", 0, 20), sig("c", 0, 10)]
    primary = {"a": "cs.CV", "b": "cs.CL", "c": "cs.CL"}
    a, b, c = rank(signals, AS_OF, "week", primary=primary)
    assert (b.category, b.category_rank, c.category_rank) == ("cs.CL", 1, 2)
    assert b.reason == "20 upvotes on Hugging Face on Fri 13 Jun; #2 this week, #1 in cs.CL"
    assert c.reason.endswith("#3 this week, #2 in cs.CL")
    assert a.reason.endswith("#1 this week, #1 in cs.CV")
    # a list limited to one category says so, and does not repeat it
    [_, only_c] = rank(signals[1:], AS_OF, "week", primary=primary, scope="cs.CL")
    assert only_c.reason == "10 upvotes on Hugging Face on Fri 13 Jun; #2 in cs.CL this week"


def test_parts_sum_to_score_and_weights_apply() -> None:
    signals = [sig("a", 0, 10), sig("a", 3, 4, "save"), sig("a", 1, 8, "digest_click")]
    weights = {"hf_upvotes": 1.0, "save": 2.0, "digest_click": 0.5}
    [e] = rank(signals, AS_OF, "week", weights=weights)
    by = {p.source: p for p in e.parts}
    assert by["hf_upvotes"].points == pytest.approx(10.0)
    assert by["save"].points == pytest.approx(2 * 4 * 0.5)  # weight 2, one half-life old
    assert by["digest_click"].points == pytest.approx(0.5 * 8 * 2 ** (-1 / 3))
    assert sum(p.points for p in e.parts) == pytest.approx(e.score)
    assert e.total == 10 + 8 + 4
    assert [p.source for p in e.parts] == ["hf_upvotes", "save", "digest_click"]
    assert "10 upvotes on Hugging Face, 4 saves here, 8 digest clicks" in e.reason
    # a zero weight switches a source off
    [e2] = rank(signals, AS_OF, "week", weights={**weights, "save": 0.0})
    assert {p.source for p in e2.parts} == {"hf_upvotes", "digest_click"}


def test_worked_example_in_the_docs() -> None:
    """The worked example of the module docstring (shown on /about/trending) is true."""
    import paperwire.trending as t

    assert "= 40.00" in (t.__doc__ or "") and "= 30.87" in (t.__doc__ or "")
    a = [Signal("A", "hf_upvotes", date(2025, 6, 13), 40)]
    b = [Signal("B", "hf_upvotes", date(2025, 6, d), 20) for d in (7, 10, 12)]
    ea, eb = rank(a + b, date(2025, 6, 13), "week")
    assert (ea.paper_id, round(ea.score, 2), eb.paper_id, round(eb.score, 2)) == (
        "A", 40.0, "B", 30.87)


def test_parse_weights() -> None:
    assert parse_weights("hf_upvotes=1, save=2.5;digest_click=0") == {
        "hf_upvotes": 1.0, "save": 2.5, "digest_click": 0.0}
    for bad in ("hf_upvotes", "save=lots", "save=-1", "a b=1"):
        with pytest.raises(ValueError):
            parse_weights(bad)


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


def test_a_day_without_signals_inside_the_data_is_not_stale(store: Store) -> None:
    """A Sunday (no Hugging Face list) between two weekdays with data is computed as asked."""
    friday, sunday, monday = date(2025, 6, 13), date(2025, 6, 15), date(2025, 6, 16)
    papers = [Paper(id="2506.00010", title="Fri"), Paper(id="2506.00011", title="Mon")]
    store.write_batch(papers, [Signal("2506.00010", "hf_upvotes", friday, 9),
                               Signal("2506.00011", "hf_upvotes", monday, 4)])
    view = trending_view(store, "week", requested=sunday)
    assert view.as_of == sunday and not view.stale and view.note is None
    [(entry, _)] = view.entries
    assert entry.score == pytest.approx(9 * 2 ** (-2 / 3), abs=1e-5)
    assert trending_view(store, "week", requested=date(2025, 6, 20)).as_of == monday


def test_the_data_day_is_never_moved_by_this_sites_own_signals() -> None:
    """The as-of day is the newest day with outside data (HF); clicks and saves on later
    days, however many, do not move it; with no outside data, the newest day with enough
    signal of any source."""
    hf = [(AS_OF, "hf_upvotes", 12.0), (AS_OF - timedelta(days=1), "hf_upvotes", 30.0)]
    later = AS_OF + timedelta(days=150)
    assert data_day(hf) == AS_OF
    assert data_day([(later, "digest_click", 1.0), *hf]) == AS_OF
    assert data_day([(later, "digest_click", 40.0), (later, "save", 9.0), *hf]) == AS_OF
    assert data_day([(later, "hf_upvotes", 1.0), *hf]) == AS_OF  # one stray upvote
    assert data_day([(later, "hf_upvotes", 5.0), *hf]) == later
    assert data_day([(later, "upvote", 500.0), (later, "save", 9.0), *hf]) == AS_OF
    assert data_day([(later, "save", 3.0), (AS_OF, "save", 0.5)]) == later
    assert data_day([(later, "digest_click", 1.0)]) == later  # nothing else at all
    assert data_day([]) is None


def test_a_stale_view_dates_its_reasons_instead_of_this_week() -> None:
    sigs = [sig("a", 0, 30), sig("b", 1, 10)]
    assert rank(sigs, AS_OF, "week")[0].reason.endswith("#1 this week")
    stale = rank(sigs, AS_OF, "week", current=False)
    assert stale[0].reason.endswith("#1 in the week to Fri 13 Jun")
    assert rank(sigs, AS_OF, "day", current=False)[0].reason.endswith("#1 on Fri 13 Jun")


def test_windows_at_the_ends_of_the_calendar_do_not_overflow() -> None:
    assert window_bounds("month", date.min) == (date.min, date.min)
    assert shift_day(date.max, 1) == date.max
    assert rank([Signal("a", "hf_upvotes", date.min, 5)], date.min, "month")[0].paper_id == "a"


# ---- local signals: upvotes and saves here --------------------------------------------


def test_local_upvotes_and_saves_are_produced_sources_with_default_weights() -> None:
    """Upvotes here weigh 1 and saves here 2 by default, in the formula's defaults and in
    the settings' (PAPERWIRE_TRENDING_WEIGHTS); both are shown and explained."""
    assert SOURCE_WEIGHTS["upvote"] == 1.0 and SOURCE_WEIGHTS["save"] == 2.0
    assert Settings().trending_weights == SOURCE_WEIGHTS
    assert {"hf_upvotes", "upvote", "save", "digest_click"} <= set(PRODUCED_SOURCES)
    assert SOURCE_LABELS["upvote"] == "upvotes here" and SOURCE_LABELS["save"] == "saves here"
    assert count_phrase("upvote", 1) == "1 upvote here"
    assert count_phrase("upvote", 12) == "12 upvotes here"
    assert count_phrase("save", 2) == "2 saves here"
    assert count_phrase("hf_upvotes", 80) == "80 upvotes on Hugging Face"


def test_local_upvotes_are_their_own_part_and_named_apart_in_the_reason() -> None:
    signals = [sig("a", 0, 80), sig("a", 0, 7, "upvote"), sig("a", 1, 5, "upvote")]
    [e] = rank(signals, AS_OF, "week")
    by = {p.source: p for p in e.parts}
    assert set(by) == {"hf_upvotes", "upvote"}
    assert (by["upvote"].count, by["upvote"].weight) == (12, 1.0)
    assert by["upvote"].points == pytest.approx(7 + 5 * 2 ** (-1 / 3))
    assert by["hf_upvotes"].points == pytest.approx(80.0)
    assert e.score == pytest.approx(by["upvote"].points + 80)
    assert e.reason == "12 upvotes here, 80 on Hugging Face since Thu 12 Jun; #1 this week"
    assert (e.count("upvote"), e.count("hf_upvotes"), e.count("save")) == (12, 80, 0)


def test_local_upvotes_come_first_in_the_reason_whatever_outweighs() -> None:
    """The pair reads 'N upvotes here, M on Hugging Face' even when the local part weighs
    more; the other sources keep their place by points."""
    signals = [sig("a", 0, 3), sig("a", 0, 40, "upvote"), sig("a", 0, 10, "save")]
    [e] = rank(signals, AS_OF, "week")
    assert [p.source for p in e.parts] == ["upvote", "save", "hf_upvotes"]
    assert e.reason.startswith("40 upvotes here, 3 on Hugging Face, 10 saves here on Fri 13 Jun")
    [alone] = rank([sig("b", 0, 1, "upvote"), sig("b", 0, 1, "save")], AS_OF, "day")
    assert alone.reason == "1 save here, 1 upvote here on Fri 13 Jun; #1 today"


def test_a_local_upvote_weight_changes_the_score_and_zero_switches_it_off() -> None:
    signals = [sig("a", 0, 4), sig("a", 0, 6, "upvote"), sig("b", 0, 8)]
    default = rank(signals, AS_OF, "day")
    assert [e.paper_id for e in default] == ["a", "b"]  # 4 + 6 > 8
    off = rank(signals, AS_OF, "day", weights={"hf_upvotes": 1.0, "upvote": 0.0})
    assert [e.paper_id for e in off] == ["b", "a"]
    assert "here" not in off[1].reason
    heavy = rank(signals, AS_OF, "day", weights={"hf_upvotes": 1.0, "upvote": 3.0})
    assert heavy[0].score == pytest.approx(4 + 18)
