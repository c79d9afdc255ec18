"""Hugging Face's extra metadata (code, stars, project page, AI summary, …): imported from
slices of the real daily files (object, repr-string and wrapper days), idempotently, on
SQLite and PostgreSQL; links in real arXiv comments and abstracts; the extractive TL;DR."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import select

from paperwire import trending
from paperwire.importers import run_import
from paperwire.ingest import run_ingest
from paperwire.metadata import (
    STARS_SIGNAL,
    PaperMeta,
    bounded_meta,
    code_link,
    extract_tldr,
    extras,
    find_links,
    linkify,
    merge_meta,
)
from paperwire.models import Paper, Signal
from paperwire.parsing.formats import parse_hf_full
from paperwire.sources.hf import HfDailySource
from paperwire.sources.http import Fetcher
from paperwire.store import Store
from paperwire.store.schema import paper_meta, signals

FIX = Path(__file__).parent / "fixtures" / "hf_meta"
REPR_DAY = FIX / "2024-12-11.json.gz"  # a list of Python-repr strings
WRAPPER_DAY = FIX / "2025-01-10.json.gz"  # {status, date, count, data: [repr strings]}
NO_MODEL_DAY = FIX / "2025-07-01.json.gz"  # AI summaries, the model not named
DAY_0610, DAY_0616 = FIX / "2026-06-10.json.gz", FIX / "2026-06-16.json.gz"
DAY_0814, DAY_0820 = FIX / "2026-08-14.json.gz", FIX / "2026-08-20.json.gz"
ALL = [REPR_DAY, WRAPPER_DAY, NO_MODEL_DAY, DAY_0610, DAY_0616, DAY_0814, DAY_0820]


def imported(store: Store, *paths: Path) -> None:
    report = run_import(store, list(paths), progress=False)
    assert report.files_failed == [] and report.skipped == []


def rows(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(paper_meta).order_by(paper_meta.c.paper_id))]


def star_signals(store: Store) -> dict[tuple[str, date], float]:
    with store.engine.connect() as conn:
        q = select(signals).where(signals.c.source == STARS_SIGNAL)
        return {(r.paper_id, r.day): r.value for r in conn.execute(q)}


# ---- import ------------------------------------------------------------------------------


def test_the_metadata_of_a_real_day_is_stored(store: Store) -> None:
    imported(store, DAY_0820)
    meta = store.get_metas(["2608.16590"])["2608.16590"]
    assert meta.code_url == "https://github.com/air-embodied-brain/Zetta-Embodiment"
    assert meta.project_url == "https://air-embodied-brain.github.io/zetta/"
    assert meta.ai_summary is not None and meta.ai_summary.startswith(
        "Zetta is a closed-loop embodied harness")
    assert meta.ai_summary_model == "thinkingmachines/Inkling-Small"
    assert "closed-loop embodied harness" in meta.ai_keywords and len(meta.ai_keywords) == 11
    assert meta.thumbnail_url == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2608.16590.png")
    assert meta.submitted_by == "Xin Ding" and meta.comments == 1
    assert meta.organization is None and meta.day == date(2026, 8, 20)
    org = store.get_metas(["2608.17253"])["2608.17253"]
    assert org.organization == "University of California at San Diego"
    # the stars are a dated signal, like the upvotes
    assert star_signals(store)[("2608.16590", date(2026, 8, 20))] == 152
    assert ("2608.18940", date(2026, 8, 20)) not in star_signals(store)  # no repository


def test_repr_string_and_wrapper_days_give_their_metadata(store: Store) -> None:
    imported(store, REPR_DAY, WRAPPER_DAY, NO_MODEL_DAY)
    metas = store.get_metas(["2412.07730", "2501.05441", "2506.23044"])
    repr_meta, wrapped = metas["2412.07730"], metas["2501.05441"]
    assert repr_meta.thumbnail_url == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2412.07730.png")
    assert repr_meta.day == date(2024, 12, 11) and repr_meta.comments is not None
    assert repr_meta.submitted_by and repr_meta.code_url is None
    assert wrapped.day == date(2025, 1, 10) and wrapped.thumbnail_url is not None
    no_model = metas["2506.23044"]
    assert no_model.ai_summary and no_model.ai_summary_model is None and no_model.code_url


def test_importing_twice_changes_nothing(store: Store) -> None:
    imported(store, *ALL)
    before, stars = rows(store), star_signals(store)
    assert len(before) == 11 and len(stars) == 7  # 13 entries, 11 papers
    imported(store, *ALL)
    assert rows(store) == before  # same rows, same updated_at
    assert star_signals(store) == stars
    assert store.count_signals() == len(stars) + 13  # one upvote signal per entry, no more


def test_a_newer_day_updates_and_an_older_one_only_fills_gaps(store: Store) -> None:
    imported(store, DAY_0616)  # the newer day first
    newer = store.get_metas(["2606.11176"])["2606.11176"]
    imported(store, DAY_0610)
    assert store.get_metas(["2606.11176"])["2606.11176"] == newer
    assert newer.comments == 3 and newer.day == date(2026, 6, 16)
    stars = star_signals(store)  # each day keeps its own count
    assert stars[("2606.11176", date(2026, 6, 10))] == 12
    assert stars[("2606.11176", date(2026, 6, 16))] == 34
    imported(store, DAY_0814)  # then an older day, then the newer one: it updates
    assert store.get_metas(["2608.13558"])["2608.13558"].comments == 0
    imported(store, DAY_0820)
    updated = store.get_metas(["2608.13558"])["2608.13558"]
    assert updated.comments == 2 and updated.code_url and updated.day == date(2026, 8, 20)


def test_a_live_ingest_stores_what_an_import_stores(store: Store, tmp_path: Path) -> None:
    """``ingest hf`` over HTTP (httpx's MockTransport answering the real day's body) and
    ``import`` of the same file give the same metadata rows and star signals."""
    body = gzip.decompress(DAY_0820.read_bytes())

    def answer(request: httpx.Request) -> httpx.Response:
        day = request.url.params["date"]
        return httpx.Response(200, content=body if day == "2026-08-20" else b"[]")

    client = httpx.Client(transport=httpx.MockTransport(answer))
    source = HfDailySource(Fetcher("hf-daily", client, sleep=lambda _: None),
                           "https://hf.example/api/daily_papers", day=date(2026, 8, 20))
    run_ingest(store, source)
    ingested, stars = rows(store), star_signals(store)
    assert len(ingested) == 4 and len(stars) == 3
    other = Store.open(f"sqlite:///{tmp_path / 'imported.db'}")
    imported(other, DAY_0820)
    strip = [r[:-1] for r in ingested]  # all but updated_at
    assert [r[:-1] for r in rows(other)] == strip and star_signals(other) == stars
    other.close()


def test_stars_never_change_trending(store: Store) -> None:
    imported(store, DAY_0820)
    sigs = store.signals_between(date(2026, 8, 1), date(2026, 8, 31))
    upvotes = [s for s in sigs if s.source != STARS_SIGNAL]
    assert len(upvotes) < len(sigs)
    weights = {**trending.SOURCE_WEIGHTS, STARS_SIGNAL: 5.0}  # even when given a weight
    as_of = date(2026, 8, 20)
    with_stars = trending.rank(sigs, as_of, "week", weights=weights)
    without = trending.rank(upvotes, as_of, "week", weights=weights)
    assert [(e.paper_id, e.score) for e in with_stars] == [(e.paper_id, e.score) for e in without]
    assert trending.data_day([(as_of, STARS_SIGNAL, 500.0)], weights) is None  # never the day
    assert trending.data_day([(as_of, STARS_SIGNAL, 500.0),
                              (date(2026, 8, 19), "hf_upvotes", 9.0)], weights) == date(2026, 8, 19)


def test_hostile_metadata_is_cleaned_not_fatal() -> None:
    entry = {"paper": {"id": "2608.00001", "title": "T", "summary": "S", "upvotes": 3,
                       "githubRepo": "javascript:alert(1)", "githubStars": 10**6,
                       "projectPage": "https://ok.example/\"><script>",
                       "ai_summary": "A\u202e summary\x00 " + "x" * 5000,
                       "ai_keywords": ["k"] * 100 + [7, None], "ai_summary_model": {"a": 1}},
             "thumbnail": "data:image/png;base64,AAAA", "numComments": "many",
             "organization": {"fullname": "<b>Org</b>"}, "submittedBy": ["x"]}
    paper, sigs, meta = parse_hf_full(entry, date(2026, 8, 1))
    assert meta is not None and paper.id == "2608.00001"
    clean = bounded_meta(meta)
    assert clean.code_url is None and clean.project_url is None
    assert clean.thumbnail_url is None and clean.comments is None
    assert clean.ai_summary and len(clean.ai_summary) <= 2000 and "\u202e" not in clean.ai_summary
    assert clean.ai_keywords == ("k",) and clean.ai_summary_model is None
    assert clean.organization == "<b>Org</b>"  # text: the templates escape it
    assert bounded_meta(clean) == clean
    assert [s.source for s in sigs] == ["hf_upvotes"]  # no stars for an unsafe repository


def test_merge_keeps_the_newer_day() -> None:
    old = PaperMeta("1", code_url="https://github.com/a/b", comments=1, day=date(2026, 1, 2))
    new = PaperMeta("1", comments=5, ai_summary="S", day=date(2026, 1, 1))
    merged = merge_meta(old, new)
    assert merged.comments == 1 and merged.ai_summary == "S" and merged.day == date(2026, 1, 2)
    assert merge_meta(new, old).comments == 1


# ---- links in real arXiv comments and abstracts ------------------------------------------

COMMENTS = {  # real comments from shared/data/arxiv (2025-03)
    "2503.11806": "Project page: https://www.projectaria.com/scenescript/",
    "2503.13881": "ICLR 2025, Code and dataset are available at\n  \\url{https://github.com/jdg900/MMR}",
    "2503.14029": "CVPR 2025. The code is publicly available at this https URL\n  "
                  "(https://github.com/Runsong123/Unified-Lift)",
    "2503.12605": "survey resource at\n  https://github.com/yaotingwangofficial/Awesome-MCoT; "
                  "12 figures, 4 tables, 44\n  pages",
    "2503.12464": "21 pages (13 for the main article, 8 for bibliography, acks,\n  appendixes), "
                  "9 figures, 12 tables. Article accepted and to appear in the\n  Proceedings on "
                  "Privacy Enhancing Technologies, 2025 (3):\n  https://petsymposium.org/popets/"
                  "2025/. To be presented at the Privacy\n  Enhancing Technologies Symposium "
                  "2025. Artifact (source code) under review:\n  "
                  "https://github.com/graphnex/privacy-from-visual-entities",
    "2503.13646": "Accepted to CVPR 2025. Dataset and code are available at\n  "
                  "https://github.com/google-research-datasets/egotempo.git",
    "2503.13399": "CVPR 2025 (Conference on Computer Vision and Pattern Recognition)\n  Project "
                  "page at https://jmhb0.github.io/microvqa Benchmark at\n  "
                  "https://huggingface.co/datasets/jmhb/microvqa",
}


def links(pid: str) -> list[tuple[str, str]]:
    return [(link.url, link.kind) for link in find_links(COMMENTS[pid])]


def test_links_in_real_arxiv_comments() -> None:
    assert links("2503.11806") == [("https://www.projectaria.com/scenescript/", "project")]
    assert links("2503.13881") == [("https://github.com/jdg900/MMR", "code")]  # no \url brace
    assert links("2503.14029") == [("https://github.com/Runsong123/Unified-Lift", "code")]
    assert links("2503.12605") == [("https://github.com/yaotingwangofficial/Awesome-MCoT", "code")]
    assert links("2503.12464") == [
        ("https://petsymposium.org/popets/2025/", "web"),  # the sentence's full stop left out
        ("https://github.com/graphnex/privacy-from-visual-entities", "code")]
    assert links("2503.13646") == [("https://github.com/google-research-datasets/egotempo",
                                    "code")]
    assert links("2503.13399") == [("https://jmhb0.github.io/microvqa", "project"),
                                   ("https://huggingface.co/datasets/jmhb/microvqa",
                                    "huggingface")]


def test_links_keep_balanced_brackets_and_refuse_other_schemes() -> None:
    assert [x.url for x in find_links("see https://en.wikipedia.org/wiki/Foo_(bar).")] == [
        "https://en.wikipedia.org/wiki/Foo_(bar)"]
    assert find_links("javascript:alert(1) data:text/html,x ftp://a.b/c") == []
    assert [x.url for x in find_links("code at github.com/a/b, thanks")] == [
        "https://github.com/a/b"]


def test_linkify_is_safe() -> None:
    html = str(linkify('<script>x</script> see https://a.example/x?q=1&r="2" now'))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a href="https://a.example/x?q=1&amp;r=" rel="nofollow noopener">' in html


def test_code_link_prefers_hugging_face_then_the_comment() -> None:
    paper = Paper("2503.13881", "T", abstract="Code: https://github.com/x/from-abstract.",
                  comment=COMMENTS["2503.13881"])
    assert code_link(None, paper) == ("https://github.com/jdg900/MMR", "the arXiv comment")
    meta = PaperMeta("2503.13881", code_url="https://github.com/hf/repo")
    assert code_link(meta, paper) == ("https://github.com/hf/repo", "Hugging Face")
    bare = Paper("1", "T", abstract="Code: https://github.com/x/from-abstract.")
    assert code_link(None, bare) == ("https://github.com/x/from-abstract", "the abstract")


# ---- the extractive TL;DR on real abstracts ----------------------------------------------

ABSTRACTS = {  # real abstracts from shared/data/arxiv (2025-03), cut after a few sentences
    "2503.11937": "Text-to-Image (T2I) Diffusion Models have achieved remarkable performance in "
                  "generating high quality images. However, enabling precise control of "
                  "continuous attributes, especially multiple attributes simultaneously, in a "
                  "new domain (e.g., numeric values like eye openness or car width) with "
                  "text-only guidance remains a significant challenge. To address this, we "
                  "introduce the Attribute (Att) Adapter, a novel plug-and-play module designed "
                  "to enable fine-grained, multi-attributes control in pretrained diffusion "
                  "models. Our approach learns a single control adapter from a set of sample "
                  "images that can be unpaired and contain multiple visual attributes.",
    "2503.11781": "We present cmKAN, a versatile framework for color matching. Given an input "
                  "image with colors from a source color distribution, our method effectively "
                  "and accurately maps these colors to match a target color distribution.",
    "2506.08227": "We investigate 17 benchmarks (e.g. SugarCREPE, VALSE) commonly used for "
                  "measuring compositional understanding capabilities of vision-language models "
                  "(VLMs). We scrutinize design choices in their construction.",
    "2503.12229": "Finding a balance between artistic beauty and machine-generated imagery is "
                  "always a difficult task. This project seeks to create 3D models that, when "
                  "illuminated, cast shadows resembling Kanji characters.",
}


def test_the_tldr_is_the_first_claim_sentence() -> None:
    assert extract_tldr(ABSTRACTS["2503.11937"]) == (
        "To address this, we introduce the Attribute (Att) Adapter, a novel plug-and-play "
        "module designed to enable fine-grained, multi-attributes control in pretrained "
        "diffusion models.")  # not cut at "e.g."
    assert extract_tldr(ABSTRACTS["2506.08227"]) == (  # "e.g." before a capital
        "We investigate 17 benchmarks (e.g. SugarCREPE, VALSE) commonly used for measuring "
        "compositional understanding capabilities of vision-language models (VLMs).")
    assert extract_tldr(ABSTRACTS["2503.11781"]) == (
        "We present cmKAN, a versatile framework for color matching.")


def test_without_a_claim_the_tldr_is_the_first_sentence() -> None:
    assert extract_tldr(ABSTRACTS["2503.12229"]) == (
        "Finding a balance between artistic beauty and machine-generated imagery is always a "
        "difficult task.")
    assert extract_tldr("") is None and extract_tldr("   ") is None
    assert len(extract_tldr("word " * 400) or "") <= 280


def test_extras_say_where_the_tldr_comes_from() -> None:
    paper = Paper("2503.11781", "T", abstract=ABSTRACTS["2503.11781"])
    plain = extras(paper, None)
    assert plain.tldr_from == "abstract" and plain.tldr and plain.tldr.startswith("We present")
    meta = PaperMeta("2503.11781", ai_summary="HF says so.", code_url="https://github.com/a/b")
    stars = Signal("2503.11781", STARS_SIGNAL, date(2026, 8, 20), 152.0)
    shown = extras(paper, meta, stars)
    assert shown.tldr == "HF says so." and shown.tldr_from == "hf"
    assert (shown.code_url, shown.stars, shown.stars_day) == (
        "https://github.com/a/b", 152, date(2026, 8, 20))
    assert shown.as_json()["github_stars"] == 152
