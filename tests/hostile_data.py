"""A generated corpus of hostile import records, for tests/test_hostile.py.

Every text field an importer reads gets attack strings mixed into ordinary words: markup that
would run script if it were ever parsed as HTML (each sets ``window.__pwned``, calls
``alert`` or loads a URL containing ``__pwned``, so a browser can tell), ``javascript:``
and ``data:`` URLs, template syntax, CRLF header injection, bidi overrides, NULs, terminal
escapes and lone surrogates; plus records with megabyte fields, thousands of authors,
path-like ids, and lines that are not records at all (nested too deeply, not JSON, wrong
types). Deterministic for a seed. Five formats: arXiv and Kaggle JSONL, BEIR JSONL, seed
JSONL and Hugging Face day files (JSON arrays whose upvotes make the papers trend).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

CANARY = "__pwned"  # in every payload: a script that ran sets it, a fetched URL contains it

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src="/__pwned_img" onerror="window.__pwned=1">',
    "<img src=x onerror=window.__pwned=1>",
    '"><script>window.__pwned=1</script>',
    "'><img src=/__pwned_img onerror=window.__pwned=1>",
    '<svg onload="window.__pwned=1"></svg>',
    "<svg><script>window.__pwned=1</script></svg>",
    '<svg><animate onbegin="window.__pwned=1" attributeName=x dur=1s>',
    '<iframe src="javascript:top.__pwned=1"></iframe>',
    '<iframe srcdoc="<script>top.__pwned=1</script>"></iframe>',
    '<a href="javascript:window.__pwned=1">click me</a>',
    "javascript:window.__pwned=1",
    "JaVaScRiPt:alert('__pwned')",
    "data:text/html,<script>top.__pwned=1</script>",
    "<body onload=window.__pwned=1>",
    "<details open ontoggle=window.__pwned=1>",
    "<input autofocus onfocus=window.__pwned=1>",
    "</title><script>window.__pwned=1</script>",
    "</textarea><script>window.__pwned=1</script>",
    "</script><script>window.__pwned=1</script>",
    "</style><script>window.__pwned=1</script>",
    '<style>@import "/__pwned_css";</style>',
    "<link rel=stylesheet href=/__pwned_css>",
    "<math><mtext><table><mglyph><style><img src=/__pwned_img onerror=window.__pwned=1>",
    '<object data="javascript:window.__pwned=1"></object>',
    '<embed src="/__pwned_embed">',
    '<meta http-equiv="refresh" content="0;url=/__pwned_refresh">',
    '<base href="http://__pwned.invalid/">',
    '<form action="javascript:window.__pwned=1"><button autofocus>go</button></form>',
    "<scr<script>ipt>window.__pwned=1</scr</script>ipt>",
    '" onmouseover="window.__pwned=1" x="',
    "' onfocus='window.__pwned=1' autofocus='",
    "&lt;script&gt;window.__pwned=1&lt;/script&gt;",
    "&#60;img src=x onerror=window.__pwned=1&#62;",
    "{{ 7*7 }}{% raw %}${window.__pwned=1}{{ config }}",
    "$<script>window.__pwned=1</script>$ \\(a<b\\) $x>y$",
    "<!--<img src=x onerror=window.__pwned=1>-->",
    "<![CDATA[<script>window.__pwned=1</script>]]>",
    "]]><script>window.__pwned=1</script>",
    "\u202eevil reversed text\u202c \u2066isolate\u2069 \u202bembed\u202c",
    "nul\x00byte",
    "\x1b[31mred\x1b[0m \x1b]8;;http://__pwned.invalid\x07link\x1b]8;;\x07 \x9b31m \x07bell",
    "crlf\r\nSet-Cookie: __pwned=1\r\n\r\n<script>window.__pwned=1</script>",
    "<x onclick=window.__pwned=1 style=position:fixed;inset:0>",
    "\ud800 lone surrogate \udfff",
    "zero\u200bwidth\ufeffbom",
    "<noscript><p title=\"</noscript><img src=x onerror=window.__pwned=1>\">",
    "<video><source onerror=window.__pwned=1></video>",
    "<audio src=x onerror=window.__pwned=1>",
    "<marquee onstart=window.__pwned=1>",
    "%3Cscript%3Ewindow.__pwned=1%3C/script%3E",
    "\\u003cscript\\u003ewindow.__pwned=1\\u003c/script\\u003e",
]

# ids a BEIR corpus may hold (printable, at most 60 characters): path-like, URL-like, markup
BEIR_IDS = [
    "../../../etc/passwd", "a/../../b", "./x", "x/.", "..", "a?b=1#frag", "100%", "%2e%2e%2f",
    "%252F", "a//b", "trailing/", "back\\slash", "<script>window.__pwned=1</script>",
    "\"><img src=x onerror=window.__pwned=1>", "javascript:window.__pwned=1", "ü é",
    "+plus&amp;", "{{7*7}}", "'; DROP TABLE papers; --",
]

WORDS = ("retrieval", "graph", "protein", "diffusion", "speech", "robot", "transformer",
         "sparse", "dense", "attention", "molecule", "galaxy", "quantum", "benchmark",
         "language", "vision", "control", "memory")
CATEGORIES = ("cs.CL", "cs.IR", "cs.LG", "cs.CV", "stat.ML", "q-bio.BM", "hep-th")
HOSTILE_CATEGORIES = ("<svg/onload=window.__pwned=1>", "javascript:x", "cs.CL\"><b>", "..")

DAY0 = date(2026, 6, 1)
DAYS = 30  # HF day files: DAY0 .. DAY0 + 29


@dataclass
class Corpus:
    """What was written: files, how many records, and what the tests may look for."""

    files: list[Path] = field(default_factory=list)
    records: int = 0
    bad_lines: int = 0  # lines that must be skipped (not records)
    huge: int = 0  # records with a field over its cap (kept, cut)
    arxiv_ids: list[str] = field(default_factory=list)
    beir_ids: list[str] = field(default_factory=list)
    words: tuple[str, ...] = WORDS


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def payload(self) -> str:
        return self.rng.choice(PAYLOADS)

    def text(self, words: int) -> str:
        """Ordinary words (so searches find the record) with payloads among them."""
        parts: list[str] = []
        for _ in range(words):
            parts.append(self.payload() if self.rng.random() < 0.25 else self.rng.choice(WORDS))
        parts.insert(self.rng.randrange(len(parts) + 1), self.payload())
        return " ".join(parts)

    def name(self) -> str:
        first = self.rng.choice(["Ada", "Alan", "Grace", "Emmy", "Kurt", "Mallory", "Eve"])
        return f"{first} {self.payload() if self.rng.random() < 0.5 else 'Lovelace'}"

    def authors(self, huge: bool = False) -> list[str]:
        return [self.name() for _ in range(5_000 if huge else self.rng.randint(1, 6))]

    def categories(self) -> list[str]:
        cats = self.rng.sample(CATEGORIES, self.rng.randint(1, 3))
        if self.rng.random() < 0.2:
            cats.append(self.rng.choice(HOSTILE_CATEGORIES))
        return cats

    def day(self) -> date:
        return DAY0 + timedelta(days=self.rng.randrange(DAYS))


def _bad_lines(g: _Gen) -> list[str]:
    """Lines that are not records: each must be skipped and reported, never crash a run."""
    deep = "[" * 50_000 + "]" * 50_000
    deep_obj = '{"a":' * 50_000 + "1" + "}" * 50_000
    return [
        deep, deep_obj, '{"id": "2606.99999", "title": ' + deep + "}",
        '{"id": ', "not json at all <script>window.__pwned=1</script>", "[1, 2",
        '{"id": 12345, "title": 7}', '{"id": "2606.99998", "title": ["a", "b"]}',
        '{"id": "<script>", "title": "x", "summary": "y"}',
        '{"id": "2606.99997", "title": "t", "authors": {"$gt": ""}}',
    ]


def _hf_url(g: _Gen) -> str:
    return g.rng.choice([
        "https://github.com/ok/repo", "javascript:alert(1)", 'https://x.example/"><script>'
        'window.__pwned=1</script>', "data:text/html,<script>window.__pwned=1</script>",
        "https://evil.example/track.png", " https://github.com/a/b onmouseover=alert(1)"])


def _add_hf_meta(g: _Gen, entry: dict[str, Any]) -> None:
    """Hugging Face's extra fields, hostile half the time, on an entry."""
    entry["paper"].update({
        "githubRepo": _hf_url(g), "githubStars": g.rng.choice([3, -1, "<b>9</b>", 10**12]),
        "projectPage": _hf_url(g), "ai_summary": g.text(20),
        "ai_summary_model": g.rng.choice([g.payload(), "org/model"]),
        "ai_keywords": [g.payload(), g.rng.choice(WORDS), 7]})
    entry.update({"thumbnail": _hf_url(g), "numComments": g.rng.choice([2, "<i>", None]),
                  "organization": {"fullname": g.payload()}, "submittedBy": {"name": g.name()}})


