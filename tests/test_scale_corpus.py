"""bench/scale_corpus.py: the synthetic arXiv for scale benchmarks, recombined from the real
papers of ../shared/data/arxiv (skipped without them)."""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paperwire.importers import run_import
from paperwire.models import parse_arxiv_id
from paperwire.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_ARXIV = ROOT.parent / "shared" / "data" / "arxiv"
pytestmark = pytest.mark.skipif(
    not any(SHARED_ARXIV.glob("papers-*.jsonl.gz")),
    reason=f"the real arXiv papers are not there ({SHARED_ARXIV})",
)
sys.path.insert(0, str(ROOT / "bench"))

import scale_corpus as sc  # noqa: E402


@pytest.fixture(scope="module")
def src() -> sc.Source:
    return sc.load_source()


@pytest.fixture(scope="module")
def corpus(src: sc.Source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 synthetic papers, seed 0, gzipped."""
    out = tmp_path_factory.mktemp("scale") / "c2000.jsonl.gz"
    sc.generate(src, 2000, seed=0, out=out)
    return out


def lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(
            path, encoding="utf-8") as fh:
        return fh.read().splitlines()


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in lines(path)]


def test_same_seed_and_size_give_the_same_bytes(src: sc.Source, corpus: Path,
                                                tmp_path: Path) -> None:
    again = tmp_path / "again.jsonl.gz"
    sc.generate(src, 2000, seed=0, out=again)
    assert again.read_bytes() == corpus.read_bytes()
    assert corpus.read_bytes()[4:8] == bytes(4)  # gzip mtime 0: the same bytes on any day


def test_another_seed_gives_other_papers(src: sc.Source, corpus: Path, tmp_path: Path) -> None:
    other = tmp_path / "seed1.jsonl.gz"
    sc.generate(src, 2000, seed=1, out=other)
    a, b = records(corpus), records(other)
    assert [r["id"] for r in a] == [r["id"] for r in b]  # ids follow the month schedule
    differ = sum(x["title"] != y["title"] and x["abstract"] != y["abstract"]
                 for x, y in zip(a, b, strict=True))
    assert differ > 0.95 * len(a)


def test_a_shorter_file_is_a_prefix_of_a_longer_one(src: sc.Source, corpus: Path,
                                                    tmp_path: Path) -> None:
    short = tmp_path / "c300.jsonl"  # plain, not gzip: the same lines
    sc.generate(src, 300, seed=0, out=short)
    assert lines(short) == lines(corpus)[:300]
    assert short.read_bytes().endswith(b"\n")


def test_ids_are_valid_unique_new_style_and_not_real(src: sc.Source, corpus: Path) -> None:
    ids = [r["id"] for r in records(corpus)]
    assert len(set(ids)) == len(ids) == 2000
    for pid in ids:
        assert parse_arxiv_id(pid) == (pid, None), pid
        yymm, number = pid.split(".")
        assert len(number) == (4 if int(yymm) < 1501 else 5), pid
        assert 704 <= int(yymm) <= 2612 and 1 <= int(yymm[2:]) <= 12, pid
    assert not set(ids) & set(src.ids)


def test_the_schedule_skips_real_ids_and_stops_at_full_months() -> None:
    sched = sc.IdSchedule(frozenset({"2612.00001", "2612.00002"}))
    first = [next(sched)[0] for _ in range(3000)]
    assert "2612.00003" in first and "2612.00001" not in first
    assert len(set(first)) == 3000


def test_dates_match_the_id_month_and_follow_arxiv_growth(corpus: Path) -> None:
    years: Counter[int] = Counter()
    for r in records(corpus):
        created = [parsedate_to_datetime(v["created"]) for v in r["versions"]]
        assert [v["version"] for v in r["versions"]] == [
            f"v{n}" for n in range(1, len(created) + 1)]
        first = created[0]
        assert f"{first.year % 100:02d}{first.month:02d}" == r["id"][:4], r["id"]
        assert 2007 <= first.year <= 2026
        assert created == sorted(created)
        assert r["update_date"] == created[-1].date().isoformat()
        assert r["update_date"] <= "2026-12-31"
        years[first.year] += 1
    assert set(years) == set(range(2007, 2027))
    assert years[2025] > 2 * years[2010] > 0  # later years hold more papers
    # 2,000 lines spread in the weights' proportions: off by less than a line per month
    weights = sc.month_weights()
    total = sum(w for _, _, w in weights)
    for year in years:
        expected = 2000 * sum(w for y, _, w in weights if y == year) / total
        assert abs(years[year] - expected) < 12, year


def test_every_line_is_imported_by_paperwire(corpus: Path, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'scale.db'}")
    try:
        report = run_import(store, [corpus], fmt="kaggle", progress=False)
        assert report.skipped == [] and report.files_failed == []
        assert report.truncated_count == 0
        assert store.count_papers() == 2000
        recs = records(corpus)
        paper = store.get_paper(recs[7]["id"])
        assert paper is not None
        assert paper.title == recs[7]["title"]
        assert paper.categories == tuple(recs[7]["categories"].split())
        assert paper.authors == tuple(recs[7]["authors"].replace(" and ", ", ").split(", "))
        assert paper.published is not None and paper.published.strftime("%y%m") == \
            recs[7]["id"][:4]
    finally:
        store.close()


def test_content_is_recombined_from_real_papers_of_the_anchor_category(
        src: sc.Source, corpus: Path) -> None:
    pools_of: dict[str, set[int]] = {}  # each real sentence: the pools of papers holding it
    for k, sentences in enumerate(src.sentences):
        for s in sentences:
            pools_of.setdefault(s, set()).add(src.pool_of[k])
    real_names = {a for names in src.authors for a in names}
    same = total = 0
    for i, r in enumerate(records(corpus)):
        p = sc.plan(src, 0, i)
        assert r["categories"] == src.categories[p.anchor]
        assert r["title"] == p.title and r["title"].strip()
        assert r["abstract"].startswith("  ") and r["abstract"].endswith("\n")
        assert all(len(x) <= 80 or " " not in x.strip() for x in r["abstract"].split("\n"))
        assert " ".join(r["abstract"].split()) == " ".join(" ".join(p.sentences).split())
        assert len(set(p.sentences)) == len(p.sentences)
        for s in p.sentences:
            assert s in pools_of  # every sentence is a real one
            total += 1
            same += src.pool_of[p.anchor] in pools_of[s]
        for last, first, suffix in r["authors_parsed"]:
            assert " ".join(x for x in (first, last) if x) in real_names
            assert suffix == ""
        assert r["submitter"] == p.authors[0]
    assert same / total > 0.85  # mostly from the anchor's own category (90% drawn there)


def test_counts_follow_the_real_distributions(src: sc.Source, corpus: Path) -> None:
    recs = records(corpus)
    real_sent = np.mean([len(s) for s in src.sentences])
    real_auth = np.median([len(a) for a in src.authors])
    gen_sent = np.mean([len(sc.plan(src, 0, i).sentences) for i in range(len(recs))])
    gen_auth = np.median([len(r["authors_parsed"]) for r in recs])
    assert abs(gen_sent - real_sent) < 0.5
    assert abs(gen_auth - real_auth) <= 1
    assert len({r["title"] for r in recs}) > 0.95 * len(recs)
    real_titles = set(src.titles)
    assert sum(r["title"] in real_titles for r in recs) < 0.2 * len(recs)
    assert 1.2 < np.mean([len(r["versions"]) for r in recs]) < 1.8


def test_titles_join_a_head_and_a_tail() -> None:
    assert sc.recombine_title("Foo Net: Fast Things", "Bar: Slow Other Things") == \
        "Foo Net: Slow Other Things"
    assert sc.recombine_title("Learning Graphs for Robots", "Tiny Models via Distillation") \
        == "Learning Graphs via Distillation"
    assert sc.recombine_title("One Two Three Four", "Five Six Seven Eight") == \
        "One Two Seven Eight"


def test_plans_name_their_sources_with_weights(src: sc.Source) -> None:
    for i in range(200):
        p = sc.plan(src, 3, i)
        assert p.anchor in p.sources
        assert abs(sum(p.weights) - 1) < 1e-9
        assert list(p.weights) == sorted(p.weights, reverse=True)
        assert all(0 <= k < len(src) for k in p.sources)
    assert sc.plan(src, 3, 5) == sc.plan(src, 3, 5)


# ---- stand-in vectors -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(src: sc.Source) -> np.ndarray:
    return np.random.default_rng(42).standard_normal((len(src), 384)).astype(np.float32)


def test_vectors_are_deterministic_unit_and_prefix_stable(src: sc.Source, real: np.ndarray,
                                                         tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "c.npy"
    sc.write_vectors(src, real, 1500, a)
    sc.write_vectors(src, real, 1500, b)
    sc.write_vectors(src, real, 700, c)
    assert a.read_bytes() == b.read_bytes()
    va, vc = np.load(a), np.load(c)
    assert va.dtype == np.float16 and va.shape == (1500, 384)
    assert np.array_equal(va[:700], vc)
    norms = np.linalg.norm(va.astype(np.float32), axis=1)
    assert np.all(np.abs(norms - 1) < 2e-3)
    other = tmp_path / "other.npy"
    sc.write_vectors(src, real, 1500, other, seed=1)
    assert not np.array_equal(np.load(other), va)


def test_vectors_lie_near_their_source_papers(src: sc.Source, real: np.ndarray,
                                              tmp_path: Path) -> None:
    out = tmp_path / "v.npy"
    n = 1200
    sc.write_vectors(src, real, n, out)
    v = np.load(out).astype(np.float32)
    unit = real / np.linalg.norm(real, axis=1, keepdims=True)
    rng = np.random.default_rng(7)
    for i in range(n):
        p = sc.plan(src, 0, i)
        own = float(v[i] @ unit[p.sources[0]])  # the source that gave the most text
        mixed = float(v[i] @ (np.asarray(p.weights) @ unit[list(p.sources)]))
        stranger = int(rng.integers(len(src)))
        while stranger in p.sources:
            stranger = int(rng.integers(len(src)))
        assert own > float(v[i] @ unit[stranger]) + 0.1, i
        assert mixed > 0.9 * float(np.linalg.norm(np.asarray(p.weights) @ unit[list(p.sources)]))


def test_the_corpus_and_its_vectors_in_one_run_match_separate_runs(
        src: sc.Source, real: np.ndarray, tmp_path: Path) -> None:
    text, vec = tmp_path / "t.jsonl", tmp_path / "v.npy"
    sc.generate(src, 400, seed=2, out=text, real=real, vectors_out=vec)
    alone_text, alone_vec = tmp_path / "t2.jsonl", tmp_path / "v2.npy"
    sc.generate(src, 400, seed=2, out=alone_text)
    sc.write_vectors(src, real, 400, alone_vec, seed=2)
    assert text.read_bytes() == alone_text.read_bytes()
    assert vec.read_bytes() == alone_vec.read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_bad_inputs_are_one_line_errors(src: sc.Source, real: np.ndarray, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "load_source", lambda: src)  # the real one, loaded once
    with pytest.raises(sc.ScaleError, match="rows, the source has"):
        sc.write_vectors(src, real[:10], 5, tmp_path / "x.npy")
    with pytest.raises(sc.ScaleError, match="at least 1"):
        sc.generate(src, 0, out=tmp_path / "x.jsonl")
    with pytest.raises(sc.ScaleError, match="nothing to write"):
        sc.generate(src, 5)
    np.save(tmp_path / "small.npy", real[:10])
    with pytest.raises(SystemExit) as info:
        sc.main(["--papers", "5", "--vectors", str(tmp_path / "small.npy"),
                 "--vectors-out", str(tmp_path / "o.npy"), "--no-progress"])
    assert str(info.value.code).startswith("scale_corpus: real vectors have 10 rows")
    assert "\n" not in str(info.value.code)
    assert not (tmp_path / "o.npy").exists()


def test_the_command_writes_both_files(src: sc.Source, real: np.ndarray, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "load_source", lambda: src)
    np.save(tmp_path / "real.npy", real)
    sc.main(["--papers", "50", "--out", str(tmp_path / "c.jsonl.gz"), "--seed", "4",
             "--vectors", str(tmp_path / "real.npy"), "--vectors-out", str(tmp_path / "v.npy"),
             "--no-progress"])
    assert len(lines(tmp_path / "c.jsonl.gz")) == 50
    assert np.load(tmp_path / "v.npy").shape == (50, 384)
    assert "wrote 50 papers" in capsys.readouterr().err
