"""Web routes of accounts: signing in by a mailed link, signing out (here, everywhere), the
account page (the address, the digest subscription and its preferences in one place), the
data download and deleting the account.

Asking for a sign-in link is answered like a subscription: the request's own checks (the
form, the origin, the client's hourly allowance) and then the same page for every address,
the rest (may it have a link, its mailbox's daily limit, the mail) queued for a background
thread. The link's page shows a button (mail scanners fetch links); its POST starts the
session. Every state-changing form of a signed-in user carries the CSRF token
(:func:`~paperwire.web.auth.check_csrf`, called first).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from paperwire.app import Paperwire
from paperwire.digests.mailer import Mailer
from paperwire.digests.subscriptions import normalise_email, preference_form, time_zones
from paperwire.errors import InvalidSubscription, PageError
from paperwire.records import FREQUENCIES, MODES, Account, Subscriber
from paperwire.web.auth import (
    SignedIn,
    Viewer,
    check_csrf,
    end_session,
    safe_next,
    start_session,
)
from paperwire.web.common import App, page
from paperwire.web.digest_routes import (
    WEEKDAYS,
    _form,
    client_key,
    mail_queue,
    refuse_cross_site,
)

router = APIRouter(include_in_schema=False)
SIGNIN_SENT = ("If that address may sign in here, a sign-in link is on its way to it. The "
               "link works once, for 15 minutes.")
ACCOUNT = "/account"


def _signed_out(request: Request) -> None:
    """This request's page is drawn signed out (its session has just ended)."""
    request.state.viewer = None


# ---- signing in ------------------------------------------------------------------------------


@router.get("/signin")
def signin_page(request: Request, viewer: Viewer, next: str = "") -> Response:
    return page(request, "account/signin.html", next=safe_next(next, ACCOUNT), viewer=viewer,
                error=None, email="")


def checked_signin(request: Request, app: Paperwire, email: str) -> str:
    """The request's own checks, the same for every address: the origin, the address's
    form, the client's hourly allowance. What depends on the address happens in the queue."""
    refuse_cross_site(request, app, "Signing in")
    try:
        address = normalise_email(email)
    except InvalidSubscription as exc:
        raise PageError(400, str(exc).capitalize() + ".") from None
    if not app.take_signin_allowance(client_key(request)):
        raise PageError(429, "Too many sign-in requests from your network; try again in an "
                             "hour.", "Too many requests")
    return address


@router.post("/signin")
async def signin_post(request: Request, app: App) -> Response:
    fields = await _form(request)
    next_path = safe_next(fields.get("next"), ACCOUNT)
    address = await run_in_threadpool(checked_signin, request, app, fields.get("email", ""))

    def job(mailer: Mailer) -> None:
        app.request_signin(mailer, address, next_path)

    mail_queue(request).put(job)
    return page(request, "digest/message.html", title="Check your inbox", message=SIGNIN_SENT)


def _confirm_action(token: str, next_path: str) -> str:
    action = "/signin/confirm/" + quote(token, safe="")
    return action + ("?next=" + quote(next_path, safe="/") if next_path != ACCOUNT else "")


@router.get("/signin/confirm/{token}")
def signin_confirm_page(request: Request, app: App, token: str, next: str = "") -> Response:
    """The page a mailed link opens: a button that signs in (a GET changes nothing)."""
    app.check_signin_link(token)  # forged, expired or wrong-purpose links say so now
    return page(request, "digest/action.html", title="Sign in",
                message="Press the button to sign in to Paperwire on this browser.",
                action=_confirm_action(token, safe_next(next, ACCOUNT)), button="Sign in",
                field=None)


@router.post("/signin/confirm/{token}")
def signin_confirm_post(request: Request, app: App, token: str, next: str = "") -> Response:
    """Use the link: the account is signed in on this browser (a new session; the one the
    browser had, if any, ends) and goes on to ``next``. A bad link changes nothing."""
    refuse_cross_site(request, app, "Signing in")
    account = app.confirm_signin(token)
    response = RedirectResponse(safe_next(next, ACCOUNT), status_code=303)
    end_session(response, request)
    start_session(response, request, account)
    return response


