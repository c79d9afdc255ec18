"""The digest's use cases that touch the store and the search engine: gather a subscriber's
digest for a day (then :func:`compose` decides), rebuild a stored one, and make its mail."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from paperwire.config import Settings
from paperwire.digests import tokens
from paperwire.digests.compose import Match, compose, digest_period, quoted
from paperwire.digests.mailer import Flattened
from paperwire.digests.render import (
    Links,
    digest_bodies,
    digest_message_id,
    encode_digest,
    fill_slots,
    render_digest,
    slotted_links,
)
from paperwire.errors import QueryError, TokenError
from paperwire.listings import extras_for, trending_view
from paperwire.metadata import Extras
from paperwire.models import Paper, parse_arxiv_id, quote_id, shorten
from paperwire.recommend import service as recommend
from paperwire.records import Account, Digest, DigestItem, Subscriber
from paperwire.store import Store
from paperwire.trending import TrendingView

if TYPE_CHECKING:
    from paperwire.search.engine import Hit, SearchEngine

log = logging.getLogger(__name__)
LEARNED_CANDIDATES = 2000  # the period's newest papers the reader's model ranks


@dataclass
class DigestContext:
    """What digest code needs from outside: the store, the settings, the signing key, and a
    search engine asked for on first use (a trending-only run never loads the model).

    The application object (:class:`paperwire.app.Paperwire`) makes one per run or request
    with ``searcher``, its own process-wide engine, and its key; built alone (tests,
    benchmarks), the context makes an engine of its own when one is first needed."""

    store: Store
    settings: Settings
    searcher: Callable[[], SearchEngine] | None = field(default=None, repr=False)
    _engine: SearchEngine | None = field(default=None, repr=False)
    _key: bytes | None = field(default=None, repr=False)
    _trending: dict[tuple[date, int], TrendingView] = field(default_factory=dict, repr=False)
    _period_facts: dict[tuple[date, date], tuple[int, date | None]] = field(
        default_factory=dict, repr=False)
    _extras: dict[str, Extras] = field(default_factory=dict, repr=False)
    _searches: dict[tuple[object, ...], list[Hit]] = field(default_factory=dict, repr=False)
    _published: dict[tuple[date, date, str], tuple[int, list[Paper]]] = field(
        default_factory=dict, repr=False)
    # a web request's context: the app's engine, which only follows what the writer published
    _follow_only: bool = field(default=False, repr=False)

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = tokens.secret_key(self.settings.secret_key, self.settings.home)
        return self._key

    def trending(self, as_of: date, limit: int) -> TrendingView:
        """The week's trending list as of ``as_of``, computed once per context (a run)."""
        key = (as_of, limit)
        if key not in self._trending:
            self._trending[key] = trending_view(self.store, "week", requested=as_of,
                                                limit=limit,
                                                weights=self.settings.trending_weights)
        return self._trending[key]

    def period_facts(self, period: tuple[date, date]) -> tuple[int, date | None]:
        """How many papers were first released in ``period``, and the newest first-version
        day up to its end: read once per context (a run), like the trending list."""
        if period not in self._period_facts:
            self._period_facts[period] = (self.store.count_published_between(*period),
                                          self.store.latest_published_day(period[1]))
        return self._period_facts[period]

    def extras(self, papers: Iterable[Paper]) -> dict[str, Extras]:
        """:func:`extras_for` the papers, each read once per context (a run)."""
        papers = list(papers)
        missing = [p for p in papers if p.id not in self._extras]
        if missing:
            self._extras.update(extras_for(self.store, missing))
        return {p.id: self._extras[p.id] for p in papers}

    def interest_hits(self, query: str, period: tuple[date, date],
                      categories: tuple[str, ...], limit: int) -> list[Hit]:
        """The engine's hybrid search for ``query`` over the papers first released in
        ``period`` (in ``categories``, when any), its best ``limit``: searched once per run
        for every subscriber with that interest. A search ranks the same candidates
        (``params.depth`` from each retriever, or ``limit`` when more) whatever its limit
        up to that depth, so the hits for a smaller limit are the first of a larger one's:
        one search at the depth serves every limit up to it; searched again when the engine's
        settings or indexes change (:meth:`SearchEngine.state`). A QueryError is raised each
        time it is asked."""
        from paperwire.search.query import MAX_LIMIT, SearchOptions

        engine = self.engine()
        full = max(limit, engine.params.depth)  # the candidates a search of ``limit`` ranks
        key = (query, period, tuple(categories), full, engine.state())
        hits = self._searches.get(key)
        if hits is None:
            opts = SearchOptions(after=period[0], before=period[1],
                                 limit=min(full, MAX_LIMIT), categories=categories)
            hits = engine.search(query, "hybrid", opts)
            self._searches[key] = hits
        return hits[:limit]

    def published(self, period: tuple[date, date], category: str, limit: int) -> list[Paper]:
        """:meth:`Store.published_between` of ``category`` (its newest ``limit``), read once
        per run: a smaller limit is the first papers of a larger one's list."""
        key = (period[0], period[1], category)
        got = self._published.get(key)
        if got is None or got[0] < limit:
            got = (limit, self.store.published_between(period[0], period[1], category, limit))
            self._published[key] = got
        return got[1][:limit]

    def engine(self) -> SearchEngine:
        """The engine, brought up to date: a request's context only follows what the index
        writer published; a run of its own (CLI, scheduler) is the writer for one pass when
        no other process is (never waiting for it), else follows too."""
        if self.searcher is not None:
            return self.searcher()
        if self._engine is None:
            from paperwire.search.engine import SearchEngine

            self._engine = SearchEngine(self.store, self.settings)
            if not self._follow_only:
                self._engine.sync(embed=False, wait=0)
        if self._follow_only:
            self._engine.refresh()
        return self._engine

    def url(self, path: str, **params: str) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.settings.base_url}{path}{query}"

    def links(self, sub: Subscriber, now: datetime | None = None,
              digest: Digest | None = None) -> Links:
        """The links of ``sub``'s mails; with ``digest``, a signed click link per paper (the
        one kind of /go/ visit that counts as a digest click). Unsubscribe and preferences
        links expire and are bound to the subscription's epoch (see tokens)."""
        made = now or datetime.now(UTC).replace(tzinfo=None)
        papers = {} if digest is None else {
            it.paper.id: self.url(f"/go/{quote_id(it.paper.id)}",
                                  t=click_token(self.key, sub.id, digest.day, it.paper.id))
            for it in digest.items}
        feedback = {} if digest is None else {
            it.paper.id: self.url("/d/feedback", id=it.paper.id, t=paper_token(
                self.key, "feedback", sub.id, digest.day, it.paper.id))
            for it in digest.items}
        return Links(
            paper_base=self.url("/papers/"),
            unsubscribe=self.url("/unsubscribe", token=tokens.link_token(
                self.key, "unsubscribe", sub.id, sub.epoch, made)),
            preferences=self.url("/preferences", token=tokens.link_token(
                self.key, "preferences", sub.id, sub.epoch, made)),
            web=self.url("/"),
            paper_links=papers,
            feedback=feedback,
        )

    def confirm_url(self, sub: Subscriber, nonce: str, now: datetime) -> str:
        token = tokens.make_token(self.key, "confirm", sub.id, nonce=nonce,
                                  expires=now + tokens.CONFIRM_VALID_FOR)
        return self.url("/subscribe/confirm", token=token)


