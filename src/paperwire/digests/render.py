"""Render digest, confirmation and sign-in emails. Pure: no I/O, no clock, no network.

Every message is multipart/alternative (text/plain first, then text/html), UTF-8, both parts
quoted-printable so no physical line comes near the 998-octet limit. Paper titles, authors,
abstracts and reasons are untrusted text: they are collapsed to one line with control
characters removed before they go anywhere near a header, and HTML-escaped in the HTML part.
LaTeX is kept raw. The bodies are Jinja templates under ``digests/templates/`` (``digest.txt``,
``digest.html``, ``confirm.txt``, ``confirm.html``, ``signin.txt``, ``signin.html``), filled by
:func:`render`: autoescaped for HTML, as written for text; headers are set here, never from a
template. The HTML uses inline styles only: no style block, images, scripts or external
resources, and it reads fine when a client strips the styles.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import random
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

import jinja2
import markupsafe

from paperwire import texts
from paperwire.metadata import TLDR_LABELS, Extras
from paperwire.models import Paper, one_line, quote_id, shorten
from paperwire.records import Digest, DigestItem

FALLBACK_HOST = "paperwire.localhost"
SUBJECT_TITLE_CHARS = 70
EXCERPT_CHARS = 300
MAX_AUTHORS = 3

# SMTP line endings. Headers set with ``set_raw`` (List-Unsubscribe) are written as given:
# the default refolding turns a long URL without spaces into RFC 2047 encoded words, which
# no client would recognise as a URL.
POLICY = policy.SMTP.clone(refold_source="none")

SECTIONS = (("match", "Matching your interests"), ("trending", "Trending"))
OTHER_SECTION = "More papers"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
# A single addr-spec: no display name, no list, no whitespace, no quoting or comments.
_ADDRESS = re.compile(r"[^\s@<>(),;:\"\[\]\\]+@[^\s@<>(),;:\"\[\]\\]+")
_URL_FORBIDDEN = re.compile(r"[\s<>\"'`\\]|[^\x21-\x7e]")
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")



@dataclass(frozen=True)
class Links:
    """The absolute URLs a digest links to."""

    paper_base: str  # the paper page is paper_base + paper id, unless ``paper_links`` has it
    unsubscribe: str  # https URL with a signed token: List-Unsubscribe and the visible link
    preferences: str
    web: str  # the site's home page
    paper_links: Mapping[str, str] = field(default_factory=dict)  # per paper id (signed)
    # per paper id: the page of its 👍 / 👎 / save buttons (signed; ``&a=`` picks one)
    feedback: Mapping[str, str] = field(default_factory=dict)


# --- templates ----------------------------------------------------------------------------


# The filters are pure and a day's digests show the same few hundred papers again and again:
# each title, excerpt and TL;DR is converted and wrapped once per process (bounded caches).
@functools.lru_cache(maxsize=8192)
def _wrapped(text: str, width: int = 76, indent: str = "") -> str:
    """Plain text wrapped at ``width`` (words never broken), each line led by ``indent``."""
    return "\n".join(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent,
                                    break_long_words=False, break_on_hyphens=False))


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("paperwire.digests", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_TEMPLATES.filters["wrapped"] = _wrapped
# titles and excerpts keep their TeX until shown: simple math as Unicode, the rest as MathML
# in the HTML part; readable plain text in the text part


@functools.lru_cache(maxsize=8192)
def _tex_mail(text: str) -> markupsafe.Markup:
    return texts.to_html(text, mail=True)


_TEMPLATES.filters["tex_mail"] = _tex_mail
_TEMPLATES.filters["tex_plain"] = functools.lru_cache(maxsize=8192)(texts.to_plain)


def render(name: str, **context: object) -> str:
    """The mail body template ``name`` (under ``digests/templates/``) filled with ``context``:
    ``.html`` templates autoescape every value, ``.txt`` ones take it as it is (every value
    is already one clean line; headers are never built from a template)."""
    return _TEMPLATES.get_template(name).render(**context)


# --- text helpers -------------------------------------------------------------------------


def excerpt(abstract: str, limit: int = EXCERPT_CHARS) -> str:
    """A short excerpt of an abstract: see :func:`shorten`."""
    return shorten(abstract, limit)


def format_authors(authors: Iterable[str], limit: int = MAX_AUTHORS) -> str:
    names = [n for n in (one_line(a) for a in authors) if n]
    if len(names) > limit:
        return ", ".join(names[:limit]) + " et al."
    return ", ".join(names)


def format_day(day: date) -> str:
    """``27 Nov 2026``, whatever the locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _format_period(period: tuple[date, date]) -> str:
    start, end = period
    if start == end:
        return format_day(end)
    return f"{format_day(start)} – {format_day(end)}"


