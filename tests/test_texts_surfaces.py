"""Math where it is not a web page: feeds carry readable plain text (no MathML, no TeX
where a Unicode form exists), the digest's HTML part shows simple math as Unicode and the
rest as MathML (no TeX annotation a mail client could show twice), its text part plain
text, its subject too. Real abstracts from the bundled arXiv data."""

from __future__ import annotations

from dataclasses import replace

import feedparser
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Signal
from paperwire.records import DigestItem
from paperwire.store import Store
from paperwire.web.app import create_app
from test_feeds import AS_OF, BASE
from test_paper_page import MATH_ID, SP3, TITLE_MATH_ID, demo_paper
from test_render import bodies, digest_mail, make_digest


def test_feeds_carry_plain_text(settings: Settings, store: Store) -> None:
    papers = [replace(demo_paper(i), published=AS_OF) for i in (MATH_ID, TITLE_MATH_ID)]
    store.write_batch(papers, [Signal(p.id, "hf_upvotes", AS_OF, 5 + n)
                               for n, p in enumerate(papers)])
    client = TestClient(create_app(Paperwire(replace(settings, base_url=BASE), store)))
    params = {"date": AS_OF.isoformat(), "window": "day"}
    atom = client.get("/feeds/trending.atom", params=params)
    parsed = feedparser.parse(atom.content)
    assert parsed.bozo == 0
    by_link = {e.link.rsplit("/", 1)[1]: e for e in parsed.entries}
    assert by_link[TITLE_MATH_ID].title == SP3
    summary = by_link[MATH_ID].summary
    assert "quadratically (O(N²))" in summary and "$" not in summary
    assert b"<math" not in atom.content and b"MathML" not in atom.content
    items = {i["id"].rsplit("/", 1)[1]: i
             for i in client.get("/feeds/trending.json", params=params).json()["items"]}
    assert items[TITLE_MATH_ID]["title"] == SP3
    text = items[MATH_ID]["content_text"]
    assert "(O(N²))" in text and "24% higher" in text and "Parallel Hybrid Architecture" in text
    assert "\\textit" not in text and "\\%" not in text


def test_digest_shows_math_in_both_parts() -> None:
    paper = replace(demo_paper(TITLE_MATH_ID), abstract=(
        "Scales as $O(N^2)$ while $\\tilde{x}$ keeps \\textit{all} 24\\% of it."))
    msg = digest_mail(make_digest(DigestItem(paper, "matches “priors”", "match")))
    text, html = bodies(msg)
    assert f"1. {SP3}" in text
    assert "Scales as O(N²) while $\\tilde{x}$ keeps all 24% of it." in " ".join(text.split())
    assert f">{SP3}</a>" in html  # simple math as Unicode, which every mail client shows
    assert "Scales as O(N²) while <math" in html and "</math> keeps <i>all</i> 24% of it." in html
    assert "<annotation" not in html and "$" not in html
    assert msg["Subject"].endswith(SP3)
