""""For you": the signed-in reader's recommendations, ranked by a model of their own trained
on what they saved, upvoted and rated (:mod:`paperwire.recommend`), each with the papers that
explain it; only papers above the model's relevance floor are shown."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from paperwire.recommend.model import MIN_POSITIVES
from paperwire.web.auth import SignedIn
from paperwire.web.common import App, page, reactions_for

router = APIRouter()
FOR_YOU_LIMIT = 30


@router.get("/for-you", include_in_schema=False)
async def for_you(request: Request, app: App, account: SignedIn) -> Response:
    who = await run_in_threadpool(app.reader, account)
    found = await run_in_threadpool(app.recommendations, account, FOR_YOU_LIMIT) \
        if who.enough else []
    acts = reactions_for(request, app, [s.paper.id for s, _ in found])
    extras = await run_in_threadpool(app.extras, [s.paper for s, _ in found])
    return page(request, "for_you.html", items=found, acts=acts, liked=len(who.positives),
                needed=MIN_POSITIVES, extras=extras)