def _format_duration(span: timedelta) -> str:
    if span < timedelta(hours=1):  # a sign-in link: minutes
        minutes = max(int(span.total_seconds() // 60), 1)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = int(span.total_seconds() // 3600)
    if hours >= 24 and hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    hours = max(hours, 1)
    return f"{hours} hour{'s' if hours != 1 else ''}"


# --- header helpers -----------------------------------------------------------------------


def mail_host(base_url: str) -> str:
    """The host part of Message-IDs and List-Id: base_url's host, IDNA-encoded, else a fallback."""
    try:
        host = urlsplit(base_url).hostname
    except ValueError:
        return FALLBACK_HOST
    if not host:
        return FALLBACK_HOST
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return FALLBACK_HOST
    return host if _HOST.fullmatch(host) else FALLBACK_HOST


def digest_message_id(subscriber_id: int, day: date, base_url: str) -> str:
    """A deterministic Message-ID for one subscriber's digest of one day, so a resend of
    the same digest carries the same id. The subscriber id is hashed, not shown."""
    host = mail_host(base_url)
    token = hashlib.sha256(f"paperwire-digest:{subscriber_id}:{day.isoformat()}:{host}".encode())
    return f"<digest-{day:%Y%m%d}-{token.hexdigest()[:24]}@{host}>"


def _check_url(url: str, what: str) -> str:
    scheme = urlsplit(url).scheme.lower() if url else ""
    if scheme not in ("http", "https") or _URL_FORBIDDEN.search(url) or len(url) > 900:
        raise ValueError(f"{what} must be an absolute http(s) URL without spaces: {url!r}")
    return url


def _check_address(address: str) -> str:
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"not a single plain email address: {address!r}")
    return address


def _check_header(value: str, what: str) -> str:
    if _LINE_BREAKING.search(value) or not value.strip():
        raise ValueError(f"{what} must be a non-empty single line: {value!r}")
    return value.strip()


def _as_utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


def _new_message(
    *, from_addr: str, to: str, subject: str, now: datetime, message_id: str
) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _check_header(from_addr, "from_addr")
    msg["To"] = _check_address(to)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(_as_utc(now))
    msg["Message-ID"] = _check_header(message_id, "message_id")
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def _attach_bodies(msg: EmailMessage, text: str, html: str) -> None:
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")


# --- digest -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One paper as shown: every field already cleaned, nothing escaped yet."""

    title: str
    url: str
    authors: str
    categories: str
    first_version: str
    why: str
    excerpt: str
    arxiv_url: str | None
    number: int = 0  # its place in the whole digest, from 1
    feedback: str = ""  # the page of its 👍 / 👎 / save buttons ("" when none)
    tldr: str = ""  # one line: Hugging Face's AI summary, or a sentence of the abstract
    tldr_label: str = ""  # where the TL;DR comes from
    code_url: str | None = None  # the code repository (a link; images are never loaded)

    @property
    def meta(self) -> str:
        parts = [self.authors, self.categories]
        if self.first_version:
            parts.append(f"first version {self.first_version}")
        return " · ".join(p for p in parts if p)




def _entry(item: DigestItem, links: Links, extras: Extras | None = None) -> _Entry:
    paper: Paper = item.paper
    tldr = one_line(extras.tldr or "") if extras else ""
    cats = paper.categories or ((paper.primary_category,) if paper.primary_category else ())
    return _Entry(
        title=one_line(paper.title) or paper.id,
        url=links.paper_links.get(paper.id) or links.paper_base + quote_id(paper.id),
        authors=format_authors(paper.authors),
        categories=", ".join(c for c in (one_line(c) for c in cats) if c),
        first_version=format_day(paper.published) if paper.published else "",
        why=one_line(item.why),
        excerpt=excerpt(paper.abstract),
        arxiv_url=paper.abs_url,
        feedback=links.feedback.get(paper.id, ""),
        tldr=tldr,
        tldr_label=TLDR_LABELS.get(extras.tldr_from or "", "TL;DR") if extras and tldr else "",
        code_url=_safe_link(extras.code_url) if extras else None,
    )


def _safe_link(url: str | None) -> str | None:
    """``url`` when a mail may link to it (see :func:`_check_url`), else None."""
    if not url:
        return None
    try:
        _check_url(url, "code_url")
    except ValueError:
        return None
    return url


def _sections(digest: Digest, links: Links,
              extras: Mapping[str, Extras]) -> list[tuple[str, list[_Entry]]]:
    """Items grouped by kind (matches, then trending, then anything else), each group in
    digest order; empty groups left out."""
    known = dict(SECTIONS)
    groups: dict[str, list[_Entry]] = {heading: [] for _, heading in SECTIONS}
    groups[OTHER_SECTION] = []
    for item in digest.items:
        entry = _entry(item, links, extras.get(item.paper.id))
        groups[known.get(item.kind, OTHER_SECTION)].append(entry)
    sections = [(heading, entries) for heading, entries in groups.items() if entries]
    number = 0
    for _, entries in sections:
        for i, entry in enumerate(entries):
            number += 1
            entries[i] = replace(entry, number=number)
    return sections


def _empty_line(digest: Digest) -> str:
    weekly = digest.subscriber.frequency == "weekly"
    return "nothing new this week" if weekly else "nothing new today"


def _digest_subject(digest: Digest) -> str:
    head = f"Paperwire · {format_day(digest.day)} · "
    if not digest.items:
        return head + _empty_line(digest)
    top = digest.items[0].paper
    return head + (shorten(texts.to_plain(top.title), SUBJECT_TITLE_CHARS) or top.id)


def _footer_reason(digest: Digest) -> str:
    frequency = "weekly" if digest.subscriber.frequency == "weekly" else "daily"
    return f"You get this mail because you subscribed to a {frequency} Paperwire digest at"


def _digest_bodies(digest: Digest, links: Links,
                   extras: Mapping[str, Extras]) -> tuple[str, str]:
    """The text and the HTML of the digest (templates ``digest.txt`` and ``digest.html``)."""
    sections = _sections(digest, links, extras)
    notice = one_line(digest.note or "")
    if not notice and not sections:
        notice = _empty_line(digest).capitalize() + "."
    context = {"day": format_day(digest.day), "period": _format_period(digest.period),
               "notice": notice, "sections": sections, "links": links,
               "reason": _footer_reason(digest)}
    return render("digest.txt", **context), render("digest.html", **context)


def _slot(name: str) -> str:
    return f"https://slot.invalid/{name}x"


def slotted_links(links: Links) -> tuple[Links, dict[str, str]]:
    """``links`` with every subscriber's own URL (its signed unsubscribe, preferences,
    click and feedback links) replaced by a placeholder URL, and each placeholder's real
    URL. Bodies rendered with the placeholders are the same for every subscriber who gets
    the same papers: :func:`fill_slots` then puts one subscriber's links in."""
    real: dict[str, str] = {_slot("u"): links.unsubscribe, _slot("p"): links.preferences}
    papers = {}
    for i, (pid, url) in enumerate(links.paper_links.items()):
        papers[pid] = _slot(f"c{i}")
        real[papers[pid]] = url
    feedback = {}
    for i, (pid, url) in enumerate(links.feedback.items()):
        feedback[pid] = _slot(f"f{i}")
        real[feedback[pid]] = url
    shape = replace(links, unsubscribe=_slot("u"), preferences=_slot("p"), paper_links=papers,
                    feedback=feedback)
    return shape, real


_SLOT = re.compile(r"https://slot\.invalid/[a-wyz0-9]+x")  # the names hold no x


def fill_slots(bodies: tuple[str, str], real: Mapping[str, str]) -> tuple[str, str]:
    """The text and HTML bodies with each placeholder of :func:`slotted_links` replaced by
    its real URL (HTML-escaped in the HTML, as the template escapes it): one pass over
    each body."""
    text, html = bodies
    escaped = {slot: str(markupsafe.escape(url)) for slot, url in real.items()}
    return (_SLOT.sub(lambda m: real.get(m.group(0), m.group(0)), text),
            _SLOT.sub(lambda m: escaped.get(m.group(0), m.group(0)), html))


def digest_bodies(digest: Digest, links: Links,
                  extras: Mapping[str, Extras] | None = None) -> tuple[str, str]:
    """The text and the HTML of the digest mail (see :func:`render_digest`)."""
    return _digest_bodies(digest, links, extras or {})


def render_digest(digest: Digest, *, from_addr: str, links: Links, now: datetime,
                  extras: Mapping[str, Extras] | None = None,
                  bodies: tuple[str, str] | None = None) -> EmailMessage:
    """The digest mail for ``digest.subscriber``, dated ``now`` (naive means UTC). ``extras``
    (per paper id) add each paper's TL;DR line and code link. ``bodies``, when given, are
    :func:`digest_bodies` of this digest made earlier (the mail of a subscriber who gets the
    same papers as another, with this subscriber's links filled in)."""
    for what in ("paper_base", "unsubscribe", "preferences", "web"):
        _check_url(getattr(links, what), f"links.{what}")
    for paper_id, url in links.paper_links.items():
        _check_url(url, f"links.paper_links[{paper_id!r}]")
    host = mail_host(links.web)
    msg = _new_message(
        from_addr=from_addr,
        to=digest.subscriber.email,
        subject=_digest_subject(digest),
        now=now,
        message_id=digest_message_id(digest.subscriber.id, digest.day, links.web),
    )
    msg["List-Id"] = f"Paperwire digest <digest.{host}>"
    msg.set_raw("List-Unsubscribe", f"<{links.unsubscribe}>")
    if urlsplit(links.unsubscribe).scheme.lower() == "https":  # RFC 8058 wants HTTPS
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Precedence"] = "bulk"
    _attach_bodies(msg, *(bodies or _digest_bodies(digest, links, extras or {})))
    return msg


# --- the digest mail as SMTP sends it -----------------------------------------------------

_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[a-z0-9-]+(?:\.[a-z0-9-]+)*")
_PLAIN_MESSAGE_ID = re.compile(r"<[A-Za-z0-9_-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*>")
_BOUNDARY_DIGITS = random.SystemRandom()


@functools.lru_cache(maxsize=4096)
def _folded(name: str, value: str) -> bytes:
    """The header line (folded, CRLF) as :data:`POLICY` writes ``msg[name] = value``; kept
    per value (the From, Subject, Date and List-Id lines repeat over a run)."""
    line: str = POLICY.header_factory(name, value).fold(policy=POLICY)
    return line.encode("ascii")


def _header(name: str, value: str, plain: re.Pattern[str]) -> bytes:
    """A subscriber's own header line: written as it is when ``plain`` (a form the policy
    writes unchanged) and short, else folded by the policy."""
    if len(name) + 2 + len(value) <= 78 and plain.fullmatch(value):
        return f"{name}: {value}\r\n".encode("ascii")
    return _folded(name, value)


def _qp(body: str) -> bytes:
    """``body`` as :meth:`EmailMessage.set_content` takes it (UTF-8, each line ended by one
    newline), quoted-printable with CRLF line ends: the same text once decoded, though
    the soft line breaks may fall elsewhere (binascii's encoder, not email's)."""
    lines = body.encode("utf-8").splitlines()
    return binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True).replace(b"\n", b"\r\n")


