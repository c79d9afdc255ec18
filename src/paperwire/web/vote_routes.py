"""Upvotes and saves: the action bar's forms and their JSON API.

``POST /papers/{id}/vote`` and ``/papers/{id}/save`` take the form of the action bar
(``_actions.html``): the session's ``csrf`` token, ``action`` (``vote``/``unvote``,
``save``/``unsave``: the state wanted, so a form sent twice does not flip it back) and ``next``
(the page to go back to: a local path only). They answer 303 to ``next``.
``POST /api/papers/{id}/vote`` (``{"vote": true}``) and ``/api/papers/{id}/save``
(``{"save": false}``) do the same for a signed-in session that sends ``X-CSRF-Token``, and
answer the paper's state and local upvotes.

Every one of them: signed out is a 401 (nothing changes), a missing or wrong CSRF token or
a post from another site a 403, an unknown paper a 404, and a change past the account's
hourly allowance (PAPERWIRE_VOTE_LIMIT) a 429.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from paperwire.app import Paperwire
from paperwire.errors import PageError
from paperwire.records import Account
from paperwire.web import schemas
from paperwire.web.auth import check_csrf, safe_next, signed_in
from paperwire.web.common import App, page, paper_path

router = APIRouter()

# the form's ``action`` values: (kind, on)
ACTIONS = {"vote": ("vote", True), "unvote": ("vote", False),
           "save": ("save", True), "unsave": ("save", False)}
LIMITED = ("You have changed many upvotes and saves in the last hour; try again in a "
           "while (at most {limit} changes an hour).")
SIGN_IN = {"vote": "Sign in to upvote papers.", "save": "Sign in to save papers."}


def _paper_id(app: Paperwire, paper_id: str) -> str:
    """The stored paper a path names (a versioned or prefixed arXiv id names its paper), or
    a 404."""
    known, _ = app.stored_ids([paper_id])
    if not known:
        raise PageError(404, f"No paper with id {paper_id!r} is stored here.", "Paper not found")
    return known[0]


def _change(app: Paperwire, account: Account, paper_id: str, kind: str, on: bool) -> bool:
    """Apply the change (see ``Paperwire.react``): whether it changed anything; a 429
    when the account's allowance for the hour is spent."""
    changed = app.react(account, paper_id, kind, on)
    if changed is None:
        raise PageError(429, LIMITED.format(limit=app.settings.vote_limit), "Too many changes")
    return changed


def _state(app: Paperwire, account: Account, paper_id: str, changed: bool) -> dict[str, Any]:
    marks = app.reactions(account, [paper_id])
    return {"id": paper_id, "voted": paper_id in marks.voted, "saved": paper_id in marks.saved,
            "upvotes": marks.counts.get(paper_id, 0), "changed": changed}


async def _form_post(request: Request, app: Paperwire, paper_id: str, kind: str) -> Response:
    form = await request.form() if _is_form(request) else None
    raw_next = form.get("next") if form is not None else None
    back = safe_next(raw_next if isinstance(raw_next, str) else None, paper_path(paper_id))
    if signed_in(request) is None:  # nothing changes; signing in comes back to the page
        return page(request, "error.html", status_code=401, status=401,
                    title="Sign in required", message=SIGN_IN[kind], signin_next=back)
    account = await check_csrf(request)
    action = form.get("action") if form is not None else None
    if not isinstance(action, str) or ACTIONS.get(action, ("", False))[0] != kind:
        wanted = " or ".join(a for a, (k, _) in ACTIONS.items() if k == kind)
        raise PageError(400, f"The form must say what to do: action={wanted}.")
    stored = await run_in_threadpool(_paper_id, app, paper_id)
    if action == "unsave" and form is not None and form.get("confirm") != "yes":
        entry = await run_in_threadpool(app.store.library.entry, account.id, stored)
        if entry is not None and (entry.note or entry.tags):  # ask before they are lost
            return page(request, "unsave_confirm.html", entry=entry,
                        paper=app.paper(stored), back=back)
    await run_in_threadpool(_change, app, account, stored, kind, ACTIONS[action][1])
    return RedirectResponse(back, status_code=303)


def _is_form(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype in ("application/x-www-form-urlencoded", "multipart/form-data")


async def _api_post(request: Request, app: Paperwire, paper_id: str, kind: str) -> Response:
    account = await check_csrf(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise PageError(415, "Send JSON (Content-Type: application/json).",
                        "Unsupported media type")
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise PageError(400, "The body is not valid JSON.") from None
    on = body.get(kind) if isinstance(body, dict) else None
    if not isinstance(on, bool):
        raise PageError(400, f'Send {{"{kind}": true}} or {{"{kind}": false}}.')
    stored = await run_in_threadpool(_paper_id, app, paper_id)
    changed = await run_in_threadpool(_change, app, account, stored, kind, on)
    state = await run_in_threadpool(_state, app, account, stored, changed)
    return JSONResponse(state)


@router.post("/papers/{paper_id:path}/vote", include_in_schema=False)
async def vote_form(request: Request, app: App, paper_id: str) -> Response:
    """The action bar's upvote toggle (``action=vote|unvote``)."""
    return await _form_post(request, app, paper_id, "vote")


@router.post("/papers/{paper_id:path}/save", include_in_schema=False)
async def save_form(request: Request, app: App, paper_id: str) -> Response:
    """The action bar's save toggle (``action=save|unsave``)."""
    return await _form_post(request, app, paper_id, "save")


def _api_doc(kind: str) -> dict[str, Any]:
    return {"response_model": schemas.ReactionState,
            "responses": schemas.errors(400, 401, 403, 404, 415, 429, 503),
            "openapi_extra": schemas.json_body(
                {"type": "object", "required": [kind],
                 "properties": {kind: {"type": "boolean"}}},
                f'{{"{kind}": true}} or {{"{kind}": false}}; a signed-in session (its '
                "cookie) and its CSRF token in X-CSRF-Token")}


@router.post("/api/papers/{paper_id:path}/vote", **_api_doc("vote"))
async def api_vote(request: Request, app: App, paper_id: str) -> Response:
    """``{"vote": true}`` upvotes, ``{"vote": false}`` takes it back; answers the paper's
    state for this account and its local upvotes."""
    return await _api_post(request, app, paper_id, "vote")


@router.post("/api/papers/{paper_id:path}/save", **_api_doc("save"))
async def api_save(request: Request, app: App, paper_id: str) -> Response:
    """``{"save": true}`` saves the paper to the library, ``{"save": false}`` removes it."""
    return await _api_post(request, app, paper_id, "save")