def write_corpus(folder: Path, seed: int = 10, records: int = 10_200) -> Corpus:
    """Write about ``records`` hostile records (and some bad lines) under ``folder``."""
    g = _Gen(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = Corpus()
    share = {"hf": 0.25, "arxiv": 0.3, "kaggle": 0.2, "beir": 0.2, "seed": 0.05}
    n = {k: int(records * v) for k, v in share.items()}
    n["arxiv"] += records - sum(n.values())

    def jsonl(name: str, rows: list[Any], bad: list[str]) -> None:
        lines = [json.dumps(r) for r in rows]
        for b in bad:  # spread the bad lines through the file
            lines.insert(g.rng.randrange(len(lines) + 1), b)
        path = folder / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        out.files.append(path)
        out.records += len(rows)
        out.bad_lines += len(bad)

    # Hugging Face day files: papers with upvotes, so that they trend, and hostile metadata
    # (code, project page, AI summary, keywords, organization, thumbnail: from a generator of
    # their own, so the rest of the corpus stays what it was)
    meta = _Gen(seed + 1)
    per_day = max(1, n["hf"] // DAYS)
    serial = 10_000
    for d in range(DAYS):
        day = DAY0 + timedelta(days=d)
        entries = []
        for _ in range(per_day):
            serial += 1
            pid = f"2606.{serial:05d}"
            out.arxiv_ids.append(pid)
            published = day - timedelta(days=g.rng.randrange(3))
            entries.append({
                "paper": {"id": pid, "title": g.text(6), "summary": g.text(40),
                          "authors": [{"name": a} for a in g.authors()],
                          "publishedAt": f"{published.isoformat()}T00:00:00.000Z",
                          "upvotes": g.rng.randint(1, 200)},
                "title": g.text(4), "publishedAt": f"{day.isoformat()}T00:00:00.000Z",
            })
            _add_hf_meta(meta, entries[-1])
        path = folder / "hf" / f"{day.isoformat()}.json"
        path.parent.mkdir(exist_ok=True)
        # pretty enough for a malformed element to be skipped alone (one element per line)
        body = ",\n".join(json.dumps(e) for e in entries)
        if d == 3:
            body += ",\n" + '{"paper": ' * 30_000 + "1" + "}" * 30_000
            out.bad_lines += 1
        path.write_text("[\n" + body + "\n]\n", encoding="utf-8", errors="surrogatepass")
        out.files.append(path)
        out.records += len(entries)

    rows: list[Any] = []
    for i in range(n["arxiv"]):
        pid = f"2606.{20_000 + i:05d}"
        out.arxiv_ids.append(pid)
        huge = i % 1000 == 7
        out.huge += huge
        rows.append({
            "id": f"{pid}v{g.rng.randint(1, 3)}", "title": g.text(8),
            "summary": g.text(60) + (" lorem" * 300_000 if huge else ""),
            "authors": g.authors(huge=i % 1000 == 8), "categories": " ".join(g.categories()),
            "comment": g.text(5), "pdf": "javascript:window.__pwned=1",
            "abs": "https://arxiv.org/abs/" + pid,
        })
        out.huge += i % 1000 == 8
    jsonl("arxiv-papers.jsonl", rows, _bad_lines(g))

    rows = []
    for i in range(n["kaggle"]):
        pid = f"2606.{40_000 + i:05d}"
        out.arxiv_ids.append(pid)
        day = g.day()
        rows.append({
            "id": pid, "submitter": g.name(), "authors": ", ".join(g.authors()),
            "title": g.text(7), "comments": g.text(4),
            "journal-ref": g.payload(), "doi": "javascript:window.__pwned=1" if i % 2 else None,
            "categories": " ".join(g.categories()), "abstract": g.text(50),
            "versions": [{"version": "v1", "created": day.strftime("%a, %d %b %Y 10:00:00 GMT")}],
            "update_date": day.isoformat(),
            "authors_parsed": [[g.payload(), "Ada", ""]] if i % 3 == 0 else [],
        })
    jsonl("kaggle-snapshot.jsonl", rows, _bad_lines(g)[:4])

    rows = []
    for i in range(n["beir"]):
        doc_id = BEIR_IDS[i] if i < len(BEIR_IDS) else f"{g.rng.choice(BEIR_IDS)}-{i}"
        out.beir_ids.append("beir:" + doc_id)
        rows.append({"_id": doc_id, "title": g.text(6), "text": g.text(40),
                     "metadata": {"url": "javascript:window.__pwned=1"}})
    jsonl("beir-corpus.jsonl", rows, _bad_lines(g)[:3])

    rows = [{"rank": i, "title": f"seed {i} " + g.text(6), "abstract": g.text(30)}
            for i in range(n["seed"])]
    jsonl("seed-papers.jsonl", rows, [])
    return out
