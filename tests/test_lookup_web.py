"""Looking a paper up by its id, link or DOI on the search page and the API; the "more
similar papers" page. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.web.app import create_app

NEW = Paper(id="2606.30534", title="Sparse Retrieval with Learned Expansions",
            abstract="We expand documents sparsely for retrieval.", authors=("Ada Lovelace",),
            categories=("cs.IR",), primary_category="cs.IR", published=date(2026, 6, 20),
            version=2, doi="10.1145/3404835.3462891")
OLD = Paper(id="hep-th/9901001", title="Strings on Orbifolds", authors=("Ed Witten",),
            categories=("hep-th",), primary_category="hep-th", published=date(1999, 1, 4))
SUBJECT = Paper(id="math.AG/0101001", title="Moduli of Curves", authors=("Anne Author",),
                categories=("math.AG",), primary_category="math.AG", published=date(2001, 1, 2))
# papers whose words the id queries share, so a plain search would list them
DECOYS = [Paper(id=f"2606.{30000 + n:05d}", title=f"Retrieval paper {n} about 2606 arXiv abs",
                abstract="https arxiv org abs huggingface papers retrieval sparse",
                categories=("cs.IR",), primary_category="cs.IR", published=date(2026, 6, n + 1))
          for n in range(1, 26)]


@pytest.fixture
def client(settings: Settings, store: Store) -> TestClient:
    store.write_batch([NEW, OLD, SUBJECT, *DECOYS], [])
    return TestClient(create_app(Paperwire(settings, store)))


@pytest.mark.parametrize(("query", "paper_id"), [
    ("2606.30534", "2606.30534"),
    ("2606.30534v2", "2606.30534"),
    ("arXiv:2606.30534", "2606.30534"),
    ("https://arxiv.org/abs/2606.30534v2", "2606.30534"),
    ("https://arxiv.org/pdf/2606.30534v1.pdf", "2606.30534"),
    ("https://export.arxiv.org/abs/2606.30534", "2606.30534"),
    ("https://huggingface.co/papers/2606.30534", "2606.30534"),
    ("https://www.alphaxiv.org/abs/2606.30534", "2606.30534"),
    ("https://doi.org/10.1145/3404835.3462891", "2606.30534"),
    ("10.1145/3404835.3462891", "2606.30534"),
    ("hep-th/9901001v2", "hep-th/9901001"),
    ("arXiv:math.AG/0101001v3", "math.AG/0101001"),
])
def test_a_papers_id_or_link_goes_straight_to_it(client: TestClient, query: str,
                                                 paper_id: str) -> None:
    page = client.get("/search", params={"q": query}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/papers/{paper_id}"
    api = client.get("/api/search", params={"q": query})
    assert api.status_code == 200
    body = api.json()
    assert body["exact_match"] is True
    assert [r["id"] for r in body["results"]] == [paper_id]


def test_a_plain_search_is_no_exact_match(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "orbifolds", "mode": "lexical"}).json()
    assert body["exact_match"] is False
    assert [r["id"] for r in body["results"]] == [OLD.id]


def test_the_versioned_page_of_a_paper_redirects_to_the_paper(client: TestClient) -> None:
    landed = client.get("/search", params={"q": "https://arxiv.org/abs/2606.30534v2"})
    assert landed.status_code == 200 and landed.url.path == "/papers/2606.30534"
    assert NEW.title in landed.text
    versioned = client.get("/papers/2606.30534v2", follow_redirects=False)
    assert versioned.status_code == 301 and versioned.headers["location"] == "/papers/2606.30534"


def test_an_id_not_stored_says_so_and_links_to_arxiv(client: TestClient) -> None:
    page = client.get("/search", params={"q": "https://arxiv.org/abs/2606.99999v1"})
    assert page.status_code == 404
    assert "No paper 2606.99999 here." in page.text
    assert 'href="https://arxiv.org/abs/2606.99999"' in page.text
    assert 'class="paper"' not in page.text  # no unrelated results
    api = client.get("/api/search", params={"q": "arXiv:2606.99999"})
    assert api.status_code == 404
    assert api.json()["detail"] == ("No paper 2606.99999 here. "
                                    "See https://arxiv.org/abs/2606.99999")
    doi = client.get("/search", params={"q": "doi:10.9999/none"})
    assert doi.status_code == 404 and "No paper with DOI 10.9999/none here." in doi.text
    assert 'href="https://doi.org/10.9999/none"' in doi.text


@pytest.mark.parametrize("query", ["2606.3053x", "arXiv:foo", "2613.30534",
                                   "https://arxiv.org/abs/not-an-id"])
def test_a_malformed_id_is_not_a_valid_arxiv_id(client: TestClient, query: str) -> None:
    page = client.get("/search", params={"q": query})
    assert page.status_code == 400
    assert "is not a valid arXiv id." in page.text
    assert 'class="paper"' not in page.text
    api = client.get("/api/search", params={"q": query})
    assert api.status_code == 400
    assert api.json()["detail"].endswith("is not a valid arXiv id.")


def test_more_similar_papers_page_by_page(client: TestClient) -> None:
    paper = client.get(f"/papers/{NEW.id}").text
    assert f'href="/papers/{NEW.id}/similar"' in paper
    first = client.get(f"/papers/{NEW.id}/similar")
    assert first.status_code == 200
    listed = re.findall(r'<a class="title" href="/papers/([^"]+)"', first.text)
    assert len(listed) == 20 and NEW.id not in listed
    assert f'rel="next" href="/papers/{NEW.id}/similar?page=2"' in first.text
    second = client.get(f"/papers/{NEW.id}/similar?page=2")
    rest = re.findall(r'<a class="title" href="/papers/([^"]+)"', second.text)
    assert len(rest) == 5 and not set(rest) & set(listed)  # the 25 decoys, each once
    assert f'rel="prev" href="/papers/{NEW.id}/similar"' in second.text
    assert 'rel="next"' not in second.text
    versioned = client.get(f"/papers/{NEW.id}v2/similar", follow_redirects=False)
    assert versioned.headers["location"] == f"/papers/{NEW.id}/similar"
    old = client.get(f"/papers/{OLD.id}/similar")
    assert old.status_code == 200 and "Strings on Orbifolds" in old.text
    for bad in ("0", "x", "99"):
        assert client.get(f"/papers/{NEW.id}/similar?page={bad}").status_code == 400
    assert client.get("/papers/2606.99999/similar").status_code == 404
