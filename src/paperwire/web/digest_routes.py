"""Web routes of the digest: subscribe (form and API), confirm, one-click unsubscribe
(RFC 8058), preferences, a digest preview, and the local outbox's development pages.

Links in mails carry signed tokens (:mod:`paperwire.digests.tokens`). A GET never changes
anything — mail scanners follow links — so confirming and unsubscribing happen on POST;
the GET pages show a button that posts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from paperwire.config import Settings
from paperwire.digests import open_mailer, outbox_folder
from paperwire.digests.model import FREQUENCIES, MODES
from paperwire.digests.service import DigestContext, gather, message_for
from paperwire.digests.subscriptions import (
    InvalidSubscription,
    confirm,
    save_preferences,
    subscribe,
    subscriber_for,
    unsubscribe,
)
from paperwire.errors import NotFound, TokenError
from paperwire.services import utcnow
from paperwire.store import Store
from paperwire.web.app import PageError, parse_date

log = logging.getLogger(__name__)
_URL = re.compile(r"https?://[^\s<>\"']+")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SUBSCRIBED = ("If that address can receive digests, a confirmation mail is on its way. "
              "Nothing else is sent until you follow its link.")


class SubscribeRequest(BaseModel):
    email: str = Field(max_length=254)
    categories: list[str] = Field(default_factory=list, max_length=20)
    queries: list[str] = Field(default_factory=list, max_length=20)


def _split(text: str) -> list[str]:
    return [t.strip() for t in re.split(r"[,\n]", text) if t.strip()]


async def _form(request: Request) -> dict[str, Any]:
    """The posted fields, urlencoded or multipart (RFC 8058 allows both)."""
    try:
        form = await request.form()
    except Exception:  # a malformed body is a bad request, not a server error
        raise PageError(400, "The form could not be read.") from None
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def install(app: FastAPI, settings: Settings, store: Store,
            page: Callable[..., Response]) -> None:
    ctx = DigestContext(store, settings)
    local_outbox = not settings.smtp_url

    def outbox_url() -> str | None:
        return getattr(app.state, "outbox_url", None)

    def send_confirmation(email: str, categories: list[str], queries: list[str]) -> None:
        try:
            with open_mailer(settings, outbox_url()) as mailer:
                subscribe(ctx, mailer, email, categories=categories, queries=queries,
                          now=utcnow())
        except InvalidSubscription as exc:
            raise PageError(400, str(exc)) from None

    @app.exception_handler(TokenError)
    async def token_error(request: Request, exc: TokenError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return page(request, "error.html", status_code=400, status=400,
                    title="This link cannot be used", message=str(exc).capitalize() + ".")

    @app.post("/subscribe", include_in_schema=False)
    async def subscribe_form(request: Request) -> Response:
        fields = await _form(request)
        send_confirmation(fields.get("email", ""), _split(fields.get("categories", "")),
                          _split(fields.get("queries", "")))
        return page(request, "digest/message.html", title="Check your inbox",
                    message=SUBSCRIBED)

    @app.post("/api/subscribe", status_code=202)
    def api_subscribe(body: SubscribeRequest) -> dict[str, str]:
        """Ask for a digest; answers the same for every address (no enumeration)."""
        send_confirmation(body.email, body.categories, body.queries)
        return {"status": "pending", "detail": SUBSCRIBED}

    @app.get("/subscribe/confirm", include_in_schema=False)
    def confirm_page(request: Request, token: str = "") -> Response:
        from paperwire.digests.tokens import read_token

        read_token(ctx.key, "confirm", token, utcnow())  # a bad or expired link says so now
        return page(request, "digest/action.html", title="Confirm your subscription",
                    message="Press the button to start receiving the Paperwire digest.",
                    action=f"/subscribe/confirm?token={token}", button="Confirm subscription",
                    field=None)

    @app.post("/subscribe/confirm", include_in_schema=False)
    def confirm_post(request: Request, token: str = "") -> Response:
        sub = confirm(ctx, token, utcnow())
        prefs = ctx.links(sub).preferences
        return page(request, "digest/message.html", title="Subscribed",
                    message=f"{sub.email} will receive the Paperwire digest.",
                    link=(prefs, "Choose what it holds and when it comes"))

    @app.get("/unsubscribe", include_in_schema=False)
    def unsubscribe_page(request: Request, token: str = "") -> Response:
        sub = subscriber_for(ctx, "unsubscribe", token, utcnow())
        return page(request, "digest/action.html", title="Unsubscribe",
                    message=f"Stop sending the Paperwire digest to {sub.email}?",
                    action=f"/unsubscribe?token={token}", button="Unsubscribe",
                    field=("List-Unsubscribe", "One-Click"))

    @app.post("/unsubscribe", include_in_schema=False)
    async def unsubscribe_post(request: Request, token: str = "") -> Response:
        """RFC 8058 one-click: a POST with List-Unsubscribe=One-Click, answered 200 at once."""
        fields = await _form(request)
        if fields.get("List-Unsubscribe") != "One-Click":
            raise PageError(400, "Expected List-Unsubscribe=One-Click in the request body.")
        sub = unsubscribe(ctx, token, utcnow())
        return page(request, "digest/message.html", title="Unsubscribed",
                    message=f"{sub.email} will receive no more digests.")

    @app.get("/preferences", include_in_schema=False)
    def preferences_page(request: Request, token: str = "", saved: str = "") -> Response:
        sub = subscriber_for(ctx, "preferences", token, utcnow())
        return page(request, "digest/preferences.html", sub=sub, token=token, saved=bool(saved),
                    frequencies=FREQUENCIES, modes=MODES, weekdays=WEEKDAYS,
                    unsubscribe=ctx.links(sub).unsubscribe)

    @app.post("/preferences", include_in_schema=False)
    async def preferences_post(request: Request, token: str = "") -> Response:
        f = await _form(request)
        try:
            sub = save_preferences(
                ctx, token, utcnow(), frequency=f.get("frequency", "daily"),
                weekday=int(f.get("weekday", "0")), hour=int(f.get("hour", "7")),
                timezone=f.get("timezone", "UTC").strip() or "UTC",
                categories=tuple(_split(f.get("categories", ""))),
                queries=tuple(_split(f.get("queries", ""))),
                papers=tuple(_split(f.get("papers", ""))), size=int(f.get("size", "10")),
                mode=f.get("mode", "personal"), skip_empty=f.get("skip_empty") == "on")
        except ValueError:
            raise PageError(400, "Weekday, hour and size must be whole numbers.") from None
        except InvalidSubscription as exc:
            raise PageError(400, str(exc)) from None
        return page(request, "digest/preferences.html", sub=sub, token=token, saved=True,
                    frequencies=FREQUENCIES, modes=MODES, weekdays=WEEKDAYS,
                    unsubscribe=ctx.links(sub).unsubscribe)

    @app.get("/go/{paper_id:path}", include_in_schema=False)
    def digest_click(paper_id: str, t: str = "") -> Response:
        """A paper link in a digest: go to the paper. The signed link of a digest (``t``,
        per digest, subscriber and paper) counts a ``digest_click`` signal the first time
        that subscriber follows a link to that paper; any other visit counts nothing."""
        from fastapi.responses import RedirectResponse

        from paperwire.digests.service import read_click
        from paperwire.web.app import paper_path

        if store.get_paper(paper_id) is None:
            raise PageError(404, f"No paper with id {paper_id!r} is stored here.",
                            "Paper not found")
        now = utcnow()
        click = read_click(ctx.key, t, paper_id, now)
        if click is not None:
            store.digests.record_click(click[0], paper_id, click[1], now)
        return RedirectResponse(paper_path(paper_id), status_code=303)

    @app.get("/preferences/preview", include_in_schema=False)
    def preview(token: str = "", day: str = "") -> Response:
        """The digest this subscriber would get today (or on ``day``), as its HTML part."""
        sub = subscriber_for(ctx, "preferences", token, utcnow())
        when = parse_date(day)  # a malformed date is a 400, not a silent "today"
        fresh = DigestContext(store, settings, _key=ctx.key)  # today's trending, not cached
        msg = message_for(fresh, gather(fresh, sub, when or utcnow().date()), utcnow())
        html = msg.get_body(("html",))
        body = html.get_content() if html is not None else ""
        return HTMLResponse(body, headers={"Content-Security-Policy": "default-src 'none'; "
                                           "style-src 'unsafe-inline'"})

    if not local_outbox:
        return

    # ---- development pages: the local outbox (only when no mail server is configured) ----

    @app.get("/dev/outbox", include_in_schema=False)
    def outbox_page(request: Request) -> Response:
        from paperwire.digests.outbox import list_messages

        folder = Path(outbox_folder(settings))
        messages = list_messages(folder) if folder.is_dir() else []
        return page(request, "digest/outbox.html", messages=messages, folder=str(folder))

    @app.get("/dev/outbox/{name}", include_in_schema=False)
    def outbox_message(request: Request, name: str) -> Response:
        from paperwire.digests.outbox import read_message

        try:
            msg = read_message(Path(outbox_folder(settings)), name)
        except NotFound as exc:
            raise PageError(404, str(exc)) from None
        text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
        text = text_part.get_content() if text_part is not None else ""
        html = html_part.get_content() if html_part is not None else ""
        own = settings.base_url
        links = sorted({u.rstrip(".,)") for u in _URL.findall(text) if u.startswith(own)})
        headers = [(k, str(v)) for k, v in msg.items()]
        return page(request, "digest/outbox_message.html", message_name=name, headers=headers,
                    text=text, html=html, links=links)