def click_token(key: bytes, subscriber_id: int, day: date, paper_id: str) -> str:
    """The signed token of one paper's link in one subscriber's digest of ``day``."""
    return paper_token(key, "click", subscriber_id, day, paper_id)


def paper_token(key: bytes, purpose: str, subscriber_id: int, day: date, paper_id: str) -> str:
    """A token for one paper of one subscriber's digest of ``day``: its click link
    (``click``) or its 👍 / 👎 / save link (``feedback``)."""
    return tokens.make_token(key, purpose, subscriber_id, nonce=_paper_nonce(day, paper_id))


def _paper_nonce(day: date, paper_id: str) -> str:
    """The digest day and a digest of the paper id, in the token's plain nonce alphabet."""
    return f"{day:%Y%m%d}p{hashlib.sha256(paper_id.encode()).hexdigest()[:32]}"


def read_paper_token(key: bytes, purpose: str, token: str, paper_id: str,
                     now: datetime) -> tuple[int, date] | None:
    """(subscriber id, digest date) when ``token`` is a genuine ``purpose`` token for
    ``paper_id``; None for a missing, damaged, forged or other paper's token."""
    if not token:
        return None
    try:
        claims = tokens.read_token(key, purpose, token, now)
        day = datetime.strptime(claims.nonce[:8], "%Y%m%d").date()
        if claims.nonce != _paper_nonce(day, paper_id):
            return None
        return claims.subscriber_id, day
    except (TokenError, ValueError):
        return None


