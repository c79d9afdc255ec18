"""A reader's library on the web: the ``/library`` page (filters by tag and state, search
inside it, sort), tags, a private note and a reading state on a paper's page, export
(BibTeX, CSL-JSON, JSON), import (a BibTeX file or a list of arXiv ids), and the private
Atom feeds behind a secret, renewable address.

Every state-changing POST calls :func:`check_csrf` first: signed out is a 401, a missing or
wrong token or a cross-site post a 403, and nothing changes. A reader only ever sees their
own library: every query is by the signed-in account (or the feed secret's account).
Setting tags, a note or a state on a paper not saved yet saves it (saving itself is the
action bar's). The feed secret never reaches the access log: a filter blanks it.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from paperwire.app import Paperwire
from paperwire.errors import PageError
from paperwire.library import notes, service
from paperwire.records import READING_STATES, Account
from paperwire.web import feeds
from paperwire.web.auth import SignedIn, check_csrf, safe_next, signed_in
from paperwire.web.common import TEMPLATES, App, get_app, page, paper_path, reactions_for

router = APIRouter(include_in_schema=False)  # pages, forms and downloads: not the API

MAX_TAGS, MAX_TAG_CHARS = 20, 64  # as store.library keeps them
STATE_FILTERS = ("to-read", "read", "none")
SORT_LABELS = {"saved": "date saved", "published": "date published", "title": "title"}
EXPORTS = {"bib": "bibtex", "csl.json": "csl", "json": "json"}
PRIVATE_HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
FEED_HEADERS = {"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"}


# ---- parameters ------------------------------------------------------------------------------


def _state_filter(value: str | None) -> str | None:
    if not value:
        return None
    if value not in STATE_FILTERS:
        raise PageError(400, f"Unknown state {value!r}: use to-read, read or none.")
    return value


def _sort(value: str | None) -> str:
    if not value:
        return "saved"
    if value not in service.SORTS:
        raise PageError(400, f"Invalid sort {value!r}: use one of {', '.join(service.SORTS)}.")
    return value


def _tag(value: str | None) -> str | None:
    tag = service.clean_tag(value or "")
    if len(tag) > MAX_TAG_CHARS:
        raise PageError(400, f"A tag has at most {MAX_TAG_CHARS} characters.")
    return tag or None


def _stored(app: Paperwire, paper_id: str) -> str:
    """The stored paper a path names (a versioned arXiv id names its paper), or a 404."""
    known, _ = app.stored_ids([paper_id])
    if not known:
        raise PageError(404, f"No paper with id {paper_id!r} is stored here.", "Paper not found")
    return known[0]


def split_tags(text: str) -> list[str]:
    """The tags of the comma-separated field (400 for too many or too long ones)."""
    tags = [service.clean_tag(t) for t in text.split(",")]
    tags = [t for t in tags if t]
    if len(tags) > MAX_TAGS:
        raise PageError(400, f"At most {MAX_TAGS} tags per paper.")
    if any(len(t) > MAX_TAG_CHARS for t in tags):
        raise PageError(400, f"A tag has at most {MAX_TAG_CHARS} characters.")
    return tags


def _field(form: Any, name: str) -> str:
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else ""


# ---- the library page -----------------------------------------------------------------------


def feed_url(app: Paperwire, secret: str, tag: str | None = None) -> str:
    """The absolute address of a private feed (the whole library, or one tag)."""
    url = f"{app.settings.base_url}/feeds/library/{secret}.atom"
    return url + "?" + urlencode({"tag": tag}) if tag else url


def _library_page(request: Request, app: Paperwire, account: Account, tag: str | None,
                  state: str | None, q: str, sort: str) -> Response:
    everything = service.items(app.store, account.id)
    found = service.items(app.store, account.id, tag=tag, state=state) if (
        tag or state) else everything
    found = service.sort(service.search(found, q), sort)
    tags = app.store.library.tags_of(account.id)
    states = {s: sum(1 for i in everything if i.entry.state == s) for s in READING_STATES}
    secret = app.store.accounts.feed_secret(account.id)

    def url_with(**changes: str | None) -> str:
        params = {"tag": tag, "state": state, "q": q or None, "sort": sort}
        params.update(changes)
        if params.get("sort") == "saved":
            params["sort"] = None
        query = urlencode({k: v for k, v in params.items() if v})
        return "/library" + ("?" + query if query else "")

    export_query = "?" + urlencode({"tag": tag}) if tag else ""
    return page(
        request, "library.html", items=found, total=len(everything), tags=tags,
        states=states, tag=tag, state=state, q=q, sort=sort, sorts=SORT_LABELS, url_with=url_with,
        acts=reactions_for(request, app, [i.paper.id for i in found]),
        extras=app.extras(i.paper for i in found),
        notes_html={i.paper.id: Markup(notes.render(i.entry.note))
                    for i in found if i.entry.note},
        exports=[(label, f"/library/export.{ext}{export_query}")
                 for ext, label in (("bib", "BibTeX"), ("csl.json", "CSL-JSON"),
                                    ("json", "JSON"))],
        feed=feed_url(app, secret),
        tag_feeds=[(name, feed_url(app, secret, name)) for name in tags],
        here_path=url_with())


@router.get("/library")
def library_page(request: Request, app: App, account: SignedIn, tag: str | None = None,
                 state: str | None = None, q: str = "", sort: str | None = None) -> Response:
    response = _library_page(request, app, account, _tag(tag), _state_filter(state),
                             q.strip()[:500], _sort(sort))
    response.headers.update(PRIVATE_HEADERS)
    return response


# ---- tags, note and state of a paper ---------------------------------------------------------


async def _paper_post(request: Request, app: Paperwire, paper_id: str) -> tuple[
        Account, Any, str, str]:
    """The checks every paper form passes: CSRF first, then the paper; the account, the form,
    the stored id and where to go back to."""
    account = await check_csrf(request)
    form = await request.form()
    stored = await run_in_threadpool(_stored, app, paper_id)
    back = safe_next(_field(form, "next") or None, paper_path(stored) + "#library")
    return account, form, stored, back


@router.post("/papers/{paper_id:path}/tags")
async def set_tags(request: Request, app: App, paper_id: str) -> Response:
    account, form, stored, back = await _paper_post(request, app, paper_id)
    tags = split_tags(_field(form, "tags"))
    await run_in_threadpool(app.store.library.set_tags, account.id, stored, tags, app.now())
    return RedirectResponse(back, status_code=303)


@router.post("/papers/{paper_id:path}/note")
async def set_note(request: Request, app: App, paper_id: str) -> Response:
    account, form, stored, back = await _paper_post(request, app, paper_id)
    note = service.clean_note(_field(form, "note"))
    if len(note) > notes.MAX_NOTE_CHARS:
        raise PageError(400, f"A note has at most {notes.MAX_NOTE_CHARS:,} characters "
                        f"(this one has {len(note):,}); nothing was changed.")
    await run_in_threadpool(app.store.library.set_note, account.id, stored, note, app.now())
    return RedirectResponse(back, status_code=303)


@router.post("/papers/{paper_id:path}/state")
async def set_state(request: Request, app: App, paper_id: str) -> Response:
    account, form, stored, back = await _paper_post(request, app, paper_id)
    value = _field(form, "state")
    if value not in ("", "none", *READING_STATES):
        raise PageError(400, f"Unknown state {value!r}: use to-read, read or none.")
    state = value if value in READING_STATES else None
    await run_in_threadpool(app.store.library.set_state, account.id, stored, state, app.now())
    return RedirectResponse(back, status_code=303)


def library_panel(request: Request, paper_id: str) -> dict[str, Any] | None:
    """What a paper page's library panel shows the signed-in reader (None: signed out)."""
    account = signed_in(request)
    if account is None:
        return None
    entry = get_app(request).store.library.entry(account.id, paper_id)
    return {
        "entry": entry,
        "tags": ", ".join(entry.tags) if entry else "",
        "note": (entry.note or "") if entry else "",
        "note_html": Markup(notes.render(entry.note)) if entry and entry.note else None,
        "max_note": notes.MAX_NOTE_CHARS,
    }


