"""Cursor paging of the API's lists: a cursor is opaque to clients — an offset into one
request's ranking, signed with the server's key together with the request it belongs to
(route and parameters), so a garbled, forged or borrowed cursor is a 400, never a wrong
page."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from paperwire.errors import PageError

MAX_OFFSET = 1000  # the most results a list pages through (see ``SearchEngine.search_page``)
_SIG_BYTES = 12
BAD_CURSOR = ("Invalid cursor: pass the next_cursor of the previous page unchanged, with the "
              "same other parameters.")


def _signature(key: bytes, scope: Sequence[str], offset: int) -> bytes:
    message = "\x1f".join([*scope, str(offset)]).encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).digest()[:_SIG_BYTES]


def encode(key: bytes, scope: Sequence[str], offset: int) -> str:
    """The cursor of the page starting at ``offset`` of the request ``scope``."""
    raw = offset.to_bytes(4, "big") + _signature(key, scope, offset)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(key: bytes, scope: Sequence[str], cursor: str | None) -> int:
    """The offset ``cursor`` stands for (0 without one); a 400 for one this server did not
    give for this request."""
    if cursor is None or cursor == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise PageError(400, BAD_CURSOR) from None
    if len(raw) != 4 + _SIG_BYTES:
        raise PageError(400, BAD_CURSOR)
    offset = int.from_bytes(raw[:4], "big")
    if offset > MAX_OFFSET or not hmac.compare_digest(raw[4:], _signature(key, scope, offset)):
        raise PageError(400, BAD_CURSOR)
    return offset


def next_cursor(key: bytes, scope: Sequence[str], offset: int, shown: int,
                total: int) -> str | None:
    """The cursor after a page of ``shown`` results from ``offset``; None on the last page."""
    after = offset + shown
    if shown == 0 or after >= min(total, MAX_OFFSET):
        return None
    return encode(key, scope, after)