def encode_digest(digest: Digest, *, from_addr: str, links: Links, now: datetime,
                  bodies: tuple[str, str], boundary: str | None = None) -> bytes | None:
    """The mail of :func:`render_digest` (with its ``bodies``) as the SMTP mailer sends it:
    the same header lines byte for byte (the boundary aside) and the same parts, each
    decoding to the same text, written directly. Flattening an :class:`EmailMessage`
    (parsing each header, then folding it again) costs more than making the digest.
    None when the addresses are not ASCII (SMTPUTF8): :func:`render_digest` then."""
    for what in ("paper_base", "unsubscribe", "preferences", "web"):
        _check_url(getattr(links, what), f"links.{what}")
    for paper_id, url in links.paper_links.items():
        _check_url(url, f"links.paper_links[{paper_id!r}]")
    to = _check_address(digest.subscriber.email)
    sender = _check_header(from_addr, "from_addr")
    if not (to.isascii() and sender.isascii()):
        return None
    host = mail_host(links.web)
    message_id = digest_message_id(digest.subscriber.id, digest.day, links.web)
    boundary = boundary or f"==============={_BOUNDARY_DIGITS.randrange(10 ** 19):019d}=="
    head = [
        _folded("From", sender),
        _header("To", to, _PLAIN_ADDRESS),
        _folded("Subject", one_line(_digest_subject(digest))),
        _folded("Date", format_datetime(_as_utc(now))),
        _header("Message-ID", _check_header(message_id, "message_id"), _PLAIN_MESSAGE_ID),
        _folded("Auto-Submitted", "auto-generated"),
        _folded("List-Id", f"Paperwire digest <digest.{host}>"),
        f"List-Unsubscribe: <{links.unsubscribe}>\r\n".encode("ascii"),
    ]
    if urlsplit(links.unsubscribe).scheme.lower() == "https":
        head.append(_folded("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    head.append(_folded("Precedence", "bulk"))
    head.append(f"MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n"
                f" boundary=\"{boundary}\"\r\n\r\n".encode("ascii"))
    text, html = bodies
    dash = f"--{boundary}\r\n".encode("ascii")
    part = b"Content-Type: text/%s; charset=\"utf-8\"\r\n" \
           b"Content-Transfer-Encoding: quoted-printable\r\n"
    return b"".join([
        *head,
        dash, part % b"plain", b"\r\n", _qp(text), b"\r\n",
        dash, part % b"html", b"MIME-Version: 1.0\r\n\r\n", _qp(html),
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ])


# --- confirmation -------------------------------------------------------------------------


def render_confirmation(
    email: str,
    *,
    confirm_url: str,
    from_addr: str,
    base_url: str,
    now: datetime,
    message_id: str,
    valid_for: timedelta | None = None,
) -> EmailMessage:
    """The double-opt-in mail asking ``email`` to confirm a digest subscription. The link
    works once; ``valid_for`` (when given) says for how long."""
    _check_url(confirm_url, "confirm_url")
    msg = _new_message(
        from_addr=from_addr,
        to=email,
        subject="Confirm your Paperwire digest subscription",
        now=now,
        message_id=message_id,
    )
    context = {"site": one_line(base_url), "email": email, "confirm_url": confirm_url,
               "valid_for": _format_duration(valid_for) if valid_for is not None else None}
    _attach_bodies(msg, render("confirm.txt", **context), render("confirm.html", **context))
    return msg


# --- sign in ------------------------------------------------------------------------------


def render_signin(
    email: str,
    *,
    signin_url: str,
    from_addr: str,
    base_url: str,
    now: datetime,
    message_id: str,
    valid_for: timedelta | None = None,
) -> EmailMessage:
    """The mail carrying a magic sign-in link for the account ``email``. The link works
    once; ``valid_for`` (when given) says for how long."""
    _check_url(signin_url, "signin_url")
    msg = _new_message(
        from_addr=from_addr,
        to=email,
        subject="Your Paperwire sign-in link",
        now=now,
        message_id=message_id,
    )
    context = {"site": one_line(base_url), "email": email, "signin_url": signin_url,
               "valid_for": _format_duration(valid_for) if valid_for is not None else None}
    _attach_bodies(msg, render("signin.txt", **context), render("signin.html", **context))
    return msg
