"""The trending feeds: Atom and JSON Feed (built in :mod:`paperwire.web.feeds`)."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from paperwire.web import feeds
from paperwire.web.common import FEED_HEADERS, App, parse_date, trending_for

router = APIRouter(include_in_schema=False)


@router.get("/feeds/trending.atom")
def feed_atom(app: App, window: str = "week", date: str | None = None,
              cat: str | None = None) -> Response:
    view = trending_for(app, window, date, cat)
    body = feeds.atom_feed(view, app.settings.base_url, pinned=parse_date(date))
    return Response(body, media_type=feeds.ATOM_TYPE, headers=FEED_HEADERS)


@router.get("/feeds/trending.json")
def feed_json(app: App, window: str = "week", date: str | None = None,
              cat: str | None = None) -> Response:
    view = trending_for(app, window, date, cat)
    body = json.dumps(feeds.json_feed(view, app.settings.base_url, pinned=parse_date(date)),
                      ensure_ascii=False, indent=1)
    return Response(body.encode("utf-8"), media_type=feeds.JSON_FEED_TYPE,
                    headers=FEED_HEADERS)