def read_click(key: bytes, token: str, paper_id: str, now: datetime) -> tuple[int, date] | None:
    """(subscriber id, digest date) when ``token`` is a genuine click token for
    ``paper_id``; None otherwise."""
    return read_paper_token(key, "click", token, paper_id, now)


def example_ids(ctx: DigestContext, given: Sequence[str]) -> tuple[dict[str, Paper], list[str]]:
    """The stored papers a subscriber's example ids name (as typed: ``2606.01234v2``,
    ``arXiv:…``, an abs or pdf URL), and the ones not stored here."""
    if not given:
        return {}, []
    wanted: dict[str, str] = {}
    for raw in given:
        parsed = parse_arxiv_id(raw)
        wanted[parsed[0] if parsed else raw.strip()] = raw
    found = ctx.store.get_papers(wanted)
    return found, [raw for pid, raw in wanted.items() if pid not in found]


def _matches(ctx: DigestContext, sub: Subscriber,
             period: tuple[date, date]) -> tuple[list[Match], list[str]]:
    """The period's new papers matching ``sub``'s interests, and a sentence for each
    interest that could not be used."""
    from paperwire.search.fusion import RRF_K  # the interests' rankings are fused by RRF
    from paperwire.search.query import SearchOptions, literal_query

    start, end = period
    best: dict[str, Match] = {}
    problems: list[str] = []

    def offer(rank: int, paper: Paper, why: str, weight: float = 1.0) -> None:
        """Keep each paper's best-ranked interest (and say which it was)."""
        score = weight / (RRF_K + rank)
        old = best.get(paper.id)
        if old is None or score > old.score:
            best[paper.id] = Match(paper, score, why)

    depth = max(10, sub.size * 3)
    for q in sub.queries:
        try:
            hits = ctx.interest_hits(q, period, sub.categories, min(depth, 100))
        except QueryError as exc:
            log.warning("subscriber %s: interest %r skipped: %s", sub.id, q, exc)
            problems.append(f"Your interest {quoted(q)} was skipped: {exc}.")
            continue
        for i, h in enumerate(hits, 1):
            offer(i, h.paper, f"Matches your interest {quoted(q)}")
    examples, missing = example_ids(ctx, sub.papers)
    if missing:
        names = ", ".join(shorten(m, 40) for m in missing[:3])
        problems.append(f"Example paper{'s' if len(missing) > 1 else ''} {names} "
                        f"{'are' if len(missing) > 1 else 'is'} not stored here, so "
                        "nothing is matched to it yet.")
    for example in examples.values():
        # "like this paper": the nearest papers to its title, below the relevance floor too
        # (no paper holds every word of another's title); they are never said to match
        limit = min(depth, 100)
        opts = SearchOptions(after=start, before=end, limit=limit)
        hits, _ = ctx.engine().search_page(literal_query(example.title), "hybrid", opts,
                                           related=limit)
        for i, h in enumerate(hits[:limit], 1):
            if h.paper.id not in examples:
                offer(i, h.paper, f"Like {quoted(example.title)}", 0.9)
    if not sub.queries:  # categories alone: the category's new papers, trending ones first
        for cat in sub.categories:
            for i, p in enumerate(ctx.published(period, cat, depth), 1):
                offer(i, p, f"New in {cat}", 0.5)
    return list(best.values()), problems