TEMPLATES.env.globals["library_panel"] = library_panel


# ---- export and import ----------------------------------------------------------------------


@router.get("/library/export.{ext:path}")
def export(app: App, account: SignedIn, ext: str, tag: str | None = None) -> Response:
    fmt = EXPORTS.get(ext)
    if fmt is None:
        raise PageError(404, "Export as .bib, .csl.json or .json.", "Not found")
    wanted = _tag(tag)
    found = service.items(app.store, account.id, tag=wanted)
    body = service.export(found, fmt, app.now(), wanted)
    name = service.filename(fmt, wanted)
    headers = {**PRIVATE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body.encode("utf-8"), media_type=service.FILES[fmt][1], headers=headers)


@router.post("/library/import")
async def import_(request: Request, app: App) -> Response:
    account = await check_csrf(request)
    form = await request.form()
    upload = form.get("file")
    text = ""
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(service.MAX_IMPORT_BYTES + 1)
        if len(data) > service.MAX_IMPORT_BYTES:
            raise PageError(413, f"An import file has at most {service.MAX_IMPORT_BYTES:,} "
                            "bytes; nothing was imported.", "File too large")
        text = service.decode_upload(data)
    if not text.strip():
        text = _field(form, "ids")
    if len(text) > service.MAX_IMPORT_BYTES:
        raise PageError(413, "Too much text to import at once; nothing was imported.",
                        "Too large")
    if not text.strip():
        raise PageError(400, "Choose a BibTeX file or paste arXiv ids or links to import.")
    tag = _tag(_field(form, "tag"))
    report = await run_in_threadpool(service.import_text, app.store, account.id, text,
                                     app.now(), [tag] if tag else [])
    response = page(request, "library_import.html", report=report,
                    papers=app.store.get_papers([*report.imported, *report.already]))
    response.headers.update(PRIVATE_HEADERS)
    return response


