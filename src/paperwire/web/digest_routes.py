"""Web routes of the digest: subscribe (form and API), confirm, one-click unsubscribe
(RFC 8058), preferences, resubscribe, a digest preview, and the local outbox's development
pages.

Links in mails carry signed tokens (:mod:`paperwire.digests.tokens`). A GET never changes
anything — mail scanners follow links — so confirming and unsubscribing happen on POST;
the GET pages show a button that posts.

Subscribing is answered before anything that depends on the address happens: the request
checks the form, refuses cross-site posts (``Origin`` / ``Sec-Fetch-Site``), spends one of
the client's requests for the hour, and queues the rest (the per-mailbox limit, the database
row, the mail) for a background thread. So every address gets the same answer in the same
time. Tokens never reach the access log: a filter on ``uvicorn.access`` blanks them.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import re
from pathlib import Path
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from paperwire.app import Paperwire
from paperwire.digests import outbox_folder
from paperwire.digests.mailer import Mailer
from paperwire.digests.mailqueue import MailQueue
from paperwire.digests.outbox import list_messages, read_message
from paperwire.digests.subscriptions import (
    checked_preferences,
    normalise_email,
    preference_form,
    split_words,
    subscribed,
    time_zones,
)
from paperwire.digests.tokens import read_token
from paperwire.errors import InvalidSubscription, NotFound, PageError, TokenError
from paperwire.records import FREQUENCIES, MODES, Subscriber
from paperwire.web import schemas
from paperwire.web.auth import cross_site
from paperwire.web.common import App, page, paper_path, parse_date

log = logging.getLogger(__name__)
router = APIRouter()
_URL = re.compile(r"https?://[^\s<>\"']+")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SUBSCRIBED = ("If that address can receive digests, a confirmation mail is on its way. "
              "Nothing else is sent until you follow its link.")
SHUTDOWN_DRAIN_SECONDS = 10.0  # how long a stopping server waits for queued mails
OUTBOX_WARNING = "development outbox: every mail sent by this server is visible here"


class SubscribeRequest(BaseModel):
    # the patterns document what the checks (subscriptions.py) accept; they check, with
    # their own messages
    email: str = Field(max_length=254, json_schema_extra={"pattern": schemas.EMAIL_PATTERN})
    categories: list[str] = Field(default_factory=list, max_length=20, json_schema_extra={
        "items": {"type": "string", "pattern": schemas.CATEGORY_PATTERN, "maxLength": 40}})
    queries: list[str] = Field(default_factory=list, max_length=20)


# ---- tokens out of the access log ----------------------------------------------------------

_TOKEN_PARAM = re.compile(r"([?&](?:token|t|sig)=)[^&#\s\"]+")
_LONG_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}(?=[/?#\s\"]|$)")


def redact(text: str) -> str:
    """``text`` with signed tokens (query values, token-like path segments) replaced by …"""
    return _LONG_SEGMENT.sub("…", _TOKEN_PARAM.sub(r"\1…", text))


class RedactTokens(logging.Filter):
    """A filter for ``uvicorn.access``: the request line keeps its path, not its tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactTokens` to the access logger once (it survives uvicorn's own
    logging set-up, which replaces handlers, not filters)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


def client_key(request: Request) -> str:
    """The client a request limit counts against: its address (an IPv6 client by its /64)."""
    host = request.client.host if request.client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"client:{host}"
    if ip.version == 6:
        return f"client:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"client:{ip}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (what the server binds) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _form(request: Request) -> dict[str, Any]:
    """The posted fields, urlencoded or multipart (RFC 8058 allows both)."""
    try:
        form = await request.form()
    except Exception:  # a malformed body is a bad request, not a server error
        raise PageError(400, "The form could not be read.") from None
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def mail_queue(request: Request) -> MailQueue:
    """The web app's queue of mails to send after the answer (see ``create_app``)."""
    return cast(MailQueue, request.app.state.mail_queue)


def checked_request(request: Request, app: Paperwire, email: str, categories: list[str],
                    queries: list[str]) -> Subscriber:
    """The request's own checks, the same for every address: the form, the origin, the
    client's hourly allowance. What depends on the address happens in the queue."""
    if cross_site(request, app.settings):
        raise PageError(403, "Subscriptions are accepted only from this site's own form.",
                        "Forbidden")
    try:
        wanted = checked_preferences(Subscriber(id=0, email=normalise_email(email)),
                                     categories=tuple(categories), queries=tuple(queries))
    except InvalidSubscription as exc:
        raise PageError(400, str(exc)) from None
    if not app.take_subscribe_allowance(client_key(request)):
        raise PageError(429, "Too many subscription requests from your network; "
                             "try again in an hour.", "Too many requests")
    return wanted


def queue_confirmation(request: Request, app: Paperwire, wanted: Subscriber) -> None:
    def job(mailer: Mailer) -> None:
        app.send_confirmation(mailer, wanted)

    mail_queue(request).put(job)


@router.post("/subscribe", include_in_schema=False)
async def subscribe_form(request: Request, app: App) -> Response:
    fields = await _form(request)
    wanted = await run_in_threadpool(
        checked_request, request, app, fields.get("email", ""),
        split_words(fields.get("categories", "")),
        [q.strip() for q in fields.get("queries", "").splitlines()])
    queue_confirmation(request, app, wanted)
    return page(request, "digest/message.html", title="Check your inbox", message=SUBSCRIBED)


@router.post("/api/subscribe", status_code=202, response_model=schemas.SubscribeAccepted,
             responses=schemas.errors(400, 403, 415, 429, 503),
             openapi_extra=schemas.json_body(SubscribeRequest.model_json_schema(),
                                             "The address and what the digest follows"))
async def api_subscribe(request: Request, app: App) -> Response:
    """Ask for a digest; answers the same for every address (no enumeration). The body
    must be JSON (``Content-Type: application/json``), which no cross-site HTML form can
    send."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise PageError(415, "Send the request as JSON (Content-Type: application/json).",
                        "Unsupported media type")
    try:
        body = SubscribeRequest.model_validate_json(await request.body())
    except ValidationError:
        raise PageError(400, "The request's body is not valid: expected "
                             '{"email": …, "categories": […], "queries": […]}.') from None
    wanted = await run_in_threadpool(checked_request, request, app, body.email,
                                     body.categories, body.queries)
    queue_confirmation(request, app, wanted)
    return JSONResponse({"status": "pending", "detail": SUBSCRIBED}, status_code=202)


@router.get("/subscribe/confirm", include_in_schema=False)
def confirm_page(request: Request, app: App, token: str = "") -> Response:
    read_token(app.key, "confirm", token, app.now())  # a bad or expired link says so now
    return page(request, "digest/action.html", title="Confirm your subscription",
                message="Press the button to start receiving the Paperwire digest.",
                action=f"/subscribe/confirm?token={token}", button="Confirm subscription",
                field=None)


def refuse_cross_site(request: Request, app: Paperwire, what: str) -> None:
    """A 403 for a post a browser sent from another site (the token-confirmed forms of
    mails' pages take posts from their own page only; see ``web/auth.cross_site``)."""
    if cross_site(request, app.settings):
        raise PageError(403, f"{what} is accepted only from this site's own page.",
                        "Forbidden")


@router.post("/subscribe/confirm", include_in_schema=False)
def confirm_post(request: Request, app: App, token: str = "") -> Response:
    refuse_cross_site(request, app, "Confirming")
    sub = app.confirm(token)
    prefs = app.links(sub).preferences
    return page(request, "digest/message.html", title="Subscribed",
                message=f"{sub.email} will receive the Paperwire digest.",
                link=(prefs, "Choose what it holds and when it comes"))


def unsubscribed_page(request: Request, app: Paperwire, sub: Subscriber,
                      title: str) -> Response:
    again = app.links(sub).preferences if sub.status == "unsubscribed" else None
    return page(request, "digest/message.html", title=title,
                message=f"{sub.email} will receive no more digests.",
                link=(again, "Changed your mind? Resubscribe") if again else None)


@router.get("/unsubscribe", include_in_schema=False)
def unsubscribe_page(request: Request, app: App, token: str = "") -> Response:
    sub = app.subscriber_for("unsubscribe", token)
    if not subscribed(sub):
        return unsubscribed_page(request, app, sub, "Already unsubscribed")
    return page(request, "digest/action.html", title="Unsubscribe",
                message=f"Stop sending the Paperwire digest to {sub.email}?",
                action=f"/unsubscribe?token={token}", button="Unsubscribe",
                field=("List-Unsubscribe", "One-Click"))


@router.post("/unsubscribe", include_in_schema=False)
async def unsubscribe_post(request: Request, app: App, token: str = "") -> Response:
    """RFC 8058 one-click: a POST with List-Unsubscribe=One-Click, answered 200 at once.
    Mail providers post it from their servers (no browser headers); a browser's post from
    another site is refused like every other form's."""
    refuse_cross_site(request, app, "Unsubscribing")
    fields = await _form(request)
    if fields.get("List-Unsubscribe") != "One-Click":
        raise PageError(400, "Expected List-Unsubscribe=One-Click in the request body.")
    sub = app.unsubscribe_by_link(token)
    return unsubscribed_page(request, app, sub, "Unsubscribed")


def preferences_view(request: Request, app: Paperwire, sub: Subscriber, token: str, *,
                     form: dict[str, str] | None = None,
                     errors: dict[str, str] | None = None, saved: bool = False,
                     status_code: int = 200) -> Response:
    if not subscribed(sub):
        return page(request, "digest/resubscribe.html", sub=sub, token=token,
                    status_code=status_code)
    return page(request, "digest/preferences.html", status_code=status_code, sub=sub,
                token=token, saved=saved, form=form or preference_form(sub),
                errors=errors or {}, frequencies=FREQUENCIES, modes=MODES,
                weekdays=WEEKDAYS, zones=time_zones(),
                unsubscribe=app.links(sub).unsubscribe)


@router.get("/preferences", include_in_schema=False)
def preferences_page(request: Request, app: App, token: str = "", saved: str = "") -> Response:
    sub = app.subscriber_for("preferences", token)
    return preferences_view(request, app, sub, token, saved=bool(saved))


@router.post("/preferences", include_in_schema=False)
async def preferences_post(request: Request, app: App, token: str = "") -> Response:
    refuse_cross_site(request, app, "Changing preferences")
    f = await _form(request)
    sub = app.subscriber_for("preferences", token)
    if not subscribed(sub):
        return preferences_view(request, app, sub, token, status_code=409)
    form = {k: str(f.get(k, "")) for k in preference_form(sub)}
    saved, errors = app.save_preferences(token, form)
    if errors:  # the page again, with every edit kept and each message by its field
        return preferences_view(request, app, saved, token, form=form, errors=errors,
                                status_code=400)
    return preferences_view(request, app, saved, token, saved=True)


@router.post("/preferences/resubscribe", include_in_schema=False)
def resubscribe_post(request: Request, app: App, token: str = "") -> Response:
    """An unsubscribed address asks to come back: a new confirmation mail (queued, like
    every subscribe), with the preferences it had."""
    refuse_cross_site(request, app, "Resubscribing")
    sub = app.subscriber_for("preferences", token)
    if sub.status == "unsubscribed":
        def job(mailer: Mailer) -> None:
            app.resubscribe(mailer, token)

        mail_queue(request).put(job)
    return page(request, "digest/message.html", title="Check your inbox",
                message=f"A confirmation mail is on its way to {sub.email}: follow its "
                        "link to receive the digest again.")


@router.get("/go/{paper_id:path}", include_in_schema=False)
def digest_click(app: App, paper_id: str, t: str = "") -> Response:
    """A paper link in a digest: go to the paper. The signed link of a digest (``t``,
    per digest, subscriber and paper) counts a ``digest_click`` signal the first time
    that subscriber follows a link to that paper; any other visit counts nothing."""
    if app.paper(paper_id) is None:
        raise PageError(404, f"No paper with id {paper_id!r} is stored here.",
                        "Paper not found")
    app.count_click(t, paper_id)
    return RedirectResponse(paper_path(paper_id), status_code=303)


@router.get("/preferences/preview", include_in_schema=False)
def preview(app: App, token: str = "", day: str = "") -> Response:
    """The digest this subscriber would get today (or on ``day``), as its HTML part, with
    links back to the preferences and the home page."""
    sub = app.subscriber_for("preferences", token)
    if not subscribed(sub):
        raise TokenError("this address is unsubscribed; resubscribe to preview its digest")
    when = parse_date(day)  # a malformed date is a 400, not a silent "today"
    msg = app.fresh_digest(sub, when)  # today's trending and the shared search engine
    html_part = msg.get_body(("html",))
    body = html_part.get_content() if html_part is not None else ""
    return HTMLResponse(_with_nav(body, token), headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


# ---- development pages: the local outbox (demo on loopback, or PAPERWIRE_DEV_OUTBOX) ----

def outbox_shown(request: Request, app: Paperwire) -> None:
    """Answer the outbox pages only while ``dev_outbox`` is on (``paperwire demo`` on
    loopback, or PAPERWIRE_DEV_OUTBOX) and no mail server is configured."""
    if app.settings.smtp_url or not (app.settings.dev_outbox
                                     or getattr(request.app.state, "dev_outbox", False)):
        raise PageError(404, "There is no page at this address.", "Not found")


@router.get("/dev/outbox", include_in_schema=False)
def outbox_page(request: Request, app: App) -> Response:
    outbox_shown(request, app)
    folder = Path(outbox_folder(app.settings))
    messages = list_messages(folder) if folder.is_dir() else []
    return page(request, "digest/outbox.html", messages=messages, folder=str(folder),
                warning=OUTBOX_WARNING)


@router.get("/dev/outbox/{name}", include_in_schema=False)
def outbox_message(request: Request, app: App, name: str) -> Response:
    outbox_shown(request, app)
    try:
        msg = read_message(Path(outbox_folder(app.settings)), name)
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    text = text_part.get_content() if text_part is not None else ""
    html_body = html_part.get_content() if html_part is not None else ""
    own = app.settings.base_url
    links = sorted({u.rstrip(".,)") for u in _URL.findall(text) if u.startswith(own)})
    headers = [(k, str(v)) for k, v in msg.items()]
    return page(request, "digest/outbox_message.html", message_name=name, headers=headers,
                text=text, html=html_body, links=links, warning=OUTBOX_WARNING)


_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)


def _with_nav(body: str, token: str) -> str:
    """The previewed mail with a bar of links back (preferences, home) at its top."""
    prefs = html.escape(f"/preferences?token={token}")
    nav = ('<nav style="padding:10px 16px;background:#fff;border-bottom:1px solid #ccc;'
           'font:15px/1.4 system-ui,sans-serif">Preview of your digest · '
           f'<a href="{prefs}">Back to your preferences</a> · '
           '<a href="/">Paperwire home</a></nav>')
    match = _BODY.search(body)
    if match is None:
        return nav + body
    return body[:match.end()] + nav + body[match.end():]


# ---- a digest item's 👍 / 👎 / save ---------------------------------------------------------

FEEDBACK_CHOICES = (("up", "👍 More like this"), ("down", "👎 Less like this"),
                    ("save", "☆ Save to my library"))
FEEDBACK_DONE = {"up": "Noted: more like this.", "down": "Noted: less like this.",
                 "save": "Saved to your library."}


@router.get("/d/feedback", include_in_schema=False)
def feedback_page(request: Request, app: App, t: str = "", id: str = "",
                  a: str = "up") -> Response:
    """A digest item's 👍 / 👎 / save link: a page with the buttons (mail scanners follow
    links, so a GET records nothing); ``a`` picks the one the reader clicked."""
    paper = app.feedback_paper(t, id)
    return page(request, "digest/feedback.html", paper=paper, token=t,
                choices=FEEDBACK_CHOICES, chosen=a if a in dict(FEEDBACK_CHOICES) else "up")


@router.post("/d/feedback", include_in_schema=False)
async def feedback_post(request: Request, app: App) -> Response:
    """Record the choice for the account of the digest's address (signed per subscriber
    and paper, so the token is the permission); only from this site's own page."""
    refuse_cross_site(request, app, "A digest's 👍 / 👎")
    form = await request.form()
    t, paper_id, action = (form.get("t"), form.get("id"), form.get("a"))
    if not (isinstance(t, str) and isinstance(paper_id, str) and isinstance(action, str)):
        raise PageError(400, "The form is incomplete: use the buttons of the page.")
    paper = await run_in_threadpool(app.digest_feedback, t, paper_id, action)
    return page(request, "digest/message.html", title=FEEDBACK_DONE[action],
                message=f"“{paper.title}”: your next digest and your For you page learn "
                        "from it.", link=(paper_path(paper.id), "Open the paper"))
