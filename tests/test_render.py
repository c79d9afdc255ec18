"""Digest and confirmation emails, read back from their bytes as a mail client would."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

import pytest

from paperwire.digests.render import (
    Links,
    digest_bodies,
    digest_message_id,
    encode_digest,
    excerpt,
    format_authors,
    render_confirmation,
    render_digest,
)
from paperwire.models import Paper, shorten
from paperwire.records import Digest, DigestItem, Subscriber

NOW = datetime(2026, 11, 27, 6, 30)  # naive UTC
DAY = date(2026, 11, 27)
FROM = "Paperwire <digest@papers.example.org>"
TOKEN = "eyJzIjo0Mn0." + "Q" * 160  # a long signed token: the header must stay one URL
LINKS = Links(
    paper_base="https://papers.example.org/papers/",
    unsubscribe=f"https://papers.example.org/unsubscribe?token={TOKEN}",
    preferences="https://papers.example.org/preferences?token=abc123",
    web="https://papers.example.org/",
)

ABSTRACT = (
    "Transformers with sparse attention reduce the quadratic cost of self-attention, yet "
    "their training dynamics remain poorly understood. We study the loss landscape of "
    "block-sparse attention at scale and show that a simple warm-up of the sparsity pattern "
    "recovers dense-model quality at 40% of the compute. Experiments on language modelling "
    "and long-range arena benchmarks confirm the effect, and we release code and checkpoints "
    "for all models trained in this work."
)

SPARSE = Paper(
    id="2611.04512",
    title="Warm-Starting Block-Sparse Attention for Efficient Long-Context Training",
    abstract=ABSTRACT,
    authors=("Mira Okafor", "Lukas Brandt", "Sana Iqbal", "Tomás Reyes", "Yuki Tanaka"),
    categories=("cs.LG", "cs.CL"),
    primary_category="cs.LG",
    version=1,
    published=date(2026, 11, 25),
)
DIFFUSION = Paper(
    id="2611.03398",
    title="Score Matching on Manifolds: Riemannian Diffusion for Protein Backbones",
    abstract="We extend denoising score matching to $SE(3)^N$ and sample backbones.",
    authors=("Hannah Lind", "Ravi Menon"),
    categories=("q-bio.BM", "cs.LG"),
    published=date(2026, 11, 24),
)
OLD_STYLE = Paper(
    id="hep-th/9901001",
    title="Holography and Conformal Anomalies in Five Dimensions",
    abstract="We compute the Weyl anomaly of the boundary theory.",
    authors=("J. Doe",),
    categories=("hep-th",),
    published=date(1999, 1, 4),
)
BEIR = Paper(id="beir:4983", title="A Survey of Dense Retrieval", abstract="Dense retrieval.")

SUBSCRIBER = Subscriber(id=42, email="ada@example.org", status="active")


def make_digest(*items: DigestItem, note: str | None = None, **sub: object) -> Digest:
    subscriber = replace(SUBSCRIBER, **sub) if sub else SUBSCRIBER  # type: ignore[arg-type]
    return Digest(subscriber, DAY, (date(2026, 11, 26), date(2026, 11, 26)), items, note)


def default_digest() -> Digest:
    return make_digest(
        DigestItem(SPARSE, "matches your query “sparse attention”", "match"),
        DigestItem(OLD_STYLE, "in hep-th, one of your categories", "match"),
        DigestItem(DIFFUSION, "42 upvotes on Hugging Face today", "trending"),
        DigestItem(BEIR, "trending in retrieval", "trending"),
    )


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def squash(text: str) -> str:
    return " ".join(text.split())


def digest_mail(digest: Digest | None = None, links: Links = LINKS) -> EmailMessage:
    return reparse(render_digest(digest or default_digest(), from_addr=FROM, links=links, now=NOW))


def test_structure_is_alternative_text_then_html_in_utf8() -> None:
    msg = digest_mail()
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert msg.defects == [] and all(p.defects == [] for p in parts)


def test_same_papers_in_same_order_in_both_parts_grouped_by_kind() -> None:
    text, html = bodies(digest_mail())
    titles = [SPARSE.title, OLD_STYLE.title, DIFFUSION.title, BEIR.title]
    for body in (text, html):
        positions = [body.index(t) for t in titles]
        assert positions == sorted(positions)
        match, trending = body.index("Matching your interests"), body.index("Trending")
        assert match < positions[0] < positions[1] < trending < positions[2] < positions[3]


def test_headers() -> None:
    msg = digest_mail()
    assert msg["From"] == FROM
    assert msg["To"] == "ada@example.org"
    assert parsedate_to_datetime(msg["Date"]) == NOW.replace(tzinfo=UTC)
    assert msg["Date"].endswith("+0000")
    # the 72-character title is cut to fit 70 characters
    assert msg["Subject"] == (
        "Paperwire · 27 Nov 2026 · Warm-Starting Block-Sparse Attention for Efficient Long-Context…"
    )
    assert msg["Message-ID"] == digest_message_id(42, DAY, LINKS.web)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Id"] == "Paperwire digest <digest.papers.example.org>"
    assert msg["Precedence"] == "bulk"


def test_aware_now_is_kept_with_its_offset() -> None:
    cet = datetime(2026, 11, 27, 7, 30, tzinfo=timezone(timedelta(hours=1)))
    msg = reparse(render_digest(default_digest(), from_addr=FROM, links=LINKS, now=cet))
    assert msg["Date"].endswith("+0100")
    assert parsedate_to_datetime(msg["Date"]) == NOW.replace(tzinfo=UTC)


def test_subject_shortens_a_long_title_at_a_word_boundary() -> None:
    long = replace(SPARSE, title="On the " + "Remarkable Effectiveness of " * 6 + "Warm Starts")
    subject = digest_mail(make_digest(DigestItem(long, "why", "match")))["Subject"]
    title = subject.removeprefix("Paperwire · 27 Nov 2026 · ")
    assert title.endswith("…") and len(title) <= 70
    assert long.title.startswith(title[:-1]) and long.title[len(title) - 1] == " "


def test_rfc8058_headers_carry_the_whole_url() -> None:
    msg = digest_mail()
    assert msg["List-Unsubscribe"] == f"<{LINKS.unsubscribe}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = render_digest(default_digest(), from_addr=FROM, links=LINKS, now=NOW).as_bytes()
    assert f"List-Unsubscribe: <{LINKS.unsubscribe}>\r\n".encode() in raw  # no encoded words


def test_one_click_post_only_for_https() -> None:
    plain_http = replace(LINKS, unsubscribe="http://localhost:8000/unsubscribe?token=abc")
    msg = digest_mail(links=plain_http)
    assert msg["List-Unsubscribe"] == "<http://localhost:8000/unsubscribe?token=abc>"
    assert "List-Unsubscribe-Post" not in msg


def test_message_id_is_stable_per_subscriber_and_day() -> None:
    base = "https://papers.example.org/"
    first = digest_message_id(42, DAY, base)
    assert first == digest_message_id(42, DAY, base)
    assert re.fullmatch(r"<[^<>@\s]+@papers\.example\.org>", first)
    others = {
        digest_message_id(42, DAY + timedelta(days=1), base),
        digest_message_id(43, DAY, base),
        digest_message_id(4, date(2026, 11, 27), base),  # "4" + "2..." must not collide
    }
    assert first not in others and len(others) == 3


@pytest.mark.parametrize("base", ["", "not a url", "https://", "https://bad_host!/x"])
def test_message_id_falls_back_to_a_local_host(base: str) -> None:
    assert digest_message_id(42, DAY, base).endswith("@paperwire.localhost>")


def test_resend_has_the_same_message_id() -> None:
    later = NOW + timedelta(hours=3)
    again = reparse(render_digest(default_digest(), from_addr=FROM, links=LINKS, now=later))
    assert again["Message-ID"] == digest_mail()["Message-ID"]


EXPECTED_KEYS = {
    "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "List-Id",
    "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence", "MIME-Version", "Content-Type",
}  # fmt: skip


@pytest.mark.parametrize(
    "evil",
    [
        "Foo\r\nBcc: evil@example.com",
        "Foo\nBcc: evil@example.com",
        "Foo\rBcc: evil@example.com",
        "Foo\u2028Bcc: evil@example.com",
        "Foo\x85Bcc: evil@example.com",
        "Foo\r\n\r\nBcc: evil@example.com",
    ],
)
def test_header_injection_in_title_creates_no_header(evil: str) -> None:
    paper = replace(SPARSE, title=evil, authors=("Eve\r\nBcc: evil@example.com",))
    msg = digest_mail(make_digest(DigestItem(paper, "why\nBcc: x@example.com", "match")))
    assert set(msg.keys()) == EXPECTED_KEYS
    assert "Bcc" not in msg
    assert msg["Subject"] == "Paperwire · 27 Nov 2026 · Foo Bcc: evil@example.com"
    raw = render_digest(
        make_digest(DigestItem(paper, "why", "match")), from_addr=FROM, links=LINKS, now=NOW
    ).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(?im)^bcc:", head)
    for line in head.split(b"\r\n"):  # each line starts a known header or continues one
        assert line[:1] in (b" ", b"\t") or line.split(b":")[0].decode() in EXPECTED_KEYS
    text, html = bodies(msg)
    assert "Foo Bcc: evil@example.com" in text and "Foo Bcc: evil@example.com" in html


def test_control_characters_are_stripped() -> None:
    paper = replace(SPARSE, title="Clean\x00 \x1b[31mTitle\u202e\x07", abstract="Tab\there\x0c")
    msg = digest_mail(make_digest(DigestItem(paper, "why", "match")))
    text, html = bodies(msg)
    assert msg["Subject"].endswith("· Clean [31mTitle")
    for body in (text, html):
        assert "Clean [31mTitle" in body and "Tab here" in body
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202e]", body)


@pytest.mark.parametrize(
    "email",
    ["ada@example.org\r\nBcc: evil@example.com", "ada@example.org, eve@example.com", "no-at"],
)
def test_a_bad_recipient_is_refused(email: str) -> None:
    with pytest.raises(ValueError):
        render_digest(make_digest(email=email), from_addr=FROM, links=LINKS, now=NOW)
    with pytest.raises(ValueError):
        render_confirmation(
            email,
            confirm_url="https://papers.example.org/confirm?t=1",
            from_addr=FROM,
            base_url="https://papers.example.org/",
            now=NOW,
            message_id="<c1@papers.example.org>",
        )


@pytest.mark.parametrize(
    "bad",
    ["javascript:alert(1)", "https://papers.example.org/u?t=a b", 'https://x.org/"onmouseover='],
)
def test_bad_links_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        render_digest(
            default_digest(), from_addr=FROM, links=replace(LINKS, unsubscribe=bad), now=NOW
        )


def test_html_escapes_hostile_text() -> None:
    paper = replace(
        SPARSE,
        title="Attention <b>is</b> & all you need",
        abstract="We show <script>alert(1)</script> and <img src=x onerror=alert(2)> $a<b$.",
        authors=('"><script>alert(3)</script>',),
    )
    text, html = bodies(digest_mail(make_digest(DigestItem(paper, "<i>why</i>", "match"))))
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<b>" not in lowered
    assert "onerror=alert" in lowered  # as text, inside the escaped tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "Attention &lt;b&gt;is&lt;/b&gt; &amp; all you need" in html
    assert "&#34;&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "alert(2)&gt; a&lt;b." in html and "$a" not in html  # simple math as text
    assert "&lt;i&gt;why&lt;/i&gt;" in html
    assert "<script>alert(1)</script>" in text  # plain text shows it as written


def test_html_is_self_contained() -> None:
    _, html = bodies(digest_mail())
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html and '<meta charset="utf-8">' in html
    lowered = html.lower()
    for forbidden in ("<style", "<img", "<script", "<link", "src=", "url(", "@import"):
        assert forbidden not in lowered
    assert 'style="' in html


def test_links_in_both_parts() -> None:
    text, html = bodies(digest_mail())
    for body in (text, html):
        assert "https://papers.example.org/papers/2611.04512" in body
        assert "https://papers.example.org/papers/hep-th/9901001" in body
        assert "https://papers.example.org/papers/beir:4983" in body
        assert "https://arxiv.org/abs/2611.04512" in body
        assert "https://arxiv.org/abs/hep-th/9901001" in body
        assert "arxiv.org/abs/beir" not in body
    assert '<a href="https://papers.example.org/papers/2611.04512"' in html


def test_per_paper_details() -> None:
    text, html = bodies(digest_mail())
    for body in (text, html):
        assert "Mira Okafor, Lukas Brandt, Sana Iqbal et al." in body
        assert "Tomás Reyes" not in body
        assert "Hannah Lind, Ravi Menon" in body and "Ravi Menon et al." not in body
        assert "cs.LG, cs.CL" in body
        assert "first version 25 Nov 2026" in body and "first version 4 Jan 1999" in body
        assert "matches your query “sparse attention”" in body
        assert "42 upvotes on Hugging Face today" in body
        assert "SE(3)^N" in body and "$SE" not in body  # simple math as readable text


def test_footer_in_both_parts() -> None:
    text, html = bodies(digest_mail())
    assert "subscribed to a daily Paperwire digest at https://papers.example.org/" in text
    assert f"Unsubscribe: {LINKS.unsubscribe}" in text
    assert f"Preferences: {LINKS.preferences}" in text
    assert "subscribed to a daily Paperwire digest at" in html
    assert f'<a href="{LINKS.unsubscribe}" style="color:#1a4d8f">Unsubscribe</a>' in html
    assert f'<a href="{LINKS.preferences}" style="color:#1a4d8f">Preferences</a>' in html
    weekly = make_digest(DigestItem(SPARSE, "why", "match"), frequency="weekly")
    assert "subscribed to a weekly Paperwire digest" in bodies(digest_mail(weekly))[0]


def test_non_ascii_title_survives_subject_and_bodies() -> None:
    title = "Gödel, Escher — 量子"
    paper = replace(DIFFUSION, title=title, authors=("Jörg Müller", "李雷"))
    msg = digest_mail(make_digest(DigestItem(paper, "trending in quant-ph", "trending")))
    assert msg["Subject"] == f"Paperwire · 27 Nov 2026 · {title}"
    text, html = bodies(msg)
    for body in (text, html):
        assert title in body and "Jörg Müller, 李雷" in body


def test_empty_digest_with_note() -> None:
    note = "No new arXiv papers today: arXiv does not announce on Thanksgiving."
    msg = digest_mail(make_digest(note=note))
    assert msg["Subject"] == "Paperwire · 27 Nov 2026 · nothing new today"
    text, html = bodies(msg)
    for body in (text, html):
        assert note in body
        assert "Matching your interests" not in body and "Trending" not in body
        assert LINKS.unsubscribe in body
    assert text.index(note) < text.index("Unsubscribe:")


def test_note_shown_at_the_top_above_papers() -> None:
    note = "Only trending papers this time: arXiv did not announce over the weekend."
    text, html = bodies(digest_mail(make_digest(DigestItem(BEIR, "why", "trending"), note=note)))
    for body in (text, html):
        assert body.index(note) < body.index("Trending") < body.index(BEIR.title)


def test_empty_digest_without_note_says_so() -> None:
    msg = digest_mail(make_digest(frequency="weekly"))
    assert msg["Subject"] == "Paperwire · 27 Nov 2026 · nothing new this week"
    for body in bodies(msg):
        assert "Nothing new this week." in body


def test_no_physical_line_exceeds_998_octets() -> None:
    huge = replace(
        SPARSE,
        title="Ω" + "x" * 1500,
        abstract=" ".join(["averyveryverylongwordwithoutanybreaks" * 20] * 20),
        authors=tuple("Author-" + "y" * 300 for _ in range(3)),
    )
    digest = make_digest(DigestItem(huge, "z" * 2000, "match"))
    links = replace(LINKS, unsubscribe="https://papers.example.org/u?t=" + "T" * 850)
    msgs = [
        render_digest(digest, from_addr=FROM, links=links, now=NOW),
        render_confirmation(
            "ada@example.org",
            confirm_url="https://papers.example.org/confirm?t=" + "C" * 850,
            from_addr=FROM,
            base_url="https://papers.example.org/",
            now=NOW,
            message_id="<c1@papers.example.org>",
        ),
    ]
    for msg in msgs:
        raw = msg.as_bytes()
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
        assert reparse(msg).defects == []


def test_excerpt_cuts_at_a_word_boundary() -> None:
    cut = excerpt(ABSTRACT)
    assert len(ABSTRACT) > 300 and len(cut) <= 300
    assert cut.endswith("…") and not cut.endswith(" …")
    stem = cut[:-1]
    assert ABSTRACT.startswith(stem) and ABSTRACT[len(stem)] in " ,."
    assert stem.split()[-1] in ABSTRACT.split() or stem.split()[-1] + "," in ABSTRACT.split()
    text, html = bodies(digest_mail())
    assert squash(cut) in squash(text) and cut in html
    assert "release code and checkpoints" not in text and "checkpoints" not in html


def test_excerpt_edge_cases() -> None:
    assert excerpt("Short abstract.\n  Two lines.") == "Short abstract. Two lines."
    assert excerpt("") == ""
    word = "x" * 400
    assert excerpt(word) == "x" * 299 + "…"  # one overlong word is cut hard
    exact = ("abcd " * 60).strip()  # 299 chars: no cut
    assert excerpt(exact) == exact
    math = "We bound the error " + "by a constant " * 12 + "with $\\sum_{i=1}^{n} x_i^2 " + "y" * 60
    short = shorten(math, 200)
    assert short.count("$") % 2 == 0 and short.endswith("with…")
    assert shorten("alpha beta gamma delta", 12) == "alpha beta…"


def test_format_authors() -> None:
    assert format_authors(["A. One", "B. Two", "C. Three"]) == "A. One, B. Two, C. Three"
    assert format_authors(["A", "B", "C", "D"]) == "A, B, C et al."
    assert format_authors(["  Ada\n Lovelace ", ""]) == "Ada Lovelace"


CONFIRM_URL = "https://papers.example.org/confirm?token=abc.DEF_123&s=1"


def confirmation(**kw: object) -> EmailMessage:
    args: dict[str, object] = {
        "confirm_url": CONFIRM_URL,
        "from_addr": FROM,
        "base_url": "https://papers.example.org/",
        "now": NOW,
        "message_id": "<confirm-7f3a@papers.example.org>",
    }
    args.update(kw)
    return reparse(render_confirmation("ada@example.org", **args))  # type: ignore[arg-type]


def test_confirmation_mail() -> None:
    msg = confirmation(valid_for=timedelta(days=2))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert msg["To"] == "ada@example.org" and msg["From"] == FROM
    assert msg["Message-ID"] == "<confirm-7f3a@papers.example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Subject"] == "Confirm your Paperwire digest subscription"
    assert parsedate_to_datetime(msg["Date"]) == NOW.replace(tzinfo=UTC)
    assert "List-Unsubscribe" not in msg and "Bcc" not in msg
    text, html = bodies(msg)
    assert text.count(CONFIRM_URL) == 1
    escaped = CONFIRM_URL.replace("&", "&amp;")
    assert html.count(escaped) == 1 and CONFIRM_URL not in html
    assert f'<a href="{escaped}"' in html
    for body in (squash(text), squash(html)):
        assert "Paperwire at https://papers.example.org/" in body
        assert "ada@example.org" in body
        assert "works once and expires in 2 days" in body
        assert "ignore this mail: nothing more will be sent" in body


def test_confirmation_expiry_wording() -> None:
    assert "expires in 36 hours" in bodies(confirmation(valid_for=timedelta(hours=36)))[0]
    assert "expires in 1 day." in bodies(confirmation(valid_for=timedelta(days=1)))[0]
    assert "expires after a while" in squash(bodies(confirmation())[1])


def test_confirmation_refuses_injected_message_id() -> None:
    with pytest.raises(ValueError):
        confirmation(message_id="<a@b>\r\nBcc: evil@example.com")
    with pytest.raises(ValueError):
        confirmation(confirm_url="javascript:alert(1)")


def test_every_template_ships_in_the_package() -> None:
    """The mail templates (and the web's) are package data: each file under a
    ``templates`` folder matches a ``[tool.setuptools.package-data]`` pattern."""
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    import paperwire

    root = Path(paperwire.__file__).parent
    pyproject = tomllib.loads((root.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["paperwire"]
    files = [p.relative_to(root).as_posix() for p in root.rglob("templates/**/*")
             if p.is_file()]
    assert any(f.startswith("digests/templates/") for f in files)
    # fnmatch's * crosses "/"; package-data's does not: compare the folder too
    unshipped = [f for f in files
                 if not any(fnmatch(f, pat) and f.count("/") == pat.count("/")
                            for pat in patterns)]
    assert unshipped == []


# -- the digest written straight to the bytes SMTP sends -----------------------------------


def _split(raw: bytes) -> tuple[bytes, EmailMessage]:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return raw.split(b"\r\n\r\n", 1)[0], parsed


@pytest.mark.parametrize(
    ("digest", "links"),
    [
        (default_digest(), LINKS),
        (make_digest(DigestItem(replace(SPARSE, title="Ünïcode — ½ a title that is long enough "
                                        "to be folded in the Subject header line"), "w", "match"),
                     email="o'brien+tag@example.org"), LINKS),
        (make_digest(DigestItem(replace(SPARSE, title="Foo\r\nBcc: evil@example.com"), "w\x00y",
                                "match"), email="a..b@example.org"), LINKS),
        (make_digest(note="Nothing new for you today = nothing trending.  ", frequency="weekly",
                     email="x" * 70 + "@example.org"), replace(LINKS, web="https://ex.org/")),
        (default_digest(), replace(LINKS, unsubscribe="http://papers.example.org/u?t=1")),
    ],
)
def test_the_encoded_digest_is_the_rendered_mail(digest: Digest, links: Links) -> None:
    """:func:`encode_digest` writes what flattening :func:`render_digest`'s message writes:
    the header lines byte for byte (folded and encoded where the policy folds them), the
    same two parts with the same headers, each decoding to the same text."""
    rendered = render_digest(digest, from_addr=FROM, links=links, now=NOW)
    boundary = "===============0123456789012345678=="
    rendered.set_boundary(boundary)
    made = digest_bodies(digest, links)
    encoded = encode_digest(digest, from_addr=FROM, links=links, now=NOW, bodies=made,
                            boundary=boundary)
    assert encoded is not None
    head, parsed = _split(encoded)
    want_head, want = _split(rendered.as_bytes())
    assert head == want_head
    assert bodies(parsed) == bodies(want)
    for got_part, want_part in zip(parsed.walk(), want.walk(), strict=True):
        assert list(got_part.items()) == list(want_part.items())
    body = encoded.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 78  # the head is as rendered
    assert b"\n" not in encoded.replace(b"\r\n", b"")


def test_the_encoded_digest_refuses_what_rendering_refuses() -> None:
    for bad in (replace(LINKS, unsubscribe="javascript:alert(1)"),
                replace(LINKS, paper_links={"x": "https://a.org/b c"})):
        with pytest.raises(ValueError):
            encode_digest(default_digest(), from_addr=FROM, links=bad, now=NOW, bodies=("", ""))
    with pytest.raises(ValueError):
        encode_digest(make_digest(email="a@b.org\r\nBcc: e@x.org"), from_addr=FROM, links=LINKS,
                      now=NOW, bodies=("", ""))
    assert encode_digest(make_digest(email="zoë@example.org"), from_addr=FROM, links=LINKS,
                         now=NOW, bodies=("", "")) is None  # SMTPUTF8: the EmailMessage's way
