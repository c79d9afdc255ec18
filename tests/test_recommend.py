"""The recommendation model (paperwire.recommend): pure code over vectors and TF-IDF rows.

The papers here are synthetic but shaped like the real ones: each topic has a direction in
vector space (papers of a topic are ~0.6 cosine apart, of different topics ~0), its own
words and its own group of authors.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from paperwire.recommend import model
from paperwire.recommend.lexical import Rows, author_terms, build_space, word_terms
from paperwire.recommend.model import Items, Params, rank

DIM = 48
TOPICS = {
    "graphs": "graph neural message passing node edge spectral laplacian",
    "speech": "speech acoustic phoneme waveform speaker vocoder spectrogram prosody",
    "robots": "robot grasp manipulation gripper locomotion torque trajectory legged",
    "vision": "image pixel segmentation convolutional detection bounding mask camera",
    "proteins": "protein folding residue amino docking enzyme molecular binding",
    "finance": "market portfolio stock volatility trading asset pricing hedge",
    "law": "legal court statute contract judge litigation clause verdict",
    "music": "music melody chord rhythm audio genre composer harmony",
}
GENERIC = ["model", "data", "learning", "results", "performance", "task", "training",
           "evaluation", "large"]


class World:
    """Papers ``<topic>-<n>``: vector, text and authors per topic."""

    def __init__(self, per_topic: int = 30, seed: int = 3) -> None:
        rng = np.random.default_rng(seed)
        prng = random.Random(seed)
        centers = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0][: len(TOPICS)]
        self.ids: list[str] = []
        vectors = []
        papers = []
        for t, (topic, words) in enumerate(TOPICS.items()):
            vocab = words.split()
            group = [f"{topic.title()} Author{k}" for k in range(4)]
            for n in range(per_topic):
                pid = f"{topic}-{n}"
                v = centers[t] + rng.normal(size=DIM) * (0.82 / np.sqrt(DIM))
                vectors.append(v / np.linalg.norm(v))
                text = " ".join(prng.choices(vocab, k=10) + prng.choices(GENERIC, k=6))
                authors = [prng.choice(group), f"Someone {pid}"]
                papers.append((pid, text, authors))
                self.ids.append(pid)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.papers = papers
        self.items = Items.build(papers, self.vectors)

    def of(self, topic: str, numbers: range) -> list[str]:
        return [f"{topic}-{n}" for n in numbers]

    def background(self, topics: tuple[str, ...], numbers: range = range(20, 30)) -> list[str]:
        return [pid for t in topics for pid in self.of(t, numbers)]


@pytest.fixture(scope="module")
def world() -> World:
    return World()


OTHERS = ("robots", "vision", "proteins", "finance", "law", "music")


def test_a_library_of_two_topics_recovers_held_out_papers_of_both(world: World) -> None:
    positives = world.of("graphs", range(0, 6)) + world.of("speech", range(0, 6))
    held_out = world.of("graphs", range(6, 10)) + world.of("speech", range(6, 10))
    others = [pid for t in OTHERS for pid in world.of(t, range(0, 10))]
    ranked = rank(world.items, positives, [], held_out + others,
                  world.background((*OTHERS, "graphs", "speech")))
    top = [r.paper_id for r in ranked[: len(held_out)]]
    assert set(top) == set(held_out)
    assert not set(positives) & {r.paper_id for r in ranked}  # the library is not recommended


def test_the_floor_labels_the_related_and_nothing_unrelated(world: World) -> None:
    positives = world.of("robots", range(0, 8))
    related = world.of("robots", range(8, 14))
    unrelated = [pid for t in ("finance", "law", "music", "proteins") for pid in
                 world.of(t, range(0, 15))]
    # the background is a sample of the whole collection, as the service takes it
    ranked = rank(world.items, positives, [], related + unrelated,
                  world.background(tuple(TOPICS)))
    matches = {r.paper_id for r in ranked if r.match}
    assert not matches & set(unrelated)
    assert matches == set(related)
    # the floor is a threshold on the score, the same for everyone
    assert all(r.match == (r.score >= model.DEFAULT.floor) for r in ranked)


@pytest.mark.parametrize("positives", [4, 12])
def test_the_floor_means_the_same_in_a_small_and_a_large_collection(positives: int) -> None:
    """A reader's raw scores move with the size of the collection and of the library (the
    classifier's logits); on the reader's scale the same floor labels the same papers. (The
    blend leans on vectors: this world's words are random draws from a topic's list.)"""
    params = Params(classifier_weight=4.0, knn_weight=2.0, lexical_knn_weight=2.0,
                    lexical_scale=1.0)
    for per_topic in (30, 300):
        w = World(per_topic=per_topic, seed=5)
        liked = w.of("speech", range(0, positives))
        related = w.of("speech", range(positives, positives + 10))
        unrelated = [pid for t in TOPICS if t != "speech" for pid in w.of(t, range(0, 10))]
        rng = random.Random(per_topic)
        background = rng.sample([p for p in w.ids if p not in set(liked)],
                                min(1000, len(w.ids) // 2))
        ranked = rank(w.items, liked, [], related + unrelated, background, params)
        matches = {r.paper_id for r in ranked if r.match}
        assert not matches & set(unrelated), (per_topic, sorted(matches & set(unrelated)))
        assert len(matches & set(related)) >= 8, (per_topic, sorted(matches))


def test_a_match_is_by_an_author_of_the_reader_or_near_their_papers(world: World) -> None:
    """A paper in the reader's words (the classifier likes it) but far from all their papers
    and by none of their authors is ranked, never a match; the same paper by one of their
    authors is one."""
    items = world.items
    speech = world.papers[items.pos["speech-3"]][1]
    far = items.vectors[items.pos["law-25"]]
    lookalike = ("lookalike", speech, ["Nobody Known"])
    followed = ("followed", speech, ["Speech Author1"])
    both = Items.build([*world.papers, lookalike, followed],
                       np.vstack([items.vectors, far[None, :], far[None, :]]))
    positives = world.of("speech", range(0, 12))
    ranked = {r.paper_id: r for r in rank(both, positives, [], ["lookalike", "followed"],
                                          world.background(tuple(TOPICS)))}
    assert ranked["lookalike"].score >= model.DEFAULT.floor  # the words alone would do
    assert not ranked["lookalike"].match
    assert ranked["followed"].match


def test_a_higher_floor_labels_fewer(world: World) -> None:
    positives = world.of("robots", range(0, 8))
    cands = world.of("robots", range(8, 14)) + world.of("vision", range(0, 10))
    bg = world.background(("graphs", "speech"))
    low = rank(world.items, positives, [], cands, bg)
    high = rank(world.items, positives, [], cands, bg,
                Params(floor=max(r.score for r in low) + 1))
    assert any(r.match for r in low) and not any(r.match for r in high)


def test_explanations_name_the_positives_a_paper_is_near(world: World) -> None:
    positives = world.of("graphs", range(0, 4)) + world.of("speech", range(0, 4))
    items = world.items
    # a near copy of graphs-2 (same vector direction, same words and author)
    twin_vec = items.vectors[items.pos["graphs-2"]] * 0.9 + 0.1 * items.vectors[
        items.pos["graphs-25"]]
    twin = ("twin", world.papers[items.pos["graphs-2"]][1],
            list(world.papers[items.pos["graphs-2"]][2]))
    vectors = np.vstack([items.vectors, twin_vec / np.linalg.norm(twin_vec)])
    with_twin = Items.build([*world.papers, twin], vectors)
    ranked = rank(with_twin, positives, [], ["twin", "speech-9", "law-1"],
                  world.background(OTHERS))
    by_id = {r.paper_id: r for r in ranked}
    assert by_id["twin"].because[0] == "graphs-2"
    assert by_id["speech-9"].because[0] in positives[4:]  # a speech paper, explained by speech
    assert set(by_id["speech-9"].because) <= set(positives[4:])
    assert 1 <= len(by_id["law-1"].because) <= 2


def test_a_thumbs_down_pushes_its_neighbours_down(world: World) -> None:
    positives = world.of("vision", range(0, 6)) + world.of("music", range(0, 6))
    cands = world.of("vision", range(6, 12)) + world.of("music", range(6, 12))
    bg = world.background(("law", "finance", "graphs"))
    before = rank(world.items, positives, [], cands, bg)
    after = rank(world.items, positives, ["music-12", "music-13"], cands, bg)

    def place(ranked: list[model.Recommendation], pid: str) -> int:
        return [r.paper_id for r in ranked].index(pid)

    music = world.of("music", range(6, 12))
    assert sum(place(after, p) for p in music) > sum(place(before, p) for p in music)
    score_before = {r.paper_id: r.score for r in before}
    score_after = {r.paper_id: r.score for r in after}
    assert all(score_after[p] < score_before[p] for p in music)
    # a paper turned down is never recommended itself
    again = rank(world.items, positives, ["music-6"], cands, bg)
    assert "music-6" not in {r.paper_id for r in again}


def test_too_few_positives_recommend_nothing(world: World) -> None:
    assert rank(world.items, ["graphs-0"], [], world.of("graphs", range(1, 9)),
                world.background(OTHERS)) == []
    assert rank(world.items, ["nowhere-1", "nowhere-2"], [], world.of("graphs", range(1, 9)),
                world.background(OTHERS)) == []


def test_a_shared_author_counts_on_the_lexical_side(world: World) -> None:
    """Two papers with the same vector and words: the one by an author of the library ranks
    first."""
    items = world.items
    base = world.papers[items.pos["law-3"]]
    same = ("by-group", base[1], ["Robots Author1"])
    stranger = ("by-stranger", base[1], ["Nobody Known"])
    vectors = np.vstack([items.vectors, items.vectors[items.pos["law-3"]][None, :].repeat(2, 0)])
    both = Items.build([*world.papers, same, stranger], vectors)
    positives = [p for p in world.of("robots", range(0, 12))
                 if "Robots Author1" in world.papers[items.pos[p]][2]]
    assert len(positives) >= 2
    ranked = rank(both, positives, [], ["by-stranger", "by-group"], world.background(OTHERS))
    assert [r.paper_id for r in ranked] == ["by-group", "by-stranger"]


# ---- the lexical side -----------------------------------------------------------------


def test_terms_fold_case_and_accents_and_drop_stop_words() -> None:
    assert word_terms("The Café of Graphs") == ["cafe", "graphs", "cafe graphs"]
    assert author_terms(["José  Álvarez", "J. Smith", "jose alvarez"]) == [
        "@jose alvarez", "@j smith"]


def test_sparse_rows_agree_with_dense_arithmetic() -> None:
    space = build_space([
        ("a", "graph neural networks for molecules", ["Ann Lee"]),
        ("b", "graph neural networks for proteins", ["Ann Lee", "Bo Chen"]),
        ("c", "speech synthesis with neural vocoders", ["Bo Chen"]),
        ("d", "speech recognition of molecules", []),
    ], max_df=1.0)
    rows: Rows = space.rows
    dense = rows.dense()
    w = np.arange(rows.width, dtype=np.float32) / rows.width
    r = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    np.testing.assert_allclose(rows.dot(w), dense @ w, rtol=1e-5)
    np.testing.assert_allclose(rows.t_dot(r), r @ dense, rtol=1e-5)
    np.testing.assert_allclose(rows.take([2, 0]).dense(), dense[[2, 0]])
    np.testing.assert_allclose(rows.take([]).dense(), np.zeros((0, rows.width)))
    # terms in one document only are dropped; every row's word block has unit length
    assert "molecules" in space.vocabulary and "proteins" not in space.vocabulary
    assert "@ann lee" in space.vocabulary and "@bo chen" in space.vocabulary


def test_items_need_one_vector_and_row_per_id() -> None:
    space = build_space([("a", "graph", []), ("b", "graph", [])])
    with pytest.raises(ValueError):
        Items.of(["a", "b"], np.zeros((1, 4), dtype=np.float32), space.rows)