# ---- signing out -----------------------------------------------------------------------------


@router.post("/signout")
async def signout(request: Request) -> Response:
    await check_csrf(request)
    response = RedirectResponse("/", status_code=303)
    end_session(response, request)
    return response


@router.post("/signout/everywhere")
async def signout_everywhere(request: Request, app: App) -> Response:
    account = await check_csrf(request)
    ended = await run_in_threadpool(app.end_sessions, account)
    _signed_out(request)
    response = page(request, "digest/message.html", title="Signed out everywhere",
                    message=f"{account.email} is signed out on every browser "
                            f"({ended} session{'s' if ended != 1 else ''} ended).",
                    link=("/signin", "Sign in again"))
    end_session(response, request)
    return response


# ---- the account page ------------------------------------------------------------------------


def account_view(request: Request, app: Paperwire, account: Account, *,
                 form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 notice: str | None = None, status_code: int = 200) -> Response:
    sub = app.account_subscription(account)
    shown = sub if sub is not None else Subscriber(id=0, email=account.email)
    return page(request, "account/account.html", status_code=status_code, account=account,
                sub=sub, form=form or preference_form(shown), errors=errors or {},
                notice=notice, frequencies=FREQUENCIES, modes=MODES, weekdays=WEEKDAYS,
                zones=time_zones())


@router.get("/account")
def account_page(request: Request, app: App, account: SignedIn, saved: str = "") -> Response:
    return account_view(request, app, account,
                        notice="Saved: your digest is on its way on your schedule."
                        if saved else None)


@router.post("/account/digest")
async def account_digest(request: Request, app: App) -> Response:
    """Subscribe, or change the subscription's preferences: active at once (signing in
    confirmed the address)."""
    account = await check_csrf(request)
    fields = await _form(request)
    form = {k: str(fields.get(k, "")) for k in preference_form(Subscriber(0, account.email))}
    sub, errors = await run_in_threadpool(app.save_account_digest, account, form)
    if errors:
        return account_view(request, app, account, form=form, errors=errors, status_code=400)
    if sub is None:
        return account_view(request, app, account, status_code=409,
                            notice="Mail to this address could not be delivered, so no "
                                   "digests are sent to it.")
    return RedirectResponse(ACCOUNT + "?saved=1", status_code=303)


@router.post("/account/digest/unsubscribe")
async def account_unsubscribe(request: Request, app: App) -> Response:
    account = await check_csrf(request)
    await run_in_threadpool(app.unsubscribe_account, account)
    return account_view(request, app, account, notice="Unsubscribed: no more digests.")


@router.get("/account/export.json")
def account_export(app: App, account: SignedIn) -> Response:
    """Everything stored about the account, as one JSON file."""
    doc = app.export_account(account)
    return Response(json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
                    media_type="application/json", headers={
                        "Content-Disposition": 'attachment; filename="paperwire-account.json"',
                        "Cache-Control": "no-store"})


@router.post("/account/delete")
async def account_delete(request: Request, app: App) -> Response:
    """Delete the account and all of its data, once its address is typed to confirm."""
    account = await check_csrf(request)
    fields = await _form(request)
    typed = fields.get("confirm_email", "").strip().lower()
    if typed != account.email:
        return account_view(request, app, account, status_code=400,
                            notice="Nothing was deleted: type your address exactly to "
                                   "confirm.")
    await run_in_threadpool(app.delete_account, account)
    _signed_out(request)
    response = page(request, "digest/message.html", title="Account deleted",
                    message=f"The account {account.email}, its votes, library, notes, "
                            "ratings, sessions and digest subscription are deleted.")
    end_session(response, request)
    return response
