"""Each import format, detected and imported with the right field values (real records from
tests/fixtures/import), on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from paperwire.errors import ImportFormatError
from paperwire.importers import ImportReport, run_import
from paperwire.store import Store

FIX = Path(__file__).parent / "fixtures" / "import"
ARXIV = FIX / "arxiv-papers-2025-03-sample.jsonl.gz"
LISTING = FIX / "arxiv-listing-dates-sample.tsv.gz"
KAGGLE = FIX / "kaggle-arxiv-metadata-sample.jsonl"
BEIR = FIX / "beir-scifact-corpus-sample.jsonl"
SEED = FIX / "seed-papers-sample.jsonl"
HF_OBJECTS = FIX / "hf" / "2025-07-07.json.gz"
HF_REPR = FIX / "hf" / "2025-01-02.json.gz"
HF_WRAPPER = FIX / "hf" / "2025-01-10.json.gz"


def run(store: Store, *paths: Path, fmt: str | None = None, **kw: object) -> ImportReport:
    return run_import(store, list(paths), fmt=fmt, progress=False, **kw)  # type: ignore[arg-type]


def test_arxiv(store: Store) -> None:
    report = run(store, ARXIV)
    assert report.ok, report.skipped
    assert [f.fmt for f in report.files] == ["arxiv"]
    assert (report.papers.new, report.papers.changed, report.signals.new) == (30, 0, 0)
    p = store.get_paper("2503.11731")
    assert p is not None
    assert p.title == (
        "Industrial-Grade Sensor Simulation via Gaussian Splatting: A Modular Framework for "
        "Scalable Editing and Full-Stack Validation"
    )
    assert p.abstract.startswith(
        "Sensor simulation is pivotal for scalable validation of autonomous driving systems, "
        "yet existing Neural Radiance Fields (NeRF)"
    )
    assert "\n" not in p.abstract and "  " not in p.abstract
    assert len(p.authors) == 16 and p.authors[:2] == ("Xianming Zeng", "Sicong Du")
    assert p.authors[-1] == "Qiang Li"
    assert p.categories == ("cs.CV", "cs.RO") and p.primary_category == "cs.CV"
    assert (p.version, p.published, p.comment, p.source) == (None, None, None, "arxiv")
    iris = store.get_paper("2503.11930")
    assert iris is not None and iris.comment == (
        "for associated iris database, see https://huggingface.co/datasets/fatdove/Iris_Database"
    )
    assert store.get_paper("2503.11742").comment == "Work in progress"  # type: ignore[union-attr]


def test_listing_dates_set_published(store: Store) -> None:
    run(store, ARXIV)
    report = run(store, LISTING)
    assert report.ok and [f.fmt for f in report.files] == ["listing-dates"]
    assert (report.dates.changed, report.dates.missing) == (19, 1)  # 2503.15617 is not stored
    assert store.get_paper("2503.11731").published == date(2025, 3, 18)  # type: ignore[union-attr]
    assert store.get_paper("2503.11945").published is None  # type: ignore[union-attr]  # no row


def test_hf_object_day(store: Store) -> None:
    report = run(store, HF_OBJECTS)
    assert report.ok and [f.fmt for f in report.files] == ["hf"]
    p = store.get_paper("2507.01853")
    assert p is not None
    assert p.title == (
        "Eka-Eval : A Comprehensive Evaluation Framework for Large Language Models in "
        "Indian Languages"
    )
    assert p.authors == ("Samridhi Raj Sinha", "Rajvee Sheth", "Abhishek Upperwal", "Mayank Singh")
    assert (p.published, p.source, p.categories) == (date(2025, 7, 2), "hf", ())
    [sig] = store.signals_for("2507.01853")
    assert (sig.source, sig.day, sig.value) == ("hf_upvotes", date(2025, 7, 7), 2.0)


def test_hf_repr_strings_and_wrapper_day(store: Store) -> None:
    report = run(store, HF_REPR, HF_WRAPPER)
    assert report.ok, report.skipped
    assert (report.papers.new, report.signals.new) == (3 + 9, 3 + 9)
    p = store.get_paper("2412.19723")
    assert p is not None
    assert p.title == (
        "OS-Genesis: Automating GUI Agent Trajectory Construction via Reverse Task Synthesis"
    )
    assert p.authors[:3] == ("Qiushi Sun", "Kanzhi Cheng", "Zichen Ding") and len(p.authors) == 15
    assert p.published == date(2024, 12, 27)
    assert [(s.day, s.value) for s in store.signals_for("2412.19723")] == [(date(2025, 1, 2), 47)]
    gan = store.get_paper("2501.05441")
    assert gan is not None
    assert gan.title == "The GAN is dead; long live the GAN! A Modern GAN Baseline"
    assert gan.authors[:2] == ("Yiwen Huang", "Aaron Gokaslan")
    assert [(s.day, s.value) for s in store.signals_for("2501.05441")] == [(date(2025, 1, 10), 51)]
    tr = store.get_paper("2501.04828")
    assert tr is not None and tr.authors[0] == "Şaziye Betül Özateş"  # non-ASCII kept


def test_hf_signal_day_without_a_date_in_the_file_name(store: Store, tmp_path: Path) -> None:
    # the wrapper's own date
    wrapper = tmp_path / "wrapper.json.gz"
    shutil.copy(HF_WRAPPER, wrapper)
    # no wrapper: submittedOnDailyAt, else the entry's publishedAt
    entries = json.loads(gzip.decompress(HF_OBJECTS.read_bytes()))
    (tmp_path / "daily.json").write_text(json.dumps(entries))
    del entries[0]["paper"]["submittedOnDailyAt"]
    entries[0]["paper"]["id"] = "2507.00001"
    (tmp_path / "nodaily.json").write_text(json.dumps(entries))
    report = run(store, wrapper, tmp_path / "daily.json", tmp_path / "nodaily.json")
    assert report.ok, report.skipped
    assert store.signals_for("2501.05441")[0].day == date(2025, 1, 10)
    assert store.signals_for("2507.01853")[0].day == date(2025, 7, 7)  # submittedOnDailyAt
    assert store.signals_for("2507.00001")[0].day == date(2025, 7, 2)  # entry publishedAt


def test_kaggle(store: Store) -> None:
    report = run(store, KAGGLE)
    assert report.ok, report.skipped
    assert [f.fmt for f in report.files] == ["kaggle"] and report.papers.new == 9
    p = store.get_paper("hep-ph/0301050")  # old-style id, two versions
    assert p is not None
    assert p.title == "Statistical Test of Anarchy"
    assert p.authors == ("Andre de Gouvea", "Hitoshi Murayama")
    assert (p.version, p.published, p.updated) == (2, date(2003, 1, 8), date(2003, 6, 30))
    assert p.categories == ("hep-ph",) and p.primary_category == "hep-ph"
    assert p.journal_ref == "Phys.Lett.B573:94-100,2003"
    assert p.doi == "10.1016/j.physletb.2003.08.045"
    assert p.abstract.startswith('"Anarchy" is the hypothesis that there is no fundamental')
    assert p.source == "kaggle"
    wrapped = store.get_paper("cond-mat/0607501")
    assert wrapped is not None and wrapped.title == (
        "A striped supersolid phase and the search for deconfined quantum criticality in "
        "hard-core bosons on the triangular lattice"
    )
    fuzz = store.get_paper("2005.14124")
    assert fuzz is not None and fuzz.categories == ("cs.SE", "cs.CR", "cs.LG")
    assert fuzz.authors == (
        "Yuqi Chen", "Bohan Xuan", "Christopher M. Poskitt", "Jun Sun", "Fan Zhang"
    )
    fallback = store.get_paper("gr-qc/0103067")  # no authors_parsed: the authors string
    assert fallback is not None and fallback.authors == ("Mark P. Haugan", "C. Lämmerzahl")
    zero = store.get_paper("2104.12255")
    assert zero is not None and zero.title == "0" and zero.version == 1
    assert zero.published == zero.updated == date(2021, 4, 20)


def test_kaggle_authors_parsed_suffix(store: Store, tmp_path: Path) -> None:
    line = json.loads(KAGGLE.read_text().splitlines()[0])
    line["authors_parsed"] = [["Murayama", "Hitoshi", "Jr"], ["de Gouvea", "Andre", ""]]
    (tmp_path / "k.jsonl").write_text(json.dumps(line) + "\n")
    assert run(store, tmp_path / "k.jsonl").ok
    p = store.get_paper("hep-ph/0301050")
    assert p is not None and p.authors == ("Hitoshi Murayama Jr", "Andre de Gouvea")


def test_beir(store: Store, tmp_path: Path) -> None:
    report = run(store, BEIR)
    assert report.ok and [f.fmt for f in report.files] == ["beir"] and report.papers.new == 20
    p = store.get_paper("beir:4983")
    assert p is not None
    assert p.title == (
        "Microstructural development of human newborn cerebral white matter assessed in vivo by "
        "diffusion tensor magnetic resonance imaging."
    )
    assert p.abstract.startswith("Alterations of the architecture of cerebral white matter")
    assert (p.source, p.authors, p.published) == ("beir", (), None)
    untitled = tmp_path / "corpus.jsonl"
    untitled.write_text(json.dumps({"_id": 77, "title": "", "text": "Body.", "metadata": {}}))
    assert run(store, untitled).ok
    u = store.get_paper("beir:77")
    assert u is not None and (u.title, u.abstract) == ("(untitled)", "Body.")


def test_seed(store: Store) -> None:
    report = run(store, SEED)
    assert report.ok and [f.fmt for f in report.files] == ["seed"] and report.papers.new == 10
    title = (
        "Subword Dictionary Learning and Segmentation Techniques for Automatic Speech "
        "Recognition in Tamil and Kannada"
    )
    expected_id = "seed:" + hashlib.sha1(title.lower().encode()).hexdigest()[:12]
    assert expected_id == "seed:07abc733704e"  # stable across runs and machines
    p = store.get_paper(expected_id)
    assert p is not None and p.title == title and p.source == "seed"
    assert p.abstract.startswith("We present automatic speech recognition (ASR) systems")


def test_explicit_format_skips_detection(store: Store, tmp_path: Path) -> None:
    odd = tmp_path / "odd.jsonl"  # would not be detected: no pdf/abs/summary keys
    odd.write_text(json.dumps({"id": "2501.00001v3", "title": "T", "categories": ["cs.AI"]}))
    assert not run(store, odd).ok
    report = run(store, odd, fmt="arxiv")
    assert report.ok and report.papers.new == 1
    p = store.get_paper("2501.00001")
    assert p is not None and p.version == 3 and p.primary_category == "cs.AI"


def test_unknown_format_raises(store: Store) -> None:
    with pytest.raises(ImportFormatError, match="bogus"):
        run(store, ARXIV, fmt="bogus")


def test_text_no_database_column_takes_is_cleaned(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "odd.jsonl"
    f.write_text(
        '{"id": "2501.00009", "title": "NUL\\u0000 and a lone \\ud83d surrogate", '
        '"summary": "x\\u0000y", "authors": ["A\\u0000B"], "pdf": "", "abs": ""}\n'
    )
    report = run(store, f)
    assert report.ok, report.skipped
    p = store.get_paper("2501.00009")
    assert p is not None
    assert (p.title, p.abstract, p.authors) == ("NUL and a lone ? surrogate", "x y", ("A B",))