def _learned(ctx: DigestContext, sub: Subscriber, period: tuple[date, date],
             already: Collection[str], known: Known | None = None) -> list[Match]:
    """The period's new papers that the model of the subscriber's account (the same
    address, active) ranks above its relevance floor, best first: "Recommended because you
    saved …". None without such an account or before it liked enough papers."""
    from paperwire.search.fusion import RRF_K  # on the interests' scale, to be fused

    account = known.account if known is not None else ctx.store.accounts.by_email(sub.email)
    if account is None or not account.active or not recommend.reader(
            ctx.store, account.id).enough:
        return []
    new = [p.id for p in ctx.store.published_between(*period, limit=LEARNED_CANDIDATES)]
    if not new:
        return []
    found = recommend.for_reader(ctx.store, ctx.engine(), account.id, candidates=new,
                                 exclude=already, limit=max(10, sub.size * 2))
    return [Match(s.paper, 1.0 / (RRF_K + i), f"Recommended {why}")
            for i, (s, why) in enumerate(found, 1)]


@dataclass(frozen=True)
class Known:
    """What :func:`gather` reads about one subscriber's history for one digest date, read
    for a batch of subscribers at once (:func:`known_for`)."""

    last_period_end: date | None  # the end of the period of their last digest sent before
    already: set[str]  # every paper any of their other digests holds
    account: Account | None  # the account with their address, if any


def known_for(ctx: DigestContext, wanted: Iterable[tuple[Subscriber, date]]
              ) -> dict[tuple[int, date], Known]:
    """:class:`Known` for each (subscriber, digest date), by (subscriber id, date): three
    queries for the lot (the ledger's periods, the papers sent, the accounts) instead of
    three per subscriber. The same as :func:`gather` reads alone, as long as none of these
    subscribers' digests is saved in between."""
    wanted = list(wanted)
    history = ctx.store.digests.histories((sub.id, day) for sub, day in wanted)
    accounts = ctx.store.accounts.by_emails(
        {sub.email for sub, _ in wanted if sub.mode == "personal"})
    return {(sub.id, day): Known(*history[(sub.id, day)], accounts.get(sub.email))
            for sub, day in wanted}


def gather(ctx: DigestContext, sub: Subscriber, day: date, known: Known | None = None
           ) -> Digest:
    """Compose ``sub``'s digest for ``day`` from what the store holds now; ``known``: its
    history read beforehand with others' (:func:`known_for`), else read here."""
    last_end = (known.last_period_end if known is not None
                else ctx.store.digests.last_period_end(sub.id, before=day))
    period = digest_period(sub, day, last_end)
    view = ctx.trending(period[1], limit=max(100, sub.size * 5))
    personal = sub.mode == "personal" and sub.has_interests
    matches, problems = _matches(ctx, sub, period) if personal else ([], [])
    # every paper any other digest holds, earlier or later: a backfill of an earlier day
    # after a later one must not repeat what the later one sent
    already = (known.already if known is not None
               else ctx.store.digests.sent_paper_ids(sub.id, other_than=day))
    if sub.mode == "personal":
        matches = [*matches, *_learned(ctx, sub, period, already, known)]
    new, last_paper_day = ctx.period_facts(period)
    return compose(sub, day, period, view.entries, matches, already, new,
                   last_paper_day=last_paper_day,
                   trending_as_of=view.as_of, problems=problems)


def stored_digest(ctx: DigestContext, sub: Subscriber, day: date, period: tuple[date, date],
                  items: list[dict[str, str]], note: str | None) -> Digest:
    """A digest rebuilt from the ledger (a resend carries the very same papers)."""
    papers = ctx.store.get_papers(it["id"] for it in items)
    kept = tuple(DigestItem(papers[it["id"]], it["why"], it["kind"])
                 for it in items if it["id"] in papers)
    return Digest(sub, day, period, kept, note)