# ---- private feeds ---------------------------------------------------------------------------


@router.get("/feeds/library/{secret}.atom")
def private_feed(request: Request, app: App, secret: str, tag: str | None = None) -> Response:
    account = app.store.accounts.by_feed_secret(secret)
    if account is None:
        raise PageError(404, "No feed at this address (it may have been renewed).",
                        "Feed not found")
    wanted = _tag(tag)
    found = service.items(app.store, account.id, tag=wanted)[:service.FEED_SIZE]
    title = "Paperwire · your library" + (f" · {wanted}" if wanted else "")
    body = feeds.library_atom(found, app.settings.base_url, feed_url(app, secret, wanted),
                              title, app.now(), extras=app.extras(i.paper for i in found))
    return Response(body, media_type=feeds.ATOM_TYPE, headers=FEED_HEADERS)


@router.post("/library/feed")
async def renew_feed(request: Request, app: App) -> Response:
    account = await check_csrf(request)
    await run_in_threadpool(app.store.accounts.feed_secret, account.id, True)
    return RedirectResponse("/library#feeds", status_code=303)


# ---- the secret out of the access log --------------------------------------------------------

_FEED_SECRET = re.compile(r"(/feeds/library/)[^/?#\s\".]+")


class RedactFeedSecrets(logging.Filter):
    """A filter for ``uvicorn.access``: a private feed's path without its secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_FEED_SECRET.sub(r"\1…", a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _FEED_SECRET.sub(r"\1…", record.msg)
        return True


def install_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactFeedSecrets) for f in access.filters):
        access.addFilter(RedactFeedSecrets())
