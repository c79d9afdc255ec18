"""The API's documentation page: ``/docs`` (Swagger UI), read from ``/openapi.json``.
Offline: its script and style ship in the ``fastapi-offline`` package (MIT; Swagger UI is
Apache-2.0) and are served from ``/docs/assets``, with the page's start-up script in
``/static/docs.js``. This page alone runs scripts: its Content-Security-Policy allows this
server's scripts (no inline script, nothing from another origin) and the inline styles the
widget sets. (Redoc, in the same package, is not offered: it loads its logo from a CDN.)"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from paperwire.web.caching import static_url
from paperwire.web.middleware import DOCS_POLICY

ASSETS = Path(str(files("fastapi_offline") / "static"))
ASSETS_PATH = "/docs/assets"
router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Paperwire API</title>
<link rel="icon" href="{assets}/favicon.png">
{head}
</head>
<body>
{body}
</body>
</html>
"""
_HEADERS = {"Content-Security-Policy": DOCS_POLICY, "Cache-Control": "no-cache"}


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    """Swagger UI: every operation, its parameters and responses, and "try it out"."""
    head = f'<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">'
    body = (f'<div id="swagger-ui"></div>\n<script src="{ASSETS_PATH}/swagger-ui-bundle.js">'
            f'</script>\n<script src="{static_url("docs.js")}"></script>')
    html = _PAGE.format(title="API", assets=ASSETS_PATH, head=head, body=body)
    return HTMLResponse(html, headers=_HEADERS)
