"""Paper references as a search box, the API and ``paperwire show`` read them."""

from __future__ import annotations

import pytest

from paperwire.paper_ids import ARXIV, DOI, INVALID, PaperRef, parse_ref


@pytest.mark.parametrize(("text", "expected"), [
    # new-style ids, versions, prefixes
    ("2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("2606.30534v2", PaperRef(ARXIV, "2606.30534", 2)),
    ("  2606.30534  ", PaperRef(ARXIV, "2606.30534")),
    ("arXiv:2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("arxiv: 2606.30534v11", PaperRef(ARXIV, "2606.30534", 11)),
    ("0704.0001", PaperRef(ARXIV, "0704.0001")),
    ("1412.6980", PaperRef(ARXIV, "1412.6980")),
    # old-style ids, with a subject class, a version, odd case
    ("hep-th/9901001", PaperRef(ARXIV, "hep-th/9901001")),
    ("math.AG/0101001v3", PaperRef(ARXIV, "math.AG/0101001", 3)),
    ("HEP-TH/9901001", PaperRef(ARXIV, "hep-th/9901001")),
    ("arXiv:math.ag/0101001", PaperRef(ARXIV, "math.AG/0101001")),
    # arXiv URLs: abs, pdf, html, versions, .pdf, export mirror, query and fragment
    ("https://arxiv.org/abs/2606.30534v2", PaperRef(ARXIV, "2606.30534", 2)),
    ("http://arxiv.org/abs/2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("arxiv.org/abs/2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("https://arxiv.org/pdf/2606.30534v1.pdf", PaperRef(ARXIV, "2606.30534", 1)),
    ("https://arxiv.org/pdf/2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("https://arxiv.org/html/2606.30534v3", PaperRef(ARXIV, "2606.30534", 3)),
    ("https://export.arxiv.org/abs/hep-th/9901001v2", PaperRef(ARXIV, "hep-th/9901001", 2)),
    ("https://www.arxiv.org/abs/2606.30534/", PaperRef(ARXIV, "2606.30534")),
    ("https://arxiv.org/abs/2606.30534?context=cs#x", PaperRef(ARXIV, "2606.30534")),
    ("<https://arxiv.org/abs/2606.30534>", PaperRef(ARXIV, "2606.30534")),
    # Hugging Face and alphaXiv paper pages
    ("https://huggingface.co/papers/2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("huggingface.co/papers/2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("https://www.alphaxiv.org/abs/2606.30534v2", PaperRef(ARXIV, "2606.30534", 2)),
    ("https://alphaxiv.org/overview/2606.30534", PaperRef(ARXIV, "2606.30534")),
    # arXiv DOIs are arXiv ids; other DOIs are matched against stored DOIs
    ("10.48550/arXiv.2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("https://doi.org/10.48550/arXiv.2606.30534", PaperRef(ARXIV, "2606.30534")),
    ("10.1145/3404835.3462891", PaperRef(DOI, "10.1145/3404835.3462891")),
    ("doi:10.1038/Nature14539", PaperRef(DOI, "10.1038/nature14539")),
    ("https://doi.org/10.1103/PhysRevD.99.084001", PaperRef(DOI, "10.1103/physrevd.99.084001")),
    ("https://dx.doi.org/10.1234/foo_bar-1", PaperRef(DOI, "10.1234/foo_bar-1")),
    # looks like an id, is not one
    ("2606.3053x", PaperRef(INVALID, "2606.3053x")),
    ("2606.305", PaperRef(INVALID, "2606.305")),
    ("2613.30534", PaperRef(INVALID, "2613.30534")),  # month 13
    ("1412.12345", PaperRef(INVALID, "1412.12345")),  # five digits before 2015
    ("1501.1234", PaperRef(INVALID, "1501.1234")),  # four digits after 2014
    ("arXiv:foo", PaperRef(INVALID, "arXiv:foo")),
    ("arXiv:", PaperRef(INVALID, "arXiv:")),
    ("https://arxiv.org/abs/foo", PaperRef(INVALID, "https://arxiv.org/abs/foo")),
    ("https://huggingface.co/papers/trending", PaperRef(INVALID,
                                                       "https://huggingface.co/papers/trending")),
    ("hep-th/9913001", PaperRef(INVALID, "hep-th/9913001")),  # month 13
])
def test_references(text: str, expected: PaperRef | None) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize("query", [
    "sparse retrieval", "cat:cs.IR \"sparse retrieval\"", "BERT", "author:lecun",
    "year:2026", "10 things", "GPT-4.5", "hep-th", "arxiv papers on retrieval", "", "   ",
    "https://example.org/paper", "2606.30534 2606.30535",
])
def test_searches_are_not_references(query: str) -> None:
    assert parse_ref(query) is None


def test_messages_name_the_reference_and_where_it_lives() -> None:
    ref = parse_ref("arXiv:2606.99999v2")
    assert ref is not None
    assert ref.not_stored == "No paper 2606.99999 here."
    assert ref.source_url == "https://arxiv.org/abs/2606.99999"
    doi = parse_ref("10.1145/1")
    assert doi is not None and doi.source_url == "https://doi.org/10.1145/1"
    assert doi.not_stored == "No paper with DOI 10.1145/1 here."
    bad = parse_ref("2606.3053x")
    assert bad is not None and bad.invalid == "2606.3053x is not a valid arXiv id."
    assert bad.source_url is None