def items_of(digest: Digest) -> list[dict[str, str]]:
    return [{"id": it.paper.id, "why": it.why, "kind": it.kind} for it in digest.items]


def link_day(day: date, now: datetime) -> date:
    """The day a digest's links count their lifetime from: the digest's own day, so a resend
    is the very same mail, unless that is long past (a backfill of an old date): then today,
    so its links are not born expired."""
    today = now.date()
    return day if day >= today - timedelta(days=7) else today


ContentKey = tuple[object, ...]


def content_key(digest: Digest) -> ContentKey:
    """What a digest's bodies depend on apart from its subscriber's own links: two digests
    with the same key have the same text and HTML once those links are filled in."""
    return (digest.day, digest.period, digest.note, digest.subscriber.frequency,
            tuple((it.paper.id, it.why, it.kind) for it in digest.items))


class SharedBodies:
    """The bodies of the digests a run has rendered, by :func:`content_key`, with every
    subscriber's own links left as placeholders: a digest with the same papers as one
    before it (every trending-only subscriber of the same size, say) is rendered once, and
    each mail only gets its own links filled in. Holds at most ``limit`` contents."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._bodies: dict[ContentKey, tuple[str, str]] = {}
        self.rendered = 0  # template renders (misses)

    def bodies(self, ctx: DigestContext, digest: Digest, links: Links) -> tuple[str, str]:
        shape, real = slotted_links(links)
        key = content_key(digest)
        template = self._bodies.get(key)
        if template is None:
            template = digest_bodies(digest, shape, ctx.extras(it.paper for it in digest.items))
            self.rendered += 1
            if len(self._bodies) >= self.limit:
                self._bodies.pop(next(iter(self._bodies)))
            self._bodies[key] = template
        return fill_slots(template, real)


def message_for(ctx: DigestContext, digest: Digest, now: datetime,
                shared: SharedBodies | None = None) -> EmailMessage:
    """The digest's mail; with ``shared``, its bodies are rendered once per content."""
    links = _links_of(ctx, digest, now)
    if shared is None:
        return render_digest(digest, from_addr=ctx.settings.mail_from, links=links, now=now,
                             extras=extras_for(ctx.store, (it.paper for it in digest.items)))
    return render_digest(digest, from_addr=ctx.settings.mail_from, links=links, now=now,
                         bodies=shared.bodies(ctx, digest, links))


def mail_for(ctx: DigestContext, digest: Digest, now: datetime, shared: SharedBodies
             ) -> EmailMessage | Flattened:
    """The digest's mail as the runner sends it: :func:`message_for`'s, written straight to
    the bytes SMTP sends (:func:`encode_digest`), its bodies rendered once per content;
    the :class:`EmailMessage` itself for an address that is not ASCII."""
    links = _links_of(ctx, digest, now)
    bodies = shared.bodies(ctx, digest, links)
    sender = ctx.settings.mail_from
    data = encode_digest(digest, from_addr=sender, links=links, now=now, bodies=bodies)
    envelope = _envelope_sender(sender)
    if data is None or envelope is None:
        return render_digest(digest, from_addr=sender, links=links, now=now, bodies=bodies)
    return Flattened(envelope, (digest.subscriber.email,), data)


def _links_of(ctx: DigestContext, digest: Digest, now: datetime) -> Links:
    """The digest's signed links, made on its link day (see :func:`link_day`)."""
    made = datetime.combine(link_day(digest.day, now), datetime.min.time())
    return ctx.links(digest.subscriber, made, digest)


@functools.lru_cache(maxsize=16)
def _envelope_sender(from_header: str) -> str | None:
    """The address of a From header (the envelope sender the mailer takes from it)."""
    found = [addr for _, addr in getaddresses([from_header]) if addr]
    return found[0] if found else None


def message_id_for(ctx: DigestContext, sub: Subscriber, day: date) -> str:
    return digest_message_id(sub.id, day, ctx.settings.base_url)
