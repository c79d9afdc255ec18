"""The application object: one :class:`Paperwire` per process, built from the settings.

It owns what every use case shares — the store, one search engine (built on first use and
kept: the model loads once per process, for every request and every digest), the mailer
factory, the clock and the secret key — and its methods are the use cases. The surfaces
(:mod:`paperwire.cli`, :mod:`paperwire.web`) only turn their input into a call here and the
result into output; the domains below (search, trending, digests, ingest, importers) do the
work and know nothing of the surfaces.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from paperwire import daily, listings
from paperwire.clock import utcnow
from paperwire.config import Settings, load_settings
from paperwire.digests import open_mailer, tokens
from paperwire.digests.mailer import Mailer
from paperwire.digests.render import Links
from paperwire.digests.service import DigestContext
from paperwire.errors import NotFound, TokenError
from paperwire.memo import Memo, bucket
from paperwire.metadata import Extras
from paperwire.models import Paper, Signal, quote_id
from paperwire.paper_ids import ARXIV, DOI, PaperRef, parse_ref
from paperwire.recommend import service as recommend
from paperwire.recommend.service import Suggestion
from paperwire.records import Account, DataVersion, Subscriber
from paperwire.store import Store
from paperwire.trending import TrendingView

if TYPE_CHECKING:
    from paperwire.accounts import AccountContext
    from paperwire.digests.deliver import RunReport
    from paperwire.importers import ImportReport
    from paperwire.ingest import IngestReport
    from paperwire.search import Hit, SearchEngine, SearchOptions
    from paperwire.sources.base import Batch, Source
    from paperwire.worker import Background


class Paperwire:
    """The running application over ``settings``. ``store``: an open store to use (kept
    open on :meth:`close`); without one, the store of the settings is opened and owned.
    ``clock``: now, as naive UTC (tests set the time with it)."""

    def __init__(self, settings: Settings, store: Store | None = None, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self._owns_store = store is None
        self.store = store if store is not None else Store.open(settings.resolved_database_url)
        self.clock = clock
        self.background: Background | None = None
        self.outbox_url: str | None = None  # the running local outbox (``serve``), if any
        self._engine: SearchEngine | None = None
        # whether this process may write the search indexes (an on-demand writer thread, or
        # serve's background writer); False for ``serve --no-indexer``: requests only follow
        self.indexer = True
        self._engine_lock = threading.Lock()
        self._key: bytes | None = None
        # trending views and data days shared by every request of this process, keyed by
        # the data version (so a write shows at once) and the interval of now
        self.shared: Memo[Any] = Memo()

    @classmethod
    def open(cls, settings: Settings | None = None) -> Paperwire:
        """The application over ``settings`` (default: from the environment)."""
        return cls(settings if settings is not None else load_settings())

    def close(self) -> None:
        """Stop the background threads and close the store if it is this object's own."""
        if self.background is not None:
            self.background.stop.set()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Paperwire:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---- what every use case shares ------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    @property
    def key(self) -> bytes:
        """The secret key that signs the links of mails (made once, kept under HOME)."""
        if self._key is None:
            self._key = tokens.secret_key(self.settings.secret_key, self.settings.home)
        return self._key

    @property
    def engine(self) -> SearchEngine:
        """The process's one search engine, built on first use. Unless this process only
        follows (``indexer`` off), the engine has a writer (:mod:`paperwire.search.writer`)
        that brings the indexes up to date in a thread of its own when a request finds the
        store ahead of them; the request itself never writes."""
        with self._engine_lock:
            if self._engine is None:
                from paperwire.search import SearchEngine
                from paperwire.search.writer import writer_of

                self._engine = SearchEngine(self.store, self.settings)
                if self.indexer:
                    writer_of(self._engine)
            return self._engine

    def searcher(self, mode: str = "hybrid") -> SearchEngine:
        """The engine, following what the index writer published (a stat of each index's
        manifest; never a write, a sync or an embedding)."""
        engine = self.engine
        engine.refresh()
        return engine

    def mailer(self) -> AbstractContextManager[Mailer]:
        """Where mail goes: the SMTP server of the settings, or the local outbox."""
        return open_mailer(self.settings, self.outbox_url)

    def url(self, path: str) -> str:
        return self.settings.base_url + path

    # ---- papers, search and trending -----------------------------------------------------

    def paper(self, paper_id: str) -> Paper | None:
        return self.store.get_paper(paper_id)

    def merged_into(self, paper_id: str) -> str | None:
        """The paper ``paper_id`` was merged into (a seed paper's arXiv record), or None."""
        return self.store.alias_of(paper_id) if ":" in paper_id else None

    def paper_for(self, ref: PaperRef) -> Paper | None:
        """The stored paper a reference names (an arXiv id, or a DOI matched against stored
        DOIs); None when none is stored (or the reference is invalid)."""
        if ref.kind == ARXIV:
            return self.store.get_paper(ref.key)
        if ref.kind == DOI:
            return self.store.paper_by_doi(ref.key)
        return None

    def signals(self, paper_id: str) -> list[Signal]:
        return self.store.signals_for(paper_id)

    def extras(self, papers: Iterable[Paper]) -> dict[str, Extras]:
        """Code link, stars, TL;DR, … of each paper (see :func:`listings.extras_for`)."""
        return listings.extras_for(self.store, papers)

    def paper_extras(self, paper: Paper, signals: list[Signal]) -> Extras:
        return listings.paper_extras(self.store, paper, signals)

    def latest(self, limit: int, category: str | None = None) -> list[Paper]:
        return self.store.latest_papers(limit, category=category)

    def search(self, query: str, mode: str = "hybrid", options: SearchOptions | None = None,
               highlight: bool = False) -> list[Hit]:
        """Rank stored papers for ``query`` (see :mod:`paperwire.search.query`)."""
        from paperwire.search import SearchOptions

        return self.searcher(mode).search(query, mode, options or SearchOptions(),
                                          highlight=highlight)

    def search_page(self, query: str, mode: str, options: SearchOptions,
                    depth: int, related: int = 0,
                    highlight: bool = True) -> tuple[list[Hit], int]:
        """A page of the matches of ``query`` (highlighted; then, where the matches end, up
        to ``related`` papers below the relevance floor) and how many papers match, from
        the ``depth`` best candidates of each retriever (see ``SearchEngine.search_page``)."""
        return self.searcher(mode).search_page(query, mode, options, highlight=highlight,
                                               depth=depth, related=related)

    def spelling(self, query: str, mode: str = "hybrid") -> dict[str, str]:
        """Words of ``query`` no paper contains, each with the word searched for as well
        (``{"tranformer": "transformer"}``; see ``SearchEngine.spelling``)."""
        return self.searcher(mode).spelling(query)

    def name_words(self, query: str, mode: str = "hybrid") -> set[str] | None:
        """Free words of ``query`` that count alone in author names, for bold marks (see
        ``SearchEngine.name_words``)."""
        return self.searcher(mode).name_words(query)

    def named_paper(self, query: str) -> Paper | None:
        """The stored paper ``query`` names when it is exactly an id, a link or a DOI (see
        :func:`paperwire.paper_ids.parse_ref`); None otherwise."""
        ref = parse_ref(query)
        return self.paper_for(ref) if ref is not None else None

    def search_papers(self, query: str, limit: int) -> list[Paper]:
        """At most ``limit`` papers for ``query``: the stored paper it names (an id or a link)
        first, then the search's hits (Hugging Face's paper search answers so)."""
        from paperwire.search import SearchOptions

        first = self.named_paper(query)
        hits = [h.paper for h in self.search(query, options=SearchOptions(limit=limit))]
        if first is None:
            return hits
        return [first, *(p for p in hits if p.id != first.id)][:limit]

    def stored_ids(self, ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """The stored papers' ids for ``ids``, and the ids that name no stored paper."""
        return listings.stored_ids(self.store, ids)

    def similar(self, ids: list[str], text: str | None = None, limit: int = 10) -> list[Hit]:
        """Papers like the stored papers ``ids`` and/or ``text``."""
        return self.searcher().similar(ids, text=text, limit=limit)

    def index_version(self) -> str:
        """The generations of the search indexes that :meth:`similar` reads (see
        ``SearchEngine.generations``): with :meth:`data_version`, what a page listing
        similar papers was made from."""
        return self.searcher().generations()

    def trending(self, window: str = "week", requested: date | None = None, limit: int = 20,
                 category: str | None = None, order: str = "trending",
                 offset: int = 0) -> TrendingView:
        """The trending view of ``window`` as of ``requested`` (default: today), weighed by
        the settings' weights; ``order`` "top": the top of the period (undecayed total);
        ``limit`` entries after the first ``offset``. Computed once per interval and data
        version (:meth:`data_version`), then shared by every request of the process."""
        now = self.now()
        day = requested or now.date()
        key = ("trending", window, day, category, order, self.data_version().token,
               bucket(now))
        ranked: TrendingView = self.shared.get(key, lambda: listings.trending_view(
            self.store, window, day, now=now, limit=EVERY_ENTRY, category=category,
            weights=self.settings.trending_weights, order=order))
        return replace(ranked, entries=ranked.entries[offset:offset + limit], offset=offset)

    def data_version(self) -> DataVersion:
        """The version of what trending and its pages read (one query per call on SQLite;
        none on PostgreSQL while the web app's listener hears its notifications): a vote,
        an import or an ingest in any process changes it at once (within milliseconds)."""
        return self.store.data_version()

    def daily_papers(self, period: daily.Period | None, sort: str = "publishedAt",
                     page: int = 0, limit: int = daily.DEFAULT_LIMIT,
                     submitter: str | None = None) -> list[daily.HubPaper]:
        """Hugging Face's daily papers of ``period``, from this store (see :mod:`.daily`);
        ``submitter``: only those that Hub user submitted."""
        return daily.daily_papers(self.store, period, sort, page, limit, submitter,
                                  weights=self.settings.trending_weights)

    def hub_papers(self, papers: Iterable[Paper]) -> list[daily.HubPaper]:
        """``papers`` with their upvotes and the day Hugging Face listed them."""
        return daily.hub_papers(self.store, papers)

    def hub_paper(self, paper: Paper, signals: list[Signal],
                  extras: Extras | None) -> daily.HubPaper:
        """:meth:`hub_papers` of one paper whose signals and extras are already read (no
        query)."""
        return daily.hub_paper(paper, signals, extras)

    def data_day(self) -> date | None:
        """The newest day trending has data for (see :func:`paperwire.trending.data_day`),
        computed once per data version."""
        day: date | None = self.shared.get(
            ("data_day", self.data_version().token),
            lambda: listings.data_day(self.store, self.settings.trending_weights))
        return day

    def trending_json(self, view: TrendingView) -> dict[str, Any]:
        return trending_json(view, self.settings.base_url,
                             self.extras(p for _, p in view.entries))

    def index(self, embed: bool = True,
              on_progress: Callable[[int, int], None] | None = None) -> int | None:
        """Be the index writer for one pass: bring the search indexes up to date (and embed
        new papers with ``embed``); returns how many papers the lexical index holds, or None
        when another process is the writer (it keeps the indexes up to date)."""
        engine = self.engine
        wrote = engine.sync(modes=("hybrid",) if embed else ("lexical",), embed=embed,
                            on_progress=on_progress)
        return engine.lexical.num_docs() if wrote else None

    def sync_lexical(self) -> bool:
        """Take newly stored papers into the BM25 index (after an import or an ingest) when
        no other process is the index writer; False when one is (its next pass does it)."""
        from paperwire.search.writer import sync_lexical

        return sync_lexical(self.store, self.settings.index_dir)

    # ---- bringing papers in --------------------------------------------------------------

    def import_files(self, paths: list[Path], fmt: str | None = None,
                     progress: bool = False, batch_size: int = 1000,
                     sync: bool = True) -> ImportReport:
        """Import files (:func:`paperwire.importers.run_import`), then take the new papers
        into the BM25 index unless ``sync`` is False (the caller calls
        :meth:`sync_lexical`)."""
        from paperwire.importers import run_import

        report = run_import(self.store, paths, fmt=fmt, progress=progress,
                            batch_size=batch_size)
        if sync:
            self.sync_lexical()
        return report

    def ingest(self, source: Source,
               on_batch: Callable[[Batch, IngestReport], None] | None = None) -> IngestReport:
        from paperwire.ingest import run_ingest

        return run_ingest(self.store, source, on_batch=on_batch)

    # ---- digests -------------------------------------------------------------------------

    def digest_context(self) -> DigestContext:
        """A context for one digest run or request: the process's engine (synced once for
        the run) and key; its own trending cache, so a run sees one trending list."""
        synced: list[SearchEngine] = []

        def searcher() -> SearchEngine:
            if not synced:
                synced.append(self.searcher())
            return synced[0]

        ctx = DigestContext(self.store, self.settings, searcher=searcher)
        ctx._key = self.key
        return ctx

    def subscriber(self, email: str) -> Subscriber:
        sub = self.store.digests.by_email(email.strip())
        if sub is None:
            raise NotFound(f"no subscriber with the address {email.strip()!r}")
        return sub

    def subscribe(self, email: str, categories: Iterable[str] = (),
                  queries: Iterable[str] = ()) -> None:
        """Ask ``email`` to confirm a subscription (a confirmation mail, sent now)."""
        from paperwire.digests.subscriptions import subscribe

        with self.mailer() as mailer:
            subscribe(self.digest_context(), mailer, email, categories=tuple(categories),
                      queries=tuple(queries), now=self.now())

    def subscribe_confirmed(self, email: str, categories: Iterable[str] = (),
                            queries: Iterable[str] = ()) -> Subscriber:
        """Admin: add ``email`` as already confirmed, without a mail."""
        from paperwire.digests.subscriptions import checked_preferences, normalise_email

        wanted = checked_preferences(Subscriber(id=0, email=normalise_email(email)),
                                     categories=tuple(categories), queries=tuple(queries))
        return self.store.digests.activate(wanted, self.now())

    def unsubscribe(self, email: str) -> Subscriber:
        """Admin: stop all mail to ``email`` at once."""
        sub = self.subscriber(email)
        self.store.digests.unsubscribe(sub.id, self.now())
        return sub

    def take_subscribe_allowance(self, client: str) -> bool:
        """Spend one of ``client``'s subscription requests for this hour; False when none
        is left (PAPERWIRE_SUBSCRIBE_CLIENT_LIMIT)."""
        hour = self.now().replace(minute=0, second=0, microsecond=0)
        return self.store.digests.take_limit(client, hour,
                                             self.settings.subscribe_client_limit)

    def links(self, sub: Subscriber) -> Links:
        """The signed links of ``sub``'s mails and pages (unsubscribe, preferences)."""
        return self.digest_context().links(sub, self.now())

    def subscriber_for(self, purpose: str, token: str) -> Subscriber:
        """The subscriber a link's token names (TokenError for a bad or stale one)."""
        from paperwire.digests import subscriptions

        return subscriptions.subscriber_for(self.digest_context(), purpose, token, self.now())

    def confirm(self, token: str) -> Subscriber:
        from paperwire.digests import subscriptions

        return subscriptions.confirm(self.digest_context(), token, self.now())

    def unsubscribe_by_link(self, token: str) -> Subscriber:
        from paperwire.digests import subscriptions

        return subscriptions.unsubscribe(self.digest_context(), token, self.now())

    def save_preferences(self, token: str,
                         form: dict[str, str]) -> tuple[Subscriber, dict[str, str]]:
        from paperwire.digests import subscriptions

        return subscriptions.save_preferences(self.digest_context(), token, self.now(), form)

    def send_confirmation(self, mailer: Mailer, wanted: Subscriber) -> None:
        """The confirmation mail of a checked request (the web's mail queue calls this)."""
        from paperwire.digests import subscriptions

        subscriptions.send_confirmation(self.digest_context(), mailer, wanted, self.now())

    def resubscribe(self, mailer: Mailer, token: str) -> None:
        from paperwire.digests import subscriptions

        subscriptions.resubscribe(self.digest_context(), mailer, token, self.now())

    def count_click(self, token: str, paper_id: str) -> None:
        """Record a digest click when ``token`` is the genuine signed link of a digest."""
        from paperwire.digests.service import read_click

        now = self.now()
        click = read_click(self.key, token, paper_id, now)
        if click is not None:
            self.store.digests.record_click(click[0], paper_id, click[1], now)

    def feedback_paper(self, token: str, paper_id: str) -> Paper:
        """The paper a digest's 👍 / 👎 / save link is for, when the link is genuine;
        TokenError otherwise (nothing is recorded: mail scanners follow links)."""
        from paperwire.digests.service import read_paper_token

        paper = self.paper(paper_id)
        if paper is None or read_paper_token(self.key, "feedback", token, paper_id,
                                             self.now()) is None:
            raise TokenError("this link is not valid (copy the whole link from the mail)")
        return paper

    def digest_feedback(self, token: str, paper_id: str, action: str) -> Paper:
        """Record a digest reader's 👍 (``up``), 👎 (``down``) or save of a paper, for the
        account of the subscriber's address (made active if needed: the subscription
        confirmed the address). It feeds their recommendations and next digests."""
        from paperwire.digests.service import read_paper_token

        if action not in FEEDBACK_ACTIONS:
            raise TokenError(f"unknown choice {action!r}")
        now = self.now()
        paper = self.feedback_paper(token, paper_id)
        found = read_paper_token(self.key, "feedback", token, paper_id, now)
        sub = self.store.digests.get(found[0]) if found else None
        if sub is None:
            raise TokenError("this link is no longer valid: its subscription was deleted")
        account = self.store.accounts.ensure_active(sub.email, now)
        if account is None:
            raise TokenError("the account of this address is disabled")
        if action == "save":
            self.store.library.save(account.id, paper.id, now)
        else:
            self.store.library.rate(account.id, paper.id, 1 if action == "up" else -1,
                                    "digest", now)
        return paper

    def digest_day(self, day: date) -> date:
        """``day`` if a digest can be for it; DeliveryError otherwise."""
        from paperwire.digests.deliver import check_digest_day

        return check_digest_day(day, self.now())

    def preview_digest(self, sub: Subscriber, day: date | None = None) -> EmailMessage:
        """The mail ``sub`` gets (or got) for ``day`` (default today); nothing is recorded."""
        from paperwire.digests.service import gather, message_for, stored_digest

        ctx = self.digest_context()
        day = day or self.now().date()
        row = self.store.digests.get_delivery(sub.id, day)
        if row is not None and row.items is not None and row.period is not None:
            digest = stored_digest(ctx, sub, day, row.period, row.items, row.note)
        else:
            digest = gather(ctx, sub, day)
        return message_for(ctx, digest, self.now())

    def fresh_digest(self, sub: Subscriber, day: date | None = None) -> EmailMessage:
        """The digest ``sub`` would get for ``day`` from what is stored now (not the one
        recorded): the web preview after a change of preferences."""
        from paperwire.digests.service import gather, message_for

        ctx = self.digest_context()
        return message_for(ctx, gather(ctx, sub, day or self.now().date()), self.now())

    def send_digests(self, day: date | None = None,
                     on_progress: Callable[[RunReport, int], None] | None = None
                     ) -> RunReport:
        """Send the digests due now (or every one of ``day``); safe to run twice."""
        from paperwire.digests.deliver import run

        with self.mailer() as mailer:
            return run(self.digest_context(), mailer, self.clock, day, on_progress=on_progress)

    def digest_status(self, day: date | None = None) -> dict[str, dict[str, int]]:
        return {"subscribers": self.store.digests.count_by_status(),
                "deliveries": self.store.digests.count_deliveries(day)}

    # ---- accounts and sessions ------------------------------------------------------------

    def open_session(self, account: Account) -> str:
        """A new session for an active account: the cookie's value (only its hash is
        stored)."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        self.store.accounts.new_session(account.id, session_hash(token), now,
                                        now + SESSION_LIFETIME)
        return token

    def session_account(self, token: str) -> Account | None:
        """The active account a session cookie's value belongs to, if it is live."""
        return self.store.accounts.session_account(session_hash(token), self.now())

    def end_session(self, token: str) -> None:
        self.store.accounts.end_session(session_hash(token))

    def end_sessions(self, account: Account) -> int:
        """Sign ``account`` out everywhere; how many sessions ended."""
        return self.store.accounts.end_sessions(account.id)

    def account_context(self) -> AccountContext:
        from paperwire.accounts import AccountContext

        return AccountContext(self.store, self.settings, self.key)

    def take_signin_allowance(self, client: str) -> bool:
        """Spend one of ``client``'s sign-in link requests for this hour; False when none
        is left (PAPERWIRE_SIGNIN_CLIENT_LIMIT)."""
        hour = self.now().replace(minute=0, second=0, microsecond=0)
        return self.store.digests.take_limit(f"signin:{client}", hour,
                                             self.settings.signin_client_limit)

    def request_signin(self, mailer: Mailer, email: str, next_path: str = "/account") -> bool:
        """Mail ``email`` a sign-in link if it may have one (the web's mail queue calls
        this; the answer never depends on it)."""
        from paperwire import accounts

        return accounts.request_signin(self.account_context(), mailer, email, self.now(),
                                       next_path)

    def check_signin_link(self, token: str) -> None:
        """TokenError unless ``token`` is a genuine, unexpired sign-in token (changes
        nothing: whether it is still the live one is known only by using it)."""
        from paperwire import accounts

        accounts.read_signin(self.key, token, self.now())

    def confirm_signin(self, token: str) -> Account:
        """Use a sign-in link: the account, now active (TokenError for a bad one)."""
        from paperwire import accounts

        return accounts.confirm_signin(self.account_context(), token, self.now())

    def account_subscription(self, account: Account) -> Subscriber | None:
        return self.store.digests.by_email(account.email)

    def save_account_digest(self, account: Account, form: dict[str, str],
                            ) -> tuple[Subscriber | None, dict[str, str]]:
        from paperwire import accounts

        return accounts.save_digest(self.account_context(), account, form, self.now())

    def unsubscribe_account(self, account: Account) -> Subscriber | None:
        from paperwire import accounts

        return accounts.unsubscribe(self.account_context(), account, self.now())

    def export_account(self, account: Account) -> dict[str, Any]:
        from paperwire import accounts

        return accounts.export_account(self.account_context(), account, self.now())

    def delete_account(self, account: Account) -> None:
        from paperwire import accounts

        accounts.delete_account(self.account_context(), account, self.now())

    def add_user(self, email: str, admin: bool = False) -> Account:
        from paperwire import accounts

        return accounts.add_user(self.account_context(), email, self.now(), admin=admin)

    def users(self) -> list[Account]:
        return self.store.accounts.all()

    def disable_user(self, email: str) -> Account:
        from paperwire import accounts

        return accounts.disable_user(self.account_context(), email, self.now())

    # ---- upvotes and saves ---------------------------------------------------------------

    def reactions(self, account: Account | None, paper_ids: Iterable[str]) -> Reactions:
        """What the action bars of a list show: each paper's local upvotes, and which of the
        papers ``account`` upvoted and saved: one query each, however long the list."""
        ids = list(dict.fromkeys(paper_ids))
        library = self.store.library
        counts = library.vote_counts(ids)
        if account is None or not ids:
            return Reactions(counts=counts)
        return Reactions(frozenset(library.votes_of(account.id, ids)),
                         frozenset(library.saved_of(account.id, ids)), counts)

    def react(self, account: Account, paper_id: str, kind: str, on: bool) -> bool | None:
        """Upvote (``kind`` "vote") or save ("save") ``paper_id`` when ``on``, else take it
        back. Idempotent: asking for the state that already stands changes nothing and costs
        nothing. A change spends one of the account's changes for the hour
        (PAPERWIRE_VOTE_LIMIT, an atomic counter in the store, so it holds across threads and
        processes). True when it changed, False when it already stood, None when the
        allowance is spent (nothing changed); NotFound for a paper not stored here."""
        if kind not in REACTIONS:
            raise ValueError(f"unknown reaction {kind!r}")
        library = self.store.library
        if self.store.get_paper(paper_id) is None:
            raise NotFound(f"no paper {paper_id!r} is stored here")
        held = library.votes_of if kind == "vote" else library.saved_of
        if (paper_id in held(account.id, [paper_id])) == on:
            return False
        now = self.now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        if not self.store.digests.take_limit(f"react:{account.id}", hour,
                                             self.settings.vote_limit):
            return None
        if kind == "vote":
            return (library.vote(account.id, paper_id, now) if on
                    else library.unvote(account.id, paper_id, now))
        return (library.save(account.id, paper_id, now) if on
                else library.unsave(account.id, paper_id, now))

    # ---- recommendations ----------------------------------------------------------------

    def recommendations(self, account: Account, limit: int = 20) -> list[tuple[Suggestion, str]]:
        """"For you": papers the account's model ranks above its relevance floor, each with
        its "because you saved …" line (see :mod:`paperwire.recommend`)."""
        return recommend.for_reader(self.store, self.searcher(), account.id, limit=limit)

    def reader(self, account: Account) -> recommend.Reader:
        return recommend.reader(self.store, account.id)

    # ---- background work -----------------------------------------------------------------

    def start_background(self, schedule: bool = True, embed: bool = True,
                         only: Collection[str] | None = None, **timing: float) -> Background:
        """Start the scheduler (when the schedule is not empty) and, with ``embed``, the index
        writer over this process's engine, as daemon threads (``paperwire serve``,
        ``paperwire worker``); :meth:`close` stops them."""
        from paperwire.worker import start_in_background

        self.background = start_in_background(
            self.store, self.settings, schedule=schedule, embed=embed,
            outbox_url=self.outbox_url, only=only, digest_context=self.digest_context,
            engine=self.engine if embed else None, **timing)
        return self.background


SESSION_LIFETIME = timedelta(days=30)
FEEDBACK_ACTIONS = ("up", "down", "save")  # a digest item's 👍 / 👎 / save
REACTIONS = ("vote", "save")
EVERY_ENTRY = 10**9  # the shared trending view ranks every entry; a request takes its page


@dataclass(frozen=True)
class Reactions:
    """Local upvotes of some papers (``counts``; papers without any are left out), and which
    of them the viewer upvoted (``voted``) and saved (``saved``): empty when signed out."""

    voted: frozenset[str] = frozenset()
    saved: frozenset[str] = frozenset()
    counts: Mapping[str, int] = field(default_factory=dict)


def session_hash(token: str) -> str:
    """What the store keeps of a session cookie's value."""
    return hashlib.sha256(token.encode()).hexdigest()


def trending_json(view: TrendingView, base_url: str,
                  extras: Mapping[str, Extras] | None = None) -> dict[str, Any]:
    """The one JSON shape of a trending view, shared by ``paperwire trending --json`` and
    ``/api/trending``: each entry with its reason and the parts its score is the sum of, and
    (from ``extras``) its one-line TL;DR and code link."""
    extras = extras or {}
    return {
        "window": view.window,
        "requested": view.requested.isoformat(),
        "as_of": view.as_of.isoformat() if view.as_of else None,
        "category": view.category,
        "note": view.note,
        "entries": [
            {
                "rank": e.rank, "id": p.id, "title": p.title,
                "url": f"{base_url}/papers/{quote_id(p.id)}",
                "published": p.published.isoformat() if p.published else None,
                "primary_category": e.category, "category_rank": e.category_rank,
                "score": e.score, "total": e.total, "reason": e.reason,
                "parts": [{"source": pt.source, "count": pt.count, "weight": pt.weight,
                           "points": pt.points} for pt in e.parts],
                "series": [[d.isoformat(), v] for d, v in e.series],
                **list_extras(extras.get(p.id)),
            }
            for e, p in view.entries
        ],
    }


def list_extras(x: Extras | None) -> dict[str, Any]:
    """What a list item of the JSON carries besides the paper: its one-line TL;DR, where it
    comes from (``hf``: Hugging Face's AI summary; ``abstract``: extracted) and its code."""
    if x is None:
        return {"tldr": None, "tldr_from": None, "code_url": None}
    return {"tldr": x.tldr, "tldr_from": x.tldr_from, "code_url": x.code_url}
